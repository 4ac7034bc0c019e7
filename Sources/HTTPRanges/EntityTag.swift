// Entity tags: RFC 9110 §8.8.3 (syntax and comparison).

/// entity-tag = [ weak ] opaque-tag ; weak = %s"W/"
public struct EntityTag: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// Without the quotes.
    public let opaque: String
    public let isWeak: Bool

    /// `opaque` must consist of etagc characters (no `"`, no controls, no space).
    public init(opaque: String, isWeak: Bool = false) {
        precondition(opaque.utf8.allSatisfy(isETagChar), "invalid entity-tag characters")
        self.opaque = opaque
        self.isWeak = isWeak
    }

    /// Header form: `"x"` or `W/"x"`.
    public var headerValue: String { (isWeak ? "W/" : "") + "\"" + opaque + "\"" }
    public var description: String { headerValue }

    /// Strong validator derived from file metadata. Any change of size, mtime
    /// (to the nanosecond) or inode (file replaced by rename) changes it.
    public static func forFile(size: Int64, mtimeSeconds: Int64, mtimeNanoseconds: Int64, inode: UInt64) -> EntityTag {
        // Wrapping arithmetic: absurd timestamps give an odd tag, never a trap.
        let nanos = mtimeSeconds &* 1_000_000_000 &+ mtimeNanoseconds
        let opaque = hex(UInt64(bitPattern: size)) + "-" + hex(UInt64(bitPattern: nanos)) + "-" + hex(inode)
        return EntityTag(opaque: opaque, isWeak: false)
    }

    /// Strong comparison (§8.8.3.2): both strong and identical. Used by
    /// If-Match and If-Range, where byte-identity matters.
    public func strongMatch(_ other: EntityTag) -> Bool {
        !isWeak && !other.isWeak && opaque == other.opaque
    }

    /// Weak comparison (§8.8.3.2): opaque tags identical. Used by If-None-Match.
    public func weakMatch(_ other: EntityTag) -> Bool {
        opaque == other.opaque
    }

    /// Parses exactly one entity-tag (surrounding OWS allowed), e.g. an If-Range value.
    public static func parse(_ s: String) -> EntityTag? {
        let b = trimOWS(bytes(s))
        guard let (tag, end) = scanEntityTag(b), end == b.endIndex else { return nil }
        return tag
    }
}

/// The value of If-Match / If-None-Match: `"*" / #entity-tag` (§13.1.1, §13.1.2).
public enum EntityTagList: Equatable, Sendable {
    case any
    case tags([EntityTag])

    /// nil if the value is not valid syntax. An empty value is an empty list
    /// (the `#` rule allows zero elements), which matches nothing.
    public static func parse(_ s: String) -> EntityTagList? {
        let value = trimOWS(bytes(s))
        if value.count == 1, value.first == ASCII.star { return .any }
        // Scanned rather than split on commas: "," is a legal etagc.
        var tags: [EntityTag] = []
        var i = value.startIndex
        while true {
            // Empty list elements are allowed (§5.6.1.2).
            while i < value.endIndex, isOWS(value[i]) || value[i] == ASCII.comma { i += 1 }
            if i == value.endIndex { return .tags(tags) }
            guard let (tag, end) = scanEntityTag(value[i...]) else { return nil }
            tags.append(tag)
            i = end
            while i < value.endIndex, isOWS(value[i]) { i += 1 }
            guard i == value.endIndex || value[i] == ASCII.comma else { return nil }
        }
    }

    /// If-Match semantics: `*` matches any current representation.
    public func containsStrongMatch(for tag: EntityTag) -> Bool {
        switch self {
        case .any: return true
        case let .tags(tags): return tags.contains { $0.strongMatch(tag) }
        }
    }

    /// If-None-Match semantics.
    public func containsWeakMatch(for tag: EntityTag) -> Bool {
        switch self {
        case .any: return true
        case let .tags(tags): return tags.contains { $0.weakMatch(tag) }
        }
    }
}

/// etagc = %x21 / %x23-7E / obs-text
func isETagChar(_ b: UInt8) -> Bool {
    b == 0x21 || (b >= 0x23 && b <= 0x7E) || b >= 0x80
}

/// Scans one entity-tag at the start of `s`; returns it and the index after it.
func scanEntityTag(_ s: Bytes) -> (EntityTag, Bytes.Index)? {
    var i = s.startIndex
    var weak = false
    // "W/" is case-sensitive (%s"W/").
    if s.count >= 2, s[i] == ASCII.upperW, s[i + 1] == ASCII.slash {
        weak = true
        i += 2
    }
    guard i < s.endIndex, s[i] == ASCII.quote else { return nil }
    let start = i + 1
    guard let close = s[start...].firstIndex(of: ASCII.quote) else { return nil }
    let opaque = s[start..<close]
    guard opaque.allSatisfy(isETagChar) else { return nil }
    return (EntityTag(opaque: String(decoding: opaque, as: UTF8.self), isWeak: weak), close + 1)
}

func hex(_ v: UInt64) -> String { String(v, radix: 16) }
