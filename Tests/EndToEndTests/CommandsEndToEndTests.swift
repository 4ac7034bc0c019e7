import Foundation
import Testing
import MediaCatalog
import TestSupport

@Suite("add, import, list and usage, end to end")
struct CommandsEndToEndTests {
    @Test("usage errors exit 2 and change nothing", arguments: [
        ["cleanup", "--bogus"],
        ["cleanup", "--min-frames", "-1"],
        ["cleanup", "--min-frames=-1"],
        ["cleanup", "--min-frames", "ten"],
        ["cleanup", "--jobs", "0"],
        ["cleanup", "--format", "xml"],
        ["cleanup", "--journal", "j.jsonl"],
        ["cleanup", "--force"],
        ["add"],
        ["add", "media/ok.webm", "--uuid", "not-a-uuid"],
        ["add", "media/ok.webm", "--uuid", ""],
        ["add", "media/missing.mp4"],
        ["add", "media"],
        ["import"],
        ["import", "media/ok.webm"],
        ["restore"],
        ["list", "--format", "yaml"],
        ["frobnicate"],
    ])
    func usageErrors(_ arguments: [String]) async throws {
        let box = try Sandbox()
        defer { box.remove() }
        try await box.library(["ok.webm", "text.mp4"])
        let before = try await box.listJSON()
        let result = try await box.run(arguments + box.globals)
        #expect(result.status == 2, "\(result)")
        #expect(!result.signaled)
        #expect(!result.stderr.isEmpty, "a usage error explains itself on stderr")
        #expect(try await box.listJSON() == before)
        #expect(!box.exists("j.jsonl"))
    }

    @Test func usageErrorCreatesNoCatalog() async throws {
        let box = try Sandbox()
        defer { box.remove() }
        let result = try await box.run(["add", "--uuid", "nope"] + box.globals)
        #expect(result.status == 2)
        #expect(!box.exists("cat.sqlite"))
    }

