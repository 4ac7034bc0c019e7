import Foundation
import GRDB

/// The SQLite catalog: WAL mode so `serve` reads while `cleanup --apply` writes,
/// a busy timeout instead of immediate "database is locked" errors.
public final class SQLiteCatalog: Catalog {
    public enum Access: Sendable {
        /// Read only; the catalog must exist.
        case read
        /// Read and write; the catalog must exist and be writable.
        case write
        /// Read and write; create an empty catalog when none exists.
        case create
    }

    public let location: String
    private let pool: DatabasePool
    private let reader: RecordReader

    public init(path: String, access: Access) throws {
        location = path
        reader = RecordReader(path: path)
        let size = try Self.checkPath(path, access: access)
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.readonly = access == .read
        config.label = "medialib"
        do {
            try Self.requireCatalog(path, size: size)
            pool = try DatabasePool(path: path, configuration: config)
            if access != .read {
                try Self.migrator.migrate(pool)
            }
        } catch let error as CatalogError {
            throw error
        } catch let error as DatabaseError {
            switch error.resultCode {
            case .SQLITE_NOTADB, .SQLITE_CORRUPT:
                throw CatalogError.notADatabase(path: path, detail: error.message ?? "not a database")
            case .SQLITE_READONLY where access != .read, .SQLITE_CANTOPEN where access != .read:
                throw CatalogError.readOnly(path: path)
            default:
                throw CatalogError.cannotOpen(path: path, detail: error.message ?? "\(error)")
            }
        } catch {
            throw CatalogError.cannotOpen(path: path, detail: "\(error)")
        }
    }

