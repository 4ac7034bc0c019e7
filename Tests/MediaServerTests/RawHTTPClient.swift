// A deliberately small, blocking HTTP/1.1 client on POSIX sockets. It sends whatever bytes a
// test hands it (malformed requests included) and parses responses strictly enough to notice
// framing mistakes: status line, headers, bodies by Content-Length (or chunked, or to EOF),
// no body for HEAD/1xx/204/304, several pipelined responses from one connection.
// Every socket has receive and send timeouts so a misbehaving server fails a test, never hangs it.

#if canImport(Glibc)
import Glibc
#endif

enum ClientError: Error, CustomStringConvertible {
    case system(String, Int32)
    case timedOut(String)
    /// The peer closed (or reset) the connection before a complete response arrived.
    case closed(receivedSoFar: Int)
    case malformed(String)

    var description: String {
        switch self {
        case .system(let call, let err): "\(call) failed: \(String(cString: strerror(err)))"
        case .timedOut(let what): "timed out \(what)"
        case .closed(let n): "connection closed after \(n) bytes of an incomplete response"
        case .malformed(let why): "malformed response: \(why)"
        }
    }
}

/// One parsed response.
struct HTTPResponse: Sendable, CustomStringConvertible {
    var version: String
    var status: Int
    var reason: String
    /// In wire order, names as sent.
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    /// The first field with this name (case-insensitive).
    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// Every field line with this name.
    func values(_ name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    var bodyText: String { String(decoding: body, as: UTF8.self) }

    var description: String {
        "\(version) \(status) \(reason) " + headers.map { "\($0.name): \($0.value)" }.joined(separator: " | ")
            + " [\(body.count) body bytes]"
    }
}

/// A single TCP connection to 127.0.0.1. Unchecked Sendable: handed between a test and its
/// `io` blocks, used by one of them at a time.
final class RawConnection: @unchecked Sendable {
    private(set) var fd: Int32
    /// Bytes received and not yet consumed by a parse.
    private var pending: [UInt8] = []
    private var pendingStart = 0
    /// Set once recv returned 0 (orderly close) or a reset.
    private(set) var sawEOF = false

    /// - Parameters:
    ///   - timeout: SO_RCVTIMEO / SO_SNDTIMEO in seconds.
    ///   - receiveBuffer: SO_RCVBUF, set before connecting, to keep little data in flight.
    init(port: Int, timeout: Double = 5, receiveBuffer: Int? = nil) throws {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard s >= 0 else { throw ClientError.system("socket", errno) }
        fd = s
        do {
            try setTimeout(SO_RCVTIMEO, timeout)
            try setTimeout(SO_SNDTIMEO, timeout)
            if let receiveBuffer {
                var size = Int32(receiveBuffer)
                guard setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
                    throw ClientError.system("setsockopt(SO_RCVBUF)", errno)
                }
            }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard rc == 0 else { throw ClientError.system("connect", errno) }
        } catch {
            Glibc.close(fd)
            fd = -1
            throw error
        }
    }

    deinit { close() }

