import Foundation
import Testing
import MediaCatalog
import TestSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What cleanup must say about each fixture with the default --min-frames 10.
let expectedVerdicts: [String: (status: String, reasons: String)] = [
    "audio-only.mp4": ("invalid", "no_video_stream: raw audio-only.mp4: no video stream"),
    "empty.mp4": ("invalid", "empty_file: raw empty.mp4: file is empty (0 bytes)"),
    "hevc.mp4": ("valid", "raw 30 frames"),
    "ok-faststart.mp4": ("valid", "raw 60 frames"),
    "ok-moov-end.mp4": ("valid", "raw 60 frames"),
    "ok.webm": ("valid", "raw 30 frames"),
    "text.mp4": ("invalid", "not_media: raw text.mp4: not a media file: Invalid data found when processing input"),
    "three-frames.mp4": ("invalid", "too_few_frames: raw three-frames.mp4: 3 frames (< 10)"),
    "truncated.mp4": ("invalid", "too_few_frames: raw truncated.mp4: 9 frames (< 10), truncated: header claims 60"),
]

@Suite("cleanup, end to end")
struct CleanupEndToEndTests {
    @Test func dryRunText() async throws {
        let box = try Sandbox()
        defer { box.remove() }
        let records = try await box.library()
        #expect(records.count == 9)
        let before = try await box.listJSON()
        let result = try await box.run(["cleanup"] + box.globals)
        #expect(result.status == 1, "a dry run that found invalid records exits 1")
        #expect(!result.signaled)
        #expect(result.stderr.isEmpty)

        let byID = records.values.sorted { $0.id < $1.id }
        var expected: [String] = byID.map { r in
            let v = expectedVerdicts[r.raw!]!
            return "\(v.status == "valid" ? "valid  " : "invalid") #\(r.id) \(r.short)  \(v.reasons)"
        }
        expected.append("Total: 9 | Valid: 4 | Invalid: 5")
        expected.append("Would delete:")
        for r in byID where expectedVerdicts[r.raw!]!.status == "invalid" {
            expected.append("  #\(r.id) \(r.short)  \(expectedVerdicts[r.raw!]!.reasons)")
        }
        expected.append("Dry run: nothing was changed. Delete these with `medialib cleanup --apply`.")
        #expect(result.lines == expected)
        #expect(try await box.listJSON() == before, "a dry run changes nothing")
        // One worker or many: the same report, in the same order.
        let serial = try await box.run(["cleanup", "--jobs", "1"] + box.globals)
        #expect(serial.status == 1)
        #expect(serial.stdout == result.stdout)
        #expect(!box.exists("medialib-journals"))
    }

    @Test func minFramesChangesTheVerdict() async throws {
        let box = try Sandbox()
        defer { box.remove() }
        try await box.library(["three-frames.mp4", "ok.webm"])
        let lenient = try await box.run(["cleanup", "--min-frames", "3"] + box.globals)
        #expect(lenient.status == 0)
        #expect(lenient.lines.contains("Total: 2 | Valid: 2 | Invalid: 0"))
        let strict = try await box.run(["cleanup", "--min-frames=31"] + box.globals)
        #expect(strict.status == 1)
        #expect(strict.lines.contains("Total: 2 | Valid: 0 | Invalid: 2"))
        #expect(strict.stdout.contains("too_few_frames: raw ok.webm: 30 frames (< 31)"))
    }

    @Test func cleanLibraryExitsZero() async throws {
        let box = try Sandbox()
        defer { box.remove() }
        try await box.library(Paths.goodFixtures)
        let text = try await box.run(["cleanup"] + box.globals)
        #expect(text.status == 0)
        #expect(text.lines.suffix(2) == ["Total: 4 | Valid: 4 | Invalid: 0", "Nothing to delete."])
        let json = try await box.run(["cleanup", "--format", "json"] + box.globals)
        #expect(json.status == 0)
        let doc = try #require(try json.json() as? [String: Any])
        #expect(doc["would_delete"] as? [Int] == [])
        let before = try await box.listJSON()
        let apply = try await box.run(["cleanup", "--apply", "--journal", box.path("j.jsonl")] + box.globals)
        #expect(apply.status == 0)
        #expect(apply.stdout.contains("Nothing to delete."))
        #expect(!box.exists("j.jsonl"), "no journal when nothing is deleted")
        #expect(try await box.listJSON() == before)
    }

