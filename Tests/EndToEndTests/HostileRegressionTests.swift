// Regression tests for "Data loss, crashes and denial of service found when tried as a hostile
// operator would": each item of that issue, tried the way it was found, through the CLI.

import Foundation
import Testing
import TestSupport
@testable import MediaCatalog
import MediaFiles
#if canImport(Glibc)
import Glibc
#endif

@Suite("hostile operator: data loss")
struct DataLossRegressionTests {
    /// Item 1: `cleanup --apply --min-frames 100000 --trash t` on a 15-record library deleted all 15.
    @Test("an apply that would delete more than half the records refuses, naming the count and --force")
    func massDeletion() async throws {
        let box = try Sandbox(name: "mass")
        defer { box.remove() }
        for i in 0..<15 { try box.scratch.place(i % 2 == 0 ? "ok-faststart.mp4" : "ok.webm", at: "v\(i).\(i % 2 == 0 ? "mp4" : "webm")") }
        #expect(try await box.run(["import", box.media] + box.globals).status == 0)
        let before = try await box.listJSON()
        let refused = try await box.run(["cleanup", "--apply", "--min-frames", "100000", "--trash", box.path("t")] + box.globals)
        #expect(refused.status == 3, "\(refused)")
        #expect(refused.stderr.contains("15 of 15"))
        #expect(refused.stderr.contains("--force"))
        #expect(try await box.listJSON() == before)
        #expect(!box.exists("t/v0.mp4"))
        // --max-delete sets the limit explicitly: a count or a share.
        let counted = try await box.run(["cleanup", "--apply", "--min-frames", "100000", "--max-delete", "14"] + box.globals)
        #expect(counted.status == 3)
        #expect(counted.stderr.contains("--max-delete 14"))
        let forced = try await box.run(["cleanup", "--apply", "--min-frames", "100000", "--force", "--journal", box.path("j.jsonl")] + box.globals)
        #expect(forced.status == 0, "\(forced)")
        #expect(try await box.listed().isEmpty)
    }

    /// Item 1, the other way round: zero-filled files after a failed copy are not media.
    @Test("zero-filled files count too: not media, whatever the reason, the limit holds")
    func zeroFilled() async throws {
        let box = try Sandbox(name: "zeros")
        defer { box.remove() }
        try box.scratch.place("ok-faststart.mp4", at: "good.mp4")
        for i in 0..<3 { try box.scratch.write([UInt8](repeating: 0, count: 4096), at: "zero\(i).mp4") }
        #expect(try await box.run(["import", box.media] + box.globals).status == 0)
        let before = try await box.listJSON()
        let refused = try await box.run(["cleanup", "--apply"] + box.globals)
        #expect(refused.status == 3, "\(refused)")
        #expect(try await box.listJSON() == before)
    }

    /// Item 2: a file still being written was judged too short and moved into the trash.
    @Test("a file being uploaded is kept (recently_modified), and its writer finishes it in place")
    func uploadInProgress() async throws {
        let box = try Sandbox(name: "upload")
        defer { box.remove() }
        try box.scratch.place("ok-faststart.mp4", at: "keep.mp4")
        try box.scratch.place("ok.webm", at: "keep.webm")
        let upload = box.media + "/upload.mp4"
        #expect(FileManager.default.createFile(atPath: upload, contents: Data()))
        #expect(try await box.run(["add", upload] + box.globals).status == 0)
        let bytes = try Repository.fixtureBytes("ok-faststart.mp4")
        let writer = Thread {
            guard let h = FileHandle(forWritingAtPath: upload) else { return }
            for start in stride(from: 0, to: bytes.count, by: 500) {
                h.write(Data(bytes[start..<min(start + 500, bytes.count)]))
                Thread.sleep(forTimeInterval: 0.3)
            }
            try? h.close()
        }
        writer.start()
        try await Task.sleep(for: .milliseconds(700))
        let apply = try await box.run(["cleanup", "--apply", "--trash", box.path("t"), "--journal", box.path("j.jsonl")] + box.globals)
        #expect(apply.status == 0, "\(apply)")
        #expect(apply.stdout.contains("recently_modified"), "\(apply)")
        #expect(apply.stdout.contains("Nothing to delete."))
        #expect(!box.exists("t/upload.mp4"))
        #expect(try await box.listed()["upload.mp4"] != nil)
        try await Task.sleep(for: .seconds(3.5))
        #expect(box.contents("media/upload.mp4") == Data(bytes), "the writer finished the file where it was")
    }

