import NIOCore

/// The parts of a request head serve uses; everything else is skipped without being copied.
struct RequestHead: Sendable {
    enum Method: Equatable, Sendable {
        case get, head, options, connect, other(String)

        var name: String {
            switch self {
            case .get: "GET"
            case .head: "HEAD"
            case .options: "OPTIONS"
            case .connect: "CONNECT"
            case .other(let m): m
            }
        }
    }

    var method: Method
    var target: String
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    var minorVersion: Int
    var keepAlive: Bool
    var hostCount = 0
    // Fields of RFC 9110's list syntax are joined with ", " when they come in several lines.
    var range: String?
    var ifRange: String?
    var ifMatch: String?
    var ifNoneMatch: String?
    var ifModifiedSince: String?
    var ifUnmodifiedSince: String?
    var origin: String?
    var accessControlRequestHeaders: String?

    var isHead: Bool { method == .head }
}

/// What the decoder hands on: a complete request (head and any body consumed), or the reason
/// the bytes are not HTTP/1.x, after which nothing more is decoded.
enum RequestEvent: Sendable {
    case request(RequestHead)
    case malformed(status: Int, reason: String)
}

/// A strict HTTP/1.x request parser on ByteBuffer: request line, header fields (only the ones
/// serve uses become Strings), Content-Length and chunked bodies skipped. Anything RFC 9112
/// does not allow is a 400; a head over the limit a 431; a body over 1 MiB a 413. After an
/// error it stops, so a smuggled request never reaches the server.
struct RequestDecoder: ByteToMessageDecoder {
    typealias InboundOut = RequestEvent

    let maxHeadBytes: Int
    static let maxBodyBytes: Int64 = 1 << 20

    private enum State {
        case head
        case body(remaining: Int64, head: RequestHead)
        case chunkSize(head: RequestHead, total: Int64)
        case chunkData(remaining: Int64, head: RequestHead, total: Int64)
        case chunkDataEnd(head: RequestHead, total: Int64)
        case trailers(head: RequestHead)
        case failed
    }

    private var state = State.head
    /// Where the search for the end of the head resumes (so a trickled head is scanned once).
    private var scanned = 0

    init(maxHeadBytes: Int) {
        self.maxHeadBytes = maxHeadBytes
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        switch state {
        case .failed:
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            return .needMoreData
        case .head:
            return decodeHead(context: context, buffer: &buffer)
        case .body(let remaining, let head):
            let skip = Int(min(Int64(buffer.readableBytes), remaining))
            buffer.moveReaderIndex(forwardBy: skip)
            if remaining - Int64(skip) > 0 {
                state = .body(remaining: remaining - Int64(skip), head: head)
                return .needMoreData
            }
            state = .head
            context.fireChannelRead(NIOAny(RequestEvent.request(head)))
            return .continue
        case .chunkSize(let head, let total):
            let line: [UInt8]
            switch readLine(&buffer, limit: 1024) {
            case .incomplete: return .needMoreData
            case .malformed: return fail(context, 400, "malformed chunk size")
            case .line(let l): line = l
            }
            let sizeText = line.prefix { $0 != UInt8(ascii: ";") }
            guard !sizeText.isEmpty, sizeText.count <= 15, let size = Int64(String(decoding: sizeText, as: UTF8.self), radix: 16), size >= 0 else {
                return fail(context, 400, "malformed chunk size")
            }
            if size == 0 { state = .trailers(head: head); return .continue }
            let newTotal = total + size
            if newTotal > Self.maxBodyBytes { return fail(context, 413, "request body too large") }
            state = .chunkData(remaining: size, head: head, total: newTotal)
            return .continue
        case .chunkData(let remaining, let head, let total):
            let skip = Int(min(Int64(buffer.readableBytes), remaining))
            buffer.moveReaderIndex(forwardBy: skip)
            if remaining - Int64(skip) > 0 {
                state = .chunkData(remaining: remaining - Int64(skip), head: head, total: total)
                return .needMoreData
            }
            state = .chunkDataEnd(head: head, total: total)
            return .continue
        case .chunkDataEnd(let head, let total):
            guard buffer.readableBytes >= 2 else { return .needMoreData }
            guard buffer.readBytes(length: 2) == [13, 10] else { return fail(context, 400, "malformed chunk") }
            state = .chunkSize(head: head, total: total)
            return .continue
        case .trailers(let head):
            let line: [UInt8]
            switch readLine(&buffer, limit: maxHeadBytes) {
            case .incomplete: return .needMoreData
            case .malformed: return fail(context, 400, "malformed trailer")
            case .line(let l): line = l
            }
            if line.isEmpty {
                state = .head
                context.fireChannelRead(NIOAny(RequestEvent.request(head)))
            }
            return .continue
        }
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A half-received request at EOF is dropped: nobody is left to answer.
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        return .needMoreData
    }

