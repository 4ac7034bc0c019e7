import MediaFiles

public enum FileKind: String, Sendable, Codable, CaseIterable {
    case raw
    case processed
}

/// One file a record names: the stored path and, where the schema has one, the path of a
/// playable copy (endoreg-db's `*_streamable_relative_path`).
public struct RecordFile: Sendable, Equatable {
    public var kind: FileKind
    public var path: RawPath
    public var column: String
    public var streamable: RawPath?
    public var streamableColumn: String?

    public init(kind: FileKind, path: RawPath, column: String, streamable: RawPath? = nil, streamableColumn: String? = nil) {
        self.kind = kind
        self.path = path
        self.column = column
        self.streamable = streamable
        self.streamableColumn = streamableColumn
    }

    /// What serve streams and verify checks for playback: the copy when there is one.
    public var playable: RawPath { streamable ?? path }
}

/// One video in a catalog, whatever the database behind it.
public struct VideoRecord: Sendable, Equatable {
    public var id: Int64
    /// Canonical (lowercase, dashed) when the stored value is a uuid; else the stored text, escaped.
    public var uuid: String
    /// Non-empty file paths, raw first.
    public var files: [RecordFile]
    /// The application's own frame count, when the schema has one and it is set.
    public var appFrameCount: Int64?
    /// The file on disk is ciphertext by design (endoreg-db's `app_encrypted`): never probed.
    public var encrypted: Bool
    /// A folder of extracted frames (reported, never moved).
    public var frameDirectory: RawPath?
    public var createdAt: String?
    /// The columns this record was read from, exactly: a deletion refuses when they changed.
    public var fingerprint: [ColumnValue]

    public init(id: Int64, uuid: String, files: [RecordFile], appFrameCount: Int64? = nil, encrypted: Bool = false,
                frameDirectory: RawPath? = nil, createdAt: String? = nil, fingerprint: [ColumnValue] = []) {
        self.id = id
        self.uuid = uuid
        self.files = files
        self.appFrameCount = appFrameCount
        self.encrypted = encrypted
        self.frameDirectory = frameDirectory
        self.createdAt = createdAt
        self.fingerprint = fingerprint
    }

    public func file(_ kind: FileKind) -> RecordFile? { files.first { $0.kind == kind } }
    public func path(for kind: FileKind) -> RawPath? { file(kind)?.path }
}

/// A record to insert into medialib's own catalog; a nil uuid gets a fresh one.
public struct NewRecord: Sendable, Equatable {
    public var rawFile: RawPath?
    public var processedFile: RawPath?
    public var uuid: String?

    public init(rawFile: RawPath?, processedFile: RawPath? = nil, uuid: String? = nil) {
        self.rawFile = rawFile
        self.processedFile = processedFile
        self.uuid = uuid
    }
}

/// What a catalog is, independent of how it was named on the command line: journals record
/// it and restore compares it, the state store is keyed by it. Never holds a password.
public struct CatalogIdentity: Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
    /// "sqlite" or "postgres".
    public var kind: String
    /// SQLite: the file's real path. PostgreSQL: host:port/database (no user, no password).
    public var location: String
    /// The schema profile's name: "medialib", "endoreg-db", or a custom profile's.
    public var schema: String

    public init(kind: String, location: String, schema: String) {
        self.kind = kind
        self.location = location
        self.schema = schema
    }

    public var description: String { kind == "sqlite" ? location : "\(kind)://\(location)" }

    /// A short, file-name-safe key for the state store of a catalog medialib does not own.
    public var stateKey: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in "\(kind)\u{0}\(location)\u{0}\(schema)".utf8 {
            hash ^= UInt64(b)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        let base = location.split(separator: "/").last.map(String.init) ?? kind
        let safe = String(base.unicodeScalars.map { c -> Character in
            (c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "-" || c == "_") && c.isASCII ? Character(c) : "_"
        }.prefix(40))
        let hex = String(hash, radix: 16)
        return "\(schema)-\(safe)-\(String(repeating: "0", count: 16 - hex.count) + hex)"
    }
}

public enum CatalogError: Error, Sendable, Equatable, CustomStringConvertible {
    case notFound(String)
    case notAFile(String, String)
    case notADatabase(String, String)
    case readOnly(String, String)
    case cannotOpen(String, String)
    case unknownSchema(String, String)
    case notOwned(String)
    /// Another process holds a lock; nothing was changed.
    case busy(String)
    case conflict(String)
    case unsupported(String)
    case failed(String)
    /// A catalog location that cannot be understood (a malformed URL): a usage error.
    case badLocation(String)

    public var description: String {
        switch self {
        case .notFound(let p): "no catalog at \(p) (create one with `medialib add` or `medialib import`, or pass --db)"
        case .notAFile(let p, let why): "catalog \(p) is \(why), not a database file"
        case .notADatabase(let p, let d): "\(p) is not a catalog medialib can read: \(d)"
        case .readOnly(let p, let why): "catalog \(p) is read-only (\(why)); this command must write to it"
        case .cannotOpen(let p, let d): "cannot open catalog \(p): \(d)"
        case .unknownSchema(let p, let d): "\(p): \(d)"
        case .notOwned(let m): m
        case .busy(let m): m
        case .conflict(let m): m
        case .unsupported(let m): m
        case .failed(let m): m
        case .badLocation(let m): m
        }
    }
}
