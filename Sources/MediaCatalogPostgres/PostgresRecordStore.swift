import Foundation
import MediaCatalog
import MediaFiles

/// A catalog on PostgreSQL: an application's own tables through a schema profile (endoreg-db
/// as Django made them: uuid, bigint, timestamptz, jsonb), or medialib's own tables. Values
/// travel as PostgreSQL's text forms (pinned by the session's settings) and go back through
/// each column's own input function, so every type round-trips to the value; integers, floats
/// and bytea become the same ColumnValues a SQLite catalog gives, so the profile's rules,
/// the journal and the deletion collector are the same code for both.
final class PostgresRecordStore: RecordStore, @unchecked Sendable {
    let identity: CatalogIdentity
    let profile: SchemaProfile
    let isOwned: Bool
    let writable: Bool
    let sessions: PostgresSessions
    let mapping: RecordMapping
    private let catalog: PostgresCatalogInfo

    init(identity: CatalogIdentity, profile: SchemaProfile, owned: Bool, writable: Bool, sessions: PostgresSessions,
         catalog: PostgresCatalogInfo) throws {
        self.identity = identity
        self.profile = profile
        isOwned = owned
        self.writable = writable
        self.sessions = sessions
        self.catalog = catalog
        guard let columns = catalog.columns[profile.video.table] else {
            throw CatalogError.unknownSchema(identity.description, "it has no \(profile.video.table) table, which the \(profile.name) profile names")
        }
        mapping = try RecordMapping(profile: profile, available: Set(columns.map(\.name)))
    }

    deinit { sessions.shutdown() }

    private var videoTable: String { quoted(profile.video.table) }
    private var idColumn: String { quoted(profile.video.id) }

    /// "col1"::text, "col2"::text…: every value as text.
    private func textList(_ columns: [String]) -> String {
        columns.map { "\(quoted($0))::text" }.joined(separator: ", ")
    }

    private func values(_ texts: [String?], table: String, columns: [String]) -> [ColumnValue] {
        zip(texts, columns).map { text, column in catalog.value(text, table: table, column: column) }
    }

    // MARK: reading

    func count() throws -> Int {
        try sessions.read { s in Int(try s.rows("SELECT count(*)::text FROM \(videoTable)").first?.first??.description ?? "0") ?? 0 }
    }

    func records(after id: Int64, limit: Int) throws -> [VideoRecord] {
        try sessions.read { s in
            try s.rows("SELECT \(textList(mapping.columns)) FROM \(videoTable) WHERE \(idColumn) > $1 ORDER BY \(videoTable).\(idColumn) LIMIT \(max(1, limit))",
                       [String(id)])
                .compactMap { mapping.record(values($0, table: profile.video.table, columns: mapping.columns)) }
        }
    }

    func record(id: Int64) throws -> VideoRecord? {
        try sessions.read { s in try recordByID(id, s) }
    }

    private func recordByID(_ id: Int64, _ s: PostgresSession, lock: Bool = false) throws -> VideoRecord? {
        try s.rows("SELECT \(textList(mapping.columns)) FROM \(videoTable) WHERE \(idColumn) = $1\(lock ? " FOR UPDATE" : "")", [String(id)])
            .first.flatMap { mapping.record(values($0, table: profile.video.table, columns: mapping.columns)) }
    }

    func record(uuid: String) throws -> VideoRecord? {
        guard let column = profile.video.uuid, mapping.columns.contains(column) else { return nil }
        guard let hex = UUIDText.hexDigits(Array(uuid.utf8)) else { return nil }
        let isUUIDType = catalog.type(of: column, in: profile.video.table) == "uuid"
        return try sessions.read { s in
            // A native uuid column takes any spelling; a text one is compared in the forms apps store.
            let spellings = isUUIDType ? [UUIDText.dashed(hex)] : [UUIDText.dashed(hex), String(decoding: hex, as: UTF8.self),
                                                                   UUIDText.dashed(hex).uppercased(), String(decoding: hex, as: UTF8.self).uppercased()]
            let marks = spellings.indices.map { "$\($0 + 1)" }.joined(separator: ", ")
            return try s.rows("SELECT \(textList(mapping.columns)) FROM \(videoTable) WHERE \(quoted(column)) IN (\(marks)) ORDER BY \(videoTable).\(idColumn) LIMIT 1", spellings)
                .first.flatMap { mapping.record(values($0, table: profile.video.table, columns: mapping.columns)) }
        }
    }

