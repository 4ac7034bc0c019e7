import Foundation
import Testing
import TestSupport
import MediaFiles
@testable import MediaCatalog

@Suite("medialib's SQLite catalog")
struct SQLiteCatalogTests {
    @Test("created in WAL mode (readers do not wait for writers), at the current schema version")
    func walMode() throws {
        let s = try Scratch()
        defer { s.remove() }
        _ = try s.catalog().records.insert([NewRecord(rawFile: "a.mp4")])
        let header = try Data(contentsOf: URL(fileURLWithPath: s.path("cat.sqlite"))).prefix(20)
        #expect(header.prefix(16) == Data("SQLite format 3\0".utf8))
        #expect(header[18] == 2 && header[19] == 2, "file format versions 2: WAL")
        let c = try SQLiteConnection(path: RawPath(s.path("cat.sqlite")), mode: .readOnly)
        #expect(try c.query("PRAGMA user_version").first?.first == .integer(OwnedSchema.version))
    }

    @Test func insertAssignsIdsAndLowercaseUUIDs() throws {
        let s = try Scratch()
        defer { s.remove() }
        let store = try s.catalog().records
        let upper = "3F2504E0-4F89-41D3-9A0C-0305E82C3301"
        let batch = try store.insert([NewRecord(rawFile: "a.mp4"), NewRecord(rawFile: "b.mp4", uuid: upper), NewRecord(rawFile: nil, processedFile: "p.mp4")])
        #expect(batch.map(\.id) == [1, 2, 3])
        #expect(batch[1].uuid == upper.lowercased())
        for r in batch {
            #expect(UUID(uuidString: r.uuid) != nil && r.uuid == r.uuid.lowercased())
            let f = ISO8601DateFormatter()
            f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let created = try #require(r.createdAt.flatMap { f.date(from: $0) })
            #expect(abs(created.timeIntervalSinceNow) < 60)
        }
        #expect(try store.insert([NewRecord]()).isEmpty)
    }

    @Test("a batch insert is all or nothing; a uuid is taken once")
    func batchIsAtomic() throws {
        let s = try Scratch()
        defer { s.remove() }
        let catalog = try s.catalog()
        let store = catalog.records
        _ = try store.insert([NewRecord(rawFile: "a.mp4", uuid: fakeUUID(5))])
        let before = try catalog.sqlite.allRows()
        #expect(catalogError { _ = try store.insert([NewRecord(rawFile: "x.mp4"), NewRecord(rawFile: "y.mp4", uuid: fakeUUID(5).uppercased())]) } != nil)
        #expect(catalogError { _ = try store.insert([NewRecord(rawFile: "x.mp4", uuid: fakeUUID(9)), NewRecord(rawFile: "y.mp4", uuid: fakeUUID(9))]) } != nil)
        #expect(try catalog.sqlite.allRows() == before)
    }

    @Test("ids are never reused, so a restore cannot collide with newer records")
    func idsNeverReused() throws {
        let s = try Scratch()
        defer { s.remove() }
        let store = try s.catalog().records
        let records = try store.insert((0..<3).map { NewRecord(rawFile: RawPath("\($0).mp4")) })
        let journal = RecordingJournal()
        _ = try store.delete(DeletionRequest(records: [records[2]], cascade: false), journal: journal)
        let newer = try store.insert([NewRecord(rawFile: "new.mp4")])[0]
        #expect(newer.id > records[2].id)
        try store.restore(journal.changes)
        #expect(try store.insert([NewRecord(rawFile: "newer.mp4")])[0].id > newer.id)
    }

    /// Python's sqlite3 stores bytes as BLOBs; another program may store text that is not UTF-8.
    @Test("rows written by other programs: BLOB paths, text that is not UTF-8, a BLOB uuid, are read, never a trap")
    func hostileRows() throws {
        let s = try Scratch()
        defer { s.remove() }
        let catalog = try s.catalog()
        _ = try catalog.records.insert([NewRecord(rawFile: "ok.mp4")])
        let db = s.path("cat.sqlite")
        try rawSQL(db, "INSERT INTO videos (uuid, raw_file, created_at) VALUES (?, X'75706C6F6164732FFF2E6D7034', 'x')", [.text(fakeUUID(2))])
        try rawSQL(db, "INSERT INTO videos (uuid, raw_file, processed_file, created_at) VALUES (?, ?, ?, ?)",
                   [.text(fakeUUID(3)), .text([0x63, 0x61, 0x66, 0xE9, 0x2E, 0x6D, 0x70, 0x34]), .blob([]), .blob([0xFF])])
        try rawSQL(db, "INSERT INTO videos (uuid, raw_file, created_at) VALUES (X'00112233445566778899AABBCCDDEEFF', 'b.mp4', 'x')")
        var seen: [VideoRecord] = []
        try catalog.records.forEachPage { seen += $0 }
        #expect(seen.count == 4)
        #expect(seen[1].path(for: .raw) == RawPath(bytes: Array("uploads/".utf8) + [0xFF] + Array(".mp4".utf8)))
        #expect(seen[2].path(for: .raw)?.bytes == [0x63, 0x61, 0x66, 0xE9, 0x2E, 0x6D, 0x70, 0x34])
        #expect(seen[2].path(for: .processed) == nil, "an empty BLOB names no file")
        #expect(seen[3].uuid == "00112233-4455-6677-8899-aabbccddeeff")
        #expect(try catalog.records.record(id: 2)?.path(for: .raw)?.displayed == "uploads/\\xFF.mp4")
    }