    /// Item 3: the same file under two spellings: cleanup of one trashed the other's file.
    @Test("still used by another record means the same file (device and inode), whatever the spelling")
    func sameFileTwoSpellings() async throws {
        let box = try Sandbox(name: "spellings")
        defer { box.remove() }
        try box.scratch.place("ok.webm", at: "a.webm")
        try box.scratch.place("ok-faststart.mp4", at: "b.mp4")
        try box.scratch.place("ok-faststart.mp4", at: "uploads/shared.mp4")
        #expect(try await box.run(["add", box.media + "/uploads/shared.mp4"] + box.globals).status == 0)
        // add refuses the same file spelled another way ...
        let twice = try await box.run(["add", box.media + "/uploads/../uploads/shared.mp4"] + box.globals)
        #expect(twice.status == 3, "\(twice)")
        #expect(twice.stderr.contains("already registered as record 1"))
        // ... but another program may write it anyway: record 2 names it by its absolute path,
        // record 3 names it and a missing raw file, so cleanup deletes record 3.
        try sql(box.db, "INSERT INTO videos (uuid, raw_file, created_at) VALUES ('00000000-0000-4000-8000-000000000002', ?, 'x')", [.text(box.media + "/uploads/shared.mp4")])
        try sql(box.db, "INSERT INTO videos (uuid, raw_file, processed_file, created_at) VALUES ('00000000-0000-4000-8000-000000000003', 'gone.mp4', './uploads//shared.mp4', 'x')")
        _ = try await box.run(["add", box.media + "/a.webm"] + box.globals)
        _ = try await box.run(["add", box.media + "/b.mp4"] + box.globals)
        let apply = try await box.run(["cleanup", "--apply", "--trash", box.path("t"), "--journal", box.path("j.jsonl")] + box.globals)
        #expect(apply.status == 0, "\(apply)")
        #expect(apply.stdout.contains("Deleted 1 record."))
        #expect(apply.stdout.contains("still uses it"), "\(apply)")
        #expect(box.exists("media/uploads/shared.mp4"))
        #expect(!box.exists("t/uploads/shared.mp4"))
        let verify = try await box.run(["verify", "--format", "jsonl"] + box.globals)
        #expect(!verify.stdout.contains("missing_file"), "\(verify)")
    }

    /// Item 3: import refuses a file already registered under another spelling, and says so.
    @Test("import names a file it skips because it is registered under another spelling")
    func importSameFile() async throws {
        let box = try Sandbox(name: "import-spelling")
        defer { box.remove() }
        try box.scratch.place("ok.webm", at: "x.webm")
        #expect(try await box.run(["add", box.media + "/x.webm"] + box.globals).status == 0)
        // A hard link: another name, the same file.
        #expect(link(box.media + "/x.webm", box.media + "/y.webm") == 0)
        try FileManager.default.createDirectory(atPath: box.media + "/odd.mp4", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: box.media + "/dangling.mp4", withDestinationPath: "nowhere.mp4")
        let imported = try await box.run(["import", box.media] + box.globals)
        #expect(imported.status == 0, "\(imported)")
        #expect(imported.lines.contains("skipped y.webm: the same file is already registered as record 1 (x.webm)"), "\(imported)")
        #expect(imported.lines.contains("skipped dangling.mp4: a dangling symlink"), "\(imported)")
        #expect(imported.lines.last == "Imported 0 new, skipped 1 already known, 2 skipped (named above).")
        #expect(try await box.listed().count == 1)
    }

