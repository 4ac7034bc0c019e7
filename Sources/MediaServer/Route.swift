import MediaCatalog

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

    public static func parse(target: String) -> Route {
        if target == "*" { return .serverWide }
        let (rawPath, query) = split(target: target)
        guard let path = percentDecode(rawPath) else { return .badRequest("malformed percent-encoding in the path") }
        switch path {
        case "/": return .page
        case "/assets/app.js", "/assets/app.css": return .asset(String(path.dropFirst("/assets/".count)))
        case "/healthz": return .health
        case "/api/media/summary", "/api/media/summary/": return .summary
        default: break
        }
        if path == videosPrefix || path == videosPrefix + "/" {
            switch listQuery(query) {
            case .success(let q): return .videoList(q)
            case .failure(let m): return .badRequest(m.text)
            }
        }
        guard path.hasPrefix(videosPrefix + "/") else { return .notFound }
        var rest = path.dropFirst(videosPrefix.count + 1)
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.isEmpty, !rest.contains("/") else { return .notFound }
        guard let key = videoKey(String(rest)) else {
            return .badRequest("'\(rest)' is not a record id (an integer) or a uuid")
        }
        switch fileKind(query: query) {
        case .success(let kind): return .video(key, kind)
        case .failure(let message): return .badRequest(message.text)
        }
    }

    /// Origin-form targets, and absolute-form ones (RFC 9112 §3.2.2) reduced to their path.
    static func split(target: String) -> (path: Substring, query: Substring?) {
        var t = Substring(target)
        if !t.hasPrefix("/"), let scheme = t.range(of: "://") {
            let afterAuthority = t[scheme.upperBound...]
            t = afterAuthority.firstIndex(of: "/").map { afterAuthority[$0...] } ?? "/"
        }
        if let hash = t.firstIndex(of: "#") { t = t[..<hash] }
        guard let q = t.firstIndex(of: "?") else { return (t, nil) }
        return (t[..<q], t[t.index(after: q)...])
    }

    static func videoKey(_ s: String) -> VideoKey? {
        if !s.isEmpty, s.count <= 18, s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let id = Int64(s), id > 0 {
            return .id(id)
        }
        // The dashed form, or Django's 32 hex digits: both name the same record.
        if let hex = UUIDText.hexDigits(Array(s.utf8)) { return .uuid(UUIDText.dashed(hex)) }
        return nil
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

    static func fileKind(query: Substring?) -> Result<FileKind?, Message> {
        guard let query else { return .success(nil) }
        var kind: FileKind? = nil
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.first == "type" else { continue }
            let value = parts.count > 1 ? (percentDecode(parts[1]) ?? "") : ""
            guard let k = FileKind(rawValue: value) else {
                return .failure(Message(text: "type must be raw or processed, not '\(value)'"))
            }
            kind = k
        }
        return .success(kind)
    }

    static func percentDecode(_ s: Substring, plusIsSpace: Bool = false) -> String? {
        guard s.contains("%") || (plusIsSpace && s.contains("+")) else { return String(s) }
        var out: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let c = it.popFirst() {
            if c == UInt8(ascii: "%") {
                guard let a = it.popFirst(), let b = it.popFirst(), let hi = hex(a), let lo = hex(b) else { return nil }
                out.append(hi << 4 | lo)
            } else if plusIsSpace && c == UInt8(ascii: "+") {
                out.append(0x20)
            } else {
                out.append(c)
            }
        }
        // A NUL decoded from %00 never names anything: treat the whole target as malformed.
        if out.contains(0) { return nil }
        return String(validating: out, as: UTF8.self)
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
