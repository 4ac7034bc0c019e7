import Foundation
import MediaCatalog
import MediaFiles

/// The cleanup journal, JSON Lines. Everything up to `end` is written and fsynced inside the
/// deletion's transaction, before its commit: every row deleted (of every table), every value
/// nulled, every file move planned with the identity of the file to move. After the commit it
/// grows by `committed`, one `moved` line per file actually moved (with the identity of what
/// is now in the trash) and `finished`. Restore trusts none of it blindly: it is a file
/// another program (or a person) may have edited.
///
/// Version 1 (medialib 0.1) wrote a header and one line per record (`row`, `reasons`,
/// `trash: [{from, to}]`); such journals are still read.
public struct Journal: Sendable, Equatable {
    public static let version = 2

    public struct Header: Sendable, Equatable {
        public var version: Int
        public var createdAt: String
        /// Version 2: the catalog's identity. Version 1: the catalog file's absolute path.
        public var catalog: CatalogIdentity
        public var mediaRoot: RawPath
        public var trash: RawPath?
        public var minFrames: Int
        public var records: Int
        /// The table whose rows are the records (the other tables are their dependents).
        public var videoTable: String
    }

    public struct Move: Sendable, Equatable {
        public var record: Int64
        /// The column whose file this is (version 1 journals do not say: restore infers it).
        public var column: String?
        public var from: RawPath
        public var to: RawPath
        /// The file as it was when cleanup judged it (version 1: unknown).
        public var file: FileIdentity?
    }

    public struct Moved: Sendable, Equatable {
        public var from: RawPath
        public var to: RawPath
        /// What is now in the trash (a copy across file systems is a new inode).
        public var file: FileIdentity
        public var copied: Bool
    }

    public var header: Header
    public var changes: [RowChange]
    public var reasons: [Int64: [String]]
    public var moves: [Move]
    /// nil: the journal does not say (version 1, or a crash right after the commit).
    public var committed: Bool?
    public var moved: [Moved]

    public var recordIDs: [Int64] {
        var seen = Set<Int64>()
        return changes.compactMap { seen.insert($0.record).inserted ? $0.record : nil }
    }
}

// MARK: - JSON forms

/// A path in JSON: a string when it is UTF-8, else {"base64": "..."} with its exact bytes.
struct PathJSON: Codable, Equatable {
    var path: RawPath

    init(_ path: RawPath) { self.path = path }

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { path = RawPath(s); return }
        let tagged = try c.decode([String: String].self)
        guard let b = tagged["base64"], let data = Data(base64Encoded: b) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected a path string or {\"base64\": …}")
        }
        path = RawPath(bytes: [UInt8](data))
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        if let s = path.string { try c.encode(s) } else { try c.encode(["base64": Data(path.bytes).base64EncodedString()]) }
    }
}

struct IdentityJSON: Codable, Equatable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var mtime_ns: Int64

    init(_ id: FileIdentity) {
        device = id.device
        inode = id.inode
        size = id.size
        mtime_ns = id.mtimeSinceEpochNanoseconds
    }

    var identity: FileIdentity {
        let (s, ns) = mtime_ns.quotientAndRemainder(dividingBy: 1_000_000_000)
        return FileIdentity(device: device, inode: inode, size: size, mtimeSeconds: s, mtimeNanoseconds: ns)
    }
}

struct HeaderV2: Codable {
    var medialib_journal: Int
    var created_at: String
    var catalog: CatalogIdentity
    var media_root: PathJSON
    var trash: PathJSON?
    var min_frames: Int
    var records: Int
    var video_table: String
}

struct LineV2: Codable {
    struct Delete: Codable { var table: String; var key: CatalogRow; var row: CatalogRow }
    struct Null: Codable { var table: String; var key: CatalogRow; var column: String; var old: ColumnValue }
    struct Move: Codable { var record: Int64; var column: String; var from: PathJSON; var to: PathJSON; var file: IdentityJSON }
    struct End: Codable { var changes: Int; var moves: Int }
    struct Stamp: Codable { var at: String }
    struct Moved: Codable { var from: PathJSON; var to: PathJSON; var file: IdentityJSON; var copied: Bool }

