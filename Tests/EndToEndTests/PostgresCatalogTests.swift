// The same catalogs on a real PostgreSQL server (a throwaway cluster the tests start): the
// endoreg-db databases Django made, loaded from their dumps, and medialib's own tables.
// Same commands, same outputs, same cascades as on SQLite.

import Foundation
import Testing
import TestSupport

/// A database of the test cluster holding `catalog` (an endoreg-db dump, or empty for
/// medialib's own tables), with the flags that point medialib at it.
struct PostgresLibrary {
    let cluster: PostgresTestCluster
    let database: String
    let box: Sandbox

    init(_ box: Sandbox, dump: String? = nil, cluster: PostgresTestCluster? = nil) throws {
        self.box = box
        self.cluster = try cluster ?? PostgresTestCluster.get()
        database = try self.cluster.createDatabase("e2e")
        if let dump { try self.cluster.load(dump, into: database) }
    }

    var url: String { cluster.url(database) }
    var state: String { box.path("state/medialib-state.sqlite") }
    var globals: [String] { ["--db", url, "--media-root", box.media, "--state", state] }

    func run(_ arguments: [String], environment: [String: String] = [:], timeout: Double = 60,
             sourceLocation: SourceLocation = #_sourceLocation) async throws -> CLIResult {
        try await box.run(arguments + globals, environment: environment, timeout: timeout, sourceLocation: sourceLocation)
    }

    func psql(_ sql: String) throws -> String { try cluster.psql(sql, database: database) }

    /// Every row of every table as JSON, grouped by table, rows sorted: what "unchanged" means.
    func dump() throws -> [String: [String]] {
        let select = try psql("""
            SELECT string_agg(format('SELECT %L || chr(9) || row_to_json(t)::text FROM %I t', tablename, tablename), ' UNION ALL ')
            FROM pg_tables WHERE schemaname = 'public'
            """).trimmingCharacters(in: .whitespacesAndNewlines)
        var out: [String: [String]] = [:]
        for line in try psql(select).split(separator: "\n") {
            guard let tab = line.firstIndex(of: "\t") else { continue }
            out[String(line[..<tab]), default: []].append(String(line[line.index(after: tab)...]))
        }
        return out.mapValues { $0.sorted() }
    }

    /// The rows of `table` in a dump, parsed, for checks by column.
    static func rows(_ table: String, in dump: [String: [String]]) throws -> [[String: Any]] {
        try (dump[table] ?? []).compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func ids(_ table: String = "videos", column: String = "id") throws -> [Int] {
        try psql("SELECT \(column) FROM \(table) ORDER BY \(column)").split(separator: "\n").compactMap { Int($0) }
    }
}

/// A primary key as Django's dump writes it: an integer, or a uuid's 32 hex digits.
func keyText(_ v: Any?) -> String {
    switch v {
    case let n as NSNumber: return "\(n.int64Value)"
    case let s as String: return s.replacingOccurrences(of: "-", with: "").lowercased()
    default: return "\(String(describing: v))"
    }
}

@Suite("PostgreSQL catalogs", .serialized)
struct PostgresCatalogTests {
    @Test("endoreg-db on PostgreSQL: the dry run names Django's cascade; read-only commands change nothing",
          arguments: EndoregLibrary.versions)
    func endoregDryRun(_ version: String) async throws {
        let lib = try EndoregLibrary(version)
        defer { lib.remove() }
        let pg = try PostgresLibrary(lib.box, dump: Paths.fixture("django/endoreg-db-\(version).postgres.sql"))
        let before = try pg.dump()
        let list = try await pg.run(["list", "--format", "json"])
        #expect(list.status == 0, "\(list)")
        let items = try #require(try list.json() as? [[String: Any]])
        #expect(items.compactMap { $0["id"] as? Int } == lib.videos.compactMap { $0["id"] as? Int })
        let run = try await pg.run(["cleanup", "--format", "json"])
        #expect(run.status == 1, "\(run)")
        let doc = try #require(try run.json() as? [String: Any])
        let records = try #require(doc["records"] as? [[String: Any]])
        let wouldDelete = (doc["would_delete"] as? [Int] ?? []).sorted()
        #expect(wouldDelete == lib.deletedByDjango)
        let protected = records.filter { $0["status"] as? String == "protected" }.compactMap { $0["id"] as? Int }.sorted()
        #expect(protected == lib.protectedByDjango)
        var counts: [String: Int] = ["endoreg_db_videofile": wouldDelete.count]
        for r in records where wouldDelete.contains(r["id"] as? Int ?? -1) {
            for (t, n) in (r["dependents"] as? [String: Any])?["deletes"] as? [String: Int] ?? [:] { counts[t, default: 0] += n }
        }
        #expect(counts == lib.expected["deleted_counts"] as? [String: Int])
        let verify = try await pg.run(["verify"])
        #expect(verify.status == 1, "\(verify)")
        #expect(try pg.dump() == before, "a read-only command changed the app's database")
        // No table of medialib's went into the app's database: its cache is in the state file.
        #expect(Set(try pg.dump().keys) == Set(before.keys))
        #expect(FileManager.default.fileExists(atPath: pg.state))
    }