    /// Item 4: a name that is not UTF-8 was skipped by import, judged missing, journaled as U+FFFD.
    @Test("a file name that is not UTF-8: imported, judged on its real file, journaled and restored to the byte")
    func nonUTF8Names() async throws {
        let box = try Sandbox(name: "bytes")
        defer { box.remove() }
        try box.scratch.place("ok-faststart.mp4", at: "keep1.mp4")
        try box.scratch.place("ok.webm", at: "keep2.webm")
        try box.scratch.place("ok-faststart.mp4", at: "keep3.mp4")
        let name: [UInt8] = Array("caf".utf8) + [0xE9] + Array(".mp4".utf8)
        let short: [UInt8] = Array("short".utf8) + [0xFF] + Array(".mp4".utf8)
        for (n, fixture) in [(name, "ok-faststart.mp4"), (short, "three-frames.mp4")] {
            let path = Array(box.media.utf8) + [0x2F] + n
            let data = try Repository.fixtureBytes(fixture)
            let fd = RawPath(bytes: path).withCString { open($0, O_WRONLY | O_CREAT | O_EXCL, 0o644) } ?? -1
            try #require(fd >= 0)
            _ = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
            _ = RawPath(bytes: path).withCString { p in
                var t = [timespec(tv_sec: 1_600_000_000, tv_nsec: 0), timespec(tv_sec: 1_600_000_000, tv_nsec: 0)]
                return utimensat(AT_FDCWD, p, &t, 0)
            }
        }
        let imported = try await box.run(["import", box.media] + box.globals)
        #expect(imported.status == 0, "\(imported)")
        #expect(imported.stdout.contains("added #"))
        #expect(imported.stdout.contains("caf\\xE9.mp4"), "shown escaped: \(imported.stdout)")
        #expect(imported.stdout.contains("Imported 5 new"))
        let dry = try await box.run(["cleanup"] + box.globals)
        #expect(dry.stdout.contains("raw caf\\xE9.mp4") == false, "a valid record shows frames, not a reason")
        #expect(!dry.stdout.contains("missing_file"), "\(dry)")
        #expect(dry.stdout.contains("too_few_frames: raw short\\xFF.mp4"), "\(dry)")
        let rowsBefore = try box.rows()
        let apply = try await box.run(["cleanup", "--apply", "--trash", box.path("t"), "--journal", box.path("j.jsonl")] + box.globals)
        #expect(apply.status == 0, "\(apply)")
        let trashed = Array(box.path("t").utf8) + [0x2F] + short
        #expect(FileSystem.occupied(RawPath(bytes: trashed)), "moved under its exact name")
        let journal = try String(contentsOfFile: box.path("j.jsonl"), encoding: .utf8)
        #expect(!journal.contains("\u{FFFD}"), "no replacement character: the bytes are kept")
        #expect(journal.contains("base64"))
        let restore = try await box.run(["restore", box.path("j.jsonl")] + box.globals)
        #expect(restore.status == 0, "\(restore)")
        #expect(try box.rows() == rowsBefore, "restored to the byte")
        #expect(FileSystem.occupied(RawPath(bytes: Array(box.media.utf8) + [0x2F] + short)))
        let list = try await box.run(["list"] + box.globals)
        #expect(list.stdout.contains("raw=caf\\xE9.mp4"))
        let json = try await box.run(["list", "--format", "json"] + box.globals)
        let items = try #require(try json.json() as? [[String: Any]])
        let cafe = try #require(items.first { ($0["raw_file"] as? String) == "caf\\xE9.mp4" })
        #expect(cafe["raw_file_base64"] as? String == Data(name).base64EncodedString())
    }

    /// Item 5: the trash was checked only after the records were deleted.
    @Test("the trash is created and probed before anything is deleted", arguments: ["under a regular file", "immutable", "too small"])
    func trashCheckedFirst(_ kind: String) async throws {
        let box = try Sandbox(name: "trash-first")
        defer { box.remove() }
        try await box.library(["ok-faststart.mp4", "ok.webm", "hevc.mp4", "three-frames.mp4", "text.mp4"])
        var trash = box.path("t")
        switch kind {
        case "under a regular file":
            try Data("a file".utf8).write(to: URL(fileURLWithPath: box.path("plain")))
            trash = box.path("plain/t")
        case "immutable":
            try FileManager.default.createDirectory(atPath: trash, withIntermediateDirectories: true)
            guard (try? runTool("/usr/bin/chattr", ["+i", trash])) == 0 else {
                Issue.record("chattr +i is not available here")
                return
            }
        default:
            // A 30 GB sparse file on a disk of its own, and a trash on tmpfs that cannot hold it.
            guard let shm = sharedMemoryFolder() else {
                Issue.record("no tmpfs on another device to put the trash on")
                return
            }
            let fd = open(box.media + "/huge.mp4", O_WRONLY | O_CREAT | O_EXCL, 0o644)
            try #require(fd >= 0 && ftruncate(fd, 30 << 30) == 0)
            close(fd)
            backdate(box.media + "/huge.mp4")
            #expect(try await box.run(["import", box.media] + box.globals).status == 0)
            trash = shm + "/medialib-trash-\(UUID().uuidString)"
        }
        defer {
            if kind == "immutable" { _ = try? runTool("/usr/bin/chattr", ["-i", trash]) }
            if kind == "too small" { try? FileManager.default.removeItem(atPath: trash) }
        }
        let before = try await box.listJSON()
        let apply = try await box.run(["cleanup", "--apply", "--max-delete", "100%", "--trash", trash, "--journal", box.path("j.jsonl")] + box.globals)
        #expect(apply.status == 3, "\(apply)")
        #expect(apply.stderr.contains("nothing was deleted"), "\(apply)")
        #expect(try await box.listJSON() == before)
        #expect(!box.exists("j.jsonl"))
    }

