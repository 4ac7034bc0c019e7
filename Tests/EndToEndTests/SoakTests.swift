// serve under 520 concurrent connections while files are replaced, truncated, rewritten in
// place and deleted, and records deleted underneath. Every 206 or 200 body must be the bytes
// of one version of its file, the one that existed when the response began, or end early with
// the connection closed: never padded, never mixed. `make soak` runs it longer and writes its figures to
// bench/results/ (MEDIALIB_SOAK_SECONDS, MEDIALIB_SOAK_RESULTS).

import Foundation
import Testing
import TestSupport
@testable import MediaCatalog
import MediaFiles

/// File contents that say which version they are: each 8-byte block holds the file, the
/// version and the block's index, so any slice of a body names its version.
enum Versioned {
    static func block(file: Int, version: Int, index: Int) -> UInt64 {
        UInt64(file & 0xFF) << 56 | UInt64(version & 0xFFFF) << 40 | UInt64(index & 0xFF_FFFF_FFFF)
    }

    static func bytes(file: Int, version: Int, size: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: size)
        for i in 0..<size {
            let b = block(file: file, version: version, index: i / 8)
            out[i] = UInt8(truncatingIfNeeded: b >> (56 - 8 * UInt64(i % 8)))
        }
        return out
    }

    /// Whether `body`, read from `offset`, is a slice of one version of `file`.
    static func check(_ body: ArraySlice<UInt8>, file: Int, offset: Int) -> Bool {
        guard !body.isEmpty else { return true }
        // The version from the first whole block in the slice, else from the partial one.
        let firstBlockStart = (offset + 7) / 8 * 8
        let version: Int
        if firstBlockStart + 8 <= offset + body.count {
            let at = body.startIndex + (firstBlockStart - offset)
            let b = body[at..<(at + 8)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            version = Int((b >> 40) & 0xFFFF)
        } else {
            // Fewer than 8 bytes past a block boundary: try the versions such a slice can hold.
            return (0..<4096).contains { v in matches(body, file: file, version: v, offset: offset) }
        }
        return matches(body, file: file, version: version, offset: offset)
    }

    /// The body as runs, for a failure message: "0+4096 v3, 4096+8 zero, …" (offsets into the
    /// body; a run is the version its 8-byte blocks name, or zero, or "?" when neither).
    static func runs(_ body: ArraySlice<UInt8>, file: Int, offset: Int) -> String {
        var out: [String] = []
        var current = ""
        var start = 0
        var k = 0
        while k < body.count {
            let i = offset + k
            let blockEnd = min(body.count, (i / 8 + 1) * 8 - offset)
            let slice = body[(body.startIndex + k)..<(body.startIndex + blockEnd)]
            var label = "?"
            if slice.allSatisfy({ $0 == 0 }) {
                label = "zero"
            } else if let v = (0..<4096).first(where: { matches(slice, file: file, version: $0, offset: i) }) {
                label = "v\(v)"
            }
            if label != current {
                if !current.isEmpty { out.append("\(start)+\(k - start) \(current)") }
                current = label
                start = k
            }
            k = blockEnd
        }
        if !current.isEmpty { out.append("\(start)+\(k - start) \(current)") }
        return out.prefix(12).joined(separator: ", ") + (out.count > 12 ? ", …" : "")
    }

    static func matches(_ body: ArraySlice<UInt8>, file: Int, version: Int, offset: Int) -> Bool {
        for (k, byte) in body.enumerated() {
            let i = offset + k
            let b = block(file: file, version: version, index: i / 8)
            if byte != UInt8(truncatingIfNeeded: b >> (56 - 8 * UInt64(i % 8))) { return false }
        }
        return true
    }
}

/// What the clients saw.
struct SoakFigures: Sendable {
    var requests = 0
    var complete = 0
    var closedEarly = 0
    /// Complete bodies that are not one version of their file (must stay 0).
    var wrong = 0
    var notFound = 0
    var bytes = 0
    var bad: [String] = []
    var failedConnects = 0
}

