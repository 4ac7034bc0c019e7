// Regression tests for the smaller items of "Data loss, crashes and denial of service found
// when tried as a hostile operator would".

import Foundation
import Testing
import TestSupport
@testable import MediaCatalog
import MediaFiles
#if canImport(Glibc)
import Glibc
#endif

@Suite("hostile operator: the smaller ones")
struct HostileSmallTests {
    @Test("--db naming a FIFO: add, import and list refuse at once instead of hanging")
    func fifoCatalog() async throws {
        let box = try Sandbox(name: "fifo-db")
        defer { box.remove() }
        try box.place(["ok.webm"])
        #expect(mkfifo(box.db, 0o644) == 0)
        for args in [["add", box.media + "/ok.webm"], ["import", box.media], ["list"]] {
            let r = try await box.run(args + box.globals, timeout: 15)
            #expect(!r.timedOut && r.status == 3, "\(args): \(r)")
            #expect(r.stderr.contains("not a regular file"), "\(args): \(r)")
        }
    }

    @Test("--db in a folder that does not exist says so, not 'read-only'; restore /dev/null says what it is")
    func wrongPlaces() async throws {
        let box = try Sandbox(name: "wrong-places")
        defer { box.remove() }
        try box.place(["ok.webm"])
        let add = try await box.run(["add", box.media + "/ok.webm", "--db", box.path("nonexistent-dir/x.sqlite"), "--media-root", box.media])
        #expect(add.status == 3)
        #expect(add.stderr.contains("does not exist") && !add.stderr.contains("read-only"), "\(add)")
        try await box.library(["ok-faststart.mp4"])
        let restore = try await box.run(["restore", "/dev/null"] + box.globals)
        #expect(restore.status == 3)
        #expect(restore.stderr.contains("not a regular file"), "\(restore)")
    }

    @Test("a lock held by another process during apply: 'another process is writing', nothing deleted")
    func lockDuringApply() async throws {
        let box = try Sandbox(name: "apply-lock")
        defer { box.remove() }
        try await box.library(["ok-faststart.mp4", "ok.webm", "three-frames.mp4"])
        let before = try await box.listJSON()
        let c = try openConnection(box.db)
        try c.execute("BEGIN IMMEDIATE")
        let apply = try await box.run(["cleanup", "--apply", "--journal", box.path("j.jsonl")] + box.globals, timeout: 30)
        try c.execute("ROLLBACK")
        #expect(apply.status == 3, "\(apply)")
        #expect(apply.stderr.contains("another process is writing to the catalog"), "\(apply)")
        #expect(apply.stderr.contains("nothing was deleted"), "\(apply)")
        #expect(!apply.stderr.contains("SQLite error"))
        #expect(try await box.listJSON() == before)
    }

    @Test("a catalog on a read-only file system: read-only commands work, writing ones say why not")
    func readOnlyFileSystem() async throws {
        let box = try Sandbox(name: "rofs")
        defer { box.remove() }
        guard let preload = try compileHelper("readonly_fs.c", in: box) else {
            Issue.record("no C compiler to build the read-only file system helper")
            return
        }
        try FileManager.default.createDirectory(atPath: box.path("rofs"), withIntermediateDirectories: true)
        try box.place(["ok-faststart.mp4", "ok.webm"])
        let db = box.path("rofs/cat.sqlite")
        let globals = ["--db", db, "--media-root", box.media]
        #expect(try await box.run(["import", box.media] + globals).status == 0)
        // A WAL catalog whose -shm cannot be created: SQLite alone cannot even read it.
        try? FileManager.default.removeItem(atPath: db + "-shm")
        try? FileManager.default.removeItem(atPath: db + "-wal")
        let ro = ["LD_PRELOAD": preload]
        let list = try await box.run(["list"] + globals, environment: ro)
        #expect(list.status == 0, "\(list)")
        #expect(list.lines.count == 2)
        let verify = try await box.run(["verify"] + globals, environment: ro)
        #expect(verify.status == 0, "\(verify)")
        let dry = try await box.run(["cleanup"] + globals, environment: ro)
        #expect(dry.status == 0, "\(dry)")
        try box.place(["hevc.mp4"])
        let add = try await box.run(["add", box.media + "/hevc.mp4"] + globals, environment: ro)
        #expect(add.status == 3)
        #expect(add.stderr.contains("read-only") || add.stderr.contains("not writable"), "\(add)")
    }