    var delete: Delete?
    var null: Null?
    var move: Move?
    var end: End?
    var committed: Stamp?
    var moved: Moved?
    var finished: Stamp?
    var record: Int64?
    var reasons: [String]?
}

struct HeaderV1: Codable {
    var medialib_journal: Int
    var created_at: String
    var catalog: String
    var media_root: String
    var min_frames: Int
    var trash: String?
    var records: Int
}

struct EntryV1: Codable {
    struct Move: Codable { var from: String; var to: String }
    var row: CatalogRow
    var reasons: [String]
    var trash: [Move]
}

public enum JournalError: Error, Sendable, CustomStringConvertible {
    case invalid(String)
    case cannotWrite(String, String)
    case cannotRead(String, String)

    public var description: String {
        switch self {
        case .invalid(let m): "invalid journal: \(m)"
        case .cannotWrite(let p, let m): "cannot write journal \(p): \(m)"
        case .cannotRead(let p, let m): "cannot read journal \(p): \(m)"
        }
    }
}

// MARK: - Reading

extension Journal {
    /// Journals larger than this are refused rather than read into memory.
    static let maxBytes = 1 << 30

    public static func load(_ path: RawPath) throws -> Journal {
        let bytes: [UInt8]
        switch FileSystem.status(path) {
        case .failure(let e): throw JournalError.cannotRead(path.displayed, e.isNotFound ? "no such file" : e.description)
        case .success(let st) where st.kind == .directory: throw JournalError.cannotRead(path.displayed, "it is a directory")
        case .success(let st) where st.kind != .regular: throw JournalError.cannotRead(path.displayed, "it is not a regular file")
        case .success: break
        }
        switch FileSystem.read(path, limit: maxBytes) {
        case .failure(let e): throw JournalError.cannotRead(path.displayed, e.description)
        case .success(let b): bytes = b
        }
        return try decode(bytes)
    }