/// 520 connections driven from one thread with poll(2): each sends a GET (a random range or
/// the whole file), reads the answer, checks it, and goes again, until the deadline.
final class SoakClients: @unchecked Sendable {
    struct Conn {
        var fd: Int32 = -1
        var buffer: [UInt8] = []
        var file = 0
        var offset = 0
        var expectLength = -1
        var headEnd = -1
        var status = 0
    }

    let port: UInt16
    let records: [Int64]
    let count: Int
    var figures = SoakFigures()
    var rng = SplitMix64(state: 11)

    init(port: UInt16, records: [Int64], count: Int) {
        self.port = port
        self.records = records
        self.count = count
    }

    func connect() -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return -1 }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        if !ok { close(fd); return -1 }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        return fd
    }

    func send(_ c: inout Conn) {
        c.file = Int(rng.next() % UInt64(records.count))
        c.buffer.removeAll(keepingCapacity: true)
        c.headEnd = -1
        c.expectLength = -1
        var request = "GET /api/media/videos/\(records[c.file])/ HTTP/1.1\r\nHost: a\r\n"
        if rng.next() % 4 != 0 {
            let first = Int(rng.next() % 600_000)
            request += "Range: bytes=\(first)-\(first + Int(rng.next() % 70_000))\r\n"
        }
        request += "\r\n"
        figures.requests += 1
        let bytes = Array(request.utf8)
        if Glibc.send(c.fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) != bytes.count { reopen(&c) }
    }

    func reopen(_ c: inout Conn) {
        if c.fd >= 0 { close(c.fd) }
        c.fd = connect()
        if c.fd < 0 { figures.failedConnects += 1; return }
        send(&c)
    }

    /// Parses the head once it is in; checks the body once it is complete (or cut).
    func progress(_ c: inout Conn, closed: Bool) {
        if c.headEnd < 0, let end = c.buffer.firstRange(of: [13, 10, 13, 10]) {
            c.headEnd = end.upperBound
            let head = String(decoding: c.buffer[..<end.lowerBound], as: UTF8.self)
            let lines = head.split(separator: "\r\n")
            c.status = lines.first.flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Int($0) } ?? 0
            c.offset = 0
            for line in lines.dropFirst() {
                let lower = line.lowercased()
                if lower.hasPrefix("content-length:") { c.expectLength = Int(lower.dropFirst(15).trimmingCharacters(in: .whitespaces)) ?? -1 }
                if lower.hasPrefix("content-range: bytes ") {
                    let spec = lower.dropFirst("content-range: bytes ".count)
                    c.offset = spec.firstIndex(of: "-").flatMap { Int(spec[..<$0]) } ?? 0
                }
            }
        }
        guard c.headEnd >= 0 else {
            if closed { reopen(&c) }
            return
        }
        let body = c.buffer[c.headEnd...]
        let complete = c.expectLength >= 0 && body.count >= c.expectLength
        guard complete || closed else { return }
        let content = complete ? body.prefix(c.expectLength) : body
        if c.status == 200 || c.status == 206 {
            figures.bytes += content.count
            // A body cut short (the connection closed early) is the client's to discard;
            // a complete one must be one version of the file, byte for byte.
            if complete && !Versioned.check(content, file: c.file, offset: c.offset) {
                figures.wrong += 1
                if figures.bad.count < 10 {
                    figures.bad.append("file \(c.file) at \(c.offset): \(content.count) bytes are not one version of it (status \(c.status): \(Versioned.runs(content, file: c.file, offset: c.offset)))")
                }
            }
            if complete { figures.complete += 1 } else { figures.closedEarly += 1 }
        } else if c.status == 404 || c.status == 416 {
            // Gone, or the range now lies past a truncated file's end.
            figures.notFound += 1
        } else if figures.bad.count < 10 {
            figures.bad.append("status \(c.status)")
        }
        if complete && body.count > c.expectLength, figures.bad.count < 10 {
            figures.bad.append("\(body.count - c.expectLength) bytes after a \(c.expectLength)-byte body")
        }
        if closed || !complete { reopen(&c) } else { send(&c) }
    }

    func run(until deadline: Date) {
        var conns = (0..<count).map { _ in Conn() }
        for i in conns.indices { reopen(&conns[i]) }
        var chunk = [UInt8](repeating: 0, count: 65536)
        while Date() < deadline {
            var fds = conns.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), 100)
            if ready <= 0 { continue }
            for i in fds.indices where fds[i].revents != 0 && conns[i].fd >= 0 {
                var closed = false
                while true {
                    let n = recv(conns[i].fd, &chunk, chunk.count, 0)
                    if n > 0 { conns[i].buffer += chunk[0..<n]; continue }
                    if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) { closed = true }
                    break
                }
                progress(&conns[i], closed: closed)
            }
            for i in conns.indices where conns[i].fd < 0 { reopen(&conns[i]) }
        }
        for c in conns where c.fd >= 0 { close(c.fd) }
    }
}