    /// Item 6: a move across file systems lost mode, owner and mtime.
    @Test("a move across file systems keeps mode, owner, group and times, and says it copied")
    func crossDeviceKeepsAttributes() async throws {
        guard let shm = sharedMemoryFolder() else {
            Issue.record("no tmpfs on another device to put the trash on")
            return
        }
        let box = try Sandbox(name: "cross-device")
        defer { box.remove() }
        try await box.library(["ok-faststart.mp4", "ok.webm", "three-frames.mp4"])
        let file = box.media + "/three-frames.mp4"
        #expect(chmod(file, 0o600) == 0)
        #expect(chown(file, 65534, 65534) == 0)
        var t = [timespec(tv_sec: 1_500_000_000, tv_nsec: 123_456_789), timespec(tv_sec: 1_500_000_000, tv_nsec: 987_654_321)]
        #expect(utimensat(AT_FDCWD, file, &t, 0) == 0)
        let trash = shm + "/medialib-trash-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: trash) }
        let apply = try await box.run(["cleanup", "--apply", "--trash", trash, "--journal", box.path("j.jsonl")] + box.globals)
        #expect(apply.status == 0, "\(apply)")
        #expect(apply.stdout.contains("Copied \(file) -> \(trash)/three-frames.mp4"), "\(apply)")
        var st = stat()
        try #require(stat(trash + "/three-frames.mp4", &st) == 0)
        #expect(st.st_mode & 0o7777 == 0o600)
        #expect(st.st_uid == 65534 && st.st_gid == 65534)
        #expect(st.st_mtim.tv_sec == 1_500_000_000 && st.st_mtim.tv_nsec == 987_654_321)
        #expect(!FileManager.default.fileExists(atPath: file))
        // And restore copies it back the same way, to the very bytes and attributes.
        let restore = try await box.run(["restore", box.path("j.jsonl")] + box.globals)
        #expect(restore.status == 0, "\(restore)")
        try #require(stat(file, &st) == 0)
        #expect(st.st_mode & 0o7777 == 0o600 && st.st_uid == 65534)
        #expect(box.contents("media/three-frames.mp4") == FileManager.default.contents(atPath: Paths.fixture("three-frames.mp4")))
    }

    /// Item 6: a row naming `../../victim/shadow` moved that file into the trash.
    @Test("a file outside the media root is never moved by cleanup: reported and left alone")
    func outsideRootNeverMoved() async throws {
        let box = try Sandbox(name: "outside")
        defer { box.remove() }
        try await box.library(["ok-faststart.mp4", "ok.webm", "hevc.mp4"])
        try FileManager.default.createDirectory(atPath: box.path("victim"), withIntermediateDirectories: true)
        try Data("root:x:0:0".utf8).write(to: URL(fileURLWithPath: box.path("victim/shadow")))
        try sql(box.db, "INSERT INTO videos (uuid, raw_file, created_at) VALUES ('00000000-0000-4000-8000-0000000000aa', '../victim/shadow', 'x')")
        let apply = try await box.run(["cleanup", "--apply", "--trash", box.path("t"), "--journal", box.path("j.jsonl")] + box.globals)
        #expect(apply.status == 0, "\(apply)")
        #expect(apply.stdout.contains("outside_media_root"), "\(apply)")
        #expect(apply.stdout.contains("Kept \(box.path("victim/shadow")): it lies outside the media root"), "\(apply)")
        #expect(box.contents("victim/shadow") == Data("root:x:0:0".utf8))
        #expect(!box.exists("t/_outside"))
    }

