import Foundation
import Testing
@testable import MediaCatalog

@Suite("SQLiteCatalog records")
struct CatalogRecordTests {
    @Test func createInsertAndReopen() throws {
        let s = try Scratch()
        defer { s.remove() }
        let inserted: VideoRecord
        do {
            let catalog = try s.catalog()
            #expect(try catalog.recordCount() == 0)
            inserted = try catalog.insert(rawFile: "a.mp4", processedFile: "p/a.mp4", uuid: nil)
        }
        for access in [SQLiteCatalog.Access.read, .write, .create] {
            let again = try SQLiteCatalog(path: s.path("cat.sqlite"), access: access)
            #expect(try again.recordCount() == 1, "\(access)")
            #expect(try again.record(id: inserted.id) == inserted, "\(access)")
        }
        #expect(try SQLiteCatalog(path: s.path("cat.sqlite"), access: .read).location == s.path("cat.sqlite"))
    }

    @Test("the catalog file is in WAL mode (readers do not wait for writers)")
    func walMode() throws {
        let s = try Scratch()
        defer { s.remove() }
        _ = try s.catalog().insert(rawFile: "a.mp4", processedFile: nil, uuid: nil)
        let header = try Data(contentsOf: s.url.appendingPathComponent("cat.sqlite")).prefix(20)
        #expect(header.prefix(16) == Data("SQLite format 3\0".utf8))
        // Bytes 18 and 19: file format write/read version, 2 means WAL.
        #expect(header[18] == 2)
        #expect(header[19] == 2)
    }

    @Test func insertAndLookUp() throws {
        let s = try Scratch()
        defer { s.remove() }
        let catalog = try s.catalog()
        let a = try catalog.insert(rawFile: "raw/a.mp4", processedFile: nil, uuid: nil)
        let b = try catalog.insert(rawFile: nil, processedFile: "processed/b.mp4", uuid: nil)
        let c = try catalog.insert(rawFile: "raw/c.mp4", processedFile: "processed/c.mp4", uuid: nil)
        #expect([a.id, b.id, c.id] == [a.id, a.id + 1, a.id + 2])
        for r in [a, b, c] {
            #expect(UUID(uuidString: r.uuid) != nil)
            #expect(r.uuid == r.uuid.lowercased())
            let f = ISO8601DateFormatter()
            f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let created = try #require(f.date(from: r.createdAt), "created_at \(r.createdAt) is ISO 8601")
            #expect(abs(created.timeIntervalSinceNow) < 60)
            #expect(try catalog.record(id: r.id) == r)
            #expect(try catalog.record(uuid: r.uuid) == r)
            #expect(try catalog.record(uuid: r.uuid.uppercased()) == r, "uuid lookups ignore case")
        }
        #expect(a.rawFile == "raw/a.mp4" && a.processedFile == nil)
        #expect(b.rawFile == nil && b.processedFile == "processed/b.mp4")
        #expect(a.files.map(\.kind) == [.raw])
        #expect(b.files.map(\.kind) == [.processed])
        #expect(c.files.map(\.kind) == [.raw, .processed])
        #expect(c.path(for: .processed) == "processed/c.mp4")
        #expect(try catalog.record(id: c.id + 100) == nil)
        #expect(try catalog.record(uuid: fakeUUID(1)) == nil)
        #expect(Set([a.uuid, b.uuid, c.uuid]).count == 3)
    }

    @Test func givenUUIDIsStoredLowercaseAndMustBeUnique() throws {
        let s = try Scratch()
        defer { s.remove() }
        let catalog = try s.catalog()
        let upper = "3F2504E0-4F89-41D3-9A0C-0305E82C3301"
        let r = try catalog.insert(rawFile: "a.mp4", processedFile: nil, uuid: upper)
        #expect(r.uuid == upper.lowercased())
        #expect(try catalog.record(uuid: upper) == r)
        #expect(try catalog.record(uuid: upper.lowercased()) == r)
        let error = catalogError { _ = try catalog.insert(rawFile: "b.mp4", processedFile: nil, uuid: upper.lowercased()) }
        guard case .conflict(let message)? = error else {
            Issue.record("expected a conflict, got \(String(describing: error))")
            return
        }
        #expect(message.contains(upper.lowercased()))
        #expect(try catalog.recordCount() == 1)
    }

