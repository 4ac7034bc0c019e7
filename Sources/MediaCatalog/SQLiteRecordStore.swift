import Foundation
import MediaFiles
import Synchronization

/// Records in a SQLite file: medialib's own catalog, or an application's own database read
/// through a schema profile (never migrated, never switched to WAL, left byte for byte as it
/// was by every command that only reads).
public final class SQLiteRecordStore: RecordStore, @unchecked Sendable {
    public let identity: CatalogIdentity
    public let profile: SchemaProfile
    public let isOwned: Bool
    let path: RawPath
    let mapping: RecordMapping
    private let readMode: SQLiteConnection.Mode
    private let writable: Bool

    private let lock = NSLock()
    private let writerLock = NSLock()
    private var idle: [SQLiteConnection] = []
    private var writer: SQLiteConnection?
    /// Bumped when the file was replaced: connections to the old file are not pooled again.
    private var generation: Int64 = 0
    /// Whether a change monitor watches this catalog (then every read drains its events first).
    private let monitored = Atomic<Bool>(false)

    init(path: RawPath, identity: CatalogIdentity, profile: SchemaProfile, owned: Bool, readMode: SQLiteConnection.Mode,
         writable: Bool, mapping: RecordMapping) {
        self.path = path
        self.identity = identity
        self.profile = profile
        self.isOwned = owned
        self.readMode = readMode
        self.writable = writable
        self.mapping = mapping
    }

    // MARK: connections

    /// Borrows a read connection (each thread gets its own; a failed one is dropped).
    /// `busyTimeout`: how long to wait for another process's lock (0 on a server's event loop).
    func withReader<T>(busyTimeout: Int32 = 5_000, _ body: (SQLiteConnection) throws -> T) throws -> T {
        // A catalog replaced by a rename is noticed by whoever reads next, not only by the
        // callers that poll the monitor (one read(2) that usually says EAGAIN).
        if monitored.load(ordering: .relaxed) { InotifyHub.shared.drain() }
        lock.lock()
        let reused = idle.popLast()
        let gen = generation
        lock.unlock()
        let connection = try reused ?? Self.map { try SQLiteConnection(path: path, mode: readMode) }
        if connection.busyTimeout != busyTimeout { connection.setBusyTimeout(milliseconds: busyTimeout) }
        let result = try Self.map { try body(connection) }
        lock.lock()
        if gen == generation && idle.count < 64 { idle.append(connection) }
        lock.unlock()
        return result
    }

