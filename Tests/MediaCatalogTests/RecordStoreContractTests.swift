import Foundation
import Testing
import TestSupport
import MediaFiles
@testable import MediaCatalog
@testable import MediaCatalogPostgres

/// One way to get a record store with records in it: every backend runs the same contract.
/// (medialib's SQLite catalog today; the Django and PostgreSQL stores join with their issues.)
struct StoreBackend: Sendable, CustomTestStringConvertible {
    var name: String
    /// A store holding `count` records with files named `raw/<n>.mp4` (every third without a raw
    /// file, every second with a processed one); returns the store and its records in id order.
    var make: @Sendable (Scratch, Int) throws -> (OpenCatalog, [VideoRecord])
    /// Re-points a record's raw file behind the store's back, as another writer would.
    var repoint: @Sendable (Scratch, Int64, String) throws -> Void
    /// Every row of the video table, as the store reads it.
    var rows: @Sendable (OpenCatalog) throws -> [CatalogRow]
    /// Whether the store can tell cheaply that the catalog changed (else nothing is cached).
    var hasMonitor = true
    var testDescription: String { name }
}

/// medialib's tables in a new database of the test cluster; the database's name is kept in
/// the scratch folder for `repoint`.
func postgresCatalog(_ s: Scratch) throws -> OpenCatalog {
    let cluster = try PostgresTestCluster.get()
    let database = try cluster.createDatabase("contract")
    try database.write(toFile: s.path("pg-database"), atomically: true, encoding: .utf8)
    var options = CatalogOptions(location: cluster.url(database), statePath: RawPath(s.path("state.sqlite")), access: .create)
    options.backends = [PostgresBackend()]
    return try CatalogOpener.open(options)
}

let backends: [StoreBackend] = [
    StoreBackend(name: "medialib SQLite", make: { s, n in
        let catalog = try s.catalog()
        let records = try catalog.records.insert((0..<n).map { i in
            NewRecord(rawFile: i % 3 == 2 ? nil : RawPath("raw/\(i).mp4"), processedFile: i % 2 == 1 ? RawPath("processed/\(i).mp4") : nil)
        })
        return (catalog, records)
    }, repoint: { s, id, path in
        try rawSQL(s.path("cat.sqlite"), "UPDATE videos SET raw_file = ? WHERE id = ?", [.text(path), .integer(id)])
    }, rows: { c in try c.sqlite.allRows() }),
    StoreBackend(name: "medialib PostgreSQL", make: { s, n in
        let catalog = try postgresCatalog(s)
        let records = try catalog.records.insert((0..<n).map { i in
            NewRecord(rawFile: i % 3 == 2 ? nil : RawPath("raw/\(i).mp4"), processedFile: i % 2 == 1 ? RawPath("processed/\(i).mp4") : nil)
        })
        return (catalog, records)
    }, repoint: { s, id, path in
        let database = try String(contentsOfFile: s.path("pg-database"), encoding: .utf8)
        try PostgresTestCluster.get().psql("UPDATE videos SET raw_file = '\(path)' WHERE id = \(id)", database: database)
    }, rows: { c in
        guard let store = c.records as? PostgresRecordStore else { throw HarnessError("not a PostgreSQL store") }
        return try store.allRows(of: "videos").sorted { ($0["id"]?.integer ?? 0) < ($1["id"]?.integer ?? 0) }
    }, hasMonitor: false),
]

@Suite("record store contract")
struct RecordStoreContractTests {
    @Test("read by id and by uuid in any spelling", arguments: backends)
    func readBack(_ b: StoreBackend) throws {
        let s = try Scratch()
        defer { s.remove() }
        let (catalog, records) = try b.make(s, 6)
        let store = catalog.records
        #expect(try store.count() == 6)
        for r in records {
            #expect(try store.record(id: r.id) == r)
            #expect(try store.record(uuid: r.uuid) == r)
            #expect(try store.record(uuid: r.uuid.uppercased()) == r)
            #expect(try store.record(uuid: r.uuid.replacingOccurrences(of: "-", with: "")) == r, "Django's 32 hex digits")
            #expect(try store.lookup(.id(r.id), wait: 1) == r)
        }
        #expect(records[0].files.map(\.kind) == [.raw])
        #expect(records[1].files.map(\.kind) == [.raw, .processed])
        #expect(records[2].path(for: .raw) == nil)
        #expect(try store.record(id: (records.last?.id ?? 0) + 1000) == nil)
        #expect(try store.record(uuid: fakeUUID(999_999)) == nil)
        #expect(try store.record(uuid: "not a uuid") == nil)
    }