    @Test func addPrintsTheId() async throws {
        let box = try Sandbox()
        defer { box.remove() }
        try box.place(["ok.webm", "ok-faststart.mp4", "hevc.mp4", "three-frames.mp4"])
        let first = try await box.run(["add", "media/ok.webm"] + box.globals)
        #expect(first.status == 0, "\(first)")
        #expect(first.stdout == "1\n")
        let processedOnly = try await box.run(["add", "--processed", box.media + "/ok-faststart.mp4"] + box.globals)
        #expect(processedOnly.status == 0, "\(processedOnly)")
        #expect(processedOnly.stdout == "2\n")
        let uuid = "3F2504E0-4F89-41D3-9A0C-0305E82C3301"
        let both = try await box.run(["add", "media/hevc.mp4", "--processed", "media/three-frames.mp4", "--uuid", uuid] + box.globals)
        #expect(both.status == 0, "\(both)")
        #expect(both.stdout == "3\n")

        let records = try await box.listed()
        #expect(records["ok.webm"]?.id == 1)
        #expect(records["ok.webm"]?.processed == nil)
        let p = try #require(records["ok-faststart.mp4"])
        #expect(p.id == 2 && p.raw == nil && p.processed == "ok-faststart.mp4")
        let b = try #require(records["hevc.mp4"])
        #expect(b.uuid == uuid.lowercased())
        #expect(b.processed == "three-frames.mp4")

        // The text listing names both files.
        let text = try await box.run(["list"] + box.globals)
        #expect(text.lines == [
            "#1\t\(records["ok.webm"]!.uuid)\traw=ok.webm\tprocessed=-",
            "#2\t\(p.uuid)\traw=-\tprocessed=ok-faststart.mp4",
            "#3\t\(b.uuid)\traw=hevc.mp4\tprocessed=three-frames.mp4",
        ])

        // A processed-only record is judged by its processed file.
        let dry = try await box.run(["cleanup"] + box.globals)
        #expect(dry.lines.contains("valid   #2 \(p.short)  processed 60 frames"))
        #expect(dry.lines.contains("invalid #3 \(b.short)  too_few_frames: processed three-frames.mp4: 3 frames (< 10)"))

        // A path already registered, or a uuid already taken, is refused.
        let twice = try await box.run(["add", "media/ok.webm"] + box.globals)
        #expect(twice.status == 3)
        #expect(twice.stderr.contains("already registered"))
        try box.place(["ok-moov-end.mp4"])
        let taken = try await box.run(["add", "media/ok-moov-end.mp4", "--uuid", uuid.lowercased()] + box.globals)
        #expect(taken.status == 3)
        #expect(try await box.listed().count == 3)
    }

    @Test func importSkipsKnownPaths() async throws {
        let box = try Sandbox()
        defer { box.remove() }
        try box.place(["ok.webm"], under: "sub")
        let first = try await box.library()
        #expect(first.count == 10)
        #expect(first["sub/ok.webm"] != nil)
        let before = try await box.listJSON()
        let again = try await box.run(["import", box.media] + box.globals)
        #expect(again.status == 0)
        #expect(again.lines == ["Imported 0 new, skipped 10 already known."])
        #expect(try await box.listJSON() == before)

        try box.place(["ok-faststart.mp4"], under: "new")
        try Data("not a video".utf8).write(to: URL(fileURLWithPath: box.media + "/notes.txt"))
        let third = try await box.run(["import", "media"] + box.globals)
        #expect(third.status == 0)
        #expect(third.lines == ["added #11 new/ok-faststart.mp4", "Imported 1 new, skipped 10 already known."])
        #expect(try await box.listed().count == 11)
    }

    @Test("two names of one new file in one import: the first is added, the second named with the first")
    func importHardLinks() async throws {
        let box = try Sandbox()
        defer { box.remove() }
        try box.place(["ok.webm"], under: "a")
        try FileManager.default.createDirectory(atPath: box.media + "/b", withIntermediateDirectories: false)
        #expect(link(box.media + "/a/ok.webm", box.media + "/b/ok.webm") == 0)
        let result = try await box.run(["import", box.media] + box.globals)
        #expect(result.status == 0, "\(result)")
        #expect(result.lines == ["skipped b/ok.webm: the same file as a/ok.webm, which this import adds",
                                 "added #1 a/ok.webm", "Imported 1 new, skipped 0 already known, 1 skipped (named above)."])
    }

    @Test("import follows no symlinked folder: no loop, nothing from outside")
    func importIgnoresSymlinkedFolders() async throws {
        let box = try Sandbox()
        defer { box.remove() }
        try box.place(["ok.webm"], under: "a")
        try FileManager.default.createDirectory(atPath: box.path("outside"), withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: Paths.fixture("hevc.mp4"), toPath: box.path("outside/hevc.mp4"))
        try FileManager.default.createSymbolicLink(atPath: box.media + "/a/loop", withDestinationPath: "..")
        try FileManager.default.createSymbolicLink(atPath: box.media + "/ext", withDestinationPath: box.path("outside"))
        let result = try await box.run(["import", box.media] + box.globals, timeout: 30)
        #expect(!result.timedOut)
        #expect(result.status == 0, "\(result)")
        #expect(result.lines == ["added #1 a/ok.webm", "Imported 1 new, skipped 0 already known."])
    }

    @Test("paths with spaces, unicode, colons and .. in the arguments")
    func unusualPaths() async throws {
        let box = try Sandbox(name: "ü space:")
        defer { box.remove() }
        let mediaDir = box.path("my media ü")
        try FileManager.default.createDirectory(atPath: mediaDir + "/sub dir", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Paths.fixture("ok-faststart.mp4"), toPath: mediaDir + "/sub dir/a b:ü.mp4")
        try FileManager.default.copyItem(atPath: Paths.fixture("three-frames.mp4"), toPath: mediaDir + "/视频 3.mp4")
        backdate(mediaDir + "/sub dir/a b:ü.mp4")
        backdate(mediaDir + "/视频 3.mp4")
        // Relative paths with .. resolve against the working directory.
        try FileManager.default.createDirectory(atPath: box.path("x"), withIntermediateDirectories: false)
        let globals = ["--db", "x/../cat ü.sqlite", "--media-root", "./x/../my media ü"]
        let add = try await box.run(["add", "my media ü/sub dir/../sub dir/a b:ü.mp4"] + globals)
        #expect(add.status == 0, "\(add)")
        let imported = try await box.run(["import", "my media ü/../my media ü"] + globals)
        #expect(imported.status == 0, "\(imported)")
        #expect(imported.lines == ["added #2 视频 3.mp4", "Imported 1 new, skipped 1 already known."])
        #expect(box.exists("cat ü.sqlite"))

        let list = try await box.run(["list", "--format", "json"] + globals)
        let items = try #require(try list.json() as? [[String: Any]])
        #expect(items.compactMap { $0["raw_file"] as? String } == ["sub dir/a b:ü.mp4", "视频 3.mp4"])

        let dry = try await box.run(["cleanup", "--format", "json"] + globals)
        #expect(dry.status == 1)
        let doc = try #require(try dry.json() as? [String: Any])
        #expect(doc["media_root"] as? String == mediaDir)
        let records = try #require(doc["records"] as? [[String: Any]])
        let frames = records.compactMap { ($0["files"] as? [[String: Any]])?.first?["frames"] as? Int }
        #expect(frames == [60, 3])

        // From elsewhere, without --media-root: the catalog remembers its root.
        let elsewhere = try await box.run(["cleanup", "--db", box.path("cat ü.sqlite")], cwd: "/")
        #expect(elsewhere.status == 1, "\(elsewhere)")
        #expect(elsewhere.lines.contains("Total: 2 | Valid: 1 | Invalid: 1"))

        // And the environment variables work instead of flags.
        let env = try await box.run(["cleanup"], environment: ["MEDIALIB_DB": box.path("cat ü.sqlite"), "MEDIALIB_MEDIA_ROOT": mediaDir], cwd: "/")
        #expect(env.lines.contains("Total: 2 | Valid: 1 | Invalid: 1"))

        let apply = try await box.run(["cleanup", "--apply", "--trash", "trash ü", "--journal", "j ü.jsonl"] + globals)
        #expect(apply.status == 0, "\(apply)")
        #expect(box.exists("trash ü/视频 3.mp4"))
        let restore = try await box.run(["restore", "./x/../j ü.jsonl"] + globals)
        #expect(restore.status == 0, "\(restore)")
        #expect(FileManager.default.fileExists(atPath: mediaDir + "/视频 3.mp4"))
    }
}