    /// The one write connection, serialised by a lock of its own (readers of this process go
    /// on meanwhile, as other processes' do).
    func withWriter<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        guard writable else { throw CatalogError.readOnly(identity.location, "it was opened read-only") }
        writerLock.lock()
        defer { writerLock.unlock() }
        let connection: SQLiteConnection
        if let writer {
            connection = writer
        } else {
            connection = try Self.map { try SQLiteConnection(path: path, mode: .readWrite) }
            // Django declares its foreign keys DEFERRABLE INITIALLY DEFERRED: with enforcement
            // on, a commit that would leave an orphan fails instead of leaving it.
            try Self.map { try connection.execute("PRAGMA foreign_keys = ON") }
            writer = connection
        }
        return try Self.map { try body(connection) }
    }

    /// SQLite's errors in catalog terms.
    static func map<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as SQLiteError {
            if e.isBusy { throw CatalogError.busy("another process is writing to the catalog (\(e.message))") }
            if e.isReadOnly { throw CatalogError.readOnly("the catalog", e.message) }
            if e.isNotADatabase { throw CatalogError.notADatabase("the catalog", e.message) }
            throw CatalogError.failed("catalog error: \(e.message)")
        }
    }

    // MARK: reading

    var videoTable: String { quoted(profile.video.table) }
    var idColumn: String { quoted(profile.video.id) }

    public func count() throws -> Int {
        try withReader { c in
            let rows = try c.query("SELECT COUNT(*) FROM \(videoTable)")
            return Int(rows.first?.first?.integer ?? 0)
        }
    }

    public func records(after id: Int64, limit: Int) throws -> [VideoRecord] {
        try withReader { c in
            let s = try c.cached("SELECT \(mapping.selectList) FROM \(videoTable) WHERE \(idColumn) > ? ORDER BY \(idColumn) LIMIT ?")
            defer { s.reset() }
            try s.bind([.integer(id), .integer(Int64(limit))])
            var out: [VideoRecord] = []
            while try s.step() {
                if let r = mapping.record(s.row()) { out.append(r) }
            }
            return out
        }
    }

    public func record(id: Int64) throws -> VideoRecord? {
        try withReader { c in
            let s = try c.cached("SELECT \(mapping.selectList) FROM \(videoTable) WHERE \(idColumn) = ?")
            defer { s.reset() }
            try s.bind([.integer(id)])
            return try s.step() ? mapping.record(s.row()) : nil
        }
    }

    public func record(uuid: String) throws -> VideoRecord? {
        guard let column = profile.video.uuid, mapping.columns.contains(column) else { return nil }
        let spellings = UUIDText.spellings(uuid)
        return try withReader { c in
            let marks = spellings.map { _ in "?" }.joined(separator: ", ")
            let s = try c.cached("SELECT \(mapping.selectList) FROM \(videoTable) WHERE \(quoted(column)) IN (\(marks)) ORDER BY \(idColumn) LIMIT 1")
            defer { s.reset() }
            try s.bind(spellings)
            return try s.step() ? mapping.record(s.row()) : nil
        }
    }

    public func lookup(_ key: RecordKey, wait: Double) throws -> VideoRecord? {
        try withReader(busyTimeout: Int32(max(0, min(wait, 3600)) * 1000)) { c in
            switch key {
            case .id(let id):
                let s = try c.cached("SELECT \(mapping.selectList) FROM \(videoTable) WHERE \(idColumn) = ?")
                defer { s.reset() }
                try s.bind([.integer(id)])
                return try s.step() ? mapping.record(s.row()) : nil
            case .uuid(let u):
                guard let column = profile.video.uuid, mapping.columns.contains(column) else { return nil }
                let spellings = UUIDText.spellings(u)
                let marks = spellings.map { _ in "?" }.joined(separator: ", ")
                let s = try c.cached("SELECT \(mapping.selectList) FROM \(videoTable) WHERE \(quoted(column)) IN (\(marks)) ORDER BY \(idColumn) LIMIT 1")
                defer { s.reset() }
                try s.bind(spellings)
                return try s.step() ? mapping.record(s.row()) : nil
            }
        }
    }

    public func makeChangeMonitor() -> (any ChangeMonitor)? {
        let monitor = SQLiteChangeMonitor(path: path) { [weak self] in self?.reopen() }
        if monitor != nil { monitored.store(true, ordering: .relaxed) }
        return monitor
    }

    /// The file was replaced (or removed) under its name: every connection to the old file goes.
    func reopen() {
        lock.lock()
        idle.removeAll()
        generation += 1
        lock.unlock()
        // The writer reconnects at its next transaction (never in the middle of one).
        if writerLock.try() {
            writer = nil
            writerLock.unlock()
        }
    }

    // MARK: inserting (medialib's own catalog)

    public func insert(_ records: [NewRecord]) throws -> [VideoRecord] {
        guard isOwned else {
            throw CatalogError.notOwned("\(identity.location) belongs to \(profile.name); medialib does not add records to it (the application does)")
        }
        let created = Self.timestamp()
        return try withWriter { c in
            try c.transaction(immediate: true) {
                let insert = try c.prepare("INSERT INTO videos (uuid, raw_file, processed_file, created_at) VALUES (?, ?, ?, ?)")
                let exists = try c.prepare("SELECT 1 FROM videos WHERE uuid = ?")
                var out: [VideoRecord] = []
                out.reserveCapacity(records.count)
                for r in records {
                    let uuid: String
                    if let given = r.uuid {
                        guard let hex = UUIDText.hexDigits(Array(given.utf8)) else {
                            throw CatalogError.conflict("'\(given)' is not a uuid")
                        }
                        uuid = UUIDText.dashed(hex)
                    } else {
                        uuid = UUID().uuidString.lowercased()
                    }
                    exists.reset()
                    try exists.bind([.text(uuid)])
                    if try exists.step() { throw CatalogError.conflict("a record with uuid \(uuid) already exists") }
                    exists.reset()
                    insert.reset()
                    try insert.bind([.text(uuid), Self.value(r.rawFile), Self.value(r.processedFile), .text(created)])
                    while try insert.step() {}
                    let id = c.lastInsertedRowID
                    var files: [RecordFile] = []
                    if let p = r.rawFile, !p.isEmpty { files.append(RecordFile(kind: .raw, path: p, column: "raw_file")) }
                    if let p = r.processedFile, !p.isEmpty { files.append(RecordFile(kind: .processed, path: p, column: "processed_file")) }
                    let row: [ColumnValue] = [.integer(id), .text(uuid), Self.value(r.rawFile), Self.value(r.processedFile), .text(created)]
                    out.append(VideoRecord(id: id, uuid: uuid, files: files, createdAt: created, fingerprint: row))
                }
                return out
            }
        }
    }

    /// Paths go in as UTF-8 text, or as a BLOB when they are not UTF-8 (so no reader that
    /// decodes text trips over them); either way the bytes are kept.
    static func value(_ path: RawPath?) -> ColumnValue {
        guard let path, !path.isEmpty else { return .null }
        return path.string != nil ? .text(path.bytes) : .blob(path.bytes)
    }

    static func timestamp() -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date())
    }

    // MARK: deletion

    public func dependents(of records: [VideoRecord]) throws -> [Int64: Dependents] {
        guard !profile.relations.isEmpty || isForeign else { return [:] }
        return try withReader { c in
            let source = SQLiteRowSource(connection: c)
            let collector = try DeletionCollector(profile: profile, source: source)
            var out: [Int64: Dependents] = [:]
            for r in records {
                guard let row = try videoRow(r.id, source: source) else { continue }
                out[r.id] = try collector.collect(videoRow: row, source: source).dependents
            }
            return out
        }
    }

    var isForeign: Bool { !isOwned }

    private func videoRow(_ id: Int64, source: SQLiteRowSource) throws -> CatalogRow? {
        try source.rows(in: profile.video.table, where: profile.video.id, in: [.integer(id)]).first
    }

    public func delete(_ request: DeletionRequest, journal: any DeletionJournal) throws -> DeletionOutcome {
        try withWriter { c in
            do {
                return try c.transaction(immediate: true) {
                    try deleteInTransaction(request, journal: journal, connection: c)
                }
            } catch let e as SQLiteError where e.isBusy {
                throw CatalogError.busy("another process is writing to the catalog; nothing was deleted (try again when it is done)")
            } catch let e as SQLiteError where e.primary == 19 /* SQLITE_CONSTRAINT */ {
                throw CatalogError.conflict("the database refused the deletion (\(e.message)); nothing was deleted. A relation may be missing from the \(profile.name) profile.")
            }
        }
    }

    private func deleteInTransaction(_ request: DeletionRequest, journal: any DeletionJournal,
                                     connection c: SQLiteConnection) throws -> DeletionOutcome {
        let source = SQLiteRowSource(connection: c)
        let collector = try DeletionCollector(profile: profile, source: source)
        var outcome = DeletionOutcome(records: 0, rows: [:], nulled: 0)
        for judged in request.records {
            // Re-read inside the write transaction: nobody can change the row any more.
            let s = try c.prepare("SELECT \(mapping.selectList) FROM \(videoTable) WHERE \(idColumn) = ?")
            try s.bind([.integer(judged.id)])
            guard try s.step() else {
                throw CatalogError.conflict("record \(judged.id) vanished before deletion; nothing was deleted")
            }
            if s.row() != judged.fingerprint {
                throw CatalogError.conflict("record \(judged.id) changed since it was checked; nothing was deleted (run cleanup again)")
            }
            guard let row = try videoRow(judged.id, source: source) else {
                throw CatalogError.conflict("record \(judged.id) vanished before deletion; nothing was deleted")
            }
            let closure = try collector.collect(videoRow: row, source: source)
            if closure.isProtectedOrBlocked {
                throw CatalogError.conflict("record \(judged.id) is protected (\(closure.protectedBy.joined(separator: "; "))); nothing was deleted")
            }
            if !request.cascade && closure.dependents.hasDependents {
                throw CatalogError.conflict("record \(judged.id) has dependent rows (\(closure.dependents.summary)); nothing was deleted (pass --cascade)")
            }
            for d in closure.deletions {
                try journal.write(.deleted(table: d.table, key: d.key, row: d.row, record: judged.id))
            }
            for n in closure.nullings {
                try journal.write(.nulled(table: n.table, key: n.key, column: n.column, old: n.old, record: judged.id))
            }
            for n in closure.nullings {
                let (whereSQL, binds) = Self.keyClause(n.key)
                try c.run("UPDATE \(quoted(n.table)) SET \(quoted(n.column)) = NULL WHERE \(whereSQL)", binds)
            }
            // Children before parents, so a foreign key that is checked at once never fails.
            for d in closure.deletions.reversed() {
                let (whereSQL, binds) = Self.keyClause(d.key)
                try c.run("DELETE FROM \(quoted(d.table)) WHERE \(whereSQL)", binds)
                outcome.rows[d.table, default: 0] += c.changes
            }
            outcome.nulled += closure.nullings.count
            outcome.records += 1
        }
        try journal.sealBeforeCommit()
        return outcome
    }

    static func keyClause(_ key: CatalogRow) -> (String, [ColumnValue]) {
        let names = key.keys.sorted()
        return (names.map { "\(quoted($0)) IS ?" }.joined(separator: " AND "), names.map { key[$0] ?? .null })
    }

    // MARK: restore

    public func restoreState(of changes: [RowChange]) throws -> RestoreState {
        try withReader { c in try Self.restoreState(changes, c, profile: profile) }
    }

    static func restoreState(_ changes: [RowChange], _ c: SQLiteConnection, profile: SchemaProfile) throws -> RestoreState {
        let source = SQLiteRowSource(connection: c)
        var absent = 0, present = 0
        var conflicts: [String] = []
        for change in changes {
            guard let columns = try source.columns(of: change.table) else {
                conflicts.append("the catalog has no table \(change.table)")
                continue
            }
            switch change {
            case .deleted(let table, let key, let row, _):
                let unknown = Set(row.keys).subtracting(columns).subtracting(["rowid"])
                if !unknown.isEmpty {
                    conflicts.append("the journal names columns \(table) lacks: \(unknown.sorted().joined(separator: ", "))")
                    continue
                }
                let existing = try source.rows(in: table, matching: key)
                if existing.isEmpty {
                    absent += 1
                    if table == profile.video.table, let u = profile.video.uuid, let value = row[u], !value.isNull,
                       let taken = try c.query("SELECT \(quoted(profile.video.id)) FROM \(quoted(table)) WHERE \(quoted(u)) = ?", [value]).first?.first {
                        conflicts.append("uuid \(UUIDText.display(value)) is in use by record \(taken)")
                    }
                } else if existing.contains(where: { Self.same($0, row) }) {
                    present += 1
                } else {
                    conflicts.append("\(describe(table, key, profile: profile)) is in use")
                }
            case .nulled(let table, let key, let column, let old, _):
                let (whereSQL, binds) = keyClause(key)
                let now = try c.query("SELECT \(quoted(column)) FROM \(quoted(table)) WHERE \(whereSQL)", binds)
                guard let value = now.first?.first else {
                    conflicts.append("\(describe(table, key, profile: profile)) whose \(column) was set to NULL no longer exists")
                    continue
                }
                if value == .null { absent += 1 }
                else if value == old { present += 1 }
                else { conflicts.append("\(describe(table, key, profile: profile)).\(column) was changed since the cleanup") }
            }
        }
        if !conflicts.isEmpty { return .conflicts(conflicts) }
        if present > 0 && absent > 0 {
            return .conflicts(["some of the journaled rows are back and some are not (\(present) present, \(absent) absent)"])
        }
        return absent > 0 || changes.isEmpty ? .restorable : .present
    }

    static func same(_ a: CatalogRow, _ b: CatalogRow) -> Bool {
        b.allSatisfy { name, value in name == "rowid" || a[name] == value }
    }

    static func describe(_ table: String, _ key: CatalogRow, profile: SchemaProfile) -> String {
        let k = key.keys.sorted().map { "\($0) \(key[$0]?.description ?? "NULL")" }.joined(separator: ", ")
        return table == profile.video.table && key.count == 1 && key[profile.video.id] != nil
            ? "id \(key[profile.video.id]?.description ?? "")" : "\(table) row (\(k))"
    }

    public func restore(_ changes: [RowChange]) throws {
        try withWriter { c in
            do {
                try c.transaction(immediate: true) {
                    switch try Self.restoreState(changes, c, profile: profile) {
                    case .conflicts(let list): throw CatalogError.conflict("cannot restore: " + list.joined(separator: "; "))
                    case .present: return
                    case .restorable: break
                    }
                    for change in changes {
                        switch change {
                        case .deleted(let table, _, let row, _):
                            let names = row.keys.sorted()
                            let sql = "INSERT INTO \(quoted(table)) (\(names.map(quoted).joined(separator: ", "))) VALUES (\(names.map { _ in "?" }.joined(separator: ", ")))"
                            try c.run(sql, names.map { row[$0] ?? .null })
                        case .nulled(let table, let key, let column, let old, _):
                            let (whereSQL, binds) = Self.keyClause(key)
                            try c.run("UPDATE \(quoted(table)) SET \(quoted(column)) = ? WHERE \(whereSQL) AND \(quoted(column)) IS NULL", [old] + binds)
                            if c.changes != 1 { throw CatalogError.conflict("cannot restore \(table).\(column): the row changed") }
                        }
                    }
                }
            } catch let e as SQLiteError where e.isBusy {
                throw CatalogError.busy("another process is writing to the catalog; nothing was restored (try again when it is done)")
            } catch let e as SQLiteError where e.isConstraint {
                throw CatalogError.conflict("cannot restore: the database refused a row (\(e.message)); nothing was restored")
            }
        }
    }

    // MARK: diagnostics

    /// Every row of a table (tests and diagnostics that compare catalogs).
    public func allRows(of table: String? = nil) throws -> [CatalogRow] {
        try withReader { c in
            let t = table ?? profile.video.table
            let s = try c.prepare("SELECT * FROM \(quoted(t)) ORDER BY rowid")
            var out: [CatalogRow] = []
            while try s.step() {
                var row: CatalogRow = [:]
                for i in 0..<s.columnCount { row[s.columnName(i)] = s.column(i) }
                out.append(row)
            }
            return out
        }
    }

    public func tableNames() throws -> [String] {
        try withReader { c in
            try c.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").compactMap { $0.first?.string }
        }
    }

    public func foreignKeyViolations() throws -> Int {
        try withReader { c in try c.query("PRAGMA foreign_key_check").count }
    }
}