    private func setTimeout(_ option: Int32, _ seconds: Double) throws {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        guard setsockopt(fd, SOL_SOCKET, option, &tv, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
            throw ClientError.system("setsockopt", errno)
        }
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    /// Closes with SO_LINGER 0, so the peer sees a reset rather than an orderly close.
    func abort() {
        guard fd >= 0 else { return }
        var l = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
        close()
    }

    // MARK: sending

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw ClientError.timedOut("sending") }
                throw ClientError.system("send", errno)
            }
            offset += n
        }
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Sends a request built from parts; `Host` is added unless `headers` has one.
    func sendRequest(_ method: String, _ target: String, headers: [(String, String)] = [], version: String = "HTTP/1.1") throws {
        try send(Self.request(method, target, headers: headers, version: version))
    }

    static func request(_ method: String, _ target: String, headers: [(String, String)] = [], version: String = "HTTP/1.1") -> String {
        var text = "\(method) \(target) \(version)\r\n"
        if !headers.contains(where: { $0.0.lowercased() == "host" }) { text += "Host: 127.0.0.1\r\n" }
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        return text + "\r\n"
    }

    // MARK: receiving

    /// Up to `max` bytes: what a parse left buffered first, else one recv; nil on orderly close or reset.
    func receiveSome(max: Int = 65536) throws -> [UInt8]? {
        if pendingStart < pending.count {
            let take = min(max, pending.count - pendingStart)
            let out = Array(pending[pendingStart..<(pendingStart + take)])
            pendingStart += take
            return out
        }
        if sawEOF { return nil }
        var buffer = [UInt8](repeating: 0, count: max)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, max, 0) }
            if n > 0 { return Array(buffer[0..<n]) }
            if n == 0 { sawEOF = true; return nil }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { throw ClientError.timedOut("receiving") }
            if errno == ECONNRESET { sawEOF = true; return nil }
            throw ClientError.system("recv", errno)
        }
    }

    /// Everything until the peer closes.
    func readToEOF() throws -> [UInt8] {
        var all: [UInt8] = []
        while let chunk = try receiveSome() { all += chunk }
        return all
    }

    /// True if the peer has closed: waits up to `within` seconds for EOF (data that arrives is discarded).
    func waitForClose(within seconds: Double) throws -> Bool {
        try setTimeout(SO_RCVTIMEO, seconds)
        do {
            while try receiveSome() != nil {}
            return true
        } catch ClientError.timedOut {
            return false
        }
    }

    /// Non-blocking check: has the peer closed (or reset) the connection yet? Meant for connections
    /// with nothing unread: pending data makes it answer false.
    func peerHasClosed() -> Bool {
        if sawEOF { return true }
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        if n == 0 { return true }
        if n < 0 { return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR }
        return false
    }

    private var buffered: ArraySlice<UInt8> { pending[pendingStart...] }

    private func fill() throws {
        if pendingStart > 0 && pendingStart == pending.count {
            pending.removeAll(keepingCapacity: true)
            pendingStart = 0
        }
        guard !sawEOF else { throw ClientError.closed(receivedSoFar: pending.count - pendingStart) }
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { pending += buffer[0..<n]; return }
            if n == 0 || errno == ECONNRESET {
                sawEOF = true
                throw ClientError.closed(receivedSoFar: pending.count - pendingStart)
            }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { throw ClientError.timedOut("waiting for a response") }
            throw ClientError.system("recv", errno)
        }
    }

    private func take(_ n: Int) -> [UInt8] {
        let out = Array(pending[pendingStart..<(pendingStart + n)])
        pendingStart += n
        return out
    }

    /// Reads through the next CRLF CRLF and returns the head's lines.
    private func readHeadLines() throws -> [String] {
        var scanned = 0 // bytes after pendingStart already searched
        while true {
            if let end = Self.find([13, 10, 13, 10], in: pending, from: pendingStart + max(0, scanned - 3)) {
                let head = take(end + 4 - pendingStart)
                let text = String(decoding: head.dropLast(4), as: UTF8.self)
                return text.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
            }
            scanned = pending.count - pendingStart
            if scanned > 1 << 20 { throw ClientError.malformed("response head over 1 MiB") }
            try fill()
        }
    }

    private static func find(_ needle: [UInt8], in hay: [UInt8], from: Int) -> Int? {
        guard hay.count >= needle.count, from <= hay.count - needle.count else { return nil }
        var i = from
        while i <= hay.count - needle.count {
            if hay[i] == needle[0] && hay[i + 1] == needle[1] && hay[i + 2] == needle[2] && hay[i + 3] == needle[3] {
                return i
            }
            i += 1
        }
        return nil
    }

    /// Status line and headers only; the body (if any) stays unread.
    func readResponseHead() throws -> HTTPResponse {
        let lines = try readHeadLines()
        guard let statusLine = lines.first else { throw ClientError.malformed("empty head") }
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let code = Int(parts[1]), parts[1].count == 3 else {
            throw ClientError.malformed("status line \(statusLine.debugDescription)")
        }
        var headers: [(String, String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { throw ClientError.malformed("header line \(line.debugDescription)") }
            let name = String(line[..<colon])
            guard !name.isEmpty, !name.contains(" ") else { throw ClientError.malformed("header name \(name.debugDescription)") }
            let value = line[line.index(after: colon)...].trimmingOWS()
            headers.append((name, value))
        }
        return HTTPResponse(version: String(parts[0]), status: code, reason: parts.count > 2 ? String(parts[2]) : "",
                            headers: headers, body: [])
    }

    /// Exactly `n` body bytes.
    func readBody(count n: Int) throws -> [UInt8] {
        while pending.count - pendingStart < n { try fill() }
        return take(n)
    }

    /// At most `n` body bytes: all of them, or what came before the peer closed.
    func readBody(upTo n: Int) throws -> [UInt8] {
        do {
            while pending.count - pendingStart < n { try fill() }
        } catch ClientError.closed {
            return take(pending.count - pendingStart)
        }
        return take(n)
    }

    /// One complete response. `method` decides whether a body can follow (HEAD: never).
    func readResponse(method: String = "GET") throws -> HTTPResponse {
        var response = try readResponseHead()
        if method == "HEAD" || (100..<200).contains(response.status) || response.status == 204 || response.status == 304 {
            return response
        }
        if let te = response.header("Transfer-Encoding") {
            guard te.lowercased() == "chunked" else { throw ClientError.malformed("transfer-encoding \(te)") }
            response.body = try readChunked()
        } else if let cl = response.header("Content-Length") {
            guard let n = Int(cl), n >= 0 else { throw ClientError.malformed("content-length \(cl)") }
            response.body = try readBody(count: n)
        } else {
            var rest = Array(buffered)
            pendingStart = pending.count
            while let chunk = try receiveSome() { rest += chunk }
            response.body = rest
        }
        return response
    }

    private func readLine() throws -> String {
        while true {
            if let i = buffered.firstIndex(of: 10), i > pendingStart, pending[i - 1] == 13 {
                let line = take(i + 1 - pendingStart)
                return String(decoding: line.dropLast(2), as: UTF8.self)
            }
            try fill()
        }
    }

    private func readChunked() throws -> [UInt8] {
        var body: [UInt8] = []
        while true {
            let sizeLine = try readLine()
            guard let size = Int(sizeLine.split(separator: ";")[0].trimmingOWS(), radix: 16) else {
                throw ClientError.malformed("chunk size \(sizeLine.debugDescription)")
            }
            if size == 0 {
                while try !readLine().isEmpty {}
                return body
            }
            body += try readBody(count: size)
            guard try readLine().isEmpty else { throw ClientError.malformed("chunk not followed by CRLF") }
        }
    }

    /// Convenience: send one request and read its response.
    func exchange(_ method: String, _ target: String, headers: [(String, String)] = [], version: String = "HTTP/1.1") throws -> HTTPResponse {
        try sendRequest(method, target, headers: headers, version: version)
        return try readResponse(method: method)
    }
}

extension StringProtocol {
    func trimmingOWS() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}

/// Whether anything accepts TCP connections on 127.0.0.1:port right now.
func portAcceptsConnections(_ port: Int) -> Bool {
    (try? RawConnection(port: port, timeout: 1)) != nil
}