    @Test("verify while another process holds the write lock: it verifies, does not cache, and says so")
    func verifyUnderLock() async throws {
        let box = try Sandbox(name: "verify-lock")
        defer { box.remove() }
        try await box.library(["ok-faststart.mp4", "ok.webm"])
        let c = try openConnection(box.db)
        try c.execute("BEGIN IMMEDIATE")
        let verify = try await box.run(["verify"] + box.globals, timeout: 30)
        try c.execute("ROLLBACK")
        #expect(verify.status == 0, "\(verify)")
        #expect(verify.seconds < 20, "took \(verify.seconds) s (a loaded clean-clone run needed 8.9)")
        #expect(verify.stderr.contains("could not be cached"), "\(verify)")
        let again = try await box.run(["verify", "--format", "jsonl"] + box.globals)
        #expect(again.stdout.contains("\"probed\":2"), "nothing was cached: \(again)")
    }

    @Test("a failed write of the output is an error: list, cleanup and verify to /dev/full exit 3")
    func fullDisk() async throws {
        let box = try Sandbox(name: "dev-full")
        defer { box.remove() }
        try await box.library(["ok-faststart.mp4", "ok.webm"])
        for args in [["list"], ["cleanup"], ["verify"], ["list", "--format", "json"]] {
            let r = try await box.run(args + box.globals, stdout: "/dev/full")
            #expect(r.status == 3, "\(args): \(r)")
            #expect(r.stderr.contains("cannot write the output"), "\(args): \(r)")
        }
    }

    @Test("add resolves `lnk/../x` as the kernel does, and registers the file it names")
    func symlinkDotDot() async throws {
        let box = try Sandbox(name: "lnk")
        defer { box.remove() }
        try box.place(["ok.webm"], under: "uploads")
        try box.place(["ok-faststart.mp4"], under: "deep/uploads")
        try FileManager.default.createDirectory(atPath: box.media + "/deep/x", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: box.media + "/lnk", withDestinationPath: box.media + "/deep/x")
        // Textually media/uploads/ok.webm; for the kernel media/deep/uploads/ok.webm... which is not there:
        let add = try await box.run(["add", box.media + "/lnk/../uploads/ok.webm"] + box.globals)
        #expect(add.status == 2, "\(add)")
        #expect(add.stderr.contains("no such file"))
        let real = try await box.run(["add", box.media + "/lnk/../uploads/ok-faststart.mp4"] + box.globals)
        #expect(real.status == 0, "\(real)")
        #expect(try await box.listed()["deep/uploads/ok-faststart.mp4"] != nil)
    }

    @Test("--via with a port out of range is a usage error", arguments: ["http://127.0.0.1:99999", "http://127.0.0.1:0", "http://:80", "ftp://x", "http://a b"])
    func badViaURL(_ url: String) async throws {
        let box = try Sandbox(name: "via-url")
        defer { box.remove() }
        try await box.library(["ok.webm"])
        let r = try await box.run(["verify", "--via", url] + box.globals)
        #expect(r.status == 2, "\(r)")
    }

    @Test("20 frames that last no time: a zero_duration warning, which --strict fails")
    func zeroDuration() async throws {
        let box = try Sandbox(name: "zero-duration")
        defer { box.remove() }
        try await box.library(["zero-duration.mp4"])
        let plain = try await box.run(["verify"] + box.globals)
        #expect(plain.status == 0, "a warning: \(plain)")
        #expect(plain.stdout.contains("zero_duration"))
        let strict = try await box.run(["verify", "--strict"] + box.globals)
        #expect(strict.status == 1, "\(strict)")
    }