extension DeletionCollector.Closure {
    package var isProtectedOrBlocked: Bool { !protectedBy.isEmpty }
}

extension Dependents {
    /// "endoreg_db_frame: 12, endoreg_db_labelvideosegment: 3; nulls endoreg_db_x.video_id: 1"
    public var summary: String {
        var parts = deletions.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
        parts += nullings.sorted { $0.key < $1.key }.map { "sets \($0.key) to NULL: \($0.value)" }
        return parts.joined(separator: ", ")
    }
}

/// Introspection and row reads on one SQLite connection, for the deletion collector.
struct SQLiteRowSource: RowSource {
    let connection: SQLiteConnection

    func columns(of table: String) throws -> [String]? {
        let rows = try connection.query("SELECT name FROM pragma_table_info(?)", [.text(table)])
        return rows.isEmpty ? nil : rows.compactMap { $0.first?.string }
    }

    func keyColumns(of table: String) throws -> [String] {
        let rows = try connection.query("SELECT name, pk FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk", [.text(table)])
        let names = rows.compactMap { $0.first?.string }
        return names.isEmpty ? ["rowid"] : names
    }

    func foreignKeys() throws -> [ForeignKey] {
        var out: [ForeignKey] = []
        let tables = try connection.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").compactMap { $0.first?.string }
        for t in tables {
            for row in try connection.query("SELECT \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?)", [.text(t)]) {
                guard row.count == 3, let references = row[0].string, let from = row[1].string else { continue }
                out.append(ForeignKey(table: t, column: from, references: references, toColumn: row[2].string))
            }
        }
        return out
    }

