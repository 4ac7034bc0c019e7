import Foundation
import MediaCatalog
import MediaFiles

/// `verify --via URL`: asks a running server (ours or another) for each file the way a browser
/// would, and compares what comes back with the bytes on disk.
public struct HTTPStreamCheck: Sendable {
    public static let defaultTemplate = "{base}/api/media/videos/{id}/?type={type}"

    public var base: String
    public var template: String
    public var timeout: Double

    public init(base: String, template: String = HTTPStreamCheck.defaultTemplate, timeout: Double = 10) {
        self.base = base.hasSuffix("/") ? String(base.dropLast()) : base
        self.template = template
        self.timeout = timeout
    }

    /// Why `base` is not a URL `--via` can use; nil when it is.
    public static func problem(with base: String) -> String? {
        guard base.hasPrefix("http://") else { return "--via takes an http:// URL" }
        let rest = base.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" }
        guard !authority.isEmpty else { return "--via URL \(base) names no host" }
        guard !base.contains(where: { $0 == " " || $0 == "\t" || $0 == "\n" }) else { return "--via URL \(base) contains white space" }
        var portText: Substring? = nil
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return "--via URL \(base) has an unclosed [ in its host" }
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty { return "--via URL \(base) has a malformed host" }
        } else if let colon = authority.lastIndex(of: ":") {
            portText = authority[authority.index(after: colon)...]
            if authority[..<colon].isEmpty { return "--via URL \(base) names no host" }
        }
        if let portText {
            guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy(\.isASCII), portText.allSatisfy(\.isNumber),
                  let port = Int(portText), (1...65535).contains(port) else {
                return "--via URL \(base) has an invalid port \(portText) (1 to 65535)"
            }
        }
        return nil
    }

    public func url(for record: VideoRecord, kind: FileKind, stored: RawPath) -> String {
        template.replacingOccurrences(of: "{base}", with: base)
            .replacingOccurrences(of: "{id}", with: String(record.id))
            .replacingOccurrences(of: "{uuid}", with: record.uuid)
            .replacingOccurrences(of: "{type}", with: kind.rawValue)
            .replacingOccurrences(of: "{path}", with: Self.percentEncodePath(stored))
    }

    /// Stored paths in URLs: every byte but unreserved characters and "/" percent-encoded
    /// (bytes, so a name that is not UTF-8 keeps its exact bytes).
    static func percentEncodePath(_ path: RawPath) -> String {
        var out = ""
        let hex = Array("0123456789ABCDEF")
        for b in path.bytes {
            let c = Character(Unicode.Scalar(b))
            if b < 0x80 && (c.isLetter || c.isNumber || "-._~/".contains(c)) {
                out.append(c)
            } else {
                out += "%" + String(hex[Int(b >> 4)]) + String(hex[Int(b & 0xF)])
            }
        }
        return out
    }

    public func check(record: VideoRecord, kind: FileKind, stored: RawPath, localPath: RawPath) -> [Finding] {
        guard let local = LocalBytes(path: localPath) else { return [] }
        let url = self.url(for: record, kind: kind, stored: stored)
        func issue(_ code: Finding.Code, _ message: String) -> [Finding] {
            [Finding(code, file: kind, "\(url): \(message)")]
        }
        do {
            // 1. HEAD: 200, the size on disk, and an advertised range unit.
            let head = try MiniHTTP.request(url: url, method: "HEAD", headers: [], timeout: timeout)
            guard head.status == 200 else { return issue(.httpStatus, "HEAD answered \(head.status), expected 200") }
            if head.header("content-length") != String(local.size) {
                return issue(.httpWrongLength, "HEAD Content-Length is \(head.header("content-length") ?? "missing"), the file has \(local.size) bytes")
            }
            if head.header("accept-ranges")?.lowercased() != "bytes" {
                return issue(.httpNoRangeSupport, "HEAD lacks Accept-Ranges: bytes")
            }
            // 2. The first two bytes, as a player's first probe.
            let n = min(local.size, 2)
            let first = try MiniHTTP.request(url: url, method: "GET", headers: [("Range", "bytes=0-1")], timeout: timeout)
            if first.status == 200 { return issue(.httpNoRangeSupport, "answered 200 to Range: bytes=0-1; browsers cannot seek") }
            guard first.status == 206 else { return issue(.httpStatus, "answered \(first.status) to Range: bytes=0-1, expected 206") }
            if first.header("content-range") != "bytes 0-\(n - 1)/\(local.size)" || first.body != local.read(offset: 0, count: n) {
                return issue(.httpWrongBytes, "Range: bytes=0-1 gave \(first.header("content-range") ?? "no Content-Range") and other bytes than the file's")
            }
            // 3. A suffix range: the tail, where MP4 players look for a moov at the end.
            let tail = min(local.size, 16)
            let last = try MiniHTTP.request(url: url, method: "GET", headers: [("Range", "bytes=-\(tail)")], timeout: timeout)
            guard last.status == 206 else { return issue(last.status == 200 ? .httpNoRangeSupport : .httpStatus, "answered \(last.status) to Range: bytes=-\(tail), expected 206") }
            if last.header("content-range") != "bytes \(local.size - tail)-\(local.size - 1)/\(local.size)"
                || last.body != local.read(offset: local.size - tail, count: tail) {
                return issue(.httpWrongBytes, "Range: bytes=-\(tail) did not return the file's last \(tail) bytes")
            }
            // 4. Past the end: 416 with the size.
            let past = try MiniHTTP.request(url: url, method: "GET", headers: [("Range", "bytes=\(local.size)-")], timeout: timeout)
            if past.status != 416 {
                return issue(.httpStatus, "answered \(past.status) to Range: bytes=\(local.size)-, expected 416")
            }
            return []
        } catch let error as MiniHTTP.Failure {
            return issue(error.badResponse ? .httpBadResponse : .httpError, error.message)
        } catch {
            return issue(.httpError, "\(error)")
        }
    }
}