    @Test("newlines and tabs in file names are escaped in text output, never split a line")
    func controlCharacters() async throws {
        let box = try Sandbox(name: "control")
        defer { box.remove() }
        try box.scratch.place("three-frames.mp4", at: "two\nlines\t.mp4")
        try box.scratch.place("ok.webm", at: "ok.webm")
        #expect(try await box.run(["import", box.media] + box.globals).status == 0)
        let list = try await box.run(["list"] + box.globals)
        #expect(list.lines.count == 2, "\(list)")
        #expect(list.stdout.contains("raw=two\\nlines\\t.mp4"))
        let dry = try await box.run(["cleanup"] + box.globals)
        #expect(dry.lines.allSatisfy { $0.hasPrefix("valid") || $0.hasPrefix("invalid") || $0.hasPrefix("Total") || $0.hasPrefix("Would") || $0.hasPrefix("  #") || $0.hasPrefix("Dry run") }, "\(dry)")
        #expect(dry.stdout.contains("two\\nlines\\t.mp4"))
        let verify = try await box.run(["verify"] + box.globals)
        #expect(verify.stdout.contains("raw two\\nlines\\t.mp4: too_few_frames"), "\(verify)")
    }

    @Test("cleanup --format json streams: memory stays flat in the record count; restore summarises its ids")
    func streamingAndSummaries() async throws {
        let box = try Sandbox(name: "stream")
        defer { box.remove() }
        try await box.library(["ok-faststart.mp4"])
        func addMissing(_ range: Range<Int>) throws {
            let c = try openConnection(box.db)
            try c.transaction(immediate: true) {
                let s = try c.prepare("INSERT INTO videos (uuid, raw_file, created_at) VALUES (?, ?, 'x')")
                for i in range {
                    s.reset()
                    try s.bind([.text(String(format: "00000000-0000-4000-8000-%012d", i)), .text("missing/\(i).mp4")])
                    while try s.step() {}
                }
            }
        }
        try addMissing(0..<2_000)
        let small = try await box.run(["cleanup", "--format", "json"] + box.globals, timeout: 120)
        try addMissing(2_000..<24_000)
        let large = try await box.run(["cleanup", "--format", "json"] + box.globals, timeout: 120)
        #expect(large.status == 1)
        let doc = try #require(try large.json() as? [String: Any])
        #expect((doc["records"] as? [Any])?.count == 24_001)
        // Twelve times the records, (nearly) the same memory: 0.1.0 grew by ~4 KB a record.
        #expect(large.peakRSSKilobytes - small.peakRSSKilobytes < 15_000,
                "peak \(small.peakRSSKilobytes) KiB for 2,001 records, \(large.peakRSSKilobytes) KiB for 24,001")
        let apply = try await box.run(["cleanup", "--apply", "--force", "--journal", box.path("j.jsonl")] + box.globals, timeout: 120)
        #expect(apply.status == 0)
        let restore = try await box.run(["restore", box.path("j.jsonl")] + box.globals, timeout: 120)
        #expect(restore.status == 0, "\(restore)")
        #expect(restore.stdout.utf8.count < 400, "\(restore.stdout.utf8.count) bytes")
        #expect(restore.stdout.contains("and 23980 more"), "\(restore.stdout)")
    }

    @Test("a trash under the media root: cleanup warns, a later import skips it, and the journal still restores")
    func trashUnderRoot() async throws {
        let box = try Sandbox(name: "trash-inside")
        defer { box.remove() }
        try await box.library(["ok-faststart.mp4", "ok.webm", "three-frames.mp4"])
        let apply = try await box.run(["cleanup", "--apply", "--trash", box.media + "/.trash", "--journal", box.path("j.jsonl")] + box.globals)
        #expect(apply.status == 0, "\(apply)")
        #expect(apply.stderr.contains("lies under the media root"), "\(apply)")
        let imported = try await box.run(["import", box.media] + box.globals)
        #expect(imported.lines == ["Imported 0 new, skipped 2 already known."], "\(imported)")
        let restore = try await box.run(["restore", box.path("j.jsonl")] + box.globals)
        #expect(restore.status == 0, "\(restore)")
    }
}

/// Builds a C helper of Resources/ with the system compiler; nil where there is none.
func compileHelper(_ source: String, in box: Sandbox) throws -> String? {
    let path = Paths.packageRoot.path + "/Tests/EndToEndTests/Resources/" + source
    let output = box.path(source.replacingOccurrences(of: ".c", with: ".so"))
    for cc in ["/usr/bin/cc", "/usr/bin/gcc", "/usr/bin/clang"] where FileManager.default.isExecutableFile(atPath: cc) {
        if (try? runTool(cc, ["-shared", "-fPIC", "-O1", "-o", output, path, "-ldl"])) == 0 { return output }
    }
    return nil
}