    func rows(in table: String, matching key: CatalogRow) throws -> [CatalogRow] {
        let keys = try keyColumns(of: table)
        let select = keys == ["rowid"] ? "SELECT rowid AS rowid, *" : "SELECT *"
        let (whereSQL, binds) = SQLiteRecordStore.keyClause(key)
        let s = try connection.prepare("\(select) FROM \(quoted(table)) WHERE \(whereSQL)")
        try s.bind(binds)
        var out: [CatalogRow] = []
        while try s.step() { out.append(row(s)) }
        return out
    }

    private func row(_ s: SQLiteConnection.Statement) -> CatalogRow {
        var row: CatalogRow = [:]
        for i in 0..<s.columnCount { row[s.columnName(i)] = s.column(i) }
        return row
    }

    func rows(in table: String, where column: String, in values: [ColumnValue]) throws -> [CatalogRow] {
        let keys = try keyColumns(of: table)
        let select = keys == ["rowid"] ? "SELECT rowid AS rowid, *" : "SELECT *"
        var out: [CatalogRow] = []
        // SQLite's default limit on bound parameters is 32766; stay well below it.
        for start in stride(from: 0, to: values.count, by: 500) {
            let chunk = Array(values[start..<min(start + 500, values.count)])
            let s = try connection.prepare("\(select) FROM \(quoted(table)) WHERE \(quoted(column)) IN (\(chunk.map { _ in "?" }.joined(separator: ", ")))")
            try s.bind(chunk)
            while try s.step() {
                var row: CatalogRow = [:]
                for i in 0..<s.columnCount { row[s.columnName(i)] = s.column(i) }
                out.append(row)
            }
        }
        return out
    }
}