    @Test func recordsNamingAPath() throws {
        let s = try Scratch()
        defer { s.remove() }
        let catalog = try s.catalog()
        let a = try catalog.insert(rawFile: "x.mp4", processedFile: nil, uuid: nil)
        _ = try catalog.insert(rawFile: "y.mp4", processedFile: nil, uuid: nil)
        let c = try catalog.insert(rawFile: "z.mp4", processedFile: "x.mp4", uuid: nil)
        #expect(try catalog.records(namingPath: "x.mp4").map(\.id) == [a.id, c.id])
        #expect(try catalog.records(namingPath: "z.mp4").map(\.id) == [c.id])
        #expect(try catalog.records(namingPath: "X.mp4").isEmpty, "paths are case-sensitive")
        #expect(try catalog.records(namingPath: "nothing.mp4").isEmpty)
    }

    @Test("forEachRecord pages through 2500 inserted records in id order")
    func forEachRecordPagesInserted() throws {
        let s = try Scratch()
        defer { s.remove() }
        let catalog = try s.catalog()
        let inserted = try catalog.insert((0..<2500).map { NewRecord(rawFile: "v/\($0).mp4") })
        // Delete a few so the ids have holes, including across a page boundary.
        try catalog.delete(ids: [inserted[999].id, inserted[1000].id, inserted[0].id]) { _ in }
        var seen: [VideoRecord] = []
        try catalog.forEachRecord { seen.append($0) }
        let expected = inserted.enumerated().filter { ![0, 999, 1000].contains($0.offset) }.map(\.element)
        #expect(seen.count == 2497)
        #expect(seen == expected)
        #expect(try catalog.recordCount() == 2497)
    }

    @Test("forEachRecord visits every record in id order, beyond one 1000-row page (restored ids with gaps)")
    func forEachRecordPages() throws {
        let s = try Scratch()
        defer { s.remove() }
        let catalog = try s.catalog()
        // 2500 rows with gaps in the ids (restore inserts them in one transaction: fast).
        let ids: [Int64] = (1...2500).map { Int64($0) * 3 + ($0 % 7 == 0 ? 1 : 0) }
        let rows = ids.enumerated().reversed().map { i, id in
            row(id: id, uuid: fakeUUID(i), raw: "v/\(i).mp4", processed: i % 2 == 0 ? "p/\(i).mp4" : nil)
        }
        try catalog.restore(rows: rows)
        var seen: [VideoRecord] = []
        try catalog.forEachRecord { seen.append($0) }
        #expect(seen.count == 2500)
        #expect(seen.map(\.id) == ids)
        #expect(try catalog.recordCount() == 2500)
        #expect(seen[1234].rawFile == "v/1234.mp4")
        #expect(seen[1234].processedFile == "p/1234.mp4")
        #expect(seen[1235].processedFile == nil)
        #expect(seen.last?.uuid == fakeUUID(2499))
    }

    @Test func forEachRecordStopsWhenTheBodyThrows() throws {
        let s = try Scratch()
        defer { s.remove() }
        let catalog = try s.catalog()
        for i in 0..<5 { _ = try catalog.insert(rawFile: "\(i).mp4", processedFile: nil, uuid: nil) }
        var visited = 0
        #expect(throws: Marker.self) {
            try catalog.forEachRecord { _ in
                visited += 1
                if visited == 3 { throw Marker() }
            }
        }
        #expect(visited == 3)
    }

    @Test func emptyCatalogVisitsNothing() throws {
        let s = try Scratch()
        defer { s.remove() }
        var visited = 0
        try s.catalog().forEachRecord { _ in visited += 1 }
        #expect(visited == 0)
    }
}

@Suite("SQLiteCatalog deletion and restore")
struct CatalogDeleteRestoreTests {
    /// A catalog with `n` records; returns it and its records.
    func populated(_ s: Scratch, _ n: Int) throws -> (SQLiteCatalog, [VideoRecord]) {
        let catalog = try s.catalog()
        var records: [VideoRecord] = []
        for i in 0..<n {
            records.append(try catalog.insert(rawFile: i % 3 == 2 ? nil : "raw/\(i).mp4",
                                              processedFile: i % 2 == 1 ? "processed/\(i).mp4" : nil, uuid: nil))
        }
        return (catalog, records)
    }

