import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A deliberately small, blocking HTTP/1.1 server on POSIX sockets, one background Thread,
/// one request per connection. It can answer correctly or get byte ranges wrong the ways real
/// servers do, so `verify --via` can be shown to notice. Every socket has timeouts.
final class TestHTTPServer: @unchecked Sendable {
    enum Behaviour: String, Sendable, CaseIterable {
        /// 200 for HEAD with Accept-Ranges, 206 with the right bytes, 416 past the end.
        case correct
        /// The Django incident: 200 and the whole file for every request, no Accept-Ranges.
        case wholeFileNoAcceptRanges
        /// Advertises Accept-Ranges: bytes yet still answers 200 with the whole file.
        case advertisesButIgnoresRanges
        /// 206 with the right Content-Range but other bytes.
        case wrongBytes
        /// HEAD claims one byte more than the file has.
        case wrongLength
        /// Reads "bytes=-n" (the last n bytes) as "bytes=0-(n-1)", a classic mistake.
        case suffixAsPrefix
        /// Never answers 416: a range past the end gets the whole file with 200.
        case never416
        /// 404 for everything.
        case notFound
        /// Accepts the connection, reads the request, never answers.
        case silent
        /// A correct HEAD, then `Content-Length: -5` on the ranges (MiniHTTP once trapped on it).
        case negativeLength
        /// Answers one header byte every 250 ms, for at most `trickleSeconds`, then closes:
        /// never idle long enough for a per-recv timeout, never done.
        case trickle
    }

    let port: Int
    let behaviour: Behaviour
    static let trickleSeconds = 25.0
    private let listener: Int32
    private let body: [UInt8]
    private let lock = NSLock()
    private var stopping = false
    private var held: [Int32] = []
    private var requests: [String] = []
    private let finished = DispatchSemaphore(value: 0)

