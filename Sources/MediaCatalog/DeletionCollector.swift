/// A foreign key as the database declares it.
package struct ForeignKey: Sendable, Hashable {
    package var table: String
    package var column: String
    package var references: String
    /// nil: the referenced table's primary key.
    package var toColumn: String?

    package init(table: String, column: String, references: String, toColumn: String?) {
        self.table = table
        self.column = column
        self.references = references
        self.toColumn = toColumn
    }
}

/// What the collector needs of a database: introspection and rows by column value.
package protocol RowSource {
    /// The table's columns, or nil when the table does not exist.
    func columns(of table: String) throws -> [String]?
    /// Primary key columns (["rowid"] on SQLite when none is declared).
    func keyColumns(of table: String) throws -> [String]
    func foreignKeys() throws -> [ForeignKey]
    /// Every column of the rows whose `column` holds one of `values`.
    func rows(in table: String, where column: String, in values: [ColumnValue]) throws -> [CatalogRow]
}

/// The closure of deleting one video the way the application's own delete would
/// (django.db.models.deletion.Collector): CASCADE collects, SET_NULL nulls, PROTECT blocks,
/// RESTRICT blocks unless the restricting row goes too; a foreign key into the closure that
/// the profile does not know blocks, and is named: a newer release of the app must never
/// lose rows silently.
package struct DeletionCollector {
    package let profile: SchemaProfile
    /// Profile relations whose table and column exist in this database, by referenced table.
    private let relations: [String: [SchemaProfile.Relation]]
    /// Foreign keys the database declares that the profile does not know, by referenced table.
    private let unknown: [String: [ForeignKey]]

    package init(profile: SchemaProfile, source: RowSource) throws {
        self.profile = profile
        var byTable: [String: [SchemaProfile.Relation]] = [:]
        var known = Set<String>()
        for r in profile.relations {
            known.insert("\(r.table).\(r.column)")
            guard let cols = try source.columns(of: r.table), cols.contains(r.column),
                  try source.columns(of: r.references) != nil else { continue }
            byTable[r.references, default: []].append(r)
        }
        relations = byTable
        var unknownByTable: [String: [ForeignKey]] = [:]
        for fk in try source.foreignKeys() where !known.contains("\(fk.table).\(fk.column)") {
            unknownByTable[fk.references, default: []].append(fk)
        }
        unknown = unknownByTable
    }

    package struct Closure {
        /// Deleted rows, parents before children (the order restore inserts them in).
        package var deletions: [(table: String, key: CatalogRow, row: CatalogRow)] = []
        package var nullings: [(table: String, key: CatalogRow, column: String, old: ColumnValue)] = []
        package var protectedBy: [String] = []

        package var dependents: Dependents {
            var d = Dependents()
            for (table, _, _) in deletions.dropFirst() { d.deletions[table, default: 0] += 1 }
            for n in nullings { d.nullings["\(n.table).\(n.column)", default: 0] += 1 }
            d.protectedBy = protectedBy
            return d
        }
    }

    /// The closure of one video row (given with every column).
    package func collect(videoRow: CatalogRow, source: RowSource) throws -> Closure {
        var closure = Closure()
        let videoTable = profile.video.table
        var seen = Set<RowID>()
        let videoKeys = try source.keyColumns(of: videoTable)
        closure.deletions.append((videoTable, Self.key(videoRow, videoKeys), videoRow))
        seen.insert(RowID(table: videoTable, key: Self.key(videoRow, videoKeys)))
        var level: [(table: String, rows: [CatalogRow])] = [(videoTable, [videoRow])]
        var restricted: [(RowID, String)] = []
        var blockers: [String: Int] = [:]
        while !level.isEmpty {
            var next: [(String, [CatalogRow])] = []
            for (table, rows) in level {
                for r in relations[table] ?? [] {
                    let target = try r.to_column ?? source.keyColumns(of: table).first ?? "id"
                    let values = rows.compactMap { $0[target] }.filter { !$0.isNull }
                    guard !values.isEmpty else { continue }
                    let children = try source.rows(in: r.table, where: r.column, in: values)
                    guard !children.isEmpty else { continue }
                    let keys = try source.keyColumns(of: r.table)
                    switch r.on_delete {
                    case .cascade:
                        var fresh: [CatalogRow] = []
                        for child in children {
                            let id = RowID(table: r.table, key: Self.key(child, keys))
                            if seen.insert(id).inserted {
                                fresh.append(child)
                                closure.deletions.append((r.table, id.key, child))
                            }
                        }
                        if !fresh.isEmpty { next.append((r.table, fresh)) }
                    case .set_null, .set_default:
                        for child in children {
                            closure.nullings.append((r.table, Self.key(child, keys), r.column, child[r.column] ?? .null))
                        }
                    case .protect:
                        blockers["\(r.table).\(r.column) (protect)", default: 0] += children.count
                    case .restrict:
                        for child in children {
                            restricted.append((RowID(table: r.table, key: Self.key(child, keys)), "\(r.table).\(r.column) (restrict)"))
                        }
                    case .do_nothing:
                        break
                    }
                }
                for fk in unknown[table] ?? [] {
                    let target = try fk.toColumn ?? source.keyColumns(of: table).first ?? "id"
                    let values = rows.compactMap { $0[target] }.filter { !$0.isNull }
                    guard !values.isEmpty else { continue }
                    let children = try source.rows(in: fk.table, where: fk.column, in: values)
                    if !children.isEmpty {
                        blockers["\(fk.table).\(fk.column) (a foreign key the \(profile.name) profile does not know; treated as protect)", default: 0] += children.count
                    }
                }
            }
            level = next
        }
        for (row, name) in restricted where !seen.contains(row) { blockers[name, default: 0] += 1 }
        closure.protectedBy = blockers.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value) row\($0.value == 1 ? "" : "s")" }
        // A row that goes anyway needs no nulling.
        closure.nullings.removeAll { seen.contains(RowID(table: $0.table, key: $0.key)) }
        return closure
    }

    static func key(_ row: CatalogRow, _ columns: [String]) -> CatalogRow {
        var k: CatalogRow = [:]
        for c in columns { k[c] = row[c] ?? .null }
        return k
    }

    struct RowID: Hashable {
        var table: String
        var key: CatalogRow
    }
}