    /// Refuses early, with a clear reason, what SQLite would report vaguely or not at all
    /// (root ignores permission bits, so "read-only" is judged from the mode too).
    /// Returns the file's size, or nil when there is no file (and `.create` may make one).
    private static func checkPath(_ path: String, access: Access) throws -> Int64? {
        var st = stat()
        guard stat(path, &st) == 0 else {
            if access == .create && errno == ENOENT { return nil }
            throw errno == ENOENT ? CatalogError.notFound(path: path)
                                  : CatalogError.cannotOpen(path: path, detail: String(cString: strerror(errno)))
        }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw CatalogError.isDirectory(path: path) }
        let size = Int64(st.st_size)
        if size == 0 && access != .create {
            throw CatalogError.notADatabase(path: path, detail: "the file is empty")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CatalogError.cannotOpen(path: path, detail: "permission denied")
        }
        let head = (try? handle.read(upToCount: 16)) ?? Data()
        try? handle.close()
        if !head.isEmpty && head != Data("SQLite format 3\0".utf8) {
            throw CatalogError.notADatabase(path: path, detail: "the file does not start with the SQLite header")
        }
        if access != .read && !writable(path, mode: st.st_mode) { throw CatalogError.readOnly(path: path) }
        return size
    }

    /// Only a missing or empty file may receive the schema. Checked through a read-only
    /// connection before the pool opens, because opening the pool switches the file to WAL:
    /// another application's database must be left byte for byte as it was.
    private static func requireCatalog(_ path: String, size: Int64?) throws {
        guard let size, size > 0 else { return }
        var config = Configuration()
        config.readonly = true
        let queue = try DatabaseQueue(path: path, configuration: config)
        let isCatalog = try queue.read { db in try db.tableExists("videos") }
        try queue.close()
        if !isCatalog {
            throw CatalogError.notADatabase(path: path, detail: "it has no videos table (is it another application's database?)")
        }
    }

    public static func isWritable(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && writable(path, mode: st.st_mode)
    }

    /// Writable for this process and, since root passes access(2) regardless, by the mode too.
    private static func writable(_ path: String, mode: mode_t) -> Bool {
        Glibc.access(path, W_OK) == 0 && mode & 0o222 != 0
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1: videos, settings, verification cache") { db in
            // AUTOINCREMENT: ids are never reused, so a restore cannot collide with newer records.
            try db.execute(sql: """
                CREATE TABLE videos (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    uuid TEXT NOT NULL UNIQUE,
                    raw_file TEXT,
                    processed_file TEXT,
                    created_at TEXT NOT NULL
                );
                CREATE INDEX videos_raw_file ON videos(raw_file);
                CREATE INDEX videos_processed_file ON videos(processed_file);
                CREATE TABLE settings (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                CREATE TABLE verification_cache (
                    path TEXT NOT NULL,
                    depth TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    mtime_ns INTEGER NOT NULL,
                    inode INTEGER NOT NULL,
                    tool_version TEXT NOT NULL,
                    result TEXT NOT NULL,
                    checked_at TEXT NOT NULL,
                    PRIMARY KEY (path, depth)
                );
                """)
        }
        return m
    }

    // MARK: records

    private static func record(_ row: Row) -> VideoRecord {
        VideoRecord(id: row["id"], uuid: row["uuid"], rawFile: row["raw_file"],
                    processedFile: row["processed_file"], createdAt: row["created_at"])
    }

    public func forEachRecord(_ body: (VideoRecord) throws -> Void) throws {
        // Pages by id instead of one long cursor: memory stays flat and no read
        // transaction is held open while the caller probes files.
        var after: Int64 = Int64.min
        while true {
            let page = try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM videos WHERE id > ? ORDER BY id LIMIT 1000",
                                 arguments: [after]).map(Self.record)
            }
            for r in page { try body(r) }
            guard let last = page.last else { return }
            after = last.id
        }
    }

    public func recordCount() throws -> Int {
        try pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM videos") ?? 0 }
    }

    public func record(id: Int64) throws -> VideoRecord? {
        try reader.record(id: id)
    }

    public func record(uuid: String) throws -> VideoRecord? {
        try reader.record(uuid: uuid)
    }

    public func records(namingPath path: String) throws -> [VideoRecord] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM videos WHERE raw_file = ? OR processed_file = ? ORDER BY id",
                             arguments: [path, path]).map(Self.record)
        }
    }

    public func insert(rawFile: String?, processedFile: String?, uuid: String?) throws -> VideoRecord {
        try insert([NewRecord(rawFile: rawFile, processedFile: processedFile, uuid: uuid)])[0]
    }

    public func insert(_ records: [NewRecord]) throws -> [VideoRecord] {
        let created = Self.timestamp()
        return try pool.write { db in
            let statement = try db.makeStatement(sql: "INSERT INTO videos (uuid, raw_file, processed_file, created_at) VALUES (?, ?, ?, ?)")
            var out: [VideoRecord] = []
            out.reserveCapacity(records.count)
            for r in records {
                let id = (r.uuid ?? UUID().uuidString).lowercased()
                if try Bool.fetchOne(db, sql: "SELECT 1 FROM videos WHERE uuid = ?", arguments: [id]) == true {
                    throw CatalogError.conflict("a record with uuid \(id) already exists")
                }
                try statement.execute(arguments: [id, r.rawFile, r.processedFile, created])
                out.append(VideoRecord(id: db.lastInsertedRowID, uuid: id, rawFile: r.rawFile,
                                       processedFile: r.processedFile, createdAt: created))
            }
            return out
        }
    }

    static func timestamp() -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date())
    }

    // MARK: deletion and restore

    public func delete(_ judged: [VideoRecord], journal: ([CatalogRow]) throws -> Void) throws {
        try pool.write { db in
            var rows: [CatalogRow] = []
            rows.reserveCapacity(judged.count)
            for expected in judged {
                guard let row = try Row.fetchOne(db, sql: "SELECT * FROM videos WHERE id = ?", arguments: [expected.id]) else {
                    throw CatalogError.conflict("record \(expected.id) vanished before deletion; nothing was deleted")
                }
                let now = Self.record(row)
                if now.uuid != expected.uuid || now.rawFile != expected.rawFile || now.processedFile != expected.processedFile {
                    throw CatalogError.conflict("record \(expected.id) changed since it was checked; nothing was deleted (run cleanup again)")
                }
                rows.append(Self.catalogRow(row))
            }
            try journal(rows)
            let statement = try db.makeStatement(sql: "DELETE FROM videos WHERE id = ?")
            for r in judged { try statement.execute(arguments: [r.id]) }
            // Test hook: die inside the open transaction to prove an interrupted apply changes nothing.
            if ProcessInfo.processInfo.environment["MEDIALIB_FAULT"] == "abort-before-commit" { abort() }
        }
    }

    public func restoreConflicts(rows: [CatalogRow]) throws -> [String] {
        try pool.read { db in try Self.conflicts(db, rows) }
    }

    private static func conflicts(_ db: Database, _ rows: [CatalogRow]) throws -> [String] {
        let columns = try Set(db.columns(in: "videos").map(\.name))
        var conflicts: [String] = []
        for row in rows {
            let unknown = Set(row.keys).subtracting(columns)
            if !unknown.isEmpty {
                conflicts.append("the journal names columns this catalog lacks: \(unknown.sorted().joined(separator: ", "))")
            }
            if case .integer(let id)? = row["id"],
               try Bool.fetchOne(db, sql: "SELECT 1 FROM videos WHERE id = ?", arguments: [id]) == true {
                conflicts.append("id \(id) is in use")
            }
            if case .text(let uuid)? = row["uuid"],
               try Bool.fetchOne(db, sql: "SELECT 1 FROM videos WHERE uuid = ?", arguments: [uuid]) == true {
                conflicts.append("uuid \(uuid) is in use")
            }
        }
        return conflicts
    }

    public func restore(rows: [CatalogRow]) throws {
        try pool.write { db in
            let conflicts = try Self.conflicts(db, rows)
            if !conflicts.isEmpty {
                throw CatalogError.conflict("cannot restore: " + conflicts.joined(separator: "; "))
            }
            for row in rows {
                let names = row.keys.sorted()
                let sql = "INSERT INTO videos (\(names.map { "\"\($0)\"" }.joined(separator: ", "))) VALUES (\(names.map { _ in "?" }.joined(separator: ", ")))"
                try db.execute(sql: sql, arguments: StatementArguments(names.map { Self.databaseValue(row[$0]!) }))
            }
        }
    }

    static func catalogRow(_ row: Row) -> CatalogRow {
        var out: CatalogRow = [:]
        for (name, value) in row {
            switch value.storage {
            case .null: out[name] = .null
            case .int64(let i): out[name] = .integer(i)
            case .double(let d): out[name] = .real(d)
            case .string(let s): out[name] = .text(s)
            case .blob(let b): out[name] = .blob([UInt8](b))
            }
        }
        return out
    }

    static func databaseValue(_ value: ColumnValue) -> DatabaseValue {
        switch value {
        case .null: .null
        case .integer(let i): i.databaseValue
        case .real(let d): d.databaseValue
        case .text(let s): s.databaseValue
        case .blob(let b): Data(b).databaseValue
        }
    }

    /// Every row of the videos table, for tests and diagnostics that compare catalogs.
    public func allRows() throws -> [CatalogRow] {
        try pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM videos ORDER BY id").map(Self.catalogRow) }
    }

    // MARK: settings

    public func setting(_ key: String) throws -> String? {
        try pool.read { db in try String.fetchOne(db, sql: "SELECT value FROM settings WHERE key = ?", arguments: [key]) }
    }

    public func setSetting(_ key: String, _ value: String) throws {
        try pool.write { db in
            try db.execute(sql: "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                           arguments: [key, value])
        }
    }

    // MARK: verification cache

    private static func cacheEntry(_ row: Row) -> VerificationCacheEntry {
        VerificationCacheEntry(path: row["path"], size: row["size"], mtimeNanoseconds: row["mtime_ns"],
                               inode: row["inode"], depth: row["depth"], toolVersion: row["tool_version"],
                               resultJSON: row["result"], checkedAt: row["checked_at"])
    }

    public func cachedVerification(path: String, depth: String) throws -> VerificationCacheEntry? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM verification_cache WHERE path = ? AND depth = ?",
                             arguments: [path, depth]).map(Self.cacheEntry)
        }
    }

    public func cachedVerifications(paths: [String], depth: String) throws -> [String: VerificationCacheEntry] {
        guard !paths.isEmpty else { return [:] }
        return try pool.read { db in
            var out: [String: VerificationCacheEntry] = [:]
            // SQLite's default limit on bound parameters is 32766; stay well below it.
            for chunk in stride(from: 0, to: paths.count, by: 500).map({ Array(paths[$0..<min($0 + 500, paths.count)]) }) {
                let marks = chunk.map { _ in "?" }.joined(separator: ",")
                let rows = try Row.fetchAll(db, sql: "SELECT * FROM verification_cache WHERE depth = ? AND path IN (\(marks))",
                                            arguments: StatementArguments([depth] + chunk))
                for row in rows {
                    let e = Self.cacheEntry(row)
                    out[e.path] = e
                }
            }
            return out
        }
    }

    public func storeVerifications(_ entries: [VerificationCacheEntry]) throws {
        guard !entries.isEmpty else { return }
        try pool.write { db in
            let statement = try db.makeStatement(sql: """
                INSERT OR REPLACE INTO verification_cache (path, depth, size, mtime_ns, inode, tool_version, result, checked_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for e in entries {
                try statement.execute(arguments: [e.path, e.depth, e.size, e.mtimeNanoseconds, e.inode,
                                                  e.toolVersion, e.resultJSON, e.checkedAt])
            }
        }
    }
}
