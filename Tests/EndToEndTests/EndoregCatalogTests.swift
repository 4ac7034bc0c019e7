// The operator's own database: endoreg-db catalogs made by Django's `migrate` from three
// releases (Fixtures/django), used as they are. What Django's deletion collector did to each
// is committed beside it; medialib's `cleanup --apply --cascade` must do exactly that.

import Foundation
import Testing
import TestSupport
@testable import MediaCatalog
import MediaFiles

/// One release's database copied into a sandbox, with the media its manifest names.
struct EndoregLibrary {
    static let versions = ["0.8.4.8", "0.8.9.47", "1.6.5"]

    let version: String
    let box: Sandbox
    let manifest: [String: Any]
    let expected: [String: Any]

    init(_ version: String) throws {
        self.version = version
        box = try Sandbox(name: "endoreg")
        let base = Paths.fixture("django/endoreg-db-\(version)")
        try FileManager.default.copyItem(atPath: base + ".sqlite", toPath: box.db)
        manifest = try Self.json(base + ".manifest.json")
        expected = try Self.json(base + ".expected.json")
        for (path, fixture) in manifest["media"] as? [String: String] ?? [:] {
            try box.scratch.place(fixture, at: path)
        }
        for (path, size) in manifest["encrypted_sizes"] as? [String: Int] ?? [:] {
            try box.scratch.write(pseudoRandomBytes(count: size, seed: 7), at: path)
        }
    }

    static func json(_ path: String) throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: path),
              let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw HarnessError("cannot read \(path)")
        }
        return object
    }

    var state: String { box.path("state/medialib-state.sqlite") }
    /// --state keeps medialib's own bookkeeping out of the app's database and out of $HOME.
    var globals: [String] { box.globals + ["--state", state] }

    func run(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws -> CLIResult {
        try await box.run(arguments + globals, sourceLocation: sourceLocation)
    }

    var videos: [[String: Any]] { manifest["videos"] as? [[String: Any]] ?? [] }
    var deletedByDjango: [Int] { (expected["deleted_videos"] as? [Int] ?? []).sorted() }
    var protectedByDjango: [Int] { (expected["protected_videos"] as? [Int] ?? []).sorted() }
    var hasUUID: Bool { videos.first?["uuid"] is String }

    func remove() { box.remove() }
}

/// Every table of a SQLite database, each row a canonical string ("col=typed value", sorted),
/// rows sorted: storage classes included, so an integer put back as text is a difference.
func tableDump(_ path: String) throws -> [String: [String]] {
    let c = try SQLiteConnection(path: RawPath(path), mode: .readOnly)
    var out: [String: [String]] = [:]
    for row in try c.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name") {
        guard let table = row.first?.string else { continue }
        let s = try c.prepare("SELECT * FROM \"\(table)\"")
        var rows: [String] = []
        while try s.step() {
            rows.append((0..<s.columnCount).map { i in "\(s.columnName(i))=\(canonical(s.column(i)))" }.sorted().joined(separator: "|"))
        }
        out[table] = rows.sorted()
    }
    return out
}

func canonical(_ v: ColumnValue) -> String {
    switch v {
    case .null: "null"
    case .integer(let i): "i:\(i)"
    case .real(let d): "r:\(d)"
    case .text(let b): "t:" + String(decoding: b, as: UTF8.self)
    case .blob(let b): "b:" + b.map { String(format: "%02x", $0) }.joined()
    }
}

/// The expected dump's rows in the same canonical form (Python's json: ints, floats, strings,
/// null, {"blob_hex": ...}).
func canonical(_ any: Any?) -> String {
    switch any {
    case nil, is NSNull: return "null"
    case let n as NSNumber:
        let type = String(cString: n.objCType)
        return type == "d" || type == "f" ? "r:\(n.doubleValue)" : "i:\(n.int64Value)"
    case let s as String: return "t:" + s
    case let d as [String: Any]: return "b:" + (d["blob_hex"] as? String ?? "?").lowercased()
    default: return "?\(String(describing: any))"
    }
}