    public static func decode(_ bytes: [UInt8]) throws -> Journal {
        let lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: true)
        guard let first = lines.first else { throw JournalError.invalid("the journal is empty: the cleanup stopped before it wrote anything, so nothing was deleted and there is nothing to restore") }
        struct Version: Codable { var medialib_journal: Int }
        let decoder = JSONDecoder()
        guard let version = try? decoder.decode(Version.self, from: Data(first)) else {
            throw JournalError.invalid("the first line is not a medialib journal header")
        }
        switch version.medialib_journal {
        case 1: return try decodeV1(lines)
        case 2: return try decodeV2(lines)
        default: throw JournalError.invalid("journal version \(version.medialib_journal) is not supported (this medialib reads 1 and 2)")
        }
    }

    static func decodeV2(_ lines: [ArraySlice<UInt8>]) throws -> Journal {
        let decoder = JSONDecoder()
        let h: HeaderV2
        do { h = try decoder.decode(HeaderV2.self, from: Data(lines[0])) } catch {
            throw JournalError.invalid("the header line is damaged")
        }
        var journal = Journal(
            header: Header(version: 2, createdAt: h.created_at, catalog: h.catalog, mediaRoot: h.media_root.path,
                           trash: h.trash?.path, minFrames: h.min_frames, records: h.records, videoTable: h.video_table),
            changes: [], reasons: [:], moves: [], committed: nil, moved: [])
        var ended = false
        for (n, raw) in lines.dropFirst().enumerated() {
            let lineNumber = n + 2
            let isLast = lineNumber == lines.count
            guard let line = try? decoder.decode(LineV2.self, from: Data(raw)) else {
                // A line torn by a crash after the commit (a `moved` line, say) loses nothing
                // restore needs: the files themselves say where they are.
                if ended && isLast { break }
                throw JournalError.invalid("line \(lineNumber) is not a journal line")
            }
            if !ended {
                if let d = line.delete, let r = line.record {
                    journal.changes.append(.deleted(table: d.table, key: d.key, row: d.row, record: r))
                    if let reasons = line.reasons { journal.reasons[r] = reasons }
                } else if let x = line.null, let r = line.record {
                    journal.changes.append(.nulled(table: x.table, key: x.key, column: x.column, old: x.old, record: r))
                } else if let m = line.move {
                    journal.moves.append(Move(record: m.record, column: m.column, from: m.from.path, to: m.to.path, file: m.file.identity))
                } else if let e = line.end {
                    guard e.changes == journal.changes.count, e.moves == journal.moves.count else {
                        throw JournalError.invalid("the end line announces \(e.changes) changes and \(e.moves) moves but \(journal.changes.count) and \(journal.moves.count) precede it")
                    }
                    ended = true
                } else {
                    throw JournalError.invalid("line \(lineNumber) is not a journal line")
                }
            } else if line.committed != nil {
                journal.committed = true
            } else if let m = line.moved {
                journal.moved.append(Moved(from: m.from.path, to: m.to.path, file: m.file.identity, copied: m.copied))
            } else if line.finished != nil {
                continue
            } else {
                throw JournalError.invalid("line \(lineNumber) is not a journal line")
            }
        }
        guard ended else {
            throw JournalError.incomplete
        }
        let videoRows = journal.changes.filter { if case .deleted(let t, _, _, _) = $0 { return t == h.video_table }; return false }
        if videoRows.count != h.records {
            throw JournalError.invalid("the header announces \(h.records) records but \(videoRows.count) follow")
        }
        return journal
    }

    static func decodeV1(_ lines: [ArraySlice<UInt8>]) throws -> Journal {
        let decoder = JSONDecoder()
        let h: HeaderV1
        do { h = try decoder.decode(HeaderV1.self, from: Data(lines[0])) } catch {
            throw JournalError.invalid("the first line is not a medialib journal header")
        }
        var journal = Journal(
            header: Header(version: 1, createdAt: h.created_at,
                           catalog: CatalogIdentity(kind: "sqlite", location: h.catalog, schema: "medialib"),
                           mediaRoot: RawPath(h.media_root), trash: h.trash.map { RawPath($0) }, minFrames: h.min_frames,
                           records: h.records, videoTable: "videos"),
            changes: [], reasons: [:], moves: [], committed: nil, moved: [])
        for (n, line) in lines.dropFirst().enumerated() {
            guard let e = try? decoder.decode(EntryV1.self, from: Data(line)) else {
                throw JournalError.invalid("line \(n + 2) is not a journal entry")
            }
            guard case .integer(let id)? = e.row["id"] else { throw JournalError.invalid("line \(n + 2) has no integer id") }
            journal.changes.append(RowChange.deleted(table: "videos", key: ["id": ColumnValue.integer(id)], row: e.row, record: id))
            journal.reasons[id] = e.reasons
            for m in e.trash {
                journal.moves.append(Move(record: id, column: nil, from: RawPath(m.from), to: RawPath(m.to), file: nil))
            }
        }
        guard journal.changes.count == h.records else {
            throw JournalError.invalid("the header announces \(h.records) records but \(journal.changes.count) follow; the journal is incomplete")
        }
        return journal
    }
}

extension JournalError {
    /// The planned part never finished: the crash came before the commit, nothing was deleted.
    static let incomplete = JournalError.invalid("the journal is incomplete (no end line): the cleanup stopped before its commit, so nothing was deleted and there is nothing to restore")
}

// MARK: - Writing

/// Writes a journal as a deletion proceeds: created with O_EXCL (never replacing a file),
/// fsynced with its folder before the commit.
final class JournalWriter: DeletionJournal {
    let path: RawPath
    private let fd: Int32
    private let encoder: JSONEncoder
    private let faults: Faults
    private var buffer: [UInt8] = []
    private var changes = 0
    private var moves: [Journal.Move] = []
    private let reasons: [Int64: [String]]
    private var reasonsWritten = Set<Int64>()
    /// Runs inside the transaction after the journal is durable: re-checks the judged files.
    var recheck: () throws -> Void = {}
    let videoTable: String

