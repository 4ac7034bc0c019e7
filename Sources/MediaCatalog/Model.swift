/// One video in the catalog: an optional raw file and an optional processed file.
/// Paths are as stored: relative to the media root, or absolute when outside it.
public struct VideoRecord: Sendable, Equatable, Codable {
    public var id: Int64
    public var uuid: String
    public var rawFile: String?
    public var processedFile: String?
    public var createdAt: String

    public init(id: Int64, uuid: String, rawFile: String?, processedFile: String?, createdAt: String) {
        self.id = id
        self.uuid = uuid
        self.rawFile = rawFile
        self.processedFile = processedFile
        self.createdAt = createdAt
    }

    /// The files a record names, in a fixed order (raw first).
    public var files: [(kind: FileKind, path: String)] {
        var out: [(FileKind, String)] = []
        if let rawFile, !rawFile.isEmpty { out.append((.raw, rawFile)) }
        if let processedFile, !processedFile.isEmpty { out.append((.processed, processedFile)) }
        return out
    }

    public func path(for kind: FileKind) -> String? {
        let p = kind == .raw ? rawFile : processedFile
        return (p?.isEmpty ?? true) ? nil : p
    }
}

public enum FileKind: String, Sendable, Codable, CaseIterable {
    case raw
    case processed
}

/// A column value exactly as SQLite holds it, so a journal can put a row back bit for bit.
public enum ColumnValue: Sendable, Equatable, Codable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    // Integers and text are plain JSON; reals and blobs are tagged ({"real": 2.0}, {"blob": [...]})
    // because JSON cannot tell 2.0 from 2, and a journal must put a row back bit for bit.
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null; return }
        if let i = try? c.decode(Int64.self) { self = .integer(i); return }
        if let s = try? c.decode(String.self) { self = .text(s); return }
        let tagged = try c.decode(Tagged.self)
        if let r = tagged.real { self = .real(r); return }
        if let b = tagged.blob { self = .blob(b); return }
        throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected null, an integer, a string, {\"real\":…} or {\"blob\":…}")
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .integer(let i): try c.encode(i)
        case .real(let d): try c.encode(Tagged(real: d))
        case .text(let s): try c.encode(s)
        case .blob(let b): try c.encode(Tagged(blob: b))
        }
    }

    private struct Tagged: Codable {
        var real: Double?
        var blob: [UInt8]?
    }
}

/// Every column of one catalog row, by name.
public typealias CatalogRow = [String: ColumnValue]

public enum CatalogError: Error, Sendable, Equatable, CustomStringConvertible {
    case notFound(path: String)
    case isDirectory(path: String)
    case notADatabase(path: String, detail: String)
    case readOnly(path: String)
    case cannotOpen(path: String, detail: String)
    case conflict(String)
    case failed(String)

    public var description: String {
        switch self {
        case .notFound(let p): "no catalog at \(p) (create one with `medialib add` or `medialib import`, or pass --db)"
        case .isDirectory(let p): "catalog path \(p) is a directory, not a SQLite file"
        case .notADatabase(let p, let d): "\(p) is not a medialib catalog: \(d)"
        case .readOnly(let p): "catalog \(p) is read-only; this command must write to it"
        case .cannotOpen(let p, let d): "cannot open catalog \(p): \(d)"
        case .conflict(let m): m
        case .failed(let m): m
        }
    }
}

/// A cached verification outcome for one file, valid while its identity and the checker stay the same.
public struct VerificationCacheEntry: Sendable, Equatable {
    public var path: String
    public var size: Int64
    public var mtimeNanoseconds: Int64
    public var inode: Int64
    public var depth: String
    public var toolVersion: String
    public var resultJSON: String
    public var checkedAt: String

    public init(path: String, size: Int64, mtimeNanoseconds: Int64, inode: Int64, depth: String,
                toolVersion: String, resultJSON: String, checkedAt: String) {
        self.path = path
        self.size = size
        self.mtimeNanoseconds = mtimeNanoseconds
        self.inode = inode
        self.depth = depth
        self.toolVersion = toolVersion
        self.resultJSON = resultJSON
        self.checkedAt = checkedAt
    }
}