func expectedDump(_ expected: [String: Any]) -> [String: [String]] {
    var out: [String: [String]] = [:]
    for (table, rows) in expected["tables"] as? [String: [[String: Any]]] ?? [:] {
        out[table] = rows.map { row in row.map { "\($0.key)=\(canonical($0.value))" }.sorted().joined(separator: "|") }.sorted()
    }
    return out
}

/// A file's bytes, for before/after comparisons (the fixture databases are about 1 MB).
func fileBytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

@Suite("endoreg-db catalogs as they are")
struct EndoregCatalogTests {
    @Test("read-only commands leave the app's database byte for byte, and write no table of ours into it",
          arguments: EndoregLibrary.versions)
    func readOnlyCommands(_ version: String) async throws {
        let lib = try EndoregLibrary(version)
        defer { lib.remove() }
        let before = fileBytes(lib.box.db)
        let tablesBefore = try tableDump(lib.box.db).keys.sorted()
        let list = try await lib.run(["list", "--format", "json"])
        #expect(list.status == 0, "\(list)")
        let items = try #require(try list.json() as? [[String: Any]])
        #expect(items.compactMap { $0["id"] as? Int } == lib.videos.compactMap { $0["id"] as? Int })
        for (item, video) in zip(items, lib.videos) {
            #expect(item["raw_file"] as? String == video["raw_file"] as? String)
            if let hex = video["uuid"] as? String {
                // Django stores 32 hex digits; medialib shows the dashed form.
                #expect((item["uuid"] as? String)?.replacingOccurrences(of: "-", with: "") == hex)
            }
        }
        let dry = try await lib.run(["cleanup"])
        #expect(dry.status == 1, "\(dry)")
        let verify = try await lib.run(["verify"])
        #expect(verify.status == 1, "\(verify)")
        let json = try await lib.run(["cleanup", "--format", "json"])
        #expect(json.status == 1)
        #expect(fileBytes(lib.box.db) == before, "the app's database changed")
        #expect(try tableDump(lib.box.db).keys.sorted() == tablesBefore)
        for suffix in ["-wal", "-shm", "-journal"] { #expect(!FileManager.default.fileExists(atPath: lib.box.db + suffix)) }
        // medialib's cache went to its own state file instead: a second dry run probes nothing.
        #expect(FileManager.default.fileExists(atPath: lib.state))
        let again = try await lib.run(["verify", "--format", "json"])
        let summary = try #require((try again.json() as? [String: Any])?["summary"] as? [String: Any])
        #expect(summary["probed"] as? Int == 0, "\(summary)")
    }

    @Test("the dry run names what Django's delete would take, per table, and the protected records",
          arguments: EndoregLibrary.versions)
    func dryRunListsDependents(_ version: String) async throws {
        let lib = try EndoregLibrary(version)
        defer { lib.remove() }
        let run = try await lib.run(["cleanup", "--format", "json"])
        #expect(run.status == 1, "\(run)")
        let doc = try #require(try run.json() as? [String: Any])
        let records = try #require(doc["records"] as? [[String: Any]])
        let wouldDelete = (doc["would_delete"] as? [Int] ?? []).sorted()
        #expect(wouldDelete == lib.deletedByDjango)
        let protected = records.filter { $0["status"] as? String == "protected" }.compactMap { $0["id"] as? Int }.sorted()
        #expect(protected == lib.protectedByDjango)
        // Summed over the records to delete, the per-table counts are Django's.
        var counts: [String: Int] = ["endoreg_db_videofile": wouldDelete.count]
        var nulls: [String: Int] = [:]
        for r in records where wouldDelete.contains(r["id"] as? Int ?? -1) {
            let d = r["dependents"] as? [String: Any]
            for (t, n) in d?["deletes"] as? [String: Int] ?? [:] { counts[t, default: 0] += n }
            for (c, n) in d?["nulls"] as? [String: Int] ?? [:] { nulls[c, default: 0] += n }
        }
        #expect(counts == lib.expected["deleted_counts"] as? [String: Int])
        var expectedNulls: [String: Int] = [:]
        for n in lib.expected["nulled"] as? [[String: Any]] ?? [] {
            expectedNulls["\(n["table"] ?? "").\(n["column"] ?? "")", default: 0] += 1
        }
        #expect(nulls == expectedNulls)
        let text = try await lib.run(["cleanup"])
        for id in lib.protectedByDjango { #expect(text.stdout.contains("protected #\(id) "), "\(text.stdout)") }
        #expect(text.stdout.contains("endoreg_db_frame: "), "\(text.stdout)")
    }

    @Test("--apply without --cascade deletes nothing and names the tables and the flag", arguments: EndoregLibrary.versions)
    func applyNeedsCascade(_ version: String) async throws {
        let lib = try EndoregLibrary(version)
        defer { lib.remove() }
        let before = fileBytes(lib.box.db)
        // 0.8.x deletes 4 of its 6 videos: past the default limit of half, so the operator says so.
        let run = try await lib.run(["cleanup", "--apply", "--max-delete", "4", "--trash", lib.box.path("trash")])
        #expect(run.status == 3, "\(run)")
        #expect(run.stderr.contains("--cascade"), "\(run.stderr)")
        #expect(run.stderr.contains("endoreg_db_frame"), "\(run.stderr)")
        #expect(fileBytes(lib.box.db) == before)
        #expect(!lib.box.exists("trash/sensitive_videos"))
    }

    @Test("--apply --cascade does what Django's collector did, table by table; restore puts every row back",
          arguments: EndoregLibrary.versions)
    func cascadeMatchesDjango(_ version: String) async throws {
        let lib = try EndoregLibrary(version)
        defer { lib.remove() }
        let original = try tableDump(lib.box.db)
        let journal = lib.box.path("journal.jsonl")
        let apply = try await lib.run(["cleanup", "--apply", "--cascade", "--max-delete", "4", "--trash", lib.box.path("trash"), "--journal", journal])
        #expect(apply.status == 0, "\(apply)")
        let after = try tableDump(lib.box.db)
        let want = expectedDump(lib.expected)
        #expect(Set(after.keys) == Set(want.keys))
        #expect(after["endoreg_db_frame"]?.isEmpty == false, "video 1's frames must survive")
        for table in want.keys.sorted() where after[table] != want[table] {
            Issue.record("\(table) differs from Django's result:\n ours:   \(after[table] ?? [])\n Django: \(want[table] ?? [])")
        }
        let check = try SQLiteConnection(path: RawPath(lib.box.db), mode: .readOnly)
        #expect(try check.query("PRAGMA foreign_key_check").isEmpty)
        // The files Django would unlink went to the trash; frame folders are named and left alone.
        for video in lib.videos where lib.deletedByDjango.contains(video["id"] as? Int ?? -1) {
            for column in ["raw_file", "processed_file", "raw_streamable_relative_path", "processed_streamable_relative_path"] {
                guard let path = video[column] as? String, !path.isEmpty else { continue }
                let missing = (lib.manifest["missing"] as? [String] ?? []).contains(path)
                #expect(lib.box.exists("trash/" + path) == !missing, "\(column) \(path)")
                #expect(!lib.box.exists("media/" + path))
            }
        }
        let journalLines = try jsonLines(journal)
        #expect(journalLines.contains { (($0["delete"] as? [String: Any])?["table"] as? String) == "endoreg_db_frame" }, "the journal holds dependent rows")

        // The undo line names the catalog and the state again: pasted as printed, it restores.
        let undo = try #require(apply.lines.first { $0.hasPrefix("Undo with: medialib ") })
        #expect(undo == "Undo with: medialib restore \(journal) --db \(lib.box.db) --state \(lib.state)")
        let restore = try await lib.box.run(Array(undo.dropFirst("Undo with: medialib ".count).split(separator: " ").map(String.init)))
        #expect(restore.status == 0, "\(restore)")
        let restored = try tableDump(lib.box.db)
        for table in original.keys.sorted() where restored[table] != original[table] {
            Issue.record("\(table) after restore differs from the original")
        }
        #expect(try check.query("PRAGMA foreign_key_check").isEmpty)
        for (path, _) in lib.manifest["media"] as? [String: String] ?? [:] { #expect(lib.box.exists("media/" + path), "\(path)") }
    }

    @Test("--trash takes what Django's delete unlinks, streamable copies included; the frame folder is reported and stays")
    func trashTakesStreamableCopies() async throws {
        let lib = try EndoregLibrary("1.6.5")
        defer { lib.remove() }
        let video = try #require(lib.videos.first { $0["id"] as? Int == 3 })
        let columns = ["raw_file", "processed_file", "raw_streamable_relative_path", "processed_streamable_relative_path"]
        let paths = columns.compactMap { video[$0] as? String }
        #expect(paths.count == 4)
        // Video 3's raw file is emptied: the record becomes invalid and takes all four files with it.
        try lib.box.scratch.write([], at: paths[0])
        let frames = lib.box.path("frames/3")
        try FileManager.default.createDirectory(atPath: frames, withIntermediateDirectories: true)
        for i in 0..<3 { try Data(repeating: 1, count: 100).write(to: URL(fileURLWithPath: "\(frames)/frame_\(i).jpg")) }
        let c = try SQLiteConnection(path: RawPath(lib.box.db), mode: .readWrite)
        try c.execute("UPDATE endoreg_db_videofile SET frame_dir = '\(frames)' WHERE id = 3")
        let apply = try await lib.run(["cleanup", "--apply", "--cascade", "--trash", lib.box.path("trash")])
        #expect(apply.status == 0, "\(apply)")
        for p in paths {
            #expect(lib.box.exists("trash/" + p), "\(p) not in the trash")
            #expect(!lib.box.exists("media/" + p), "\(p) still in the media root")
        }
        #expect(apply.stderr.contains("record 3: its frame folder \(frames) (3 files, 300 bytes) is left in place"), "\(apply.stderr)")
        #expect(FileManager.default.fileExists(atPath: frames + "/frame_2.jpg"))
        // No --journal: it went beside the --state file, not into the app's folder nor $HOME.
        let journals = (try? FileManager.default.contentsOfDirectory(atPath: lib.box.path("state/journals"))) ?? []
        #expect(journals.count == 1 && journals[0].hasPrefix("cleanup-"), "\(journals)")
    }

    @Test("an app_encrypted file is never probed nor judged; its frame count comes from the row")
    func encryptedStore() async throws {
        let lib = try EndoregLibrary("1.6.5")
        defer { lib.remove() }
        let verify = try await lib.run(["verify", "--format", "jsonl"])
        let lines = verify.lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let four = try #require(lines.first { $0["id"] as? Int == 4 })
        let issues = four["issues"] as? [[String: Any]] ?? []
        #expect(issues.map { $0["code"] as? String } == ["encrypted"], "\(four)")
        #expect(issues.first?["severity"] as? String == "info")
        #expect(four["status"] as? String == "ok")
        let dry = try await lib.run(["cleanup"])
        #expect(dry.stdout.contains("valid   #4 6c0962ff  raw encrypted (60 frames per the catalog)"), "\(dry.stdout)")
    }

    @Test("when most probed files look like the wrong content, --apply refuses whatever the cause")
    func wrongContentGuard() async throws {
        let lib = try EndoregLibrary("1.6.5")
        defer { lib.remove() }
        // As if the store were encrypted but the rows did not say so: every plaintext file is noise.
        for (path, _) in lib.manifest["media"] as? [String: String] ?? [:] {
            try lib.box.scratch.write(pseudoRandomBytes(count: 3000, seed: 11), at: path)
        }
        let before = fileBytes(lib.box.db)
        let run = try await lib.run(["cleanup", "--apply", "--cascade", "--max-delete", "100%"])
        #expect(run.status == 3, "\(run)")
        #expect(run.stderr.contains("--force"), "\(run.stderr)")
        #expect(run.stderr.contains("encrypted"), "names the likely cause: \(run.stderr)")
        #expect(fileBytes(lib.box.db) == before)
    }

    @Test("a foreign key the profile does not know protects the record it points at, and is named")
    func unknownRelationProtects() async throws {
        let lib = try EndoregLibrary("1.6.5")
        defer { lib.remove() }
        let c = try SQLiteConnection(path: RawPath(lib.box.db), mode: .readWrite)
        try c.execute("""
            CREATE TABLE acme_review (id integer PRIMARY KEY, video_id bigint NOT NULL
                REFERENCES endoreg_db_videofile (id) DEFERRABLE INITIALLY DEFERRED);
            INSERT INTO acme_review VALUES (1, 6);
            """)
        let dry = try await lib.run(["cleanup"])
        #expect(dry.stdout.contains("protected #6"), "\(dry.stdout)")
        #expect(dry.stdout.contains("acme_review.video_id"), "\(dry.stdout)")
        let apply = try await lib.run(["cleanup", "--apply", "--cascade"])
        #expect(apply.status == 0, "\(apply)")
        let ids = try c.query("SELECT id FROM endoreg_db_videofile ORDER BY id").compactMap { $0.first?.integer }
        #expect(ids.contains(6), "a record held by an unknown relation was deleted")
        #expect(try c.query("SELECT count(*) FROM acme_review").first?.first?.integer == 1)
    }

    @Test("serve keeps the app's URLs: ids, both uuid forms, streamable copies; the database stays unchanged")
    func serveAppURLs() async throws {
        let lib = try EndoregLibrary("1.6.5")
        defer { lib.remove() }
        let before = fileBytes(lib.box.db)
        let server = try ServeEndToEndTests.Server(lib.box, extra: ["--state", lib.state])
        defer { _ = server.terminate() }
        let copy = try Repository.fixtureBytes("ok-faststart.mp4")
        // Video 3's raw file is ok-moov-end.mp4; its streamable copy is a faststart one.
        let raw = try ServeEndToEndTests.get(server.port, "/api/media/videos/3/?type=raw")
        #expect(raw.status == 200)
        #expect(raw.body == copy, "the streamable copy is what a browser gets")
        let hex = try ServeEndToEndTests.get(server.port, "/api/media/videos/c6e4a9de7a9f5c29b089a0e46887e9fe/?type=raw", headers: ["Range: bytes=0-1"])
        let dashed = try ServeEndToEndTests.get(server.port, "/api/media/videos/c6e4a9de-7a9f-5c29-b089-a0e46887e9fe/?type=raw", headers: ["Range: bytes=0-1"])
        #expect(hex.status == 206)
        #expect(dashed.status == 206)
        #expect(hex.body == Array(copy[0...1]))
        let missing = try ServeEndToEndTests.get(server.port, "/api/media/videos/5/")
        #expect(missing.status == 404)
        // app_encrypted: ciphertext by design, not handed to a browser.
        let encrypted = try ServeEndToEndTests.get(server.port, "/api/media/videos/4/")
        #expect(encrypted.status == 403)
        #expect(String(decoding: encrypted.body, as: UTF8.self).contains("encrypted by the application"))
        #expect(fileBytes(lib.box.db) == before)
    }
}

@Suite("endoreg-db catalogs: bad input")
struct EndoregBadInputTests {
    @Test("a Django database without the video table: auto refuses and names --schema")
    func noVideoTable() async throws {
        let box = try Sandbox(name: "django-novideo")
        defer { box.remove() }
        let c = try SQLiteConnection(path: RawPath(box.db), mode: .create)
        try c.execute("CREATE TABLE django_migrations (id integer PRIMARY KEY, app varchar(255), name varchar(255), applied datetime)")
        let run = try await box.run(["list"] + box.globals + ["--state", box.path("state.sqlite")])
        #expect(run.status == 3, "\(run)")
        #expect(run.stderr.contains("--schema"), "\(run.stderr)")
        let forced = try await box.run(["list", "--schema", "endoreg-db"] + box.globals + ["--state", box.path("state.sqlite")])
        #expect(forced.status == 3, "\(forced)")
        #expect(forced.stderr.contains("endoreg_db_videofile"), "\(forced.stderr)")
    }

    @Test("a video table without a column the profile needs is refused with its name")
    func missingColumn() async throws {
        let lib = try EndoregLibrary("1.6.5")
        defer { lib.remove() }
        let c = try SQLiteConnection(path: RawPath(lib.box.db), mode: .readWrite)
        try c.execute("ALTER TABLE endoreg_db_videofile DROP COLUMN processed_file")
        let run = try await lib.run(["list"])
        #expect(run.status == 3, "\(run)")
        #expect(run.stderr.contains("processed_file"), "\(run.stderr)")
    }

    @Test("a uuid that is not hex, a path with .., an absolute path outside the root: reported, never followed")
    func hostileRows() async throws {
        let lib = try EndoregLibrary("1.6.5")
        defer { lib.remove() }
        // Something worth stealing outside the media root.
        let outside = lib.box.path("secret.mp4")
        try FileManager.default.copyItem(atPath: Paths.fixture("three-frames.mp4"), toPath: outside)
        backdate(outside)
        let c = try SQLiteConnection(path: RawPath(lib.box.db), mode: .readWrite)
        try c.execute("""
            UPDATE endoreg_db_videofile SET uuid = 'not-a-uuid' WHERE id = 2;
            UPDATE endoreg_db_videofile SET raw_file = '../secret.mp4' WHERE id = 6;
            UPDATE endoreg_db_videofile SET raw_file = '\(outside)' WHERE id = 7;
            """)
        let list = try await lib.run(["list"])
        #expect(list.status == 0, "\(list)")
        #expect(list.stdout.contains("#2\tnot-a-uuid\t"), "\(list.stdout)")
        let dry = try await lib.run(["cleanup", "--format", "json"])
        let records = try #require((try dry.json() as? [String: Any])?["records"] as? [[String: Any]])
        for id in [6, 7] {
            let r = try #require(records.first { $0["id"] as? Int == id })
            let codes = (r["reasons"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }
            #expect(codes == ["outside_media_root"], "#\(id): \(r)")
        }
        let apply = try await lib.run(["cleanup", "--apply", "--cascade", "--trash", lib.box.path("trash")])
        // The rows are invalid (the app cannot serve them either) and go; the files they name stay.
        #expect(apply.status == 0, "\(apply)")
        let ids = try c.query("SELECT id FROM endoreg_db_videofile ORDER BY id").compactMap { $0.first?.integer }
        #expect(!ids.contains(6) && !ids.contains(7), "\(ids)")
        #expect(FileManager.default.contents(atPath: outside) == FileManager.default.contents(atPath: Paths.fixture("three-frames.mp4")),
                "a file outside the media root was touched")
        #expect(!lib.box.exists("trash/_outside"))
        let server = try ServeEndToEndTests.Server(lib.box, extra: ["--state", lib.state])
        defer { _ = server.terminate() }
        #expect(try ServeEndToEndTests.get(server.port, "/api/media/videos/not-a-uuid/").status == 400)
        #expect(try ServeEndToEndTests.get(server.port, "/api/media/videos/6/").status == 404)
    }
}

@Suite("--schema-file: any app's video table")
struct SchemaFileTests {
    @Test("a user's profile (Fixtures/profiles/clips.json) drives list, cascade cleanup and restore")
    func userProfile() async throws {
        let box = try Sandbox(name: "clips")
        defer { box.remove() }
        let c = try SQLiteConnection(path: RawPath(box.db), mode: .create)
        try c.execute("""
            PRAGMA foreign_keys = ON;
            CREATE TABLE clips (clip_id integer PRIMARY KEY, token text, source_path text, web_path text, added text);
            CREATE TABLE clip_tags (id integer PRIMARY KEY, clip integer NOT NULL REFERENCES clips (clip_id), tag text);
            CREATE TABLE reviews (id integer PRIMARY KEY, clip integer NOT NULL REFERENCES clips (clip_id), note text);
            CREATE TABLE playlist_entries (id integer PRIMARY KEY, clip integer REFERENCES clips (clip_id), position integer);
            INSERT INTO clips VALUES (1, 'a1', 'in/ok.mp4', NULL, '2025-01-01'), (2, 'b2', 'in/three.mp4', '', '2025-01-01'),
                                     (3, 'c3', 'in/gone.mp4', NULL, '2025-01-01'), (4, 'd4', 'in/empty.mp4', NULL, '2025-01-01');
            INSERT INTO clip_tags VALUES (1, 1, 'keep'), (2, 2, 'short'), (3, 2, 'bad');
            INSERT INTO reviews VALUES (1, 3, 'lawyer says keep');
            INSERT INTO playlist_entries VALUES (1, 2, 1), (2, 1, 2);
            """)
        try box.scratch.place("ok-faststart.mp4", at: "in/ok.mp4")
        try box.scratch.place("three-frames.mp4", at: "in/three.mp4")
        try box.scratch.place("empty.mp4", at: "in/empty.mp4")
        let before = try tableDump(box.db)
        let globals = box.globals + ["--schema-file", Paths.fixture("profiles/clips.json"), "--state", box.path("state.sqlite")]

        let list = try await box.run(["list"] + globals)
        #expect(list.status == 0, "\(list)")
        #expect(list.lines == ["#1\ta1\traw=in/ok.mp4\tprocessed=-", "#2\tb2\traw=in/three.mp4\tprocessed=-",
                               "#3\tc3\traw=in/gone.mp4\tprocessed=-", "#4\td4\traw=in/empty.mp4\tprocessed=-"])
        let dry = try await box.run(["cleanup"] + globals)
        #expect(dry.status == 1)
        #expect(dry.stdout.contains("protected #3 c3"), "\(dry.stdout)")
        #expect(dry.stdout.contains("reviews.clip (protect): 1 row"), "\(dry.stdout)")
        #expect(dry.stdout.contains("with: clip_tags: 2, sets playlist_entries.clip to NULL: 1"), "\(dry.stdout)")

        let journal = box.path("j.jsonl")
        let apply = try await box.run(["cleanup", "--apply", "--cascade", "--journal", journal] + globals)
        #expect(apply.status == 0, "\(apply)")
        let after = try tableDump(box.db)
        #expect(after["clips"]?.count == 2, "clips 1 and 3 stay: \(after["clips"] ?? [])")
        #expect(after["clip_tags"] == ["clip=i:1|id=i:1|tag=t:keep"])
        #expect(after["playlist_entries"] == ["clip=i:1|id=i:2|position=i:2", "clip=null|id=i:1|position=i:1"])
        #expect(after["reviews"] == before["reviews"])
        let restore = try await box.run(["restore", journal] + globals)
        #expect(restore.status == 0, "\(restore)")
        #expect(try tableDump(box.db) == before)
    }

    @Test("a profile that is not valid is refused with what is wrong and where", arguments: [
        ("{", "not JSON"),
        (#"{"profile": 1, "name": "x", "video": {"id": "id", "files": []}, "relations": []}"#, "missing \"table\""),
        (#"{"profile": 1, "name": "x", "video": {"table": "t; drop table x", "id": "id", "files": []}, "relations": []}"#, "t; drop table x"),
        (#"{"profile": 9, "name": "x", "video": {"table": "t", "id": "id", "files": []}, "relations": []}"#, "profile"),
    ])
    func badProfile(_ text: String, _ mentions: String) async throws {
        let box = try Sandbox(name: "badprofile")
        defer { box.remove() }
        let c = try SQLiteConnection(path: RawPath(box.db), mode: .create)
        try c.execute("CREATE TABLE t (id integer PRIMARY KEY, path text)")
        try text.write(toFile: box.path("p.json"), atomically: true, encoding: .utf8)
        let run = try await box.run(["list", "--schema-file", box.path("p.json"), "--state", box.path("s.sqlite")] + box.globals)
        #expect(run.status == 2, "\(run)")
        #expect(!run.signaled)
        #expect(run.stderr.contains(mentions), "\(run.stderr)")
    }
}
