// Regression tests for the crashes and denials of service of "Data loss, crashes and denial
// of service found when tried as a hostile operator would", against a real `medialib serve`.

import Foundation
import Testing
import TestSupport
@testable import MediaCatalog
#if canImport(Glibc)
import Glibc
#endif

@Suite("hostile operator: crashes and denial of service")
struct HostileServeTests {
    /// Item 9: one row with a BLOB path (as Python's sqlite3 stores bytes) killed serve remotely.
    @Test("a BLOB path in a row: serve, list, cleanup and verify read it as bytes; nothing traps")
    func blobPath() async throws {
        let box = try Sandbox(name: "blob")
        defer { box.remove() }
        try await box.library(["ok-faststart.mp4", "ok.webm"])
        try sql(box.db, "INSERT INTO videos(uuid,raw_file,created_at) VALUES('aaaaaaaa-0000-4000-8000-000000000001',X'75706C6F6164732FFF2E6D7034','x')")
        let server = try ServeEndToEndTests.Server(box, extra: ["--no-access-log"])
        defer { _ = server.terminate() }
        let list = try ServeEndToEndTests.get(server.port, "/api/media/videos/")
        #expect(list.status == 200)
        #expect(String(decoding: list.body, as: UTF8.self).contains("uploads/\\\\xFF.mp4"), "the path shown escaped")
        #expect(try ServeEndToEndTests.get(server.port, "/api/media/videos/3/").status == 404)
        #expect(try ServeEndToEndTests.get(server.port, "/healthz").status == 200, "still alive")
        for args in [["list"], ["cleanup"], ["verify"]] {
            let r = try await box.run(args + box.globals)
            #expect(!r.signaled && r.status != 3, "\(args): \(r)")
            #expect(r.stdout.contains("uploads/\\xFF.mp4"), "\(args): \(r)")
        }
    }

    /// Item 11: clients pipelining requests and never reading held every connection slot.
    @Test("clients that pipeline and never read are cut after the send timeout; the server stays bounded")
    func pipeliningNonReaders() async throws { try await heavy { try await self.pipeliningNonReadersAlone() } }

    func pipeliningNonReadersAlone() async throws {
        let box = try Sandbox(name: "nonreaders")
        defer { box.remove() }
        try await box.library(["ok-faststart.mp4"])
        let server = try ServeEndToEndTests.Server(box, extra: ["--no-access-log", "--send-timeout", "2", "--max-connections", "5"])
        defer { _ = server.terminate() }
        let port = server.port
        let pid = server.process.processIdentifier
        let (fresh, rss) = try await offload(timeout: 90) { () -> (Int, Int) in
            var sockets: [Int32] = []
            defer { for s in sockets { close(s) } }
            let request = Array("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\nGET /api/media/videos/1/ HTTP/1.1\r\nHost: a\r\nRange: bytes=0-4000\r\n\r\n".utf8)
            var batch: [UInt8] = []
            for _ in 0..<200 { batch += request }
            for _ in 0..<5 {
                let fd = try connectTo(port, receiveBuffer: 4096)
                var flags = fcntl(fd, F_GETFL)
                flags |= O_NONBLOCK
                _ = fcntl(fd, F_SETFL, flags)
                sockets.append(fd)
            }
            // Push ~100k requests down each socket, as far as the server will take them, never reading.
            let deadline = Date().addingTimeInterval(3.5)
            var pushed = 0
            while Date() < deadline {
                for fd in sockets {
                    let n = batch.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    if n > 0 { pushed += n }
                }
                usleep(1000)
            }
            let rss = residentKilobytes(pid)
            // Every slot is held until the send timeout (2 s) cuts the stalled clients.
            var status = 0
            let stopped = Date()
            while Date().timeIntervalSince(stopped) < 45 {
                status = (try? ServeEndToEndTests.get(port, "/healthz").status) ?? 0
                if status == 200 { break }
                Thread.sleep(forTimeInterval: 0.25)
            }
            // Generous for a loaded machine (a clean clone's first full run took over 12 s
            // here); without the timeout the slots are never freed.
            return (Date().timeIntervalSince(stopped) < 40 ? status : -status, rss)
        }
        #expect(fresh == 200, "a fresh client within the send timeout and a margin: \(fresh)")
        #expect(rss < 120_000, "resident memory \(rss) KiB with five stalled pipelining clients")
    }

