import MediaCatalog

/// The contract's routes, parsed from a request target. Pure: no catalog, no I/O.
public enum Route: Equatable, Sendable {
    case health
    case videoList
    case video(VideoKey, FileKind?)
    case badRequest(String)
    case notFound

    /// The integer id or the uuid of a record.
    public enum VideoKey: Equatable, Sendable {
        case id(Int64)
        case uuid(String)
    }

    static let videosPrefix = "/api/media/videos"

    public static func parse(target: String) -> Route {
        let (rawPath, query) = split(target: target)
        guard let path = percentDecode(rawPath) else { return .badRequest("malformed percent-encoding in the path") }
        if path == "/healthz" { return .health }
        if path == videosPrefix || path == videosPrefix + "/" { return .videoList }
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
        if isUUID(s) { return .uuid(s.lowercased()) }
        return nil
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

    static func percentDecode(_ s: Substring) -> String? {
        guard s.contains("%") else { return String(s) }
        var out: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let c = it.popFirst() {
            if c == UInt8(ascii: "%") {
                guard it.count >= 2, let hi = hex(it.popFirst()!), let lo = hex(it.popFirst()!) else { return nil }
                out.append(hi << 4 | lo)
            } else {
                out.append(c)
            }
        }
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