func openDescriptorCount(_ pid: Int32) -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count ?? -1
}

@Suite("soak: serve while the library changes underneath")
struct SoakTests {
    static let files = 6
    static let size = 640 * 1024
    static let truncatedSize = size / 3

    @Test("520 connections, files replaced, truncated, rewritten in place and deleted, records deleted: every body is one version, nothing leaks")
    func soak() async throws { try await heavy { try await self.soakAlone() } }

    func soakAlone() async throws {
        let seconds = Double(ProcessInfo.processInfo.environment["MEDIALIB_SOAK_SECONDS"] ?? "") ?? 8
        let box = try Sandbox(name: "soak")
        defer { box.remove() }
        for f in 0..<Self.files {
            try box.scratch.write(Versioned.bytes(file: f, version: 0, size: Self.size), at: "v\(f).mp4")
        }
        // Records that will be deleted while they are being asked for.
        try box.scratch.place("ok.webm", at: "doomed.webm")
        let imported = try await box.run(["import", box.media] + box.globals)
        #expect(imported.status == 0, "\(imported)")
        let listed = try await box.listed()
        let records = (0..<Self.files).compactMap { listed["v\($0).mp4"]?.id }.map(Int64.init)
        #expect(records.count == Self.files)
        let server = try ServeEndToEndTests.Server(box, extra: ["--no-access-log", "--max-connections", "2000"])
        defer { _ = server.terminate() }
        let pid = server.process.processIdentifier
        let port = server.port
        // A baseline after a warm-up request per file (the open-file cache holds those).
        for r in records { _ = try ServeEndToEndTests.get(port, "/api/media/videos/\(r)/", headers: ["Range: bytes=0-0"]) }
        let baselineFDs = openDescriptorCount(pid)
        let baselineRSS = residentKilobytes(pid)

        let media = box.media
        let db = box.db
        let deadline = Date().addingTimeInterval(seconds)
        let changes = Box(0)
        let mutator = Thread {
            var rng = SplitMix64(state: 5)
            var version = Array(repeating: 0, count: Self.files)
            while Date() < deadline {
                let f = Int(rng.next() % UInt64(Self.files))
                let path = "\(media)/v\(f).mp4"
                switch rng.next() % 5 {
                case 0, 1:
                    // Replaced by a rename: readers of the old file keep its bytes.
                    version[f] += 1
                    let temp = "\(media)/.v\(f).tmp"
                    _ = FileManager.default.createFile(atPath: temp, contents: Data(Versioned.bytes(file: f, version: version[f], size: Self.size)))
                    rename(temp, path)
                case 2:
                    // Truncated in place: a response in flight must end early, never be padded.
                    truncate(path, off_t(Self.truncatedSize))
                case 3:
                    // Rewritten in place as a new version, same size: a response in flight must
                    // end early rather than mix the two.
                    version[f] += 1
                    let fresh = Versioned.bytes(file: f, version: version[f], size: Self.size)
                    let fd = open(path, O_WRONLY)
                    if fd >= 0 {
                        _ = pwrite(fd, fresh, fresh.count, 0)
                        close(fd)
                    }
                default:
                    // Deleted, then back as a new version a little later.
                    unlink(path)
                    Thread.sleep(forTimeInterval: 0.05)
                    version[f] += 1
                    _ = FileManager.default.createFile(atPath: path, contents: Data(Versioned.bytes(file: f, version: version[f], size: Self.size)))
                }
                changes.withLock { $0 += 1 }
                Thread.sleep(forTimeInterval: 0.03)
            }
        }
        mutator.start()
        // The doomed record goes while clients are busy.
        let deleter = Thread {
            Thread.sleep(forTimeInterval: seconds / 2)
            if let c = try? SQLiteConnection(path: RawPath(db), mode: .readWrite) { try? c.execute("DELETE FROM videos WHERE raw_file = 'doomed.webm'") }
        }
        deleter.start()
        let clients = SoakClients(port: port, records: records, count: 520)
        let figures = try await offload(timeout: seconds + 120) { () -> SoakFigures in
            clients.run(until: deadline)
            return clients.figures
        }
        // Let the server notice the closes and its open-file cache let go (idle after 10 s).
        let settled = waitUntil(seconds: 30) { openDescriptorCount(pid) <= baselineFDs }
        let endFDs = openDescriptorCount(pid)
        let endRSS = residentKilobytes(pid)
        let alive = server.process.isRunning
        let status = server.terminate()
        let log = server.log

        #expect(alive, "serve died during the soak")
        #expect(status == 0, "serve did not stop cleanly: \(String(describing: status))")
        #expect(figures.bad.isEmpty, "\(figures.bad)")
        #expect(figures.complete > 100, "too few answers to mean anything: \(figures)")
        #expect(figures.failedConnects == 0, "\(figures)")
        #expect(settled != nil, "descriptors: \(endFDs) at the end, \(baselineFDs) before")
        #expect(endRSS < baselineRSS + 64 * 1024, "RSS \(endRSS) KiB at the end, \(baselineRSS) KiB before")
        let unexpected = log.split(separator: "\n").filter { line in
            !(line.contains("shrank") || line.contains("changed while being") || line.contains("stopped reading") || line.hasPrefix("http://")
              || line.hasPrefix("serving ") || line.hasPrefix("shutting down"))
        }
        #expect(unexpected.isEmpty, "serve logged: \(unexpected.prefix(5))")

        if let out = ProcessInfo.processInfo.environment["MEDIALIB_SOAK_RESULTS"] {
            let text = """
                # medialib soak, \(ISO8601DateFormatter().string(from: Date())), \(ProcessInfo.processInfo.activeProcessorCount) cores

                | figure | value |
                |---|---|
                | duration | \(Int(seconds)) s |
                | concurrent connections | 520 |
                | changes underneath (replace, truncate, rewrite in place, delete) | \(changes.withLock { $0 }) |
                | requests | \(figures.requests) |
                | complete 200/206 bodies, each one version of its file | \(figures.complete) |
                | bodies cut short by a truncation (connection closed, never padded) | \(figures.closedEarly) |
                | 404 or 416 (file or record gone, range past a truncated end) | \(figures.notFound) |
                | body bytes checked | \(figures.bytes) |
                | complete bodies that are not one version of their file (padded, zeroed or mixed) | \(figures.wrong) |
                | descriptors before / after | \(baselineFDs) / \(endFDs) |
                | RSS before / after | \(baselineRSS / 1024) MiB / \(endRSS / 1024) MiB |

                """
            try text.write(toFile: out, atomically: true, encoding: .utf8)
        }
    }
}
