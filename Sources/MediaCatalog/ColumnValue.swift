import Foundation

/// A column value as the database holds it, so that a journal can put a row back bit for bit:
/// text as its bytes (another program may have stored bytes that are not UTF-8), reals apart
/// from integers, blobs apart from text.
public enum ColumnValue: Sendable, Hashable, Codable, CustomStringConvertible {
    case null
    case integer(Int64)
    case real(Double)
    case text([UInt8])
    case blob([UInt8])

    public static func text(_ s: String) -> ColumnValue { .text(Array(s.utf8)) }

    /// The bytes of a text or blob value.
    public var bytes: [UInt8]? {
        switch self {
        case .text(let b), .blob(let b): b
        default: nil
        }
    }

    public var integer: Int64? {
        if case .integer(let i) = self { return i }
        return nil
    }

    public var isNull: Bool { self == .null }

    /// Text as a String when it is valid UTF-8 (blobs too: Python's sqlite3 stores bytes as BLOBs).
    public var string: String? { bytes.flatMap { String(validating: $0, as: UTF8.self) } }

    public var description: String {
        switch self {
        case .null: "NULL"
        case .integer(let i): String(i)
        case .real(let d): String(d)
        case .text(let b): "'" + String(decoding: b, as: UTF8.self) + "'"
        case .blob(let b): "X'" + b.map { String(format: "%02X", $0) }.joined() + "'"
        }
    }

    // JSON: integers and UTF-8 text are plain JSON; everything JSON cannot tell apart is tagged:
    // {"real": 2} (JSON has no 2.0), {"text_base64": …} (text that is not UTF-8),
    // {"blob_base64": …}. Journals of version 1 wrote blobs as {"blob": [bytes]}: still read.
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null; return }
        if let i = try? c.decode(Int64.self) { self = .integer(i); return }
        if let s = try? c.decode(String.self) { self = .text(Array(s.utf8)); return }
        let tagged = try c.decode(Tagged.self)
        if let r = tagged.real {
            switch r {
            case .number(let d): self = .real(d)
            case .special(let s):
                switch s {
                case "inf": self = .real(.infinity)
                case "-inf": self = .real(-.infinity)
                default: throw DecodingError.dataCorruptedError(in: c, debugDescription: "unknown real \(s)")
                }
            }
            return
        }
        if let t = tagged.text_base64, let data = Data(base64Encoded: t) { self = .text([UInt8](data)); return }
        if let b = tagged.blob_base64, let data = Data(base64Encoded: b) { self = .blob([UInt8](data)); return }
        if let b = tagged.blob { self = .blob(b); return }
        throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected null, an integer, a string, or a tagged real, text or blob")
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .integer(let i): try c.encode(i)
        case .real(let d):
            if d.isFinite { try c.encode(Tagged(real: .number(d))) }
            else if d.isNaN { try c.encodeNil() } // SQLite stores NaN as NULL; never produced
            else { try c.encode(Tagged(real: .special(d > 0 ? "inf" : "-inf"))) }
        case .text(let b):
            if let s = String(validating: b, as: UTF8.self) { try c.encode(s) }
            else { try c.encode(Tagged(text_base64: Data(b).base64EncodedString())) }
        case .blob(let b): try c.encode(Tagged(blob_base64: Data(b).base64EncodedString()))
        }
    }

    private struct Tagged: Codable {
        enum Real: Codable {
            case number(Double)
            case special(String)
            init(from decoder: Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let d = try? c.decode(Double.self) { self = .number(d) } else { self = .special(try c.decode(String.self)) }
            }
            func encode(to encoder: Encoder) throws {
                var c = encoder.singleValueContainer()
                switch self {
                case .number(let d): try c.encode(d)
                case .special(let s): try c.encode(s)
                }
            }
        }
        var real: Real?
        var text_base64: String?
        var blob_base64: String?
        var blob: [UInt8]?
    }
}

/// Every column of one row, by name.
public typealias CatalogRow = [String: ColumnValue]