    @Test func deleteHandsEveryColumnToTheJournalFirst() throws {
        let s = try Scratch()
        defer { s.remove() }
        let (catalog, records) = try populated(s, 6)
        let before = try catalog.allRows()
        let doomed = [records[4].id, records[1].id, records[2].id]
        var journaled: [CatalogRow] = []
        var countDuringJournal = -1
        try catalog.delete(ids: doomed) { rows in
            journaled = rows
            countDuringJournal = try catalog.recordCount()
        }
        #expect(countDuringJournal == 6, "the journal runs before anything is deleted")
        #expect(journaled.map { $0["id"] } == doomed.map { ColumnValue.integer($0) })
        for r in journaled {
            #expect(Set(r.keys) == ["id", "uuid", "raw_file", "processed_file", "created_at"])
            #expect(before.contains(r), "every journaled row is a row exactly as it was")
        }
        // records[2] has no raw file: the journal says so explicitly.
        #expect(journaled[2]["raw_file"] == .null)
        #expect(journaled[1]["processed_file"] == .text("processed/1.mp4"))
        #expect(try catalog.allRows() == before.filter { !doomed.map(ColumnValue.integer).contains($0["id"]!) })
        for id in doomed { #expect(try catalog.record(id: id) == nil) }
        #expect(try catalog.record(id: records[0].id) == records[0])
    }

    @Test func aThrowingJournalDeletesNothing() throws {
        let s = try Scratch()
        defer { s.remove() }
        let (catalog, records) = try populated(s, 4)
        let before = try catalog.allRows()
        var called = false
        #expect(throws: Marker.self) {
            try catalog.delete(ids: records.map(\.id)) { rows in
                called = true
                #expect(rows.count == 4)
                throw Marker()
            }
        }
        #expect(called)
        #expect(try catalog.allRows() == before)
    }

    @Test func deletingAnUnknownIdDeletesNothing() throws {
        let s = try Scratch()
        defer { s.remove() }
        let (catalog, records) = try populated(s, 3)
        let before = try catalog.allRows()
        var called = false
        let error = catalogError {
            try catalog.delete(ids: [records[0].id, 999]) { _ in called = true }
        }
        guard case .conflict? = error else {
            Issue.record("expected a conflict, got \(String(describing: error))")
            return
        }
        #expect(!called, "no journal for a deletion that cannot happen")
        #expect(try catalog.allRows() == before)
    }

    @Test func restorePutsRowsBackIdentically() throws {
        let s = try Scratch()
        defer { s.remove() }
        let (catalog, records) = try populated(s, 7)
        let before = try catalog.allRows()
        var journal: [CatalogRow] = []
        try catalog.delete(ids: [records[0].id, records[3].id, records[6].id]) { journal = $0 }
        #expect(try catalog.recordCount() == 4)
        #expect(try catalog.restoreConflicts(rows: journal).isEmpty)
        try catalog.restore(rows: journal)
        #expect(try catalog.allRows() == before)
        for r in records {
            #expect(try catalog.record(id: r.id) == r)
            #expect(try catalog.record(uuid: r.uuid) == r)
        }
    }

    @Test func idsAreNeverReusedSoARestoreCannotCollide() throws {
        let s = try Scratch()
        defer { s.remove() }
        let (catalog, records) = try populated(s, 3)
        var journal: [CatalogRow] = []
        try catalog.delete(ids: [records[2].id]) { journal = $0 }
        let newer = try catalog.insert(rawFile: "new.mp4", processedFile: nil, uuid: nil)
        #expect(newer.id > records[2].id)
        try catalog.restore(rows: journal)
        #expect(try catalog.allRows().map { $0["id"] } == [records[0].id, records[1].id, records[2].id, newer.id].map(ColumnValue.integer))
        #expect(try catalog.insert(rawFile: "newer.mp4", processedFile: nil, uuid: nil).id > newer.id)
    }

