import MediaCatalog
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The contract's routes, parsed from a request target. Pure: no catalog, no I/O.
public enum Route: Equatable, Sendable {
    case page
    case asset(String)
    case health
    case summary
    case videoList(ListQuery)
    case video(VideoKey, FileKind?)
    /// `OPTIONS *`: about the server, not a resource (RFC 9110 §9.3.7).
    case serverWide
    case badRequest(String)
    case notFound

    /// `GET /api/media/videos/?after=ID&limit=N&status=S&code=C&q=TEXT`.
    public struct ListQuery: Equatable, Sendable {
        public var after: Int64 = 0
        public var limit: Int = ListQuery.defaultLimit
        public var status: String?
        public var code: String?
        public var q: String?
        public static let defaultLimit = 100
        public static let maxLimit = 1000
    }

    /// The integer id or the uuid of a record.
    public enum VideoKey: Equatable, Sendable {
        case id(Int64)
        case uuid(String)
    }

    static let videosPrefix = "/api/media/videos"

    /// Parses over the target's UTF-8 bytes: every request comes through here, and byte
    /// comparisons cost a fraction of String searches (no Foundation, no Character walks).
    public static func parse(target: String) -> Route {
        var t = target
        return t.withUTF8 { parse(bytes: $0) }
    }

    static func parse(bytes target: UnsafeBufferPointer<UInt8>) -> Route {
        if target.count == 1 && target[0] == UInt8(ascii: "*") { return .serverWide }
        let (pathRange, queryRange) = split(target)
        let query = queryRange.map { UnsafeBufferPointer(rebasing: target[$0]) }
        guard let pathRange else { return [UInt8(ascii: "/")].withUnsafeBufferPointer { route(path: $0, query: query) } }
        let rawPath = UnsafeBufferPointer(rebasing: target[pathRange])
        // Most targets have no percent sign: the bytes are the path.
        if rawPath.contains(UInt8(ascii: "%")) {
            guard let decoded = percentDecode(rawPath) else { return .badRequest("malformed percent-encoding in the path") }
            return decoded.withUnsafeBufferPointer { route(path: $0, query: query) }
        }
        return route(path: rawPath, query: query)
    }

    /// Byte equality with a literal (memcmp; the generic elementsEqual over a String's UTF-8
    /// view cost more than the rest of routing).
    static func equal(_ b: UnsafeBufferPointer<UInt8>, _ s: StaticString) -> Bool {
        b.count == s.utf8CodeUnitCount && (b.isEmpty || memcmp(b.baseAddress!, s.utf8Start, b.count) == 0)
    }

    static func hasPrefix(_ b: UnsafeBufferPointer<UInt8>, _ s: StaticString) -> Bool {
        b.count >= s.utf8CodeUnitCount && memcmp(b.baseAddress!, s.utf8Start, s.utf8CodeUnitCount) == 0
    }

    static func route(path: UnsafeBufferPointer<UInt8>, query: UnsafeBufferPointer<UInt8>?) -> Route {
        let videos: StaticString = "/api/media/videos"
        if hasPrefix(path, videos) {
            return videoRoute(UnsafeBufferPointer(rebasing: path[videos.utf8CodeUnitCount...]), query: query)
        }
        if equal(path, "/") { return .page }
        if equal(path, "/healthz") { return .health }
        if equal(path, "/assets/app.js") { return .asset("app.js") }
        if equal(path, "/assets/app.css") { return .asset("app.css") }
        if equal(path, "/api/media/summary") || equal(path, "/api/media/summary/") { return .summary }
        return .notFound
    }

    /// What follows "/api/media/videos": the listing, or one record's file.
    static func videoRoute(_ after: UnsafeBufferPointer<UInt8>, query: UnsafeBufferPointer<UInt8>?) -> Route {
        var rest = after
        if rest.isEmpty || equal(rest, "/") {
            switch listQuery(query.map { Substring(decoding: $0, as: UTF8.self) }) {
            case .success(let q): return .videoList(q)
            case .failure(let m): return .badRequest(m.text)
            }
        }
        guard rest.first == UInt8(ascii: "/") else { return .notFound }
        rest = UnsafeBufferPointer(rebasing: rest.dropFirst())
        if rest.last == UInt8(ascii: "/") { rest = UnsafeBufferPointer(rebasing: rest.dropLast()) }
        guard !rest.isEmpty, !rest.contains(UInt8(ascii: "/")) else { return .notFound }
        guard let key = videoKey(rest) else {
            return .badRequest("'\(String(decoding: rest, as: UTF8.self))' is not a record id (an integer) or a uuid")
        }
        switch fileKind(query: query) {
        case .success(let kind): return .video(key, kind)
        case .failure(let message): return .badRequest(message.text)
        }
    }