struct LocalBytes {
    let path: RawPath
    let size: Int64

    init?(path: RawPath) {
        guard case .success(let st) = FileSystem.status(path) else { return nil }
        self.path = path
        self.size = st.identity.size
    }

    func read(offset: Int64, count: Int64) -> [UInt8] {
        guard count > 0, count <= 1 << 20, case .success(let fd) = FileSystem.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK) else { return [] }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: Int(count))
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
        return n > 0 ? Array(buffer[0..<n]) : []
    }
}

/// A deliberately small HTTP/1.1 client: one request per connection, http only, timeouts on
/// every step, bodies capped so a server that ignores ranges cannot make verify read a whole file.
enum MiniHTTP {
    struct Failure: Error {
        var message: String
        /// The server answered, but not with valid HTTP.
        var badResponse = false
    }

    struct Reply {
        var status: Int
        var headers: [(String, String)]
        var body: [UInt8]

        func header(_ name: String) -> String? {
            headers.last { $0.0.lowercased() == name }?.1
        }
    }

    static let maxBody = 64 * 1024

    static func request(url: String, method: String, headers: [(String, String)], timeout: Double) throws -> Reply {
        guard url.hasPrefix("http://") else { throw Failure(message: "only http:// URLs are supported") }
        let rest = url.dropFirst("http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = String(rest[..<slash])
        let target = slash == rest.endIndex ? "/" : String(rest[slash...])
        var host = authority
        var port = "80"
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { port = String(after.dropFirst()) }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            port = String(authority[authority.index(after: colon)...])
        }
        // One deadline for the whole exchange: a server trickling a byte at a time must not
        // stretch a per-read timeout into forever.
        let deadline = Date().addingTimeInterval(timeout)
        let fd = try connect(host: host, port: port, timeout: timeout)
        defer { close(fd) }
        var text = "\(method) \(target) HTTP/1.1\r\nHost: \(authority)\r\nUser-Agent: medialib-verify\r\nConnection: close\r\n"
        for (k, v) in headers { text += "\(k): \(v)\r\n" }
        text += "\r\n"
        try sendAll(fd, Array(text.utf8), deadline: deadline)
        return try readReply(fd, isHead: method == "HEAD", deadline: deadline)
    }