    init(path: RawPath, header: Journal.Header, reasons: [Int64: [String]], faults: Faults) throws {
        self.path = path
        self.reasons = reasons
        self.videoTable = header.videoTable
        self.faults = faults
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if case .failure(let e) = FileSystem.makeDirectories(path.parent) {
            throw JournalError.cannotWrite(path.displayed, "cannot create its folder: \(e)")
        }
        switch FileSystem.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_APPEND, 0o600) {
        case .failure(let e):
            throw JournalError.cannotWrite(path.displayed, e.code == EEXIST ? "it already exists (journals are never overwritten)" : e.description)
        case .success(let d): fd = d
        }
        let h = HeaderV2(medialib_journal: Journal.version, created_at: header.createdAt, catalog: header.catalog,
                         media_root: PathJSON(header.mediaRoot), trash: header.trash.map(PathJSON.init),
                         min_frames: header.minFrames, records: header.records, video_table: header.videoTable)
        do {
            try append(try encoder.encode(h))
            try flush(sync: true)
            FileSystem.syncDirectory(path.parent)
            try faults.reach(.journalOpened)
        } catch {
            close(fd)
            _ = FileSystem.unlink(path)
            throw error
        }
    }

    deinit { close(fd) }

    func planMoves(_ planned: [Journal.Move]) { moves = planned }

    func write(_ change: RowChange) throws {
        var line = LineV2()
        switch change {
        case .deleted(let table, let key, let row, let record):
            line.delete = .init(table: table, key: key, row: row)
            line.record = record
            if table == videoTable, reasonsWritten.insert(record).inserted { line.reasons = reasons[record] }
        case .nulled(let table, let key, let column, let old, let record):
            line.null = .init(table: table, key: key, column: column, old: old)
            line.record = record
        }
        try append(try encoder.encode(line))
        changes += 1
        if buffer.count > 1 << 20 { try flush(sync: false) }
    }

    func sealBeforeCommit() throws {
        for m in moves {
            guard let column = m.column, let file = m.file else { continue }
            var line = LineV2()
            line.move = .init(record: m.record, column: column, from: PathJSON(m.from), to: PathJSON(m.to), file: IdentityJSON(file))
            try append(try encoder.encode(line))
        }
        var end = LineV2()
        end.end = .init(changes: changes, moves: moves.count)
        try append(try encoder.encode(end))
        try flush(sync: true)
        try recheck()
        try faults.reach(.beforeCommit)
    }

    func markCommitted() throws {
        var line = LineV2()
        line.committed = .init(at: Self.now())
        try append(try encoder.encode(line))
        try flush(sync: true)
    }

    func recordMoved(_ m: Journal.Moved) throws {
        var line = LineV2()
        line.moved = .init(from: PathJSON(m.from), to: PathJSON(m.to), file: IdentityJSON(m.file), copied: m.copied)
        try append(try encoder.encode(line))
        try flush(sync: false)
    }

    func finish() throws {
        var line = LineV2()
        line.finished = .init(at: Self.now())
        try append(try encoder.encode(line))
        try flush(sync: true)
    }

    private func append(_ data: Data) throws {
        try faults.reach(.journalWrite)
        buffer.append(contentsOf: data)
        buffer.append(0x0A)
    }

    private func flush(sync: Bool) throws {
        var off = 0
        while off < buffer.count {
            let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                throw JournalError.cannotWrite(path.displayed, SystemError.current.description)
            }
            off += n
        }
        buffer.removeAll(keepingCapacity: true)
        if sync && fsync(fd) != 0 { throw JournalError.cannotWrite(path.displayed, SystemError.current.description) }
    }

    static func now() -> String { ISO8601DateFormatter().string(from: Date()) }
}