    @Test func restoreRefusesTakenIdsAndUuidsAndChangesNothing() throws {
        let s = try Scratch()
        defer { s.remove() }
        let (catalog, records) = try populated(s, 3)
        var journal: [CatalogRow] = []
        try catalog.delete(ids: [records[1].id, records[2].id]) { journal = $0 }
        // Someone reuses record 2's uuid before the restore.
        let takenUUID: String = { if case .text(let u)? = journal[1]["uuid"] { return u }; return "" }()
        _ = try catalog.insert(rawFile: "other.mp4", processedFile: nil, uuid: takenUUID)
        let before = try catalog.allRows()
        let conflicts = try catalog.restoreConflicts(rows: journal)
        #expect(conflicts == ["uuid \(takenUUID) is in use"])
        let error = catalogError { try catalog.restore(rows: journal) }
        guard case .conflict(let message)? = error else {
            Issue.record("expected a conflict, got \(String(describing: error))")
            return
        }
        #expect(message.contains(takenUUID))
        #expect(try catalog.allRows() == before, "record 1 (free) was not restored either")

        // A row whose id is taken.
        let idClash = row(id: records[0].id, uuid: fakeUUID(77), raw: "a.mp4", processed: nil)
        #expect(try catalog.restoreConflicts(rows: [idClash]) == ["id \(records[0].id) is in use"])
        // A row naming a column the catalog lacks.
        var extra = row(id: 500, uuid: fakeUUID(78), raw: "a.mp4", processed: nil)
        extra["colour"] = .text("red")
        let extraConflicts = try catalog.restoreConflicts(rows: [extra])
        #expect(extraConflicts.count == 1)
        #expect(extraConflicts.first?.contains("colour") == true)
        #expect(catalogError { try catalog.restore(rows: [extra]) } != nil)
        #expect(try catalog.allRows() == before)
    }

    @Test func restoreKeepsEveryValueKind() throws {
        let s = try Scratch()
        defer { s.remove() }
        let catalog = try s.catalog()
        let rows = [
            row(id: 10, uuid: fakeUUID(10), raw: "ü space:colon.mp4", processed: nil, createdAt: "2020-02-02T02:02:02Z"),
            row(id: 11, uuid: fakeUUID(11), raw: nil, processed: "p.mp4"),
            row(id: 12, uuid: fakeUUID(12), raw: "", processed: ""),
        ]
        try catalog.restore(rows: rows)
        #expect(try catalog.allRows() == rows)
        let empty = try #require(try catalog.record(id: 12))
        #expect(empty.files.isEmpty, "empty strings name no file")
        #expect(empty.path(for: .raw) == nil)
    }
}

@Suite("SQLiteCatalog settings and verification cache")
struct CatalogSettingsTests {
    @Test func settings() throws {
        let s = try Scratch()
        defer { s.remove() }
        let catalog = try s.catalog()
        #expect(try catalog.setting(CatalogSettingKey.mediaRoot) == nil)
        try catalog.setSetting(CatalogSettingKey.mediaRoot, "/srv/media")
        try catalog.setSetting("other", "x")
        #expect(try catalog.setting(CatalogSettingKey.mediaRoot) == "/srv/media")
        try catalog.setSetting(CatalogSettingKey.mediaRoot, "/srv/media ü")
        #expect(try catalog.setting(CatalogSettingKey.mediaRoot) == "/srv/media ü")
        #expect(try catalog.setting("other") == "x")
        let reopened = try SQLiteCatalog(path: s.path("cat.sqlite"), access: .read)
        #expect(try reopened.setting(CatalogSettingKey.mediaRoot) == "/srv/media ü")
    }

    @Test func verificationCacheRoundTrip() throws {
        let s = try Scratch()
        defer { s.remove() }
        let catalog = try s.catalog()
        let quick = VerificationCacheEntry(path: "a.mp4", size: 5114, mtimeNanoseconds: 1_700_000_000_123_456_789,
                                           inode: 42, depth: "quick", toolVersion: "0.1.0",
                                           resultJSON: #"{"ok":true}"#, checkedAt: "2024-01-01T00:00:00Z")
        var deep = quick
        deep.depth = "deep"
        deep.resultJSON = #"{"ok":false,"decode_errors":3}"#
        let other = VerificationCacheEntry(path: "dir/b ü.mp4", size: 1, mtimeNanoseconds: -5, inode: Int64.max,
                                           depth: "quick", toolVersion: "0.1.0", resultJSON: "{}", checkedAt: "t")
        #expect(try catalog.cachedVerification(path: "a.mp4", depth: "quick") == nil)
        try catalog.storeVerifications([])
        try catalog.storeVerifications([quick, deep, other])
        #expect(try catalog.cachedVerification(path: "a.mp4", depth: "quick") == quick)
        #expect(try catalog.cachedVerification(path: "a.mp4", depth: "deep") == deep)
        #expect(try catalog.cachedVerification(path: "dir/b ü.mp4", depth: "quick") == other)
        #expect(try catalog.cachedVerification(path: "dir/b ü.mp4", depth: "deep") == nil)
        var newer = quick
        newer.size = 6000
        newer.resultJSON = #"{"ok":false}"#
        newer.toolVersion = "0.2.0"
        try catalog.storeVerifications([newer])
        #expect(try catalog.cachedVerification(path: "a.mp4", depth: "quick") == newer, "a newer check replaces the old one")
        #expect(try catalog.cachedVerification(path: "a.mp4", depth: "deep") == deep)
    }
}

@Suite("Opening a catalog")
struct CatalogOpeningTests {
    @Test(arguments: [SQLiteCatalog.Access.read, .write, .create])
    func aDirectoryIsRefused(access: SQLiteCatalog.Access) throws {
        let s = try Scratch()
        defer { s.remove() }
        try FileManager.default.createDirectory(atPath: s.path("cat.sqlite"), withIntermediateDirectories: false)
        #expect(catalogError { _ = try SQLiteCatalog(path: s.path("cat.sqlite"), access: access) } == .isDirectory(path: s.path("cat.sqlite")))
    }