    /// On an event loop (wait 0) a lookup would block on the network: say "busy" and let the
    /// server retry it on its blocking thread pool, where it waits for the answer.
    func lookup(_ key: RecordKey, wait: Double) throws -> VideoRecord? {
        guard wait > 0 else { throw CatalogError.busy("a PostgreSQL lookup waits for the network: not on an event loop") }
        switch key {
        case .id(let id): return try record(id: id)
        case .uuid(let u): return try record(uuid: u)
        }
    }

    /// Nothing tells a PostgreSQL reader cheaply and exactly that another machine changed a row:
    /// nothing is cached, so every request reads the catalog.
    func makeChangeMonitor() -> (any ChangeMonitor)? { nil }

    // MARK: medialib's own tables

    func insert(_ records: [NewRecord]) throws -> [VideoRecord] {
        guard isOwned else {
            throw CatalogError.notOwned("\(identity.description) belongs to \(profile.name); medialib does not add records to it (the application does)")
        }
        guard writable else { throw CatalogError.readOnly(identity.description, "it was opened read-only") }
        return try sessions.with { s in
            try s.transaction {
                var out: [VideoRecord] = []
                for r in records {
                    var uuid = UUID().uuidString.lowercased()
                    if let given = r.uuid {
                        guard let hex = UUIDText.hexDigits(Array(given.utf8)) else { throw CatalogError.conflict("'\(given)' is not a uuid") }
                        uuid = UUIDText.dashed(hex)
                    }
                    if try !s.rows("SELECT id::text FROM videos WHERE uuid = $1", [uuid]).isEmpty {
                        throw CatalogError.conflict("a record with uuid \(uuid) already exists")
                    }
                    var paths: [String?] = []
                    for p in [r.rawFile, r.processedFile] {
                        guard let p, !p.isEmpty else { paths.append(nil); continue }
                        guard let text = p.string else {
                            throw CatalogError.unsupported("\(p.displayed): a file name that is not UTF-8 cannot be stored in a PostgreSQL catalog")
                        }
                        paths.append(text)
                    }
                    let row = try s.rows("INSERT INTO videos (uuid, raw_file, processed_file) VALUES ($1, $2, $3) RETURNING \(textList(mapping.columns))",
                                         [uuid] + paths)
                    guard let first = row.first, let record = mapping.record(values(first, table: "videos", columns: mapping.columns)) else {
                        throw CatalogError.failed("the database did not return the new record")
                    }
                    out.append(record)
                }
                return out
            }
        }
    }

    // MARK: deletion

    func dependents(of records: [VideoRecord]) throws -> [Int64: Dependents] {
        guard !profile.relations.isEmpty || !isOwned else { return [:] }
        return try sessions.read { s in
            let source = PostgresRowSource(session: s, catalog: catalog)
            let collector = try DeletionCollector(profile: profile, source: source)
            var out: [Int64: Dependents] = [:]
            for r in records {
                guard let row = try source.rows(in: profile.video.table, where: profile.video.id, in: [.integer(r.id)]).first else { continue }
                out[r.id] = try collector.collect(videoRow: row, source: source).dependents
            }
            return out
        }
    }

    func delete(_ request: DeletionRequest, journal: any DeletionJournal) throws -> DeletionOutcome {
        guard writable else { throw CatalogError.readOnly(identity.description, "it was opened read-only") }
        return try sessions.with { s in
            do {
                return try s.transaction { try deleteInTransaction(request, journal: journal, session: s) }
            } catch let e as CatalogError {
                if case .failed(let m) = e, m.hasPrefix(PostgresErrors.lostPrefix) {
                    throw CatalogError.failed("\(m); the transaction was not committed, so nothing was deleted")
                }
                throw e
            }
        }
    }