    /// Item 12: the list was built on an event loop; a small range waited behind it.
    @Test("with 50,000 records a small range stays fast while listings run, and the list is paged")
    func listingOffTheLoop() async throws { try await heavy { try await self.listingOffTheLoopAlone() } }

    func listingOffTheLoopAlone() async throws {
        let box = try Sandbox(name: "big-list")
        defer { box.remove() }
        try await box.library(["ok-faststart.mp4"])
        let c = try openConnection(box.db)
        try c.transaction(immediate: true) {
            let s = try c.prepare("INSERT INTO videos (uuid, raw_file, created_at) VALUES (?, ?, 'x')")
            for i in 0..<50_000 {
                s.reset()
                try s.bind([.text(String(format: "00000000-0000-4000-8000-%012d", i)), .text("missing/\(i).mp4")])
                while try s.step() {}
            }
        }
        let server = try ServeEndToEndTests.Server(box, extra: ["--no-access-log"])
        defer { _ = server.terminate() }
        let port = server.port
        let page = try ServeEndToEndTests.get(port, "/api/media/videos/?limit=1000")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(page.body)) as? [String: Any])
        #expect((doc["records"] as? [Any])?.count == 1000)
        #expect(doc["next"] as? Int == 1000)
        let slowest = try await offload(timeout: 120) { () -> Double in
            let listers = (0..<6).map { _ in Thread { _ = try? ServeEndToEndTests.get(port, "/api/media/videos/?limit=1000&status=error") } }
            for t in listers { t.start() }
            var worst = 0.0
            for _ in 0..<20 {
                let started = Date()
                _ = try ServeEndToEndTests.get(port, "/api/media/videos/1/", headers: ["Range: bytes=0-1"])
                worst = max(worst, Date().timeIntervalSince(started))
                Thread.sleep(forTimeInterval: 0.02)
            }
            return worst
        }
        #expect(slowest < 0.5, "a 2-byte range took \(slowest) s while listings ran")
    }

    /// Item 12: a writer holding the lock of a catalog not in WAL mode stalled requests 10 s, then 503.
    @Test("a catalog locked by another process: requests wait briefly off the loop, then 503; others are not held up")
    func lockedCatalog() async throws {
        let box = try Sandbox(name: "locked")
        defer { box.remove() }
        try await box.library(["ok-faststart.mp4", "ok.webm"])
        let c = try openConnection(box.db)
        try c.execute("PRAGMA journal_mode = DELETE")
        let server = try ServeEndToEndTests.Server(box, extra: ["--no-access-log"])
        defer { _ = server.terminate() }
        let port = server.port
        #expect(try ServeEndToEndTests.get(port, "/api/media/videos/2/").status == 200)
        try c.execute("BEGIN EXCLUSIVE")
        let (locked, lockedSeconds, page, pageSeconds) = try await offload(timeout: 60) { () -> (Int, Double, Int, Double) in
            var t0 = Date()
            let r1 = try ServeEndToEndTests.get(port, "/api/media/videos/1/")
            let d1 = Date().timeIntervalSince(t0)
            t0 = Date()
            let r2 = try ServeEndToEndTests.get(port, "/")
            return (r1.status, d1, r2.status, Date().timeIntervalSince(t0))
        }
        try c.execute("ROLLBACK")
        #expect(locked == 503 || locked == 200)
        #expect(lockedSeconds < 4, "waited \(lockedSeconds) s for the lock")
        #expect(page == 200 && pageSeconds < 1, "the page needs no catalog")
        #expect(try ServeEndToEndTests.get(port, "/api/media/videos/1/").status == 200)
    }

    /// Item 13: a catalog replaced by a rename was never seen.
    @Test("a catalog replaced by rename is seen at the next request")
    func catalogReplaced() async throws {
        let box = try Sandbox(name: "replaced")
        defer { box.remove() }
        try await box.library(["ok-faststart.mp4", "ok.webm", "hevc.mp4", "ok-moov-end.mp4"])
        let server = try ServeEndToEndTests.Server(box, extra: ["--no-access-log"])
        defer { _ = server.terminate() }
        #expect(try ServeEndToEndTests.get(server.port, "/api/media/videos/4/").status == 200)
        // cp c new; delete one row in new; mv new c.
        let c = try openConnection(box.db)
        try c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        try FileManager.default.copyItem(atPath: box.db, toPath: box.path("new.sqlite"))
        try sql(box.path("new.sqlite"), "DELETE FROM videos WHERE id = 4")
        #expect(rename(box.path("new.sqlite"), box.db) == 0)
        // Every route sees the new file at once, not only after a media request.
        let health = try ServeEndToEndTests.get(server.port, "/healthz")
        #expect(String(decoding: health.body, as: UTF8.self).contains("\"records\":3"), "\(String(decoding: health.body, as: UTF8.self))")
        let summary = try ServeEndToEndTests.get(server.port, "/api/media/summary")
        #expect(String(decoding: summary.body, as: UTF8.self).contains("\"records\":3"), "\(String(decoding: summary.body, as: UTF8.self))")
        let list = try ServeEndToEndTests.get(server.port, "/api/media/videos/")
        let listed = (try JSONSerialization.jsonObject(with: Data(list.body)) as? [String: Any])?["records"] as? [[String: Any]]
        #expect(listed?.compactMap { $0["id"] as? Int } == [1, 2, 3])
        #expect(try ServeEndToEndTests.get(server.port, "/api/media/videos/4/").status == 404)
        // And later changes to the new file are seen too.
        try sql(box.db, "DELETE FROM videos WHERE id = 3")
        #expect(try ServeEndToEndTests.get(server.port, "/api/media/videos/3/").status == 404)
    }

    /// Item 14: SIGHUP killed serve without draining; CONNECT and OPTIONS * got 404.
    @Test("SIGHUP drains like SIGTERM; CONNECT is 405 and OPTIONS * answers for the server")
    func sighupAndOddMethods() async throws {
        let box = try Sandbox(name: "hup")
        defer { box.remove() }
        try await box.library(["ok-faststart.mp4"])
        let server = try ServeEndToEndTests.Server(box, extra: ["--no-access-log"])
        let port = server.port
        let (connect, star) = try await offload { () -> (String, String) in
            (try rawExchange(port, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
             try rawExchange(port, "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"))
        }
        #expect(connect.hasPrefix("HTTP/1.1 405"), "\(connect)")
        #expect(connect.contains("Allow: GET, HEAD, OPTIONS"))
        #expect(star.hasPrefix("HTTP/1.1 204"), "\(star)")
        #expect(star.contains("Allow: GET, HEAD, OPTIONS"))
        kill(server.process.processIdentifier, SIGHUP)
        let exited = waitUntil(seconds: 15) { !server.process.isRunning }
        #expect(exited != nil)
        #expect(server.process.terminationStatus == 0, "a drain, not a death by signal")
        #expect(server.log.contains("shutting down"))
    }
}

func connectTo(_ port: UInt16, receiveBuffer: Int32? = nil) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket failed") }
    if var size = receiveBuffer {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = port.bigEndian
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard rc == 0 else { close(fd); throw HarnessError("connect failed") }
    return fd
}

/// Sends raw bytes, returns what comes back until the head is complete (or 2 s pass).
func rawExchange(_ port: UInt16, _ request: String) throws -> String {
    let fd = try connectTo(port)
    defer { close(fd) }
    var tv = timeval(tv_sec: 2, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    _ = request.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
    var data: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 4096)
    while !String(decoding: data, as: UTF8.self).contains("\r\n\r\n") {
        let n = recv(fd, &buf, buf.count, 0)
        if n <= 0 { break }
        data += buf[0..<n]
    }
    return String(decoding: data, as: UTF8.self)
}

/// VmRSS of a process, in KiB.
func residentKilobytes(_ pid: Int32) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return -1 }
    return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
}
