// multipart/byteranges framing: RFC 9110 §14.6 and RFC 2046 §5.1.1.

/// The exact framing of a `multipart/byteranges` body. The caller writes,
/// for each part, `part.header` followed by the file bytes of `part.range`,
/// then `trailer`. Nothing here reads the file.
public struct MultipartByteranges: Sendable {
    public struct Part: Sendable {
        /// `CRLF --boundary CRLF Content-Type: t CRLF Content-Range: bytes a-b/size CRLF CRLF`.
        /// The leading CRLF belongs to the delimiter (RFC 2046 §5.1.1), so the
        /// first part's one is just an empty preamble line.
        public let header: [UInt8]
        public let range: ByteRange
    }

    public let boundary: String
    public let parts: [Part]
    /// `CRLF --boundary-- CRLF`.
    public let trailer: [UInt8]

    /// - Parameters:
    ///   - ranges: usually the `.ranges` payload of `evaluateRange`.
    ///   - contentType: the type of the file, repeated in every part.
    ///   - boundary: 1–70 characters that never occur in the data; use `makeBoundary()`.
    public init(ranges: [ByteRange], size: Int64, contentType: String, boundary: String) {
        precondition((1...70).contains(boundary.utf8.count), "boundary must be 1-70 characters (RFC 2046)")
        self.boundary = boundary
        self.parts = ranges.map { r in
            let header = "\r\n--\(boundary)\r\n"
                + "Content-Type: \(contentType)\r\n"
                + "Content-Range: \(contentRange(r, size: size))\r\n"
                + "\r\n"
            return Part(header: Array(header.utf8), range: r)
        }
        self.trailer = Array("\r\n--\(boundary)--\r\n".utf8)
    }

    /// Value for the response's `Content-Type` header.
    public var contentType: String { "multipart/byteranges; boundary=\(boundary)" }

    /// Exact body size, for `Content-Length`.
    public var contentLength: Int64 {
        parts.reduce(Int64(trailer.count)) { $0 + Int64($1.header.count) + $1.range.length }
    }
}

/// A random 24-hex-digit boundary. 96 random bits make a collision with
/// video data practically impossible, and hex needs no quoting.
public func makeBoundary() -> String {
    var rng = SystemRandomNumberGenerator()
    return makeBoundary(using: &rng)
}

/// Deterministic variant for tests.
public func makeBoundary<G: RandomNumberGenerator>(using rng: inout G) -> String {
    let hex = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(24)
    for _ in 0..<3 {
        var word: UInt64 = rng.next()
        for _ in 0..<8 {
            out.append(hex[Int(word & 0xF)])
            word >>= 4
        }
    }
    return String(decoding: out, as: UTF8.self)
}

/// How to answer a GET once conditionals and `Range` have been evaluated.
public enum RangeResponsePlan: Sendable {
    /// 200 with the whole file.
    case full
    /// 206 with `Content-Range: contentRange(r, size:)`.
    case single(ByteRange)
    /// 206 with `Content-Type: m.contentType` and `Content-Length: m.contentLength`.
    case multipart(MultipartByteranges)
    /// 416 with `Content-Range: unsatisfiedContentRange(size:)`.
    case unsatisfiable
}

/// Picks the response shape. A multipart body at least as large as the file
/// (many tiny ranges: each part costs ~100 bytes of framing) falls back to a
/// 200, which RFC 9110 §14.2 allows since a server MAY ignore `Range`.
///
/// If the conditionals said `proceed(honourRange: false)`, pass `.ignored`.
public func chooseRangeResponse(_ req: RangeRequest, size: Int64, contentType: String, boundary: String) -> RangeResponsePlan {
    switch req {
    case .ignored:
        return .full
    case .unsatisfiable:
        return .unsatisfiable
    case let .ranges(ranges):
        if ranges.count == 1 { return .single(ranges[0]) }
        let body = MultipartByteranges(ranges: ranges, size: size, contentType: contentType, boundary: boundary)
        return body.contentLength >= size ? .full : .multipart(body)
    }
}