    private func deleteInTransaction(_ request: DeletionRequest, journal: any DeletionJournal, session s: PostgresSession) throws -> DeletionOutcome {
        let source = PostgresRowSource(session: s, catalog: catalog)
        let collector = try DeletionCollector(profile: profile, source: source)
        var outcome = DeletionOutcome(records: 0, rows: [:], nulled: 0)
        for judged in request.records {
            // Locked until the commit: no other session changes the row between judging and deleting.
            guard let now = try recordByID(judged.id, s, lock: true) else {
                throw CatalogError.conflict("record \(judged.id) vanished before deletion; nothing was deleted")
            }
            if now.fingerprint != judged.fingerprint {
                throw CatalogError.conflict("record \(judged.id) changed since it was checked; nothing was deleted (run cleanup again)")
            }
            guard let row = try source.rows(in: profile.video.table, where: profile.video.id, in: [.integer(judged.id)]).first else {
                throw CatalogError.conflict("record \(judged.id) vanished before deletion; nothing was deleted")
            }
            let closure = try collector.collect(videoRow: row, source: source)
            if closure.isProtectedOrBlocked {
                throw CatalogError.conflict("record \(judged.id) is protected (\(closure.protectedBy.joined(separator: "; "))); nothing was deleted")
            }
            if !request.cascade && closure.dependents.hasDependents {
                throw CatalogError.conflict("record \(judged.id) has dependent rows (\(closure.dependents.summary)); nothing was deleted (pass --cascade)")
            }
            for d in closure.deletions { try journal.write(.deleted(table: d.table, key: d.key, row: d.row, record: judged.id)) }
            for n in closure.nullings { try journal.write(.nulled(table: n.table, key: n.key, column: n.column, old: n.old, record: judged.id)) }
            for n in closure.nullings {
                let (clause, binds) = keyClause(n.key, table: n.table, from: 1)
                try s.run("UPDATE \(quoted(n.table)) SET \(quoted(n.column)) = NULL WHERE \(clause)", binds)
            }
            for d in closure.deletions.reversed() {
                let (clause, binds) = keyClause(d.key, table: d.table, from: 1)
                outcome.rows[d.table, default: 0] += try s.run("DELETE FROM \(quoted(d.table)) WHERE \(clause)", binds).affected
            }
            outcome.nulled += closure.nullings.count
            outcome.records += 1
        }
        // Deferred foreign keys are checked now, before the journal is sealed and the commit made.
        try s.run("SET CONSTRAINTS ALL IMMEDIATE")
        try journal.sealBeforeCommit()
        return outcome
    }

    /// "key" = $n AND …, with the values as text (NULL keys match with IS NULL).
    func keyClause(_ key: CatalogRow, table: String, from first: Int) -> (String, [String?]) {
        var parts: [String] = []
        var binds: [String?] = []
        for name in key.keys.sorted() {
            let value = key[name] ?? .null
            if value.isNull {
                parts.append("\(quoted(name)) IS NULL")
            } else {
                binds.append(PostgresCatalogInfo.text(value))
                parts.append("\(quoted(name)) = $\(first + binds.count - 1)")
            }
        }
        return (parts.joined(separator: " AND "), binds)
    }

    // MARK: restore

    func restoreState(of changes: [RowChange]) throws -> RestoreState {
        try sessions.read { s in try restoreState(changes, s) }
    }

    private func restoreState(_ changes: [RowChange], _ s: PostgresSession) throws -> RestoreState {
        var absent = 0, present = 0
        var conflicts: [String] = []
        for change in changes {
            guard let columns = catalog.columns[change.table]?.map(\.name) else {
                conflicts.append("the catalog has no table \(change.table)")
                continue
            }
            switch change {
            case .deleted(let table, let key, let row, _):
                let unknown = Set(row.keys).subtracting(columns)
                if !unknown.isEmpty {
                    conflicts.append("the journal names columns \(table) lacks: \(unknown.sorted().joined(separator: ", "))")
                    continue
                }
                let (clause, binds) = keyClause(key, table: table, from: 1)
                let existing = try s.rows("SELECT \(textList(columns)) FROM \(quoted(table)) WHERE \(clause)", binds)
                    .map { Dictionary(uniqueKeysWithValues: zip(columns, values($0, table: table, columns: columns))) }
                if existing.isEmpty {
                    absent += 1
                    if table == profile.video.table, let u = profile.video.uuid, let value = row[u], !value.isNull,
                       let taken = try s.rows("SELECT \(idColumn)::text FROM \(quoted(table)) WHERE \(quoted(u)) = $1",
                                              [PostgresCatalogInfo.text(value)]).first?.first ?? nil {
                        conflicts.append("uuid \(UUIDText.display(value)) is in use by record \(taken)")
                    }
                } else if existing.contains(where: { e in row.allSatisfy { e[$0.key] == $0.value } }) {
                    present += 1
                } else {
                    conflicts.append("\(table) row \(key.keys.sorted().map { "\($0) \(key[$0]?.description ?? "NULL")" }.joined(separator: ", ")) is in use")
                }
            case .nulled(let table, let key, let column, let old, _):
                let (clause, binds) = keyClause(key, table: table, from: 1)
                guard let now = try s.rows("SELECT \(quoted(column))::text FROM \(quoted(table)) WHERE \(clause)", binds).first else {
                    conflicts.append("the \(table) row whose \(column) was set to NULL no longer exists")
                    continue
                }
                let value = catalog.value(now.first ?? nil, table: table, column: column)
                if value == .null { absent += 1 } else if value == old { present += 1 } else {
                    conflicts.append("\(table).\(column) was changed since the cleanup")
                }
            }
        }
        if !conflicts.isEmpty { return .conflicts(conflicts) }
        if present > 0 && absent > 0 {
            return .conflicts(["some of the journaled rows are back and some are not (\(present) present, \(absent) absent)"])
        }
        return absent > 0 || changes.isEmpty ? .restorable : .present
    }

