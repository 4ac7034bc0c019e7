// The operator's page in a real browser: headless Chromium driven through chromedriver
// against `medialib serve` on a temporary catalog whose facts `verify` cached.

import Foundation
import Testing
import TestSupport
@testable import MediaCatalog

@Suite("operator's page in Chromium", .serialized)
struct BrowserTests {
    static let hostileName = "uploads/<img src=x onerror=alert(1)>.mp4"

    /// A library with every kind of record, checked by verify, plus one added after (unchecked).
    static func library() async throws -> (Sandbox, [String: ListedRecord], verified: [String: Int]) {
        let box = try Sandbox(name: "browser")
        try box.scratch.place("ok-moov-end.mp4", at: "uploads/moov-at-end.mp4")
        try box.scratch.place("ok.webm", at: "uploads/ok.webm")
        try box.scratch.place("hevc.mp4", at: "uploads/hevc.mp4")
        try box.scratch.place("three-frames.mp4", at: "uploads/three-frames.mp4")
        try box.scratch.place("text.mp4", at: "uploads/text.mp4")
        try box.scratch.place("ok-faststart.mp4", at: hostileName)
        let imported = try await box.run(["import", box.media] + box.globals)
        guard imported.status == 0 else { throw HarnessError("import: \(imported)") }
        let verify = try await box.run(["verify", "--format", "json"] + box.globals)
        guard let doc = try verify.json() as? [String: Any], let summary = doc["summary"] as? [String: Any] else {
            throw HarnessError("verify: \(verify)")
        }
        try box.scratch.place("ok-faststart.mp4", at: "later/unchecked.mp4")
        let added = try await box.run(["add", box.scratch.inMedia("later/unchecked.mp4")] + box.globals)
        guard added.status == 0 else { throw HarnessError("add: \(added)") }
        let counts = ["ok", "warnings", "errors"].reduce(into: [String: Int]()) { $0[$1] = summary[$1] as? Int }
        return (box, try await box.listed(), counts)
    }

    @Test("the page lists the library, its summary matches verify, filters work, hostile names stay text, videos play and seek")
    func operatorPage() async throws { try await heavy { try await self.operatorPageAlone() } }

    func operatorPageAlone() async throws {
        let (box, records, verified) = try await Self.library()
        defer { box.remove() }
        let server = try ServeEndToEndTests.Server(box, extra: ["--no-access-log"])
        defer { _ = server.terminate() }
        let driver = try ChromeDriver(logTo: box.path("chromedriver.log"))
        defer { driver.stop() }
        let url = server.url
        try await offload(timeout: 300) {
            let browser = try WebDriver(driver: driver)
            defer { browser.quit() }
            try Self.check(browser, url: url, records: records, verified: verified)
            if let path = ProcessInfo.processInfo.environment["MEDIALIB_PAGE_SCREENSHOT"] {
                try browser.open(url)
                _ = try browser.wait(Self.idle)
                try browser.click("#records tbody tr[data-id=\"\(records["uploads/moov-at-end.mp4"]?.id ?? 0)\"] .play")
                _ = try browser.wait("const v = document.querySelector('#player video'); if (v.readyState >= 2 && !v.seeking) { v.pause(); v.currentTime = 1; return true; } return false;")
                _ = try browser.wait("const v = document.querySelector('#player video'); return v.readyState >= 2 && !v.seeking")
                try browser.screenshot().write(to: URL(fileURLWithPath: path))
            }
        }
    }

    static let idle = "return document.body.dataset.ready === '1' && !document.querySelector('#records[data-loading]')"