    @Test("pages through every record in id order, whatever the gaps", arguments: backends)
    func pagesInIDOrder(_ b: StoreBackend) throws {
        let s = try Scratch()
        defer { s.remove() }
        let (catalog, records) = try b.make(s, 1300)
        let store = catalog.records
        // Holes in the ids, one across a page boundary.
        let holes = [records[0], records[499], records[500], records[1299]]
        _ = try store.delete(DeletionRequest(records: holes, cascade: false), journal: RecordingJournal())
        var seen: [VideoRecord] = []
        try store.forEachPage(of: 500) { seen += $0 }
        let expected = records.filter { r in !holes.contains { $0.id == r.id } }
        #expect(seen == expected)
        #expect(try store.count() == 1296)
        #expect(try store.records(after: records[1298].id, limit: 10).isEmpty)
    }

    @Test("a judged deletion journals every row before deleting, in one transaction", arguments: backends)
    func judgedDeletion(_ b: StoreBackend) throws {
        let s = try Scratch()
        defer { s.remove() }
        let (catalog, records) = try b.make(s, 6)
        let store = catalog.records
        let doomed = [records[4], records[1], records[2]]
        let journal = RecordingJournal()
        var countWhileSealing = -1
        journal.onSeal = { countWhileSealing = (try? store.count()) ?? -2 }
        let outcome = try store.delete(DeletionRequest(records: doomed, cascade: false), journal: journal)
        #expect(outcome.records == 3)
        #expect(journal.sealed)
        #expect(countWhileSealing == 6, "other readers see nothing until the commit")
        #expect(journal.changes.map(\.record) == doomed.map(\.id))
        for change in journal.changes {
            guard case .deleted(let table, let key, let row, _) = change else { Issue.record("not a deletion: \(change)"); continue }
            #expect(table == store.profile.video.table)
            #expect(key[store.profile.video.id] == row[store.profile.video.id])
        }
        for r in doomed { #expect(try store.record(id: r.id) == nil) }
        #expect(try store.record(id: records[0].id) == records[0])
        #expect(try store.count() == 3)
    }

    @Test("a deletion refuses, changing nothing, when a row vanished or changed since it was judged", arguments: backends)
    func refusesStaleJudgement(_ b: StoreBackend) throws {
        let s = try Scratch()
        defer { s.remove() }
        let (catalog, records) = try b.make(s, 4)
        let store = catalog.records
        // Another writer re-points record 1 after it was judged.
        try b.repoint(s, records[1].id, "elsewhere.mp4")
        let journal = RecordingJournal()
        #expect(catalogError { _ = try store.delete(DeletionRequest(records: [records[0], records[1]], cascade: false), journal: journal) } != nil)
        #expect(try store.count() == 4)
        #expect(!journal.sealed)
        // A record that is gone.
        var ghost = records[3]
        ghost.id += 1000
        #expect(catalogError { _ = try store.delete(DeletionRequest(records: [records[0], ghost], cascade: false), journal: RecordingJournal()) } != nil)
        #expect(try store.count() == 4)
    }

    @Test("a journal that fails, or a seal that fails, deletes nothing", arguments: backends)
    func failingJournal(_ b: StoreBackend) throws {
        let s = try Scratch()
        defer { s.remove() }
        let (catalog, records) = try b.make(s, 4)
        let store = catalog.records
        let onWrite = RecordingJournal()
        onWrite.throwOnWrite = true
        #expect(throws: Marker.self) { _ = try store.delete(DeletionRequest(records: records, cascade: false), journal: onWrite) }
        let onSeal = RecordingJournal()
        onSeal.throwOnSeal = true
        #expect(throws: Marker.self) { _ = try store.delete(DeletionRequest(records: records, cascade: false), journal: onSeal) }
        #expect(onSeal.changes.count == 4, "everything was journaled, then the seal refused")
        #expect(try store.count() == 4)
        for r in records { #expect(try store.record(id: r.id) == r) }
    }

    @Test("restore puts every row back to the byte; a second time finds them present", arguments: backends)
    func restoreRoundTrip(_ b: StoreBackend) throws {
        let s = try Scratch()
        defer { s.remove() }
        let (catalog, records) = try b.make(s, 7)
        let store = catalog.records
        let before = try b.rows(catalog)
        let journal = RecordingJournal()
        _ = try store.delete(DeletionRequest(records: [records[0], records[3], records[6]], cascade: false), journal: journal)
        #expect(try store.restoreState(of: journal.changes) == .restorable)
        try store.restore(journal.changes)
        #expect(try b.rows(catalog) == before)
        for r in records {
            #expect(try store.record(id: r.id) == r)
            #expect(try store.record(uuid: r.uuid) == r)
        }
        #expect(try store.restoreState(of: journal.changes) == .present)
        try store.restore(journal.changes) // nothing to do: no error, nothing doubled
        #expect(try b.rows(catalog) == before)
    }

    @Test("restore refuses, changing nothing, when an id or uuid is taken or a column unknown", arguments: backends)
    func restoreConflicts(_ b: StoreBackend) throws {
        let s = try Scratch()
        defer { s.remove() }
        let (catalog, records) = try b.make(s, 3)
        let store = catalog.records
        let journal = RecordingJournal()
        _ = try store.delete(DeletionRequest(records: [records[1], records[2]], cascade: false), journal: journal)
        // Someone reuses record 2's uuid before the restore.
        _ = try store.insert([NewRecord(rawFile: "other.mp4", uuid: records[2].uuid)])
        let before = try b.rows(catalog)
        guard case .conflicts(let list) = try store.restoreState(of: journal.changes) else {
            Issue.record("a taken uuid must conflict")
            return
        }
        #expect(list.contains { $0.contains(records[2].uuid) })
        #expect(catalogError { try store.restore(journal.changes) } != nil)
        #expect(try b.rows(catalog) == before, "record 1 (free) was not restored either")

        let table = store.profile.video.table
        let idClash = RowChange.deleted(table: table, key: ["id": .integer(records[0].id)],
                                        row: row(id: records[0].id, uuid: fakeUUID(77), raw: .text("a.mp4"), processed: .null), record: records[0].id)
        guard case .conflicts = try store.restoreState(of: [idClash]) else { Issue.record("a taken id must conflict"); return }
        var extra = row(id: 500, uuid: fakeUUID(78), raw: .text("a.mp4"), processed: .null)
        extra["colour"] = .text("red")
        let unknown = RowChange.deleted(table: table, key: ["id": .integer(500)], row: extra, record: 500)
        guard case .conflicts(let c) = try store.restoreState(of: [unknown]) else { Issue.record("an unknown column must conflict"); return }
        #expect(c.first?.contains("colour") == true)
        #expect(catalogError { try store.restore([unknown]) } != nil)
        #expect(try b.rows(catalog) == before)
    }

    @Test("the change monitor sees another connection's commit at once", arguments: backends)
    func changeMonitor(_ b: StoreBackend) throws {
        let s = try Scratch()
        defer { s.remove() }
        let (catalog, records) = try b.make(s, 3)
        guard let monitor = catalog.records.makeChangeMonitor() else {
            // Such a store must be read at every request: nothing may be cached.
            #expect(!b.hasMonitor, "\(b.name) promised a change monitor")
            return
        }
        let v1 = monitor.version()
        #expect(monitor.version() == v1, "nothing changed")
        try b.repoint(s, records[0].id, "moved.mp4")
        #expect(monitor.version() != v1, "a commit by another connection")
    }
}
