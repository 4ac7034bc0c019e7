// cleanup --apply and restore killed (SIGKILL) at every fault point the jobs pass, one run
// per point and occurrence, each on a fresh copy of the same library. After each: the
// catalog is exactly as before or exactly as after; a committed deletion has a journal that
// restores it to the byte; every file is in place or in the trash, none lost.

import Foundation
import Testing
import TestSupport
@testable import MediaCatalog

struct CrashCase: CustomTestStringConvertible, Sendable {
    var fault: String
    /// Where the trash lives: "same" (link and unlink) or "other" (a tmpfs: copy, then unlink).
    var trash: String?
    var testDescription: String { "\(fault)\(trash.map { " (trash on \($0) file system)" } ?? " (no trash)")" }
}

/// Every point cleanup passes, each occurrence: 4 records go, 4 files move.
let cleanupCrashes: [CrashCase] =
    [CrashCase(fault: "journal-opened", trash: "same")]
    + (1...12).map { CrashCase(fault: "journal-write@\($0)", trash: "same") }
    + [CrashCase(fault: "before-commit", trash: "same"), CrashCase(fault: "after-commit", trash: "same")]
    + (1...4).map { CrashCase(fault: "after-link@\($0)", trash: "same") }
    + (1...4).map { CrashCase(fault: "after-move@\($0)", trash: "same") }
    + (1...4).map { CrashCase(fault: "after-copy@\($0)", trash: "other") }
    + (1...4).map { CrashCase(fault: "after-move@\($0)", trash: "other") }
    + (1...8).map { CrashCase(fault: "journal-write@\($0)", trash: nil) }
    + [CrashCase(fault: "before-commit", trash: nil), CrashCase(fault: "after-commit", trash: nil),
       CrashCase(fault: "journal-opened", trash: nil)]
    + (1...4).map { CrashCase(fault: "journal-write@\($0):abort", trash: "same") }

let restoreCrashes: [CrashCase] =
    (1...4).map { CrashCase(fault: "restore-after-move-back@\($0)", trash: "same") }
    + [CrashCase(fault: "restore-before-rows", trash: "same")]
    + (1...4).map { CrashCase(fault: "restore-after-move-back@\($0)", trash: "other") }
    + [CrashCase(fault: "restore-before-rows", trash: "other"), CrashCase(fault: "restore-before-rows", trash: nil)]

@Suite("crash consistency: killed mid-apply, mid-restore")
struct CrashConsistencyTests {
    static let keep = ["ok-faststart.mp4", "ok.webm"]
    static let doomed = ["three-frames.mp4", "text.mp4", "empty.mp4", "truncated.mp4"]

    /// The library, its rows before, and the trash folder to use.
    static func library(trash: String?) async throws -> (Sandbox, [CatalogRow], String?) {
        let box = try Sandbox(name: "crash")
        try await box.library(keep + doomed)
        let folder: String?
        switch trash {
        case "same"?: folder = box.path("trash")
        case "other"?:
            // /dev/shm is a tmpfs: moving there is a copy and an unlink.
            let shm = "/dev/shm/medialib-crash-\(UUID().uuidString)"
            folder = FileManager.default.isWritableFile(atPath: "/dev/shm") ? shm : box.path("trash")
        default: folder = nil
        }
        return (box, try box.rows(), folder)
    }

    static func apply(_ box: Sandbox, trash: String?, fault: String?) async throws -> CLIResult {
        var args = ["cleanup", "--apply", "--max-delete", "100%", "--journal", box.path("j.jsonl")] + box.globals
        if let trash { args += ["--trash", trash] }
        return try await box.run(args, environment: fault.map { ["MEDIALIB_FAULT": $0] } ?? [:])
    }