    @Test("settings live in the catalog; a reopened catalog has them")
    func settings() throws {
        let s = try Scratch()
        defer { s.remove() }
        let state = try s.catalog().state
        #expect(try state.setting(SettingKey.mediaRoot) == nil)
        try state.setSetting(SettingKey.mediaRoot, "/srv/media")
        try state.setSetting("other", "x")
        try state.setSetting(SettingKey.mediaRoot, "/srv/media ü")
        #expect(try state.setting(SettingKey.mediaRoot) == "/srv/media ü")
        #expect(try s.catalog(access: .read).state.setting(SettingKey.mediaRoot) == "/srv/media ü")
        #expect(try s.catalog(access: .read).state.setting("other") == "x")
    }

    @Test("the probe cache: keyed by path bytes and depth; many paths in one lookup; a newer entry replaces an older")
    func probeCache() throws {
        let s = try Scratch()
        defer { s.remove() }
        let state = try s.catalog().state
        func entry(_ i: Int, depth: String = "standard", facts: String = "f") -> CachedFacts {
            CachedFacts(path: RawPath(bytes: Array("v/\(i)".utf8) + [0xE9]), depth: depth,
                        identity: FileIdentity(device: 1, inode: UInt64(i), size: Int64(i), mtimeSeconds: 1_700_000_000, mtimeNanoseconds: Int64(i)),
                        toolVersion: "t", facts: facts, checkedAt: "now")
        }
        try state.storeFacts((0..<1200).map { entry($0, depth: $0 % 2 == 0 ? "standard" : "deep") })
        let asked = (0..<1300).map { entry($0).path }
        let standard = try state.cachedFacts(for: asked, depth: "standard")
        #expect(standard.count == 600)
        #expect(standard[entry(1198).path] == entry(1198))
        #expect(standard[entry(1199).path] == nil, "cached at another depth")
        try state.storeFacts([entry(4, facts: "newer")])
        #expect(try state.cachedFacts(for: [entry(4).path], depth: "standard")[entry(4).path]?.facts == "newer")
        #expect(try state.cachedFacts(for: [], depth: "standard").isEmpty)
    }

    @Test("a catalog made by medialib 0.1 opens; a writing command migrates it, keeping every record")
    func versionOneCatalog() throws {
        let s = try Scratch()
        defer { s.remove() }
        try FileManager.default.copyItem(atPath: Repository.fixture("catalogs/v1/catalog.sqlite"), toPath: s.path("old.sqlite"))
        let read = try s.catalog("old.sqlite", access: .read)
        #expect(try read.records.count() == 2)
        #expect(try read.records.record(id: 1)?.path(for: .raw) == "uploads/ok-faststart.mp4")
        #expect(try read.state.setting(SettingKey.mediaRoot) == "/tmp/medialib-v1-fixture/media")
        #expect(try read.state.cachedFacts(for: ["/tmp/medialib-v1-fixture/media/uploads/ok.webm"], depth: "standard").isEmpty)
        let before = try read.sqlite.allRows()
        let write = try s.catalog("old.sqlite", access: .write)
        #expect(try write.sqlite.allRows() == before)
        let c = try SQLiteConnection(path: RawPath(s.path("old.sqlite")), mode: .readOnly)
        #expect(try c.query("PRAGMA user_version").first?.first == .integer(OwnedSchema.version))
        #expect(try c.query("SELECT name FROM sqlite_master WHERE name = 'verification_cache'").isEmpty)
        #expect(try !c.query("SELECT name FROM sqlite_master WHERE name = 'probe_cache'").isEmpty)
        try write.state.storeFacts([CachedFacts(path: "/x", depth: "standard", identity: FileIdentity(device: 1, inode: 2, size: 3, mtimeSeconds: 4, mtimeNanoseconds: 5),
                                                toolVersion: "t", facts: "f", checkedAt: "c")])
        #expect(try write.state.cachedFacts(for: ["/x"], depth: "standard").count == 1)
    }
}