    func restore(_ changes: [RowChange]) throws {
        guard writable else { throw CatalogError.readOnly(identity.description, "it was opened read-only") }
        try sessions.with { s in
            try s.transaction {
                switch try restoreState(changes, s) {
                case .conflicts(let list): throw CatalogError.conflict("cannot restore: " + list.joined(separator: "; "))
                case .present: return
                case .restorable: break
                }
                for change in changes {
                    switch change {
                    case .deleted(let table, _, let row, _):
                        let names = row.keys.sorted()
                        // Each value through its column's input function: uuid, timestamptz, jsonb,
                        // numeric, bytea and arrays come back as they were.
                        let marks = names.indices.map { "$\($0 + 1)" }.joined(separator: ", ")
                        try s.run("INSERT INTO \(quoted(table)) (\(names.map(quoted).joined(separator: ", "))) OVERRIDING SYSTEM VALUE VALUES (\(marks))",
                                  names.map { row[$0].map(PostgresCatalogInfo.text) ?? nil })
                    case .nulled(let table, let key, let column, let old, _):
                        let (clause, binds) = keyClause(key, table: table, from: 2)
                        let done = try s.run("UPDATE \(quoted(table)) SET \(quoted(column)) = $1 WHERE \(clause) AND \(quoted(column)) IS NULL",
                                             [PostgresCatalogInfo.text(old)] + binds).affected
                        if done != 1 { throw CatalogError.conflict("cannot restore \(table).\(column): the row changed") }
                    }
                }
                try s.run("SET CONSTRAINTS ALL IMMEDIATE")
            }
        }
    }

    // MARK: diagnostics (tests)

    func allRows(of table: String) throws -> [CatalogRow] {
        guard let columns = catalog.columns[table]?.map(\.name) else { return [] }
        return try sessions.read { s in
            try s.rows("SELECT \(textList(columns)) FROM \(quoted(table))").map {
                Dictionary(uniqueKeysWithValues: zip(columns, values($0, table: table, columns: columns)))
            }
        }
    }
}

/// Introspection and rows for the deletion collector, on one session (inside the deletion's
/// transaction when there is one).
struct PostgresRowSource: RowSource {
    let session: PostgresSession
    let catalog: PostgresCatalogInfo

    func columns(of table: String) throws -> [String]? { catalog.columns[table]?.map(\.name) }
    func keyColumns(of table: String) throws -> [String] { catalog.primaryKeys[table] ?? [] }
    func foreignKeys() throws -> [ForeignKey] { catalog.foreignKeys }

    func rows(in table: String, where column: String, in values: [ColumnValue]) throws -> [CatalogRow] {
        guard let columns = catalog.columns[table]?.map(\.name) else { return [] }
        var out: [CatalogRow] = []
        for start in stride(from: 0, to: values.count, by: 1000) {
            let chunk = values[start..<min(start + 1000, values.count)].filter { !$0.isNull }
            if chunk.isEmpty { continue }
            // One array parameter; the server reads it as an array of the column's type.
            let list = "{" + chunk.map { PostgresCatalogInfo.arrayElement(PostgresCatalogInfo.text($0)) }.joined(separator: ",") + "}"
            let select = columns.map { "\(quoted($0))::text" }.joined(separator: ", ")
            for row in try session.rows("SELECT \(select) FROM \(quoted(table)) WHERE \(quoted(column)) = ANY($1)", [list]) {
                out.append(Dictionary(uniqueKeysWithValues: zip(columns, zip(row, columns).map { catalog.value($0, table: table, column: $1) })))
            }
        }
        return out
    }
}