    @Test(arguments: [SQLiteCatalog.Access.read, .write, .create])
    func aTextFileIsNotADatabase(access: SQLiteCatalog.Access) throws {
        let s = try Scratch()
        defer { s.remove() }
        let path = s.path("cat.sqlite")
        let text = Data("id,uuid\n1,abc\n".utf8)
        try text.write(to: URL(fileURLWithPath: path))
        let error = catalogError { _ = try SQLiteCatalog(path: path, access: access) }
        guard case .notADatabase(let p, _)? = error else {
            Issue.record("expected notADatabase, got \(String(describing: error))")
            return
        }
        #expect(p == path)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == text, "the file was not touched")
    }

    @Test(arguments: [SQLiteCatalog.Access.read, .write])
    func garbageAfterTheSQLiteHeaderIsNotADatabase(access: SQLiteCatalog.Access) throws {
        let s = try Scratch()
        defer { s.remove() }
        let path = s.path("cat.sqlite")
        var data = Data("SQLite format 3\0".utf8)
        data.append(Data((0..<4080).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }))
        try data.write(to: URL(fileURLWithPath: path))
        let error = catalogError { _ = try SQLiteCatalog(path: path, access: access) }
        guard case .notADatabase? = error else {
            Issue.record("expected notADatabase, got \(String(describing: error))")
            return
        }
    }

    @Test(arguments: [SQLiteCatalog.Access.read, .write])
    func aMissingFileIsNotFound(access: SQLiteCatalog.Access) throws {
        let s = try Scratch()
        defer { s.remove() }
        let path = s.path("nope.sqlite")
        #expect(catalogError { _ = try SQLiteCatalog(path: path, access: access) } == .notFound(path: path))
        #expect(!FileManager.default.fileExists(atPath: path), "opening did not create it")
    }

    @Test func createMakesTheFile() throws {
        let s = try Scratch()
        defer { s.remove() }
        let path = s.path("new.sqlite")
        _ = try SQLiteCatalog(path: path, access: .create)
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(try SQLiteCatalog(path: path, access: .read).recordCount() == 0)
    }

    @Test func anEmptyFileReadIsNotACatalog() throws {
        let s = try Scratch()
        defer { s.remove() }
        let path = s.path("empty.sqlite")
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        let error = catalogError { _ = try SQLiteCatalog(path: path, access: .read) }
        guard case .notADatabase? = error else {
            Issue.record("expected notADatabase, got \(String(describing: error))")
            return
        }
    }

    @Test("a catalog without write bits is read-only, even for root")
    func readOnlyFile() throws {
        let s = try Scratch()
        defer { s.remove() }
        let path = s.path("cat.sqlite")
        let record: VideoRecord
        do {
            let catalog = try s.catalog()
            record = try catalog.insert(rawFile: "a.mp4", processedFile: nil, uuid: nil)
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: path)
        #expect(!SQLiteCatalog.isWritable(path))
        #expect(catalogError { _ = try SQLiteCatalog(path: path, access: .write) } == .readOnly(path: path))
        #expect(catalogError { _ = try SQLiteCatalog(path: path, access: .create) } == .readOnly(path: path))
        let reader = try SQLiteCatalog(path: path, access: .read)
        #expect(try reader.record(id: record.id) == record)
        #expect(try reader.recordCount() == 1)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        #expect(SQLiteCatalog.isWritable(path))
        #expect(try SQLiteCatalog(path: path, access: .write).recordCount() == 1)
    }