    @Test func dryRunJSON() async throws {
        let box = try Sandbox()
        defer { box.remove() }
        let records = try await box.library()
        let result = try await box.run(["cleanup", "--format", "json"] + box.globals)
        #expect(result.status == 1)
        let doc = try #require(try result.json() as? [String: Any])
        #expect(doc["mode"] as? String == "dry_run")
        #expect(doc["media_root"] as? String == box.media)
        #expect(doc["catalog"] as? String == box.db)
        #expect(doc["min_frames"] as? Int == 10)
        let summary = try #require(doc["summary"] as? [String: Int])
        #expect(summary == ["total": 9, "valid": 4, "invalid": 5, "protected": 0, "kept": 0])
        let invalidIDs = records.values.filter { expectedVerdicts[$0.raw!]!.status == "invalid" }.map(\.id).sorted()
        #expect(doc["would_delete"] as? [Int] == invalidIDs)

        let items = try #require(doc["records"] as? [[String: Any]])
        #expect(items.map { $0["id"] as? Int ?? -1 } == records.values.map(\.id).sorted())
        let expectedCodes: [String: [String]] = [
            "audio-only.mp4": ["no_video_stream"], "empty.mp4": ["empty_file"], "text.mp4": ["not_media"],
            "three-frames.mp4": ["too_few_frames"], "truncated.mp4": ["too_few_frames"],
            "hevc.mp4": [], "ok-faststart.mp4": [], "ok-moov-end.mp4": [], "ok.webm": [],
        ]
        // frames, header_frames, counted_packets (nil: absent), or the file's error code.
        let expectedFiles: [String: (Int?, Int?, Int?, String?)] = [
            "audio-only.mp4": (nil, nil, nil, "no_video_stream"), "empty.mp4": (nil, nil, nil, "empty_file"),
            "text.mp4": (nil, nil, nil, "not_media"), "three-frames.mp4": (3, 3, 3, nil),
            "truncated.mp4": (9, 60, 9, nil), "hevc.mp4": (30, 30, 30, nil), "ok-faststart.mp4": (60, 60, 60, nil),
            "ok-moov-end.mp4": (60, 60, 60, nil), "ok.webm": (30, nil, 30, nil),
        ]
        for item in items {
            let files = try #require(item["files"] as? [[String: Any]])
            try #require(files.count == 1)
            let file = files[0]
            let name = try #require(file["path"] as? String)
            let record = try #require(records[name])
            #expect(item["uuid"] as? String == record.uuid)
            #expect(item["status"] as? String == expectedVerdicts[name]?.status, "\(name)")
            let reasons = try #require(item["reasons"] as? [[String: Any]])
            #expect(reasons.map { $0["code"] as? String ?? "" } == expectedCodes[name], "\(name)")
            #expect(reasons.allSatisfy { $0["file"] as? String == "raw" })
            #expect(file["kind"] as? String == "raw")
            #expect(file["resolved_path"] as? String == box.media + "/" + name)
            let want = try #require(expectedFiles[name])
            #expect(file["frames"] as? Int == want.0, "\(name) frames")
            #expect(file["header_frames"] as? Int == want.1, "\(name) header_frames")
            #expect(file["counted_packets"] as? Int == want.2, "\(name) counted_packets")
            #expect(file["error"] as? String == want.3, "\(name) error")
        }
    }