    static func check(_ b: WebDriver, url: String, records: [String: ListedRecord], verified: [String: Int]) throws {
        try b.open(url)
        #expect(try b.wait(idle) != nil, "the page never became ready")
        #expect(verified.count == 3 && verified.values.reduce(0, +) == records.count - 1, "verify's summary: \(verified)")
        let total = records.count
        #expect(try b.run("return document.getElementById('record-count').textContent") as? String == "\(total) records")
        #expect(try b.run("return document.querySelectorAll('#records tbody tr[data-id]').length") as? Int == total)

        // The summary is verify's, plus the record added after it ran.
        func bar(_ status: String) throws -> Int? {
            (try b.run("const e = document.querySelector('#summary .bar[data-status=\(status)] .bar-count'); return e ? e.textContent : null") as? String).flatMap { Int($0) }
        }
        #expect(try bar("ok") == verified["ok"])
        #expect(try bar("warning") == verified["warnings"])
        #expect(try bar("error") == verified["errors"])
        #expect(try bar("unchecked") == 1)
        let unchecked = try #require(records["later/unchecked.mp4"]).id
        #expect(try b.run("return document.querySelector('#records tbody tr[data-id=\"\(unchecked)\"] .status').textContent") as? String == "not checked yet")

        // Filters: by status, then by code.
        try b.click("#filter-status")
        try b.click("#filter-status option[value=\"error\"]")
        _ = try b.wait(idle)
        let statuses = try b.run("return [...document.querySelectorAll('#records tbody tr .status')].map(s => s.textContent)") as? [String] ?? []
        #expect(statuses.count == verified["errors"])
        #expect(Set(statuses) == ["error"], "\(statuses)")
        try b.click("#filter-status")
        try b.click("#filter-status option[value=\"\"]")
        _ = try b.wait(idle)
        try b.click("#filter-code")
        try b.click("#filter-code option[value=\"too_few_frames\"]")
        _ = try b.wait(idle)
        let three = try #require(records["uploads/three-frames.mp4"]).id
        #expect(try b.run("return [...document.querySelectorAll('#records tbody tr[data-id]')].map(r => r.dataset.id)") as? [String] == ["\(three)"])
        try b.click("#clear-filters")
        _ = try b.wait(idle)

        // The hostile name is text: no element made of it, no alert, no script error.
        let hostile = try #require(records[hostileName]).id
        #expect(try b.run("return document.querySelector('#records tbody tr[data-id=\"\(hostile)\"] .raw-path').textContent") as? String == hostileName)
        #expect(try b.run("return document.querySelectorAll('img').length") as? Int == 0)
        #expect(b.alertText() == nil, "an alert opened: a script from a file name ran")

        // A moov-at-end MP4 and a WebM play from the range URL and seek to 75 %.
        for path in ["uploads/moov-at-end.mp4", "uploads/ok.webm"] {
            let id = try #require(records[path]).id
            try b.click("#records tbody tr[data-id=\"\(id)\"] .play")
            #expect(try b.run("return document.querySelector('#player video').getAttribute('src')") as? String == "/api/media/videos/\(id)/?type=raw")
            let duration = try b.wait("const v = document.querySelector('#player video'); return v.readyState >= 1 && v.duration > 0 ? v.duration : null") as? NSNumber
            let length = try #require(duration, "\(path): no metadata").doubleValue
            let target = length * 0.75
            try b.run("""
                const v = document.querySelector('#player video'); window.__seeked = false;
                v.addEventListener('seeked', () => { window.__seeked = true; }, { once: true });
                v.pause(); v.currentTime = arguments[0];
                """, [target])
            #expect(try b.wait("return window.__seeked === true") != nil, "\(path): the seeked event never fired")
            let now = (try b.run("return document.querySelector('#player video').currentTime") as? NSNumber)?.doubleValue ?? -1
            #expect(abs(now - target) < 0.5, "\(path): currentTime \(now), wanted \(target)")
            #expect(try b.run("return document.querySelector('#player video').error") is NSNull)
        }

        let errors = try b.run("return window.medialibErrors") as? [String] ?? ["unreadable"]
        #expect(errors.isEmpty, "page errors: \(errors)")
        let console = try b.consoleLog().filter { $0.level == "SEVERE" || $0.message.contains("Content Security Policy") }
        #expect(console.isEmpty, "console: \(console)")
        // The check above can fail: a CSP violation made on purpose shows up in the same log.
        try b.run("const d = document.createElement('div'); d.setAttribute('style', 'color: red'); document.body.append(d);")
        #expect(try b.wait("return window.medialibErrors.some(e => e.startsWith('CSP violation'))") != nil)
        #expect(try b.consoleLog().contains { $0.message.contains("Content Security Policy") })
    }
}

@Suite("the page's JSON at scale")
struct ListingScaleTests {
    @Test("100,000 records: every page by the cursor, each id once, and the server's memory stays flat")
    func hundredThousandRecords() async throws { try await heavy { try await self.hundredThousandRecordsAlone() } }

    func hundredThousandRecordsAlone() async throws {
        let box = try Sandbox(name: "listing-100k")
        defer { box.remove() }
        try await box.library(["ok-faststart.mp4"])
        let c = try openConnection(box.db)
        try c.transaction(immediate: true) {
            let s = try c.prepare("INSERT INTO videos (uuid, raw_file, created_at) VALUES (?, ?, 'x')")
            for i in 1..<100_000 {
                s.reset()
                try s.bind([.text(String(format: "00000000-0000-4000-8000-%012d", i)), .text("missing/\(i).mp4")])
                while try s.step() {}
            }
        }
        let server = try ServeEndToEndTests.Server(box, extra: ["--no-access-log"])
        defer { _ = server.terminate() }
        let port = server.port
        let pid = server.process.processIdentifier
        let (seen, ordered, peakGrowth, summary) = try await offload(timeout: 600) { () -> (Int, Bool, Int, (records: Int?, unchecked: Int?, error: Int?)) in
            // Warm up once (caches, first allocations), then measure the whole walk.
            _ = try ServeEndToEndTests.get(port, "/api/media/videos/?limit=1000")
            let baseline = highWaterKilobytes(pid)
            var after = 0
            var seen = Set<Int>()
            var ordered = true
            var last = 0
            var pages = 0
            while pages < 200 {
                let reply = try ServeEndToEndTests.get(port, "/api/media/videos/?limit=1000&after=\(after)")
                guard reply.status == 200, let doc = try JSONSerialization.jsonObject(with: Data(reply.body)) as? [String: Any] else {
                    throw HarnessError("page after \(after): HTTP \(reply.status)")
                }
                for r in doc["records"] as? [[String: Any]] ?? [] {
                    let id = r["id"] as? Int ?? -1
                    if id <= last { ordered = false }
                    last = id
                    seen.insert(id)
                }
                pages += 1
                guard let next = doc["next"] as? Int else { break }
                after = next
            }
            let summaryReply = try ServeEndToEndTests.get(port, "/api/media/summary")
            let doc = try JSONSerialization.jsonObject(with: Data(summaryReply.body)) as? [String: Any] ?? [:]
            let status = doc["status"] as? [String: Any]
            let summary = (doc["records"] as? Int, status?["unchecked"] as? Int, status?["error"] as? Int)
            return (seen.count, ordered, highWaterKilobytes(pid) - baseline, summary)
        }
        #expect(seen == 100_000)
        #expect(ordered)
        #expect(summary.records == 100_000)
        // A missing file needs no probe to judge; the one file on disk was never verified.
        #expect(summary.error == 99_999)
        #expect(summary.unchecked == 1)
        // The whole catalog in memory would be tens of megabytes; a page at a time, a few.
        #expect(peakGrowth < 24 * 1024, "peak RSS grew by \(peakGrowth) KiB walking 100,000 records")
    }
}