    private mutating func fail(_ context: ChannelHandlerContext, _ status: Int, _ reason: String) -> DecodingState {
        state = .failed
        context.fireChannelRead(NIOAny(RequestEvent.malformed(status: status, reason: reason)))
        return .needMoreData
    }

    enum Line { case line([UInt8]), incomplete, malformed }

    /// A CRLF-terminated line, consumed.
    private func readLine(_ buffer: inout ByteBuffer, limit: Int) -> Line {
        let view = buffer.readableBytesView
        guard let cr = view.firstIndex(of: 13) else { return view.count > limit ? .malformed : .incomplete }
        if cr - view.startIndex > limit { return .malformed }
        guard view.index(after: cr) < view.endIndex else { return .incomplete }
        guard view[view.index(after: cr)] == 10 else { return .malformed }
        let line = Array(view[view.startIndex..<cr])
        if line.contains(10) { return .malformed }
        buffer.moveReaderIndex(forwardBy: line.count + 2)
        return .line(line)
    }

    private mutating func decodeHead(context: ChannelHandlerContext, buffer: inout ByteBuffer) -> DecodingState {
        // Leading empty lines before a request line are allowed (RFC 9112 §2.2).
        while buffer.readableBytes >= 2, buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) == 0x0D0A {
            buffer.moveReaderIndex(forwardBy: 2)
            scanned = 0
        }
        guard let end = findHeadEnd(buffer) else {
            if !Self.methodSoFarIsValid(buffer) { return fail(context, 400, "not an HTTP request") }
            if buffer.readableBytes > maxHeadBytes { return fail(context, 431, "request head too large") }
            return .needMoreData
        }
        scanned = 0
        if end > maxHeadBytes { return fail(context, 431, "request head too large") }
        let parsed: Result<(RequestHead, Framing), HeadError> = buffer.withUnsafeReadableBytes { raw in
            Self.parseHead(UnsafeRawBufferPointer(rebasing: raw[0..<end]))
        }
        buffer.moveReaderIndex(forwardBy: end + 4)
        switch parsed {
        case .failure(let e):
            return fail(context, e.status, e.reason)
        case .success(let (head, framing)):
            switch framing {
            case .none:
                context.fireChannelRead(NIOAny(RequestEvent.request(head)))
            case .length(let n):
                if n > Self.maxBodyBytes { return fail(context, 413, "request body too large") }
                state = .body(remaining: n, head: head)
            case .chunked:
                state = .chunkSize(head: head, total: 0)
            }
            return .continue
        }
    }

    /// Whether what has arrived of a request line could still start a method: a TLS handshake
    /// or other binary on the plain port is refused at once, not after the head timeout.
    static func methodSoFarIsValid(_ buffer: ByteBuffer) -> Bool {
        buffer.withUnsafeReadableBytes { raw in
            for (i, b) in raw.prefix(33).enumerated() {
                if b == 0x20 { return i > 0 }
                if !(b >= 0x41 && b <= 0x5A) { return false }
            }
            return raw.count <= 32
        }
    }

    /// The offset of "\r\n\r\n" in the readable bytes, resuming where the last scan stopped.
    private mutating func findHeadEnd(_ buffer: ByteBuffer) -> Int? {
        let count = buffer.readableBytes
        guard count >= 4 else { return nil }
        let found: Int? = buffer.withUnsafeReadableBytes { raw in
            var i = max(0, scanned - 3)
            while i + 3 < count {
                if raw[i] == 13 && raw[i + 1] == 10 && raw[i + 2] == 13 && raw[i + 3] == 10 { return i }
                i += 1
            }
            return nil
        }
        if found == nil { scanned = count }
        return found
    }

    enum Framing { case none, length(Int64), chunked }

    struct HeadError: Error {
        var status: Int
        var reason: String
        static func bad(_ reason: String) -> HeadError { HeadError(status: 400, reason: reason) }
    }

    /// Parses a head (without its final CRLFCRLF).
    static func parseHead(_ bytes: UnsafeRawBufferPointer) -> Result<(RequestHead, Framing), HeadError> {
        var lineStart = 0
        func nextLine() -> Range<Int>? {
            guard lineStart <= bytes.count else { return nil }
            var i = lineStart
            while i < bytes.count {
                if bytes[i] == 13 { break }
                i += 1
            }
            // Lines end in CRLF: a bare CR is malformed (an empty range the caller rejects).
            if i < bytes.count && (i + 1 >= bytes.count || bytes[i + 1] != 10) {
                lineStart = bytes.count + 1
                return i..<i
            }
            defer { lineStart = i + 2 }
            return lineStart..<i
        }
        guard let requestLine = nextLine() else { return .failure(.bad("empty request")) }
        // method SP request-target SP HTTP-version
        guard let sp1 = bytes[requestLine].firstIndex(of: 0x20) else { return .failure(.bad("malformed request line")) }
        let methodBytes = bytes[requestLine.lowerBound..<sp1]
        guard !methodBytes.isEmpty, methodBytes.count <= 32, methodBytes.allSatisfy({ $0 >= 0x41 && $0 <= 0x5A }) else {
            return .failure(.bad("malformed method"))
        }
        guard let sp2 = bytes[(sp1 + 1)..<requestLine.upperBound].firstIndex(of: 0x20) else { return .failure(.bad("malformed request line")) }
        let targetBytes = bytes[(sp1 + 1)..<sp2]
        guard !targetBytes.isEmpty, targetBytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return .failure(.bad("malformed request target")) }
        let version = bytes[(sp2 + 1)..<requestLine.upperBound]
        guard version.count == 8, version.starts(with: Array("HTTP/1.".utf8)), let minor = version.last, minor == 0x30 || minor == 0x31 else {
            return .failure(.bad("unsupported HTTP version"))
        }
        let method: RequestHead.Method
        switch methodBytes.count {
        case 3 where methodBytes.elementsEqual("GET".utf8): method = .get
        case 4 where methodBytes.elementsEqual("HEAD".utf8): method = .head
        case 7 where methodBytes.elementsEqual("OPTIONS".utf8): method = .options
        case 7 where methodBytes.elementsEqual("CONNECT".utf8): method = .connect
        default: method = .other(String(decoding: methodBytes, as: UTF8.self))
        }
        var head = RequestHead(method: method, target: String(decoding: targetBytes, as: UTF8.self),
                               minorVersion: minor == 0x31 ? 1 : 0, keepAlive: minor == 0x31)
        var contentLength: Int64?
        var chunked = false
        var sawTransferEncoding = false
        var connectionClose = false
        var connectionKeepAlive = false
        while lineStart < bytes.count, let line = nextLine() {
            guard !line.isEmpty else { return .failure(.bad("empty header line")) }
            guard let colon = bytes[line].firstIndex(of: 0x3A), colon > line.lowerBound else {
                return .failure(.bad("header line without a field name"))
            }
            let name = bytes[line.lowerBound..<colon]
            guard name.allSatisfy(isTokenByte) else { return .failure(.bad("malformed header field name")) }
            var vStart = colon + 1
            var vEnd = line.upperBound
            while vStart < vEnd && (bytes[vStart] == 0x20 || bytes[vStart] == 0x09) { vStart += 1 }
            while vEnd > vStart && (bytes[vEnd - 1] == 0x20 || bytes[vEnd - 1] == 0x09) { vEnd -= 1 }
            let value = bytes[vStart..<vEnd]
            // Field values: visible characters, spaces and tabs, obs-text; never NUL, CR or LF.
            guard value.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else {
                return .failure(.bad("invalid character in a header value"))
            }
            func text() -> String { String(decoding: value, as: UTF8.self) }
            func joined(_ existing: String?) -> String { existing.map { $0 + ", " + text() } ?? text() }
            switch name.count {
            case 4 where equalsLower(name, "host"): head.hostCount += 1
            case 5 where equalsLower(name, "range"): head.range = joined(head.range)
            case 6 where equalsLower(name, "origin"): head.origin = head.origin ?? text()
            case 8 where equalsLower(name, "if-match"): head.ifMatch = joined(head.ifMatch)
            case 8 where equalsLower(name, "if-range"): head.ifRange = head.ifRange ?? text()
            case 10 where equalsLower(name, "connection"):
                for token in value.split(separator: 0x2C) {
                    let t = token.drop { $0 == 0x20 || $0 == 0x09 }.reversed().drop { $0 == 0x20 || $0 == 0x09 }.reversed()
                    if equalsLower(t, "close") { connectionClose = true }
                    if equalsLower(t, "keep-alive") { connectionKeepAlive = true }
                }
            case 13 where equalsLower(name, "if-none-match"): head.ifNoneMatch = joined(head.ifNoneMatch)
            case 14 where equalsLower(name, "content-length"):
                guard !value.isEmpty, value.count <= 18, value.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                      let n = Int64(String(decoding: value, as: UTF8.self)) else {
                    return .failure(.bad("invalid Content-Length"))
                }
                if let previous = contentLength, previous != n { return .failure(.bad("conflicting Content-Length fields")) }
                contentLength = n
            case 17 where equalsLower(name, "if-modified-since"): head.ifModifiedSince = head.ifModifiedSince ?? text()
            case 17 where equalsLower(name, "transfer-encoding"):
                sawTransferEncoding = true
                let last = value.split(separator: 0x2C).last.map { $0.drop { $0 == 0x20 || $0 == 0x09 } } ?? []
                chunked = equalsLower(Array(last), "chunked")
                if !chunked { return .failure(HeadError(status: 501, reason: "unsupported Transfer-Encoding")) }
            case 19 where equalsLower(name, "if-unmodified-since"): head.ifUnmodifiedSince = head.ifUnmodifiedSince ?? text()
            case 30 where equalsLower(name, "access-control-request-headers"): head.accessControlRequestHeaders = joined(head.accessControlRequestHeaders)
            default: break
            }
        }
        if sawTransferEncoding && contentLength != nil {
            return .failure(.bad("Content-Length together with Transfer-Encoding"))
        }
        head.keepAlive = head.minorVersion == 1 ? !connectionClose : (connectionKeepAlive && !connectionClose)
        let framing: Framing = chunked ? .chunked : (contentLength.map { $0 > 0 ? .length($0) : .none } ?? .none)
        return .success((head, framing))
    }

    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): true
        default: false
        }
    }

    /// ASCII case-insensitive comparison with a lowercase literal.
    static func equalsLower<C: Collection>(_ bytes: C, _ lower: StaticString) -> Bool where C.Element == UInt8 {
        guard bytes.count == lower.utf8CodeUnitCount else { return false }
        return lower.withUTF8Buffer { l in
            zip(bytes, l).allSatisfy { a, b in (a >= 0x41 && a <= 0x5A ? a | 0x20 : a) == b }
        }
    }
}