    @Test func applyDeletesAndJournals() async throws {
        let box = try Sandbox()
        defer { box.remove() }
        let records = try await box.library()
        let rowsBefore = try box.rows()
        let journal = box.path("journals/cleanup.jsonl")
        // 5 of 9 records: more than the default --max-delete of half, so it is raised.
        let result = try await box.run(["cleanup", "--apply", "--max-delete", "100%", "--journal", journal] + box.globals)
        #expect(result.status == 0, "\(result)")
        #expect(result.lines.contains("Total: 9 | Valid: 4 | Invalid: 5"))
        #expect(result.lines.contains("Deleted 5 records. Journal: \(journal)"))
        #expect(result.lines.contains("Undo with: medialib restore \(journal) --db \(box.db)"))

        let lines = try jsonLines(journal)
        try #require(lines.count == 9, "a header, one line per deleted row, the end line, the committed line and the finished line")
        let header = lines[0]
        #expect(header["medialib_journal"] as? Int == 2)
        #expect(header["records"] as? Int == 5)
        #expect((header["catalog"] as? [String: String])?["location"] == box.db)
        #expect((header["catalog"] as? [String: String])?["schema"] == "medialib")
        #expect(header["media_root"] as? String == box.media)
        #expect(header["min_frames"] as? Int == 10)
        #expect(header["video_table"] as? String == "videos")
        let invalid = records.values.filter { expectedVerdicts[$0.raw!]!.status == "invalid" }.sorted { $0.id < $1.id }
        for (entry, record) in zip(lines[1...5], invalid) {
            let delete = try #require(entry["delete"] as? [String: Any])
            #expect(delete["table"] as? String == "videos")
            #expect((delete["key"] as? [String: Int]) == ["id": record.id])
            let row = try #require(delete["row"] as? [String: Any])
            #expect(Set(row.keys) == ["id", "uuid", "raw_file", "processed_file", "created_at"])
            #expect(row["id"] as? Int == record.id)
            #expect(row["uuid"] as? String == record.uuid)
            #expect(row["raw_file"] as? String == record.raw)
            #expect(row["processed_file"] is NSNull)
            #expect(row["created_at"] as? String == record.createdAt)
            let codes = String(expectedVerdicts[record.raw!]!.reasons.prefix { $0 != ":" })
            #expect(entry["reasons"] as? [String] == [codes])
            #expect(entry["record"] as? Int == record.id)
        }
        #expect((lines[6]["end"] as? [String: Int]) == ["changes": 5, "moves": 0], "no --trash, no moves")
        #expect(lines[7]["committed"] != nil)
        #expect(lines[8]["finished"] != nil)
        let after = try await box.listed()
        #expect(Set(after.keys) == Set(Paths.goodFixtures))
        for (name, r) in after { #expect(r == records[name]) }
        let survivingIDs = Set(after.values.map { Int64($0.id) })
        #expect(try box.rows() == rowsBefore.filter { row in
            if case .integer(let id)? = row["id"] { return survivingIDs.contains(id) }
            return false
        })
        // Without --trash the files stay where they were.
        for name in Paths.allFixtures { #expect(box.exists("media/" + name)) }
    }

    @Test func applyJSONAndDefaultJournalPath() async throws {
        let box = try Sandbox()
        defer { box.remove() }
        try await box.library(["three-frames.mp4", "ok.webm", "hevc.mp4"])
        let result = try await box.run(["cleanup", "--apply", "--format", "json"] + box.globals)
        #expect(result.status == 0, "\(result)")
        let doc = try #require(try result.json() as? [String: Any])
        #expect(doc["mode"] as? String == "apply")
        #expect(doc["deleted"] as? Int == 1)
        let journal = try #require(doc["journal"] as? String)
        #expect(journal.hasPrefix(box.path("medialib-journals") + "/cleanup-"), "beside the catalog by default")
        #expect(journal.hasSuffix(".jsonl"))
        #expect(try jsonLines(journal).count == 5)
        #expect(try await box.listed().count == 2)
    }