    /// Serves `body` for every request target.
    init(_ behaviour: Behaviour, body: [UInt8]) throws {
        self.behaviour = behaviour
        self.body = body
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SystemCallFailed(call: "socket", code: errno) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p in
                bind(fd, p, len) == 0 && listen(fd, 16) == 0 && getsockname(fd, p, &len) == 0
            }
        }
        guard bound else {
            let code = errno
            close(fd)
            throw SystemCallFailed(call: "bind/listen", code: code)
        }
        listener = fd
        port = Int(UInt16(bigEndian: addr.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "TestHTTPServer \(behaviour.rawValue)"
        thread.start()
    }

    var base: String { "http://127.0.0.1:\(port)" }

    /// "METHOD target" of every request received, in order.
    var received: [String] {
        lock.lock(); defer { lock.unlock() }
        return requests
    }

    /// Stops accepting, closes held connections, waits (bounded) for the thread to end.
    func stop() {
        lock.lock()
        stopping = true
        let toClose = held
        held = []
        lock.unlock()
        _ = finished.wait(timeout: .now() + 5)
        for fd in toClose { close(fd) }
        close(listener)
    }

    private var isStopping: Bool {
        lock.lock(); defer { lock.unlock() }
        return stopping
    }

    private func acceptLoop() {
        defer { finished.signal() }
        while !isStopping {
            var p = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 50) > 0 else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            var tv = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            if handle(client) { close(client) }
        }
    }

    /// Returns false when the connection is kept open (silent).
    private func handle(_ fd: Int32) -> Bool {
        guard let head = readHead(fd) else { return true }
        let lines = head.components(separatedBy: "\r\n")
        let parts = lines.first?.split(separator: " ") ?? []
        guard parts.count >= 2 else { return true }
        let method = String(parts[0])
        let target = String(parts[1])
        let range = lines.dropFirst().first { $0.lowercased().hasPrefix("range:") }
            .map { $0.dropFirst("range:".count).trimmingCharacters(in: .whitespaces) }
        lock.lock()
        requests.append("\(method) \(target)")
        if behaviour == .silent { held.append(fd) }
        lock.unlock()
        if behaviour == .silent { return false }
        respond(fd, method: method, range: range)
        return true
    }

    private func readHead(_ fd: Int32) -> String? {
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while data.count < 65536 {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            data.append(contentsOf: buf[0..<n])
            if let end = String(decoding: data, as: UTF8.self).range(of: "\r\n\r\n") {
                return String(String(decoding: data, as: UTF8.self)[..<end.lowerBound])
            }
        }
        return nil
    }

    private func respond(_ fd: Int32, method: String, range: String?) {
        let size = body.count
        let isHead = method == "HEAD"
        func answer(_ status: String, _ headers: [String], _ payload: [UInt8], length: Int? = nil) {
            var text = "HTTP/1.1 \(status)\r\nContent-Length: \(length ?? payload.count)\r\nConnection: close\r\n"
            for h in headers { text += h + "\r\n" }
            text += "\r\n"
            sendAll(fd, Array(text.utf8) + (isHead ? [] : payload))
        }
        switch behaviour {
        case .silent:
            return
        case .trickle:
            sendAll(fd, Array("HTTP/1.1 200 OK\r\nX-Slow: ".utf8))
            let until = Date().addingTimeInterval(Self.trickleSeconds)
            while Date() < until && !isStopping {
                usleep(250_000)
                if send(fd, "a", 1, Int32(MSG_NOSIGNAL)) != 1 { return }
            }
        case .notFound:
            answer("404 Not Found", ["Content-Type: application/json"], Array("{\"error\":\"not found\"}".utf8))
        case .wholeFileNoAcceptRanges:
            answer("200 OK", ["Content-Type: video/mp4"], body)
        case .advertisesButIgnoresRanges:
            answer("200 OK", ["Content-Type: video/mp4", "Accept-Ranges: bytes"], body)
        case .negativeLength:
            if isHead { answer("200 OK", ["Content-Type: video/mp4", "Accept-Ranges: bytes"], body); return }
            sendAll(fd, Array("HTTP/1.1 206 Partial Content\r\nContent-Length: -5\r\nContent-Range: bytes 0-1/\(size)\r\nConnection: close\r\n\r\n".utf8) + Array(body.prefix(2)))
        case .correct, .wrongBytes, .wrongLength, .suffixAsPrefix, .never416:
            let ranges = ["Content-Type: video/mp4", "Accept-Ranges: bytes"]
            guard let range else {
                answer("200 OK", ranges, body, length: behaviour == .wrongLength ? size + 1 : nil)
                return
            }
            guard let satisfiable = Self.parse(range, size: size) else {
                if behaviour == .never416 {
                    answer("200 OK", ranges, body)
                    return
                }
                answer("416 Range Not Satisfiable", ["Content-Range: bytes */\(size)"], [])
                return
            }
            var (start, end) = satisfiable
            if behaviour == .suffixAsPrefix, range.hasPrefix("bytes=-") { (start, end) = (0, end - start) }
            var slice = Array(body[start...end])
            if behaviour == .wrongBytes { slice = slice.map { $0 ^ 0xFF } }
            answer("206 Partial Content", ranges + ["Content-Range: bytes \(start)-\(end)/\(size)"], slice)
        }
    }

    /// One satisfiable range of "bytes=a-b", "bytes=a-" or "bytes=-n"; nil when unsatisfiable.
    static func parse(_ header: String, size: Int) -> (Int, Int)? {
        guard header.hasPrefix("bytes="), size > 0 else { return nil }
        let spec = header.dropFirst("bytes=".count)
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        if parts[0].isEmpty {
            guard let n = Int(parts[1]), n > 0 else { return nil }
            return (max(0, size - n), size - 1)
        }
        guard let start = Int(parts[0]), start < size else { return nil }
        let end = parts[1].isEmpty ? size - 1 : min(size - 1, Int(parts[1]) ?? size - 1)
        return end >= start ? (start, end) : nil
    }

    private func sendAll(_ fd: Int32, _ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }
            off += n
        }
    }
}

/// A TCP port on 127.0.0.1 that is bound (so no one else gets it) but not listening:
/// connecting is refused at once.
final class DeadPort: @unchecked Sendable {
    let port: Int
    private let fd: Int32

    init() throws {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard s >= 0 else { throw SystemCallFailed(call: "socket", code: errno) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p in
                bind(s, p, len) == 0 && getsockname(s, p, &len) == 0
            }
        }
        guard ok else {
            let code = errno
            close(s)
            throw SystemCallFailed(call: "bind", code: code)
        }
        fd = s
        port = Int(UInt16(bigEndian: addr.sin_port))
    }

    func release() { close(fd) }
}