@Suite("opening a catalog")
struct CatalogOpeningTests {
    @Test(arguments: [CatalogAccess.read, .write, .create])
    func aDirectoryIsRefused(access: CatalogAccess) throws {
        let s = try Scratch()
        defer { s.remove() }
        try FileManager.default.createDirectory(atPath: s.path("cat.sqlite"), withIntermediateDirectories: false)
        #expect(catalogError { _ = try s.catalog(access: access) } == .notAFile(s.path("cat.sqlite"), "a directory"))
    }

    @Test("a FIFO is refused at once, never opened (it would block)", arguments: [CatalogAccess.read, .create])
    func aFIFOIsRefused(access: CatalogAccess) throws {
        let s = try Scratch()
        defer { s.remove() }
        #expect(mkfifo(s.path("cat.sqlite"), 0o644) == 0)
        guard case .notAFile? = catalogError({ _ = try s.catalog(access: access) }) else {
            Issue.record("a FIFO must be refused as not a file")
            return
        }
    }

    @Test(arguments: [CatalogAccess.read, .write, .create])
    func aTextFileIsNotADatabase(access: CatalogAccess) throws {
        let s = try Scratch()
        defer { s.remove() }
        let text = Data("id,uuid\n1,abc\n".utf8)
        try text.write(to: URL(fileURLWithPath: s.path("cat.sqlite")))
        guard case .notADatabase? = catalogError({ _ = try s.catalog(access: access) }) else {
            Issue.record("expected notADatabase")
            return
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: s.path("cat.sqlite"))) == text, "the file was not touched")
    }

    @Test(arguments: [CatalogAccess.read, .write])
    func garbageAfterTheHeaderIsNotADatabase(access: CatalogAccess) throws {
        let s = try Scratch()
        defer { s.remove() }
        var data = Data("SQLite format 3\0".utf8)
        data.append(Data((0..<4080).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }))
        try data.write(to: URL(fileURLWithPath: s.path("cat.sqlite")))
        #expect(catalogError { _ = try s.catalog(access: access) } != nil)
    }

    @Test(arguments: [CatalogAccess.read, .write])
    func aMissingFileIsNotFound(access: CatalogAccess) throws {
        let s = try Scratch()
        defer { s.remove() }
        #expect(catalogError { _ = try s.catalog("nope.sqlite", access: access) } == .notFound(s.path("nope.sqlite")))
        #expect(!FileManager.default.fileExists(atPath: s.path("nope.sqlite")), "opening did not create it")
    }

    @Test("creating a catalog in a folder that does not exist says so (not 'read-only')")
    func missingFolder() throws {
        let s = try Scratch()
        defer { s.remove() }
        let error = catalogError { _ = try s.catalog("nowhere/cat.sqlite", access: .create) }
        #expect(error?.description.contains("does not exist") == true, "\(String(describing: error))")
    }

    @Test func anEmptyFileIsNotACatalogForReading() throws {
        let s = try Scratch()
        defer { s.remove() }
        #expect(FileManager.default.createFile(atPath: s.path("cat.sqlite"), contents: Data()))
        guard case .notADatabase? = catalogError({ _ = try s.catalog(access: .read) }) else { Issue.record("expected notADatabase"); return }
        #expect(try s.catalog(access: .create).records.count() == 0, "an empty file may receive the schema")
    }

    @Test("a catalog without write bits is read-only, even for root; it still reads")
    func readOnlyFile() throws {
        let s = try Scratch()
        defer { s.remove() }
        let record = try s.catalog().records.insert([NewRecord(rawFile: "a.mp4")])[0]
        #expect(chmod(s.path("cat.sqlite"), 0o444) == 0)
        guard case .readOnly? = catalogError({ _ = try s.catalog(access: .write) }) else { Issue.record("expected readOnly"); return }
        let reader = try s.catalog(access: .read)
        #expect(try reader.records.record(id: record.id) == record)
        #expect(!reader.state.isWritable)
        #expect(reader.notes.contains { $0.contains("read-only") })
        #expect(chmod(s.path("cat.sqlite"), 0o644) == 0)
        #expect(try s.catalog(access: .write).records.count() == 1)
    }

    @Test("another application's database is never migrated: --schema medialib refuses it, untouched")
    func foreignDatabaseUntouched() throws {
        let s = try Scratch()
        defer { s.remove() }
        try rawSQLCreate(s.path("other.sqlite"), "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        let before = try Data(contentsOf: URL(fileURLWithPath: s.path("other.sqlite")))
        for access in [CatalogAccess.read, .write, .create] {
            #expect(catalogError { _ = try CatalogOpener.open(CatalogOptions(location: s.path("other.sqlite"), access: access)) } != nil)
            #expect(catalogError { _ = try CatalogOpener.open(CatalogOptions(location: s.path("other.sqlite"), schema: .named("medialib"), access: access)) } != nil)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: s.path("other.sqlite"))) == before)
    }

    @Test("URLs: a scheme medialib does not speak is named")
    func urls() {
        #expect(catalogError { _ = try CatalogOpener.open(CatalogOptions(location: "mysql://x/y", access: .read)) }?.description.contains("mysql") == true)
    }

    @Test func errorDescriptionsNameThePath() {
        let errors: [CatalogError] = [.notFound("/x/c.sqlite"), .notAFile("/x/c.sqlite", "a directory"),
                                      .notADatabase("/x/c.sqlite", "d"), .readOnly("/x/c.sqlite", "why"), .cannotOpen("/x/c.sqlite", "d")]
        for e in errors { #expect(e.description.contains("/x/c.sqlite")) }
        #expect(CatalogError.notFound("p").description.contains("--db"))
    }
}

func rawSQLCreate(_ path: String, _ sql: String) throws {
    let c = try SQLiteConnection(path: RawPath(path), mode: .create)
    try c.execute(sql)
}

@Suite("concurrent access")
struct CatalogConcurrencyTests {
    @Test("readers go on while a deletion's transaction is open, and see its commit at once")
    func readerDuringWriter() throws {
        let s = try Scratch()
        defer { s.remove() }
        let writer = try s.catalog()
        let records = try writer.records.insert((0..<5).map { NewRecord(rawFile: RawPath("\($0).mp4")) })
        let reader = try s.catalog(access: .read)
        var seenInside: (count: Int, first: VideoRecord?) = (-1, nil)
        var elapsed: Swift.Duration = .zero
        let journal = RecordingJournal()
        journal.onSeal = {
            elapsed = try ContinuousClock().measure {
                seenInside = (try reader.records.count(), try reader.records.record(id: records[0].id))
            }
        }
        _ = try writer.records.delete(DeletionRequest(records: [records[0], records[1]], cascade: false), journal: journal)
        #expect(seenInside.count == 5)
        #expect(seenInside.first == records[0])
        #expect(elapsed < .seconds(2), "the reader was not blocked by the writer")
        #expect(try reader.records.count() == 3, "the reader sees the commit at once")
        #expect(try reader.records.record(id: records[0].id) == nil)
    }

    @Test("another process's write lock: a lookup that must not wait fails at once with busy")
    func busyWithoutWaiting() throws {
        let s = try Scratch()
        defer { s.remove() }
        // A rollback-journal database (as Django's are), then locked by an exclusive transaction.
        let c = try SQLiteConnection(path: RawPath(s.path("cat.sqlite")), mode: .create)
        try c.execute("PRAGMA journal_mode = DELETE")
        try c.execute(OwnedSchemaSQL.videos)
        try c.execute(SQLiteStateStore.stateSchema)
        try c.execute("INSERT INTO videos (uuid, raw_file, created_at) VALUES ('\(fakeUUID(1))', 'a.mp4', 'x')")
        let reader = try s.catalog(access: .read)
        let r = try #require(try reader.records.record(id: 1))
        try c.execute("BEGIN EXCLUSIVE")
        let started = ContinuousClock.now
        #expect(catalogError { _ = try reader.records.lookup(.id(r.id), wait: 0) } == .busy("another process is writing to the catalog (database is locked)"))
        #expect(ContinuousClock.now - started < .seconds(1))
        try c.execute("ROLLBACK")
        #expect(try reader.records.lookup(.id(r.id), wait: 0) == r)
    }
}

@Suite("ColumnValue")
struct ColumnValueTests {
    @Test(arguments: [
        ColumnValue.null, .integer(0), .integer(-7), .integer(Int64.max), .integer(Int64.min),
        .real(1.5), .real(-0.25), .real(2.0), .real(.infinity), .text(""), .text("ü 视频: \"quoted\"\n"), .text("42"),
        .text([0x63, 0xE9, 0xFF]), .blob([]), .blob([0, 1, 255]),
    ])
    func jsonRoundTrip(_ value: ColumnValue) throws {
        let data = try JSONEncoder().encode([value])
        #expect(try JSONDecoder().decode([ColumnValue].self, from: data) == [value])
    }

    @Test("journals of medialib 0.1 wrote blobs as byte arrays: still read")
    func legacyBlob() throws {
        #expect(try JSONDecoder().decode([ColumnValue].self, from: Data("[{\"blob\":[0,1,255]}]".utf8)) == [.blob([0, 1, 255])])
    }
}

enum OwnedSchemaSQL {
    static let videos = "CREATE TABLE videos (id INTEGER PRIMARY KEY AUTOINCREMENT, uuid TEXT NOT NULL UNIQUE, raw_file TEXT, processed_file TEXT, created_at TEXT NOT NULL)"
}