    /// Item 7: SIGKILL between linking into the trash and unlinking the original left a journal
    /// restore refused ("exists again and is still in the trash").
    @Test("a crash between link and unlink: restore finishes the move's undo and restores the rows")
    func crashAfterLink() async throws {
        let box = try Sandbox(name: "after-link")
        defer { box.remove() }
        try await box.library(["ok-faststart.mp4", "ok.webm", "three-frames.mp4", "text.mp4"])
        let before = try await box.listJSON()
        let apply = try await box.run(["cleanup", "--apply", "--trash", box.path("t"), "--journal", box.path("j.jsonl")] + box.globals,
                                      environment: ["MEDIALIB_FAULT": "after-link@2"])
        #expect(apply.signaled && apply.status == SIGKILL, "\(apply)")
        // The second file is in both places (one inode, two names).
        let restore = try await box.run(["restore", box.path("j.jsonl")] + box.globals)
        #expect(restore.status == 0, "\(restore)")
        #expect(try await box.listJSON() == before)
        for f in ["three-frames.mp4", "text.mp4"] {
            #expect(box.exists("media/" + f))
            #expect(!box.exists("t/" + f))
        }
    }

    /// Item 8: restore moved whatever a hand-edited journal named.
    @Test("restore moves a file only if it is the very file cleanup moved, only to its row's path", arguments: ["any file", "another trash"])
    func editedJournal(_ edit: String) async throws {
        let box = try Sandbox(name: "edited")
        defer { box.remove() }
        try await box.library(["ok-faststart.mp4", "ok.webm", "three-frames.mp4"])
        let apply = try await box.run(["cleanup", "--apply", "--trash", box.path("t"), "--journal", box.path("j.jsonl")] + box.globals)
        #expect(apply.status == 0, "\(apply)")
        try FileManager.default.createDirectory(atPath: box.path("other"), withIntermediateDirectories: true)
        try Data("precious".utf8).write(to: URL(fileURLWithPath: box.path("other/precious.txt")))
        try FileManager.default.createDirectory(atPath: box.path("t2"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Paths.fixture("three-frames.mp4"), toPath: box.path("t2/three-frames.mp4"))
        var text = try String(contentsOfFile: box.path("j.jsonl"), encoding: .utf8)
        switch edit {
        case "any file":
            text = text.replacingOccurrences(of: "\"to\":\"\(box.path("t"))/three-frames.mp4\"", with: "\"to\":\"\(box.path("other/precious.txt"))\"")
                .replacingOccurrences(of: "\"from\":\"\(box.media)/three-frames.mp4\"", with: "\"from\":\"\(box.path("elsewhere.txt"))\"")
        default:
            text = text.replacingOccurrences(of: box.path("t") + "/", with: box.path("t2") + "/")
                .replacingOccurrences(of: "\"trash\":\"\(box.path("t"))\"", with: "\"trash\":\"\(box.path("t2"))\"")
        }
        try text.write(toFile: box.path("j.jsonl"), atomically: true, encoding: .utf8)
        let after = try await box.listJSON()
        let restore = try await box.run(["restore", box.path("j.jsonl")] + box.globals)
        #expect(restore.status == 3, "\(restore)")
        #expect(restore.stderr.contains("nothing was changed"))
        #expect(try await box.listJSON() == after)
        #expect(box.contents("other/precious.txt") == Data("precious".utf8))
        #expect(!box.exists("elsewhere.txt"))
        #expect(box.exists("t2/three-frames.mp4") && box.exists("t/three-frames.mp4"))
        #expect(!box.exists("media/three-frames.mp4"))
    }
}

/// A folder on tmpfs, on another device than the test's folders; nil when there is none.
func sharedMemoryFolder() -> String? {
    var a = stat(), b = stat()
    guard stat("/dev/shm", &a) == 0, stat(FileManager.default.temporaryDirectory.path, &b) == 0, a.st_dev != b.st_dev,
          access("/dev/shm", W_OK) == 0 else { return nil }
    return "/dev/shm"
}

/// Runs a tool and returns its exit status.
@discardableResult
func runTool(_ tool: String, _ arguments: [String]) throws -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: tool)
    p.arguments = arguments
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
    return p.terminationStatus
}