@Suite("--db paths")
struct CatalogPathEndToEndTests {
    @Test("--db with .. through a folder that does not exist names one catalog for every command")
    func dotDotThroughMissingFolder() async throws {
        let box = try Sandbox()
        defer { box.remove() }
        try box.place(["ok.webm"])
        // `nowhere` does not exist: the kernel cannot resolve nowhere/../cat.sqlite, SQLite does it lexically.
        let globals = ["--db", "nowhere/../cat.sqlite", "--media-root", "media"]
        let add = try await box.run(["add", "media/ok.webm"] + globals)
        #expect(add.status == 0, "\(add)")
        let list = try await box.run(["list"] + globals)
        let dry = try await box.run(["cleanup"] + globals)
        if add.status == 0 {
            // add wrote a catalog (SQLite normalised the path to ./cat.sqlite) ...
            #expect(box.exists("cat.sqlite"))
            // ... so reading commands given the very same --db must find it.
            #expect(list.status == 0, "\(list)")
            #expect(dry.status == 0, "\(dry)")
        } else {
            // The consistent alternative: every command refuses the path.
            #expect(list.status == 3 && dry.status == 3)
        }
    }
}

@Suite("unusable catalogs, end to end")
struct CatalogEndToEndTests {
    @Test func catalogIsADirectory() async throws {
        let box = try Sandbox()
        defer { box.remove() }
        try box.place(["text.mp4", "ok.webm"])
        try FileManager.default.createDirectory(atPath: box.db, withIntermediateDirectories: false)
        for args in [["cleanup", "--apply", "--journal", box.path("j.jsonl")], ["cleanup"], ["list"], ["add", "media/ok.webm"]] {
            let result = try await box.run(args + box.globals)
            #expect(result.status == 3, "\(args): \(result)")
            #expect(result.stderr.contains("is a directory"), "\(args)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: box.db).isEmpty)
        #expect(!box.exists("j.jsonl"))
        #expect(box.exists("media/text.mp4"))
    }

    @Test func catalogIsNotSQLite() async throws {
        let box = try Sandbox()
        defer { box.remove() }
        try box.place(["text.mp4", "ok.webm"])
        let text = Data("these are my notes, not a catalog\n".utf8)
        try text.write(to: URL(fileURLWithPath: box.db))
        for args in [["cleanup", "--apply", "--journal", box.path("j.jsonl")], ["cleanup"], ["list"], ["import", "media"]] {
            let result = try await box.run(args + box.globals)
            #expect(result.status == 3, "\(args): \(result)")
            #expect(result.stderr.contains("not a catalog medialib can read"), "\(args)")
        }
        #expect(box.contents("cat.sqlite") == text)
        #expect(!box.exists("j.jsonl"))
    }

    @Test func missingCatalog() async throws {
        let box = try Sandbox()
        defer { box.remove() }
        for args in [["cleanup"], ["cleanup", "--apply"], ["list"]] {
            let result = try await box.run(args + box.globals)
            #expect(result.status == 3, "\(args): \(result)")
            #expect(result.stderr.contains("no catalog"))
        }
        #expect(!box.exists("cat.sqlite"), "reading does not create a catalog")
    }

    @Test("a catalog without write bits: apply exits 3 and changes nothing; the dry run still works")
    func readOnlyCatalog() async throws {
        let box = try Sandbox()
        defer { box.remove() }
        try await box.library()
        let before = try await box.listJSON()
        let journal = box.path("j.jsonl")
        // Keep a journal from a real apply to try restoring into the read-only catalog.
        let copy = try await box.run(["cleanup", "--apply", "--max-delete", "100%", "--journal", journal] + box.globals)
        #expect(copy.status == 0)
        let restore = try await box.run(["restore", journal] + box.globals)
        #expect(restore.status == 0)
        #expect(try await box.listJSON() == before)
        try FileManager.default.removeItem(atPath: journal)

        try FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: box.db)
        let bytes = box.contents("cat.sqlite")
        let apply = try await box.run(["cleanup", "--apply", "--max-delete", "100%", "--journal", journal] + box.globals)
        #expect(apply.status == 3, "\(apply)")
        #expect(apply.stderr.contains("read-only"))
        #expect(!box.exists("j.jsonl"))
        #expect(box.contents("cat.sqlite") == bytes)
        #expect(try await box.listJSON() == before)

        let dry = try await box.run(["cleanup"] + box.globals)
        #expect(dry.status == 1, "\(dry)")
        #expect(dry.lines.contains("Total: 9 | Valid: 4 | Invalid: 5"))

        try box.place(["ok.webm"], under: "more")
        let add = try await box.run(["add", "media/more/ok.webm"] + box.globals)
        #expect(add.status == 3)
        #expect(try await box.listJSON() == before)
    }

    @Test func restoreErrors() async throws {
        let box = try Sandbox()
        defer { box.remove() }
        try await box.library(["ok.webm"])
        let missing = try await box.run(["restore", box.path("nope.jsonl")] + box.globals)
        #expect(missing.status == 2) // a file argument that names nothing is a usage error
        #expect(missing.stderr.contains("no such journal"))
        try Data("{\"medialib_journal\":1}\n".utf8).write(to: URL(fileURLWithPath: box.path("bad.jsonl")))
        let bad = try await box.run(["restore", box.path("bad.jsonl")] + box.globals)
        #expect(bad.status == 3)
        #expect(bad.stderr.contains("invalid journal"))
    }
}
