/// A path exactly as bytes. File names on Linux are bytes, not text: a catalog row, a
/// directory entry or a journal line may hold a name that is not valid UTF-8, and turning
/// it into a String would replace those bytes and name another file. Paths stay bytes from
/// the catalog to the system call; only people see an escaped rendering (`displayed`).
public struct RawPath: Hashable, Sendable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    public private(set) var bytes: [UInt8]

    public init(_ string: String) { bytes = Array(string.utf8) }
    public init(stringLiteral value: String) { self.init(value) }
    public init<S: Sequence>(bytes: S) where S.Element == UInt8 { self.bytes = Array(bytes) }

    static let slash = UInt8(ascii: "/")
    static let dot = UInt8(ascii: ".")

    public var isEmpty: Bool { bytes.isEmpty }
    public var isAbsolute: Bool { bytes.first == Self.slash }
    /// A NUL byte cannot reach a system call: C would cut the name there and name another file.
    public var containsNUL: Bool { bytes.contains(0) }

    /// The text, when the bytes are valid UTF-8.
    public var string: String? { String(validating: bytes, as: UTF8.self) }

    public var description: String { displayed }

    public static func < (a: RawPath, b: RawPath) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }

    /// For people: UTF-8 text as it is; bytes that are not UTF-8 as `\xE9`; control characters
    /// as `\n`, `\t`, `\r` or `\xNN` (a newline in a name must not split a line of output); a
    /// backslash doubled, so the rendering is never ambiguous.
    public var displayed: String {
        if let text = string, !text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 == UInt8(ascii: "\\") }) {
            return text
        }
        var out = ""
        var rest = bytes[...]
        while !rest.isEmpty {
            let (scalar, length) = Self.decodeScalar(rest)
            if let scalar {
                switch scalar {
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\t": out += "\\t"
                case "\r": out += "\\r"
                default:
                    if scalar.value < 0x20 || scalar.value == 0x7F { out += Self.hexEscape(UInt8(scalar.value)) } else { out.unicodeScalars.append(scalar) }
                }
            } else {
                out += Self.hexEscape(rest[rest.startIndex])
            }
            rest = rest.dropFirst(length)
        }
        return out
    }

    static func hexEscape(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return "\\x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0xF)])
    }

    /// One UTF-8 scalar at the start of `s`, or nil and length 1 for a byte that starts none.
    static func decodeScalar(_ s: ArraySlice<UInt8>) -> (Unicode.Scalar?, Int) {
        var iterator = s.makeIterator()
        var decoder = UTF8()
        switch decoder.decode(&iterator) {
        case .scalarValue(let scalar):
            return (scalar, UTF8.width(scalar))
        case .emptyInput, .error:
            return (nil, 1)
        }
    }

    // MARK: components

    /// The last component (after the last slash).
    public var lastComponent: RawPath {
        guard let slash = bytes.lastIndex(of: Self.slash) else { return self }
        return RawPath(bytes: bytes[(slash + 1)...])
    }

    /// The folder holding this name, as dirname(3) gives it: "." for a bare name, so a folder
    /// is always something to create, open or fsync.
    public var parent: RawPath {
        guard let slash = bytes.lastIndex(of: Self.slash) else { return "." }
        return slash == 0 ? "/" : RawPath(bytes: bytes[..<slash])
    }

    /// The extension after the last dot of the last component, ASCII-lowercased ("" when none).
    public var pathExtension: String {
        let name = lastComponent.bytes
        guard let dot = name.lastIndex(of: Self.dot), dot != 0 else { return "" }
        return String(decoding: name[(dot + 1)...].map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 32 : $0 }, as: UTF8.self)
    }

    public var components: [ArraySlice<UInt8>] {
        bytes.split(separator: Self.slash, omittingEmptySubsequences: true)
    }

    /// `self/other`, or `other` when it is absolute (as os.path.join and Django's MEDIA_ROOT do).
    public func appending(_ other: RawPath) -> RawPath {
        if other.isAbsolute || isEmpty { return other }
        if bytes.last == Self.slash { return RawPath(bytes: bytes + other.bytes) }
        return RawPath(bytes: bytes + [Self.slash] + other.bytes)
    }

    public func appending(_ component: String) -> RawPath { appending(RawPath(component)) }

    /// Whether `self` is `folder` or lies below it, component-wise (both standardized).
    public func isInside(_ folder: RawPath) -> Bool {
        if folder.bytes == [Self.slash] { return isAbsolute }
        guard bytes.count > folder.bytes.count, bytes.starts(with: folder.bytes) else { return bytes == folder.bytes }
        return bytes[folder.bytes.count] == Self.slash
    }

    /// The part of `self` below `folder`, when `self` lies strictly inside it.
    public func relative(to folder: RawPath) -> RawPath? {
        guard isInside(folder), bytes != folder.bytes else { return nil }
        let start = folder.bytes == [Self.slash] ? 1 : folder.bytes.count + 1
        return RawPath(bytes: bytes[start...])
    }

    /// Absolute with `.` and `..` removed lexically (without touching the file system, unlike
    /// realpath): what a stored path names relative to a base, the way Django joins it.
    public func standardized() -> RawPath {
        if isStandard { return self }
        var parts: [ArraySlice<UInt8>] = []
        for part in components {
            if part.count == 1 && part.first == Self.dot { continue }
            if part.count == 2 && part.allSatisfy({ $0 == Self.dot }) { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(part)
        }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for part in parts { out.append(Self.slash); out.append(contentsOf: part) }
        return RawPath(bytes: out.isEmpty ? [Self.slash] : out)
    }

    /// Absolute, no empty, "." or ".." component, no trailing slash: one byte scan.
    public var isStandard: Bool {
        guard bytes.first == Self.slash else { return false }
        if bytes.count == 1 { return true }
        var componentLength = 0
        var dots = 0
        for c in bytes.dropFirst() {
            if c == Self.slash {
                if componentLength == 0 || (componentLength == dots && dots <= 2) { return false }
                componentLength = 0
                dots = 0
            } else {
                componentLength += 1
                if c == Self.dot { dots += 1 }
            }
        }
        return componentLength > 0 && !(componentLength == dots && dots <= 2)
    }

    /// Calls `body` with a NUL-terminated copy; nil when the path holds a NUL byte.
    public func withCString<T>(_ body: (UnsafePointer<CChar>) throws -> T) rethrows -> T? {
        if containsNUL { return nil }
        var terminated = bytes
        terminated.append(0)
        return try terminated.withUnsafeBufferPointer { buffer in
            try buffer.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
        }
    }
}