    @Test func errorDescriptionsNameThePath() {
        let errors: [CatalogError] = [.notFound(path: "/x/c.sqlite"), .isDirectory(path: "/x/c.sqlite"),
                                      .notADatabase(path: "/x/c.sqlite", detail: "d"), .readOnly(path: "/x/c.sqlite"),
                                      .cannotOpen(path: "/x/c.sqlite", detail: "d")]
        for e in errors { #expect(e.description.contains("/x/c.sqlite")) }
        #expect(CatalogError.notFound(path: "p").description.contains("--db"))
    }
}

@Suite("Concurrent access")
struct CatalogConcurrencyTests {
    @Test("a second connection reads while a writer transaction is open")
    func readerDuringWriter() throws {
        let s = try Scratch()
        defer { s.remove() }
        let writer = try s.catalog()
        var records: [VideoRecord] = []
        for i in 0..<5 { records.append(try writer.insert(rawFile: "\(i).mp4", processedFile: nil, uuid: nil)) }
        let reader = try SQLiteCatalog(path: s.path("cat.sqlite"), access: .read)
        var seenInside: (count: Int, first: VideoRecord?, pages: Int) = (-1, nil, 0)
        var elapsed: Duration = .zero
        try writer.delete(ids: [records[0].id, records[1].id]) { rows in
            #expect(rows.count == 2)
            let clock = ContinuousClock()
            elapsed = try clock.measure {
                var pages = 0
                try reader.forEachRecord { _ in pages += 1 }
                seenInside = (try reader.recordCount(), try reader.record(id: records[0].id), pages)
            }
        }
        #expect(seenInside.count == 5)
        #expect(seenInside.pages == 5)
        #expect(seenInside.first == records[0])
        #expect(elapsed < .seconds(2), "the reader was not blocked by the writer (busy timeout is 10 s)")
        #expect(try reader.recordCount() == 3, "the reader sees the commit at once")
        #expect(try reader.record(id: records[0].id) == nil)
    }

    @Test("parallel readers and a writer")
    func parallelReadersAndWriter() throws {
        let s = try Scratch()
        defer { s.remove() }
        let writer = try s.catalog()
        for i in 0..<20 { _ = try writer.insert(rawFile: "\(i).mp4", processedFile: nil, uuid: nil) }
        let path = s.path("cat.sqlite")
        let failures = Failures()
        DispatchQueue.concurrentPerform(iterations: 5) { worker in
            do {
                if worker == 0 {
                    for i in 0..<20 { _ = try writer.insert(rawFile: "w\(i).mp4", processedFile: nil, uuid: nil) }
                } else {
                    let reader = try SQLiteCatalog(path: path, access: .read)
                    for _ in 0..<20 {
                        var ids: [Int64] = []
                        try reader.forEachRecord { ids.append($0.id) }
                        if ids != ids.sorted() || ids.count < 20 || ids.count > 40 { failures.add("bad page: \(ids.count)") }
                    }
                }
            } catch {
                failures.add("\(error)")
            }
        }
        #expect(failures.all.isEmpty)
        #expect(try writer.recordCount() == 40)
    }
}

final class Failures: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ s: String) { lock.lock(); items.append(s); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
}

@Suite("ColumnValue")
struct ColumnValueTests {
    @Test(arguments: [
        ColumnValue.null, .integer(0), .integer(-7), .integer(Int64.max), .integer(Int64.min),
        .real(1.5), .real(-0.25), .text(""), .text("ü 视频: \"quoted\"\n"), .text("42"), .blob([]), .blob([0, 1, 255]),
    ])
    func jsonRoundTrip(_ value: ColumnValue) throws {
        let data = try JSONEncoder().encode([value])
        #expect(try JSONDecoder().decode([ColumnValue].self, from: data) == [value])
    }

    @Test("a REAL column that holds a whole number stays REAL through JSON")
    func integralRealRoundTrip() throws {
        let value = ColumnValue.real(2.0)
        let data = try JSONEncoder().encode([value])
        let decoded = try JSONDecoder().decode([ColumnValue].self, from: data)
        #expect(decoded == [value])
    }
}