    /// Origin-form targets, and absolute-form ones (RFC 9112 §3.2.2) reduced to their path;
    /// a fragment is dropped. Ranges of the path and of the query (after the "?").
    /// nil path: an absolute-form target with no path after the authority, which means "/".
    static func split(_ t: UnsafeBufferPointer<UInt8>) -> (path: Range<Int>?, query: Range<Int>?) {
        var start = 0
        var end = t.count
        if t.first != UInt8(ascii: "/"), let scheme = find([0x3A, 0x2F, 0x2F], in: t) { // "://"
            let afterAuthority = scheme + 3
            start = t[afterAuthority...].firstIndex(of: UInt8(ascii: "/")) ?? end
        }
        if let hash = t[start..<end].firstIndex(of: UInt8(ascii: "#")) { end = hash }
        let q = t[start..<end].firstIndex(of: UInt8(ascii: "?"))
        let path = start..<(q ?? end)
        return (path.isEmpty && start > 0 ? nil : path, q.map { ($0 + 1)..<end })
    }

    private static func find(_ needle: [UInt8], in t: UnsafeBufferPointer<UInt8>) -> Int? {
        guard t.count >= needle.count else { return nil }
        for i in 0...(t.count - needle.count) where t[i] == needle[0] {
            if t[i..<(i + needle.count)].elementsEqual(needle) { return i }
        }
        return nil
    }

    static func videoKey(_ s: UnsafeBufferPointer<UInt8>) -> VideoKey? {
        if s.count <= 18, s.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            var id: Int64 = 0
            for c in s { id = id * 10 + Int64(c - 0x30) } // 18 digits cannot overflow
            return id > 0 ? .id(id) : nil
        }
        // The dashed form, or Django's 32 hex digits: both name the same record.
        if let hex = UUIDText.hexDigits(Array(s)) { return .uuid(UUIDText.dashed(hex)) }
        return nil
    }

    static func videoKey(_ s: String) -> VideoKey? {
        var s = s
        return s.withUTF8 { $0.isEmpty ? nil : videoKey($0) }
    }

    static func listQuery(_ query: Substring?) -> Result<ListQuery, Message> {
        var q = ListQuery()
        guard let query else { return .success(q) }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = parts[0]
            guard let value = percentDecode(parts.count > 1 ? parts[1] : "", plusIsSpace: true) else {
                return .failure(Message(text: "malformed percent-encoding in \(name)"))
            }
            switch name {
            case "after":
                guard let n = Int64(value), n >= 0 else { return .failure(Message(text: "after must be a record id (0 or more)")) }
                q.after = n
            case "limit":
                guard let n = Int(value), (1...ListQuery.maxLimit).contains(n) else {
                    return .failure(Message(text: "limit must be between 1 and \(ListQuery.maxLimit)"))
                }
                q.limit = n
            case "status":
                guard ["ok", "warning", "error", "unchecked"].contains(value) else {
                    return .failure(Message(text: "status must be ok, warning, error or unchecked"))
                }
                q.status = value
            case "code": q.code = value.isEmpty ? nil : value
            case "q": q.q = value.isEmpty ? nil : value
            default: continue
            }
        }
        return .success(q)
    }

    static func isUUID(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard u.count == 36 else { return false }
        for (i, c) in u.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                if c != UInt8(ascii: "-") { return false }
            } else if !((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46)) {
                return false
            }
        }
        return true
    }

    struct Message: Error { var text: String }

    static func fileKind(query: UnsafeBufferPointer<UInt8>?) -> Result<FileKind?, Message> {
        guard let query else { return .success(nil) }
        var kind: FileKind? = nil
        for pair in query.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let p = UnsafeBufferPointer(rebasing: pair)
            guard hasPrefix(p, "type"), p.count == 4 || p[4] == UInt8(ascii: "=") else { continue }
            let raw = UnsafeBufferPointer(rebasing: p.dropFirst(5))
            if equal(raw, "raw") { kind = .raw; continue }
            if equal(raw, "processed") { kind = .processed; continue }
            let value = raw.contains(UInt8(ascii: "%")) ? (percentDecode(raw) ?? []) : Array(raw)
            if value.elementsEqual("raw".utf8) { kind = .raw } else if value.elementsEqual("processed".utf8) { kind = .processed } else {
                return .failure(Message(text: "type must be raw or processed, not '\(String(decoding: value, as: UTF8.self))'"))
            }
        }
        return .success(kind)
    }

    /// Decoded bytes, nil when malformed, when a NUL appears (%00 never names anything) or
    /// when they are not UTF-8.
    static func percentDecode(_ s: UnsafeBufferPointer<UInt8>, plusIsSpace: Bool = false) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            let c = s[i]
            if c == UInt8(ascii: "%") {
                guard i + 2 < s.count, let hi = hex(s[i + 1]), let lo = hex(s[i + 2]) else { return nil }
                out.append(hi << 4 | lo)
                i += 3
                continue
            }
            out.append(plusIsSpace && c == UInt8(ascii: "+") ? 0x20 : c)
            i += 1
        }
        if out.contains(0) || String(validating: out, as: UTF8.self) == nil { return nil }
        return out
    }

    static func percentDecode(_ s: Substring, plusIsSpace: Bool = false) -> String? {
        let bytes = Array(s.utf8)
        return bytes.withUnsafeBufferPointer { percentDecode($0, plusIsSpace: plusIsSpace) }.map { String(decoding: $0, as: UTF8.self) }
    }

    private static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x41...0x46: c - 0x41 + 10
        case 0x61...0x66: c - 0x61 + 10
        default: nil
        }
    }
}
