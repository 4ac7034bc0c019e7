import Foundation
import Testing
import TestSupport

@Suite("guards on unreachable files, and where the media root comes from")
struct GuardAndRootTests {
    /// A dead mount reports EIO/ESTALE/ELOOP, not ENOENT: the guard must count those too.
    @Test("more than half the records unreadable (symlink loops): apply refuses, nothing deleted")
    func unreadableCountsForTheGuard() async throws {
        let box = try Sandbox(name: "guard-unreadable")
        defer { box.remove() }
        let records = try await box.library(["ok-faststart.mp4", "ok.webm", "hevc.mp4"])
        #expect(records.count == 3)
        for name in ["ok.webm", "hevc.mp4"] {
            try FileManager.default.removeItem(atPath: box.path("media/\(name)"))
            try FileManager.default.createSymbolicLink(atPath: box.path("media/\(name)"), withDestinationPath: name)
        }
        let before = try await box.listJSON()
        let dry = try await box.run(["cleanup", "--format", "json"] + box.globals)
        #expect(dry.status == 1)
        #expect(dry.stdout.contains("\"unreadable\""), "\(dry)")
        let apply = try await box.run(["cleanup", "--apply"] + box.globals)
        #expect(apply.status == 3, "\(apply)")
        #expect(apply.stderr.contains("--force"))
        #expect(try await box.listJSON() == before)
    }

    @Test("a first import with no root given makes the imported folder the root: paths are stored relative")
    func importRootDefault() async throws {
        let box = try Sandbox(name: "import-root")
        defer { box.remove() }
        try box.place(["ok-faststart.mp4"], under: "videos")
        // Run from the sandbox (not the media folder), with no --media-root and no environment.
        let imported = try await box.run(["import", box.path("media/videos"), "--db", box.db])
        #expect(imported.status == 0, "\(imported)")
        #expect(imported.stdout.contains("added #1 ok-faststart.mp4"), "\(imported.stdout)")
        let verify = try await box.run(["verify", "--db", box.db], cwd: "/")
        #expect(verify.status == 0, "the recorded root must resolve from any folder: \(verify)")
    }

    @Test("add warns when a file is outside the media root and will be stored absolute")
    func addOutsideRootWarns() async throws {
        let box = try Sandbox(name: "add-outside")
        defer { box.remove() }
        try box.place(["ok.webm"], under: "elsewhere")
        try FileManager.default.createDirectory(atPath: box.path("root"), withIntermediateDirectories: true)
        let add = try await box.run(["add", box.path("media/elsewhere/ok.webm"), "--db", box.db, "--media-root", box.path("root")])
        #expect(add.status == 0)
        #expect(add.stderr.contains("outside the media root"), "\(add)")
    }
}