    /// Where each doomed file is: its bytes in the media root, in the trash, or both (one inode).
    static func checkFiles(_ box: Sandbox, trash: String?, allInPlace: Bool, _ label: String) {
        for name in keep { #expect(box.contents("media/" + name) == FileManager.default.contents(atPath: Paths.fixture(name)), "\(label): \(name)") }
        for name in doomed {
            let original = FileManager.default.contents(atPath: Paths.fixture(name))
            let inPlace = box.contents("media/" + name)
            let inTrash = trash.flatMap { FileManager.default.contents(atPath: $0 + "/" + name) }
            #expect(inPlace == original || inTrash == original, "\(label): \(name) is lost")
            if allInPlace { #expect(inPlace == original, "\(label): \(name) is not back in place") }
            for bytes in [inPlace, inTrash] { if let bytes { #expect(bytes == original, "\(label): \(name) changed") } }
        }
    }

    @Test("cleanup --apply killed: before or after, never between; a committed journal restores to the byte",
          arguments: cleanupCrashes)
    func killedApply(_ c: CrashCase) async throws {
        let (box, before, trash) = try await Self.library(trash: c.trash)
        defer { box.remove(); if let trash, trash.hasPrefix("/dev/shm/") { removeTestFolder(trash) } }
        let run = try await Self.apply(box, trash: trash, fault: c.fault)
        let killed = run.signaled
        #expect(killed || run.status == 0, "\(run)")
        let rows = try box.rows()
        let afterIDs = Set(before.compactMap { $0["id"]?.integer }).subtracting(
            before.filter { Self.doomed.contains(String(decoding: $0["raw_file"]?.bytes ?? [], as: UTF8.self)) }.compactMap { $0["id"]?.integer })
        let committed = rows != before
        if committed {
            #expect(Set(rows.compactMap { $0["id"]?.integer }) == afterIDs, "\(c.fault): a partial deletion")
            #expect(rows == before.filter { afterIDs.contains($0["id"]?.integer ?? -1) }, "\(c.fault): surviving rows changed")
        }
        Self.checkFiles(box, trash: trash, allInPlace: !committed, c.fault)
        // Whatever happened, restore brings everything back: rows to the byte, files in place.
        if FileManager.default.fileExists(atPath: box.path("j.jsonl")) {
            let restore = try await box.run(["restore", box.path("j.jsonl")] + box.globals)
            if committed {
                #expect(restore.status == 0, "\(c.fault): \(restore)")
            } else {
                // A journal cut before its end line: restore says there is nothing to do, or
                // refuses it as incomplete, saying nothing was deleted; it changes nothing.
                let refused = restore.status == 3 && restore.stderr.contains("nothing was deleted")
                let noop = restore.status == 0 && restore.stdout.contains("Nothing to restore")
                #expect(refused || noop, "\(c.fault): \(restore)")
            }
        } else {
            #expect(!committed, "\(c.fault): rows deleted with no journal")
        }
        #expect(try box.rows() == before, "\(c.fault): rows after restore")
        Self.checkFiles(box, trash: trash, allInPlace: true, c.fault + ", restored")
    }

    @Test("restore killed: running it again finishes the job exactly", arguments: restoreCrashes)
    func killedRestore(_ c: CrashCase) async throws {
        let (box, before, trash) = try await Self.library(trash: c.trash)
        defer { box.remove(); if let trash, trash.hasPrefix("/dev/shm/") { removeTestFolder(trash) } }
        let apply = try await Self.apply(box, trash: trash, fault: nil)
        #expect(apply.status == 0, "\(apply)")
        let run = try await box.run(["restore", box.path("j.jsonl")] + box.globals, environment: ["MEDIALIB_FAULT": c.fault])
        #expect(run.signaled || run.status == 0, "\(run)")
        let rows = try box.rows()
        #expect(rows == before || rows.count == before.count - Self.doomed.count, "\(c.fault): a partial restore of rows")
        Self.checkFiles(box, trash: trash, allInPlace: false, c.fault)
        let again = try await box.run(["restore", box.path("j.jsonl")] + box.globals)
        #expect(again.status == 0, "\(c.fault): \(again)")
        #expect(try box.rows() == before)
        Self.checkFiles(box, trash: trash, allInPlace: true, c.fault + ", restored again")
    }

    @Test("a full disk while the journal is written: nothing deleted, exit 3", arguments: [1, 2, 5])
    func fullDisk(_ nth: Int) async throws {
        let (box, before, trash) = try await Self.library(trash: "same")
        defer { box.remove() }
        let run = try await Self.apply(box, trash: trash, fault: "journal-write@\(nth):enospc")
        #expect(run.status == 3, "\(run)")
        #expect(run.stderr.contains("No space left on device"), "\(run.stderr)")
        #expect(try box.rows() == before)
        Self.checkFiles(box, trash: trash, allInPlace: true, "ENOSPC at line \(nth)")
    }
}