    @Test func restoreRoundTrip() async throws {
        let box = try Sandbox()
        defer { box.remove() }
        try box.place(["three-frames.mp4"], under: "sub dir")
        try await box.library()
        let before = try await box.listJSON()
        let rowsBefore = try box.rows()
        let journal = box.path("j.jsonl")
        let apply = try await box.run(["cleanup", "--apply", "--max-delete", "6", "--trash", box.path("trash"), "--journal", journal] + box.globals)
        #expect(apply.status == 0, "\(apply)")
        #expect(try await box.listJSON() != before)
        #expect(box.exists("trash/sub dir/three-frames.mp4"))

        let restore = try await box.run(["restore", journal] + box.globals)
        #expect(restore.status == 0, "\(restore)")
        #expect(restore.stdout.hasPrefix("Restored 6 records"))
        #expect(restore.stdout.contains("moved 6 files back"))
        #expect(try await box.listJSON() == before, "ids, uuids, paths and created_at all back")
        #expect(try box.rows() == rowsBefore)
        for name in Paths.allFixtures { #expect(box.exists("media/" + name)) }
        #expect(box.contents("media/sub dir/three-frames.mp4") == FileManager.default.contents(atPath: Paths.fixture("three-frames.mp4")))
        #expect(!box.exists("trash/sub dir/three-frames.mp4"))

        // Restoring twice finds everything in place: nothing to do, nothing changed.
        let again = try await box.run(["restore", journal] + box.globals)
        #expect(again.status == 0, "\(again)")
        #expect(again.stdout.contains("Nothing to restore"))
        #expect(try await box.listJSON() == before)
        // A record with its id taken by another row is a conflict: delete one, add another in its place.
        let other = try await box.run(["cleanup", "--apply", "--max-delete", "6", "--journal", box.path("j2.jsonl")] + box.globals)
        #expect(other.status == 0, "\(other)")
        let sneaky = try await box.run(["restore", box.path("j2.jsonl")] + box.globals)
        #expect(sneaky.status == 0)
        #expect(try await box.listJSON() == before)
    }

    @Test func trashKeepsRelativePaths() async throws {
        let box = try Sandbox()
        defer { box.remove() }
        try box.place(["truncated.mp4", "ok.webm"], under: "uploads/2024")
        try await box.library(["text.mp4", "ok-faststart.mp4"])
        let trash = box.path("trash")
        let result = try await box.run(["cleanup", "--apply", "--trash", trash, "--journal", box.path("j.jsonl")] + box.globals)
        #expect(result.status == 0, "\(result)")
        #expect(result.lines.contains("Trashed \(box.media)/uploads/2024/truncated.mp4 -> \(trash)/uploads/2024/truncated.mp4"))
        #expect(result.lines.contains("Trashed \(box.media)/text.mp4 -> \(trash)/text.mp4"))
        #expect(box.contents("trash/uploads/2024/truncated.mp4") == FileManager.default.contents(atPath: Paths.fixture("truncated.mp4")))
        #expect(box.exists("trash/text.mp4"))
        #expect(!box.exists("media/uploads/2024/truncated.mp4") && !box.exists("media/text.mp4"))
        #expect(box.exists("media/uploads/2024/ok.webm") && box.exists("media/ok-faststart.mp4"))
        #expect(!box.exists("trash/uploads/2024/ok.webm"))
        let moves = try jsonLines(box.path("j.jsonl")).compactMap { $0["move"] as? [String: Any] }
        #expect(Set(moves.compactMap { $0["to"] as? String }) == [trash + "/uploads/2024/truncated.mp4", trash + "/text.mp4"])
        #expect(moves.allSatisfy { ($0["file"] as? [String: Any])?["inode"] is Int }, "each move records the file's identity")
    }

    @Test("an occupied trash path makes apply refuse with exit 3 and change nothing")
    func trashNeverOverwrites() async throws {
        let box = try Sandbox()
        defer { box.remove() }
        try await box.library()
        let before = try await box.listJSON()
        try FileManager.default.createDirectory(atPath: box.path("trash"), withIntermediateDirectories: true)
        let precious = Data("kept from an earlier cleanup".utf8)
        try precious.write(to: URL(fileURLWithPath: box.path("trash/text.mp4")))
        let result = try await box.run(["cleanup", "--apply", "--max-delete", "100%", "--trash", box.path("trash"), "--journal", box.path("j.jsonl")] + box.globals)
        #expect(result.status == 3)
        #expect(result.stderr.contains(box.path("trash/text.mp4")))
        #expect(try await box.listJSON() == before)
        #expect(!box.exists("j.jsonl"))
        #expect(box.contents("trash/text.mp4") == precious)
        for name in Paths.allFixtures { #expect(box.exists("media/" + name)) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: box.path("trash")).filter { !$0.hasPrefix(".") } == ["text.mp4"])
    }

    @Test func existingJournalIsNeverOverwritten() async throws {
        let box = try Sandbox()
        defer { box.remove() }
        try await box.library(["text.mp4", "ok.webm"])
        let before = try await box.listJSON()
        let old = Data("an older journal\n".utf8)
        try old.write(to: URL(fileURLWithPath: box.path("j.jsonl")))
        let result = try await box.run(["cleanup", "--apply", "--journal", box.path("j.jsonl")] + box.globals)
        #expect(result.status == 3)
        #expect(result.stderr.contains("already exists"))
        #expect(box.contents("j.jsonl") == old)
        #expect(try await box.listJSON() == before)
    }

    @Test("MEDIALIB_FAULT=before-commit:abort: the process dies inside the transaction and the catalog is all-before")
    func interruptedApply() async throws {
        let box = try Sandbox()
        defer { box.remove() }
        try await box.library()
        let before = try await box.listJSON()
        let rowsBefore = try box.rows()
        let journal = box.path("j.jsonl")
        let result = try await box.run(["cleanup", "--apply", "--max-delete", "100%", "--trash", box.path("trash"), "--journal", journal] + box.globals,
                                       environment: ["MEDIALIB_FAULT": "before-commit:abort"])
        #expect(result.signaled, "\(result)")
        #expect(result.status == SIGABRT)
        #expect(!result.timedOut)
        #expect(try await box.listJSON() == before)
        #expect(try box.rows() == rowsBefore)
        for name in Paths.allFixtures { #expect(box.exists("media/" + name), "no file was moved") }
        // The journal was completed before the commit that never came; restoring it finds
        // every row still there and says so, changing nothing.
        let lines = try jsonLines(journal)
        #expect(lines.count == 12, "header, 5 rows, 5 planned moves, end; no committed line")
        #expect(!lines.contains { $0["committed"] != nil })
        let restore = try await box.run(["restore", journal] + box.globals)
        #expect(restore.status == 0, "\(restore)")
        #expect(restore.stdout.contains("Nothing to restore"))
        #expect(try await box.listJSON() == before)
        // And the catalog still works normally afterwards.
        let dry = try await box.run(["cleanup"] + box.globals)
        #expect(dry.lines.contains("Total: 9 | Valid: 4 | Invalid: 5"))
    }

    @Test("a record whose file became a folder or a FIFO is flagged, promptly")
    func folderAndFIFO() async throws {
        let box = try Sandbox()
        defer { box.remove() }
        let records = try await box.library(Paths.goodFixtures)
        try FileManager.default.removeItem(atPath: box.media + "/ok-faststart.mp4")
        try FileManager.default.createDirectory(atPath: box.media + "/ok-faststart.mp4", withIntermediateDirectories: false)
        try FileManager.default.removeItem(atPath: box.media + "/ok.webm")
        try #require(mkfifo(box.media + "/ok.webm", 0o644) == 0)
        let started = ContinuousClock.now
        let result = try await box.run(["cleanup", "--format", "json"] + box.globals, timeout: 30)
        #expect(!result.timedOut)
        #expect(ContinuousClock.now - started < .seconds(20))
        #expect(result.status == 1)
        let doc = try #require(try result.json() as? [String: Any])
        let items = try #require(doc["records"] as? [[String: Any]])
        var codes: [Int: [String]] = [:]
        for item in items {
            codes[item["id"] as? Int ?? -1] = (item["reasons"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }
        }
        #expect(codes[records["ok-faststart.mp4"]!.id] == ["not_regular_file"])
        #expect(codes[records["ok.webm"]!.id] == ["not_regular_file"])
        #expect(codes[records["hevc.mp4"]!.id] == [])
        #expect(codes[records["ok-moov-end.mp4"]!.id] == [])
        let text = try await box.run(["cleanup"] + box.globals, timeout: 30)
        #expect(text.stdout.contains("not_regular_file: raw ok.webm: not a regular file"))
        #expect(text.stdout.contains("not_regular_file: raw ok-faststart.mp4: not a regular file"))
    }
}

@Suite("cleanup safety guards, end to end")
struct GuardEndToEndTests {
    @Test func missingMediaRoot() async throws {
        let box = try Sandbox()
        defer { box.remove() }
        try await box.library()
        let before = try await box.listJSON()
        let args = ["--db", box.db, "--media-root", box.path("not-mounted")]
        let apply = try await box.run(["cleanup", "--apply", "--journal", box.path("j.jsonl")] + args)
        #expect(apply.status == 3)
        #expect(apply.stderr.contains("--force"))
        #expect(apply.stderr.contains(box.path("not-mounted")))
        #expect(try await box.listJSON() == before)
        #expect(!box.exists("j.jsonl"))
        let dry = try await box.run(["cleanup"] + args)
        #expect(dry.status == 3)
        #expect(try await box.listJSON() == before)
    }

    @Test func emptyMediaRoot() async throws {
        let box = try Sandbox()
        defer { box.remove() }
        try await box.library()
        let before = try await box.listJSON()
        try FileManager.default.createDirectory(atPath: box.path("empty"), withIntermediateDirectories: false)
        let result = try await box.run(["cleanup", "--apply", "--db", box.db, "--media-root", box.path("empty"),
                                        "--journal", box.path("j.jsonl")])
        #expect(result.status == 3)
        #expect(result.stderr.contains("empty"))
        #expect(result.stderr.contains("--force"))
        #expect(try await box.listJSON() == before)
        #expect(!box.exists("j.jsonl"))
    }

    @Test("more than half the records missing files: refused unless --force")
    func mostFilesMissing() async throws {
        let box = try Sandbox()
        defer { box.remove() }
        let records = try await box.library()
        for name in ["audio-only.mp4", "empty.mp4", "text.mp4", "three-frames.mp4", "hevc.mp4"] {
            try FileManager.default.removeItem(atPath: box.media + "/" + name)
        }
        let before = try await box.listJSON()
        let refused = try await box.run(["cleanup", "--apply", "--journal", box.path("j1.jsonl")] + box.globals)
        #expect(refused.status == 3)
        #expect(refused.stderr.contains("5 of 9"))
        #expect(refused.stderr.contains("--force"))
        #expect(try await box.listJSON() == before)
        #expect(!box.exists("j1.jsonl"))

        let forced = try await box.run(["cleanup", "--apply", "--force", "--journal", box.path("j2.jsonl")] + box.globals)
        #expect(forced.status == 0, "\(forced)")
        #expect(forced.lines.contains("Deleted 6 records. Journal: \(box.path("j2.jsonl"))"))
        let after = try await box.listed()
        #expect(Set(after.keys) == ["ok-faststart.mp4", "ok-moov-end.mp4", "ok.webm"])
        for (name, r) in after { #expect(r == records[name]) }
    }

    @Test("exactly half the records missing files is allowed")
    func halfMissing() async throws {
        let box = try Sandbox()
        defer { box.remove() }
        try await box.library(Paths.goodFixtures)
        for name in ["hevc.mp4", "ok.webm"] { try FileManager.default.removeItem(atPath: box.media + "/" + name) }
        let result = try await box.run(["cleanup", "--apply", "--journal", box.path("j.jsonl")] + box.globals)
        #expect(result.status == 0, "\(result)")
        #expect(result.lines.contains("Deleted 2 records. Journal: \(box.path("j.jsonl"))"))
        #expect(Set(try await box.listed().keys) == ["ok-faststart.mp4", "ok-moov-end.mp4"])
    }
}

@Suite("a library left by medialib 0.1")
struct VersionOneLibraryTests {
    /// Copies Fixtures/catalogs/v1 into a sandbox and points its journal there, as if the
    /// operator's library had always lived in that folder.
    static func library() throws -> Sandbox {
        let box = try Sandbox(name: "v1")
        let source = Paths.fixture("catalogs/v1")
        let fm = FileManager.default
        for entry in ["catalog.sqlite", "media", "trash"] {
            let target = box.path(entry)
            if fm.fileExists(atPath: target) { try fm.removeItem(atPath: target) }
            try fm.copyItem(atPath: source + "/" + entry, toPath: target)
        }
        let journal = try String(contentsOfFile: source + "/journal.jsonl", encoding: .utf8)
        try journal.replacingOccurrences(of: "/tmp/medialib-v1-fixture", with: box.path)
            .write(toFile: box.path("journal.jsonl"), atomically: true, encoding: .utf8)
        return box
    }

    @Test("its catalog lists, and its version 1 journal restores both records and files")
    func restoresVersionOneJournal() async throws {
        let box = try Self.library()
        defer { box.remove() }
        let globals = ["--db", box.path("catalog.sqlite"), "--media-root", box.media]
        let before = try await box.run(["list", "--format", "json"] + globals)
        #expect(before.status == 0, "\(before)")
        let listed = try #require(try before.json() as? [[String: Any]])
        #expect(listed.compactMap { $0["raw_file"] as? String }.sorted() == ["uploads/ok-faststart.mp4", "uploads/ok.webm"])

        let restore = try await box.run(["restore", box.path("journal.jsonl")] + globals)
        #expect(restore.status == 0, "\(restore)")
        #expect(restore.stdout.hasPrefix("Restored 2 records"), "\(restore.stdout)")
        let after = try await box.run(["list", "--format", "json"] + globals)
        let items = try #require(try after.json() as? [[String: Any]])
        let byID = Dictionary(items.compactMap { item in (item["id"] as? Int).map { ($0, item) } }, uniquingKeysWith: { a, _ in a })
        #expect(byID[3]?["raw_file"] as? String == "uploads/text.mp4")
        #expect(byID[3]?["uuid"] as? String == "bffc3e62-c594-49c7-958f-eb6910f62c92")
        #expect(byID[4]?["raw_file"] as? String == "uploads/three-frames.mp4")
        #expect(box.contents("media/uploads/three-frames.mp4") == FileManager.default.contents(atPath: Paths.fixture("three-frames.mp4")))
        #expect(box.exists("media/uploads/text.mp4"))
        #expect(!box.exists("trash/uploads/three-frames.mp4"))
        // The restored library is whole again: a second restore finds nothing to do.
        let again = try await box.run(["restore", box.path("journal.jsonl")] + globals)
        #expect(again.status == 0, "\(again)")
        #expect(again.stdout.contains("Nothing to restore"), "\(again.stdout)")
    }
}