@Suite("SQLiteCatalog batch insert and cache lookups")
struct CatalogBatchTests {
    @Test func batchInsertAssignsSequentialIds() throws {
        let s = try Scratch()
        defer { s.remove() }
        let catalog = try s.catalog()
        let first = try catalog.insert(rawFile: "first.mp4", processedFile: nil, uuid: nil)
        let batch = try catalog.insert((0..<50).map { NewRecord(rawFile: "b/\($0).mp4", processedFile: $0 == 3 ? "p.mp4" : nil) })
        #expect(batch.map(\.id) == (1...50).map { first.id + Int64($0) })
        #expect(Set(batch.map(\.uuid)).count == 50)
        for r in batch { #expect(try catalog.record(id: r.id) == r) }
        #expect(batch[3].processedFile == "p.mp4")
        #expect(try catalog.insert([NewRecord]()).isEmpty)
        #expect(try catalog.recordCount() == 51)
    }

    @Test("a batch is all or nothing")
    func batchIsAtomic() throws {
        let s = try Scratch()
        defer { s.remove() }
        let catalog = try s.catalog()
        let existing = try catalog.insert(rawFile: "a.mp4", processedFile: nil, uuid: fakeUUID(5))
        let before = try catalog.allRows()
        let error = catalogError {
            _ = try catalog.insert([NewRecord(rawFile: "x.mp4"), NewRecord(rawFile: "y.mp4", uuid: fakeUUID(5).uppercased()),
                                    NewRecord(rawFile: "z.mp4")])
        }
        guard case .conflict? = error else {
            Issue.record("expected a conflict, got \(String(describing: error))")
            return
        }
        #expect(try catalog.allRows() == before)
        #expect(try catalog.records(namingPath: "x.mp4").isEmpty)
        // Two new records sharing one uuid conflict with each other too.
        #expect(catalogError {
            _ = try catalog.insert([NewRecord(rawFile: "x.mp4", uuid: fakeUUID(9)), NewRecord(rawFile: "y.mp4", uuid: fakeUUID(9))])
        } != nil)
        #expect(try catalog.allRows() == before)
        #expect(try catalog.record(uuid: fakeUUID(5)) == existing)
    }

    @Test("cached verifications for many paths at once")
    func batchCacheLookup() throws {
        let s = try Scratch()
        defer { s.remove() }
        let catalog = try s.catalog()
        let entries = (0..<1200).map { (i: Int) -> VerificationCacheEntry in
            let depth = i % 2 == 0 ? "quick" : "deep"
            let n = Int64(i)
            return VerificationCacheEntry(path: "v/\(i).mp4", size: n, mtimeNanoseconds: n * 1000, inode: n + 7,
                                          depth: depth, toolVersion: "t", resultJSON: "{\"i\":\(i)}", checkedAt: "now")
        }
        try catalog.storeVerifications(entries)
        let asked = (0..<1300).map { "v/\($0).mp4" }
        let quick = try catalog.cachedVerifications(paths: asked, depth: "quick")
        #expect(quick.count == 600)
        #expect(quick["v/1198.mp4"] == entries[1198])
        #expect(quick["v/1199.mp4"] == nil, "cached at another depth")
        #expect(quick["v/1250.mp4"] == nil, "never cached")
        #expect(quick.keys.allSatisfy { Int($0.dropFirst(2).dropLast(4))! % 2 == 0 })
        #expect(try catalog.cachedVerifications(paths: [], depth: "quick").isEmpty)
        let deep = try catalog.cachedVerifications(paths: ["v/1.mp4", "v/2.mp4", "v/1.mp4"], depth: "deep")
        #expect(deep == ["v/1.mp4": entries[1]])
    }
}

@Suite("deleting judged records")
struct JudgedDeletionTests {
    @Test("a record that changed since it was judged makes the deletion refuse, deleting nothing")
    func changedSinceJudged() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("judged-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let catalog = try SQLiteCatalog(path: dir.appendingPathComponent("c.sqlite").path, access: .create)
        let a = try catalog.insert(rawFile: "a.mp4", processedFile: nil, uuid: nil)
        let b = try catalog.insert(rawFile: "b.mp4", processedFile: nil, uuid: nil)
        var stale = b
        stale.rawFile = "old-b.mp4" // what the checker saw before another writer re-pointed it
        var journaled = false
        #expect(throws: CatalogError.self) {
            try catalog.delete([a, stale]) { _ in journaled = true }
        }
        #expect(!journaled)
        #expect(try catalog.recordCount() == 2)
        try catalog.delete([a, b]) { rows in #expect(rows.count == 2) }
        #expect(try catalog.recordCount() == 0)
    }
}