    @Test("endoreg-db on PostgreSQL: --apply --cascade leaves what Django's collector left; restore puts every value back",
          arguments: EndoregLibrary.versions)
    func endoregCascadeAndRestore(_ version: String) async throws {
        let lib = try EndoregLibrary(version)
        defer { lib.remove() }
        let pg = try PostgresLibrary(lib.box, dump: Paths.fixture("django/endoreg-db-\(version).postgres.sql"))
        let original = try pg.dump()
        let journal = lib.box.path("journal.jsonl")
        let apply = try await pg.run(["cleanup", "--apply", "--cascade", "--max-delete", "4", "--trash", lib.box.path("trash"), "--journal", journal])
        #expect(apply.status == 0, "\(apply)")
        #expect(!apply.stdout.contains(pg.cluster.password) && !apply.stderr.contains(pg.cluster.password), "the password was shown")
        #expect(!(String(data: FileManager.default.contents(atPath: journal) ?? Data(), encoding: .utf8) ?? "").contains(pg.cluster.password))

        // Table by table, the primary keys left are Django's (SQLite's sqlite_sequence aside).
        let tables = lib.expected["tables"] as? [String: [[String: Any]]] ?? [:]
        let after = try pg.dump()
        for (table, rows) in tables where table != "sqlite_sequence" {
            let ours = try PostgresLibrary.rows(table, in: after)
            #expect(ours.count == rows.count, "\(table): \(ours.count) rows, Django left \(rows.count)")
            guard rows.first?["id"] != nil else { continue }
            #expect(Set(ours.map { keyText($0["id"]) }) == Set(rows.map { keyText($0["id"]) }), "\(table)")
        }
        #expect(Set(after.keys).isSubset(of: Set(tables.keys)), "a table with rows Django's database does not have")
        for n in lib.expected["nulled"] as? [[String: Any]] ?? [] {
            let table = n["table"] as? String ?? "", column = n["column"] as? String ?? ""
            let row = try PostgresLibrary.rows(table, in: after).first { keyText($0["id"]) == keyText(n["pk"]) }
            #expect(row != nil && row?[column] is NSNull, "\(table).\(column) of \(n["pk"] ?? "") should be NULL")
        }
        for id in lib.deletedByDjango { #expect(!(try pg.ids("endoreg_db_videofile")).contains(id)) }

        // The undo line never shows the password; with it from PGPASSWORD, it restores as printed.
        let undo = try #require(apply.lines.first { $0.hasPrefix("Undo with: medialib ") })
        #expect(!undo.contains(pg.cluster.password), "\(undo)")
        // Shell-quoted for pasting (a URL holds `?`); these words have no quote inside.
        let words = undo.dropFirst("Undo with: medialib ".count).split(separator: " ").map {
            $0.hasPrefix("'") && $0.hasSuffix("'") ? String($0.dropFirst().dropLast()) : String($0)
        }
        let restore = try await lib.box.run(words, environment: ["PGPASSWORD": pg.cluster.password])
        #expect(restore.status == 0, "\(restore)")
        let restored = try pg.dump()
        for table in original.keys.sorted() where restored[table] != original[table] {
            Issue.record("\(table) after restore differs:\n before: \(original[table] ?? [])\n after:  \(restored[table] ?? [])")
        }
        for (path, _) in lib.manifest["media"] as? [String: String] ?? [:] { #expect(lib.box.exists("media/" + path), "\(path)") }
        let again = try await lib.box.run(words, environment: ["PGPASSWORD": pg.cluster.password])
        #expect(again.status == 0, "a second restore finds the rows present: \(again)")
        #expect(try pg.dump() == original)
    }

    @Test("medialib's own tables on PostgreSQL: import, a cleanup and its restore, as on SQLite")
    func ownCatalog() async throws {
        let box = try Sandbox(name: "pg-own")
        defer { box.remove() }
        let pg = try PostgresLibrary(box)
        try box.place(Paths.allFixtures)
        let imported = try await pg.run(["import", box.media])
        #expect(imported.status == 0, "\(imported)")
        #expect(try pg.ids().count == Paths.allFixtures.count)
        let before = try pg.dump()
        let dry = try await pg.run(["cleanup", "--format", "json"])
        let doomed = ((try dry.json() as? [String: Any])?["would_delete"] as? [Int] ?? []).sorted()
        #expect(!doomed.isEmpty, "\(dry)")
        let apply = try await pg.run(["cleanup", "--apply", "--max-delete", "100%", "--trash", box.path("trash"), "--journal", box.path("j.jsonl")])
        #expect(apply.status == 0, "\(apply)")
        #expect(Set(try pg.ids()).isDisjoint(with: doomed))
        let restore = try await pg.run(["restore", box.path("j.jsonl")])
        #expect(restore.status == 0, "\(restore)")
        #expect(try pg.dump() == before)
    }

    @Test("an app's tables of every PostgreSQL type: cascade, SET NULL, and restore to the value (uuid, timestamptz, jsonb, numeric, bytea, arrays)")
    func typedRoundTrip() async throws {
        let box = try Sandbox(name: "pg-types")
        defer { box.remove() }
        let pg = try PostgresLibrary(box)
        try pg.cluster.load(sql: """
            CREATE TABLE clips (clip_id bigint PRIMARY KEY, token uuid, source_path varchar(200), web_path text, added timestamptz,
                                meta jsonb, price numeric(12,4), thumb bytea, tags text[], ratio double precision, live boolean);
            CREATE TABLE clip_tags (id bigint PRIMARY KEY, clip bigint NOT NULL REFERENCES clips (clip_id) DEFERRABLE INITIALLY DEFERRED,
                                    tag text, weights integer[], at timestamptz, blob bytea, doc json, n numeric);
            CREATE TABLE reviews (id integer PRIMARY KEY, clip bigint NOT NULL REFERENCES clips (clip_id), note text);
            CREATE TABLE playlist_entries (id integer PRIMARY KEY, clip bigint REFERENCES clips (clip_id), position integer, moved interval);
            INSERT INTO clips VALUES
              (1, 'a1a1a1a1-0000-4000-8000-000000000001', 'in/ok.mp4', NULL, '2025-01-01 10:00:00.123456+02', '{"a": [1, 2.50, "x"]}', 12.3400, '\\x00ff10', '{a,"b c",NULL}', 0.1, true),
              (2, 'b2b2b2b2-0000-4000-8000-000000000002', 'in/three.mp4', '', '2025-06-30 23:59:59.999999+00', '{"nested": {"k": null}}', -0.0001, '\\x', '{}', 1e-300, false),
              (3, NULL, 'in/gone.mp4', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
            INSERT INTO clip_tags VALUES (1, 1, 'keep', '{1,2}', now(), NULL, '{"k": 1}', 1),
              (2, 2, 'short', '{3,NULL,-4}', '1999-12-31 23:59:59+05:30', '\\xdeadbeef', '[1, "two"]', 123456789012345678901234567890.123456789),
              (3, 2, E'bad\\ttab ''quote'' é', NULL, 'infinity', '\\x00', 'null', 'NaN');
            INSERT INTO reviews VALUES (1, 3, 'keep');
            INSERT INTO playlist_entries VALUES (1, 2, 1, '1 day 02:03:04'), (2, 1, 2, NULL);
            """, into: pg.database)
        try box.scratch.place("ok-faststart.mp4", at: "in/ok.mp4")
        try box.scratch.place("three-frames.mp4", at: "in/three.mp4")
        let before = try pg.dump()
        let globals = ["--db", pg.url, "--media-root", box.media, "--schema-file", Paths.fixture("profiles/clips.json"), "--state", pg.state]
        let dry = try await box.run(["cleanup"] + globals)
        #expect(dry.stdout.contains("with: clip_tags: 2, sets playlist_entries.clip to NULL: 1"), "\(dry)")
        #expect(dry.stdout.contains("protected #3"), "\(dry)")
        let journal = box.path("j.jsonl")
        let apply = try await box.run(["cleanup", "--apply", "--cascade", "--max-delete", "1", "--journal", journal] + globals)
        #expect(apply.status == 0, "\(apply)")
        #expect(try pg.ids("clips", column: "clip_id") == [1, 3])
        #expect(try pg.psql("SELECT count(*) FROM clip_tags").trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        #expect(try pg.psql("SELECT clip IS NULL FROM playlist_entries WHERE id = 1").trimmingCharacters(in: .whitespacesAndNewlines) == "t")
        let restore = try await box.run(["restore", journal] + globals)
        #expect(restore.status == 0, "\(restore)")
        let after = try pg.dump()
        for table in before.keys.sorted() where after[table] != before[table] {
            Issue.record("\(table) after restore:\n before: \(before[table] ?? [])\n after:  \(after[table] ?? [])")
        }
        // Types themselves: a value put back as text where it was a number would still print alike.
        let types = try pg.psql("SELECT pg_typeof(weights)::text || ' ' || pg_typeof(n)::text || ' ' || pg_typeof(blob)::text FROM clip_tags WHERE id = 2")
        #expect(types.trimmingCharacters(in: .whitespacesAndNewlines) == "integer[] numeric bytea")
    }

    @Test("verify --shard K/N: the shards cover every record exactly once, and a record keeps its shard as others arrive")
    func shards() async throws {
        let box = try Sandbox(name: "pg-shard")
        defer { box.remove() }
        let pg = try PostgresLibrary(box)
        try box.place(Paths.allFixtures, under: "a")
        try box.place(Paths.allFixtures, under: "b")
        #expect(try await pg.run(["import", box.media]).status == 0)
        func shardIDs(_ n: Int) async throws -> [[Int]] {
            var out: [[Int]] = []
            for k in 1...n {
                let run = try await pg.run(["verify", "--shard", "\(k)/\(n)", "--format", "jsonl"])
                #expect(run.status <= 1, "\(run)")
                out.append(run.lines.compactMap { line in
                    (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["id"] as? Int
                })
            }
            return out
        }
        let all = try pg.ids()
        let three = try await shardIDs(3)
        #expect(three.flatMap { $0 }.sorted() == all, "every record once: \(three)")
        #expect(three.filter(\.isEmpty).isEmpty, "no shard empty with \(all.count) records: \(three)")
        try box.place(Paths.allFixtures, under: "c")
        #expect(try await pg.run(["import", box.media]).status == 0)
        let later = try await shardIDs(3)
        #expect(later.flatMap { $0 }.sorted() == (try pg.ids()))
        for (old, new) in zip(three, later) { #expect(Set(old).isSubset(of: Set(new)), "a record changed shard") }
        let bad = try await pg.run(["verify", "--shard", "4/3"])
        #expect(bad.status == 2, "\(bad)")
    }

    @Test("two serve processes on one catalog both see a deletion, by cleanup or by another writer, at the next request")
    func twoServers() async throws {
        let box = try Sandbox(name: "pg-serve")
        defer { box.remove() }
        let pg = try PostgresLibrary(box)
        try box.place(Paths.allFixtures)
        #expect(try await pg.run(["import", box.media]).status == 0)
        let dry = try await pg.run(["cleanup", "--format", "json"])
        let doomed = try #require(((try dry.json() as? [String: Any])?["would_delete"] as? [Int])?.first)
        let kept = try #require(try pg.ids().first { $0 != doomed && !(((try? dry.json() as? [String: Any])?["would_delete"] as? [Int]) ?? []).contains($0) })
        let one = try ServeEndToEndTests.Server(box, globals: pg.globals)
        defer { _ = one.terminate() }
        let two = try ServeEndToEndTests.Server(box, globals: pg.globals)
        defer { _ = two.terminate() }
        for server in [one, two] {
            #expect(try ServeEndToEndTests.get(server.port, "/api/media/videos/\(kept)/", headers: ["Range: bytes=0-1"]).status == 206)
        }
        let apply = try await pg.run(["cleanup", "--apply", "--max-delete", "100%", "--trash", box.path("trash")])
        #expect(apply.status == 0, "\(apply)")
        for server in [one, two] {
            #expect(try ServeEndToEndTests.get(server.port, "/api/media/videos/\(doomed)/").status == 404)
            #expect(try ServeEndToEndTests.get(server.port, "/api/media/videos/\(kept)/", headers: ["Range: bytes=0-1"]).status == 206)
        }
        _ = try pg.psql("DELETE FROM videos WHERE id = \(kept)")
        for server in [one, two] {
            #expect(try ServeEndToEndTests.get(server.port, "/api/media/videos/\(kept)/").status == 404)
        }
        for server in [one, two] { #expect(!server.log.contains(pg.cluster.password)) }
    }
}

@Suite("PostgreSQL: a server restarted mid-run", .serialized)
struct PostgresRestartTests {
    @Test("cleanup --apply across a restart: exit 3, nothing deleted, the journal not committed, restore a no-op")
    func applyAcrossRestart() async throws { try await heavy { try await self.applyAcrossRestartAlone() } }

    func applyAcrossRestartAlone() async throws {
        let cluster = try PostgresTestCluster.start()
        defer { cluster.stop() }
        let box = try Sandbox(name: "pg-restart")
        defer { box.remove() }
        let pg = try PostgresLibrary(box, cluster: cluster)
        try box.place(Paths.allFixtures)
        #expect(try await pg.run(["import", box.media]).status == 0)
        let before = try pg.dump()
        let journal = box.path("j.jsonl")
        // The job pauses inside its transaction, journal fsynced, just before COMMIT.
        async let apply = pg.run(["cleanup", "--apply", "--max-delete", "100%", "--trash", box.path("trash"), "--journal", journal],
                                 environment: ["MEDIALIB_FAULT": "before-commit:pause"], timeout: 150)
        let deadline = Date().addingTimeInterval(90)
        var inTransaction = false
        while !inTransaction && Date() < deadline {
            try await Task.sleep(nanoseconds: 100_000_000)
            let sessions = try? cluster.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'medialib' AND state = 'idle in transaction'")
            inTransaction = (Int(sessions?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0) >= 1
        }
        #expect(inTransaction, "cleanup never reached its transaction")
        try cluster.restart()
        let run = try await apply
        #expect(run.status == 3, "\(run)")
        #expect(run.stderr.contains("PostgreSQL"), "\(run.stderr)")
        #expect(try pg.dump() == before, "a cleanup cut off before COMMIT changed the catalog")
        for name in Paths.allFixtures { #expect(box.exists("media/" + name), "\(name) moved") }
        let lines = try jsonLines(journal)
        #expect(!lines.contains { $0["committed"] != nil }, "the journal claims a commit")
        let restore = try await pg.run(["restore", journal])
        #expect(restore.status == 0 || restore.status == 3, "\(restore)")
        // Depending on how far the job got before the restart, the journal lacks its commit
        // line or even its end line: either way restore says nothing was deleted.
        let said = restore.stdout + restore.stderr
        #expect(said.contains("never committed") || said.contains("nothing was deleted"), "\(restore)")
        #expect(try pg.dump() == before)
    }

    @Test("serve's reads reconnect after a restart: the next request is answered")
    func serveAcrossRestart() async throws {
        let cluster = try PostgresTestCluster.start()
        defer { cluster.stop() }
        let box = try Sandbox(name: "pg-restart-serve")
        defer { box.remove() }
        let pg = try PostgresLibrary(box, cluster: cluster)
        try box.place(Paths.goodFixtures)
        #expect(try await pg.run(["import", box.media]).status == 0)
        let id = try #require(try pg.ids().first)
        let server = try ServeEndToEndTests.Server(box, globals: pg.globals)
        defer { _ = server.terminate() }
        #expect(try ServeEndToEndTests.get(server.port, "/api/media/videos/\(id)/", headers: ["Range: bytes=0-1"]).status == 206)
        try cluster.restart()
        #expect(try ServeEndToEndTests.get(server.port, "/api/media/videos/\(id)/", headers: ["Range: bytes=0-1"]).status == 206)
        let verify = try await pg.run(["verify"])
        #expect(verify.status == 0, "\(verify)")
    }
}

@Suite("PostgreSQL: bad input")
struct PostgresBadInputTests {
    @Test("a wrong password, a missing database, a missing socket, an empty database: one clear line each, never the password")
    func refusals() async throws {
        let box = try Sandbox(name: "pg-bad")
        defer { box.remove() }
        let cluster = try PostgresTestCluster.get()
        let empty = try cluster.createDatabase("empty")
        let cases: [(url: String, status: Int32, says: String)] = [
            (cluster.url(empty, password: "wrong-secret"), 3, "password authentication failed"),
            (cluster.url("no_such_db"), 3, "does not exist"),
            ("postgres://medialib:wrong-secret@/x?host=/nonexistent-socket-dir", 3, "/nonexistent-socket-dir"),
            (cluster.url(empty), 3, "--schema"),
            ("postgres://medialib:wrong-secret@[::1/x", 2, "postgres://"),
        ]
        for c in cases {
            let run = try await box.run(["list", "--db", c.url, "--media-root", box.media, "--state", box.path("s.sqlite")])
            #expect(run.status == c.status, "\(c.url): \(run)")
            #expect(run.stderr.contains(c.says), "\(c.url): \(run.stderr)")
            #expect(!run.stderr.contains("wrong-secret") && !run.stdout.contains("wrong-secret"), "password shown: \(run.stderr)")
            #expect(!run.stderr.contains(cluster.password))
            #expect(run.stderr.split(separator: "\n").count <= 3, "\(run.stderr)")
        }
    }

    @Test("a role that may read but not delete: cleanup --apply refuses, deleting nothing")
    func readOnlyRole() async throws {
        let box = try Sandbox(name: "pg-ro")
        defer { box.remove() }
        let pg = try PostgresLibrary(box)
        try box.place(Paths.allFixtures)
        #expect(try await pg.run(["import", box.media]).status == 0)
        let before = try pg.dump()
        let role = "reader_\(UUID().uuidString.prefix(6).lowercased())"
        _ = try pg.psql("CREATE ROLE \(role) LOGIN PASSWORD 'reader-pw'; GRANT SELECT ON ALL TABLES IN SCHEMA public TO \(role);")
        let url = pg.cluster.url(pg.database, user: role, password: "reader-pw")
        let list = try await box.run(["list", "--db", url, "--media-root", box.media, "--state", pg.state])
        #expect(list.status == 0, "\(list)")
        let apply = try await box.run(["cleanup", "--apply", "--max-delete", "100%", "--trash", box.path("trash"),
                                       "--db", url, "--media-root", box.media, "--state", pg.state])
        #expect(apply.status == 3, "\(apply)")
        #expect(apply.stderr.contains(role), "\(apply.stderr)")
        #expect(try pg.dump() == before)
        for name in Paths.allFixtures { #expect(box.exists("media/" + name)) }
    }
}