    static func connect(host: String, port: String, timeout: Double) throws -> CInt {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, port, &hints, &result)
        guard rc == 0, let first = result else {
            throw Failure(message: "cannot resolve \(host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(result) }
        var lastError = "no address"
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai {
            let fd = socket(a.pointee.ai_family, a.pointee.ai_socktype, a.pointee.ai_protocol)
            if fd >= 0 {
                var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                if Glibc.connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0 { return fd }
                lastError = String(cString: strerror(errno))
                close(fd)
            }
            ai = a.pointee.ai_next
        }
        throw Failure(message: "cannot connect to \(host):\(port): \(lastError)")
    }

    /// Limits the next blocking call to what is left of the deadline.
    static func limit(_ fd: CInt, _ option: Int32, by deadline: Date) throws {
        let left = deadline.timeIntervalSinceNow
        guard left > 0 else { throw Failure(message: "timed out") }
        var tv = timeval(tv_sec: Int(left), tv_usec: max(1, Int((left - Double(Int(left))) * 1_000_000)))
        setsockopt(fd, SOL_SOCKET, option, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    static func sendAll(_ fd: CInt, _ bytes: [UInt8], deadline: Date) throws {
        var off = 0
        while off < bytes.count {
            try limit(fd, SO_SNDTIMEO, by: deadline)
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(message: errno == EAGAIN ? "timed out sending the request" : "send failed: \(String(cString: strerror(errno)))")
            }
            off += n
        }
    }

    static func readReply(_ fd: CInt, isHead: Bool, deadline: Date) throws -> Reply {
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 16384)
        var headEnd: Int? = nil
        var expected: Int? = nil
        var reply = Reply(status: 0, headers: [], body: [])
        while true {
            if let end = headEnd {
                let have = data.count - end
                if isHead || [204, 304].contains(reply.status) || have >= min(expected ?? Int.max, maxBody) { break }
            }
            do { try limit(fd, SO_RCVTIMEO, by: deadline) } catch {
                throw Failure(message: "timed out waiting for the response")
            }
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(message: errno == EAGAIN ? "timed out waiting for the response" : "receive failed: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            data.append(contentsOf: buf[0..<n])
            if headEnd == nil, let end = find(data, [13, 10, 13, 10]) {
                headEnd = end + 4
                reply = try parseHead(Array(data[0..<end]))
                expected = try contentLength(reply)
            }
            if headEnd == nil && data.count > 64 * 1024 { throw Failure(message: "response head too large") }
        }
        guard let end = headEnd else { throw Failure(message: "connection closed before a complete response head") }
        let available = Array(data[end...])
        let wanted = min(expected ?? available.count, maxBody)
        if !isHead, let expected, available.count < min(expected, maxBody) {
            throw Failure(message: "connection closed after \(available.count) of \(expected) body bytes")
        }
        reply.body = Array(available.prefix(wanted))
        return reply
    }

    /// Content-Length as RFC 9110 §8.6 allows it: digits only; repeated values must agree.
    static func contentLength(_ reply: Reply) throws -> Int? {
        let values = reply.headers.filter { $0.0.lowercased() == "content-length" }.map(\.1)
        guard let first = values.first else { return nil }
        let parts = values.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        guard parts.allSatisfy({ !$0.isEmpty && $0.count <= 18 && $0.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }),
              Set(parts).count == 1, let n = Int(parts[0]) else {
            throw Failure(message: "invalid Content-Length: \(first)", badResponse: true)
        }
        return n
    }

    static func parseHead(_ bytes: [UInt8]) throws -> Reply {
        let text = String(decoding: bytes, as: UTF8.self)
        var lines = text.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2)
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]) else {
            throw Failure(message: "not an HTTP/1.x response", badResponse: true)
        }
        var headers: [(String, String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        return Reply(status: status, headers: headers, body: [])
    }

    static func find(_ hay: [UInt8], _ needle: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for i in 0...(hay.count - needle.count) where hay[i] == needle[0] {
            if Array(hay[i..<(i + needle.count)]) == needle { return i }
        }
        return nil
    }
}
