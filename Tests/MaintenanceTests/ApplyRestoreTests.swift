import Foundation
import Testing
import TestSupport
import MediaCatalog
import MediaFiles
import MediaProbe
@testable import Maintenance

/// A media folder and catalog built from the fixtures:
/// valid: keep/ok-faststart.mp4, ok.webm; invalid: sub/three-frames.mp4, text.mp4, gone.mp4 (no file).
struct CleanupLibrary {
    let s: Scratch
    let catalog: OpenCatalog
    let root: MediaRoot
    var records: [String: VideoRecord] = [:]

    init(_ s: Scratch) throws {
        self.s = s
        try s.place("ok-faststart.mp4", at: "keep/ok-faststart.mp4")
        try s.place("ok.webm", at: "ok.webm")
        try s.place("three-frames.mp4", at: "sub/three-frames.mp4")
        try s.place("text.mp4", at: "text.mp4")
        catalog = try s.catalog()
        root = MediaRoot(s.media)
        for name in ["keep/ok-faststart.mp4", "ok.webm", "sub/three-frames.mp4", "text.mp4", "gone.mp4"] {
            records[name] = try catalog.records.insert([NewRecord(rawFile: RawPath(name))])[0]
        }
    }

    var store: SQLiteRecordStore { catalog.records as! SQLiteRecordStore }
    func rows() throws -> [CatalogRow] { try store.allRows() }
    var trash: RawPath { RawPath(s.path("trash")) }

    func settings(minFrames: Int = 10, workers: Int = 3) -> InspectionSettings {
        var settings = InspectionSettings(mediaRoot: root, minFrames: minFrames, minAge: 300, jobs: workers)
        settings.batchSize = 2
        return settings
    }

    /// A cleanup: a dry run unless `apply`; any limit on how much it deletes is lifted unless given.
    @discardableResult
    func cleanup(apply: Bool = false, trash: RawPath? = nil, journal: String = "j.jsonl", maxDelete: DeleteLimit = .percent(100),
                 minFrames: Int = 10, faults: Faults = .none) throws -> (CleanupResult, [CleanupVerdict]) {
        var options = CleanupOptions()
        options.apply = apply
        options.trash = trash
        options.journal = RawPath(s.path(journal))
        options.maxDelete = maxDelete
        var verdicts: [CleanupVerdict] = []
        let result = try CleanupJob(catalog: catalog, settings: settings(minFrames: minFrames), options: options, faults: faults).run { event in
            if case .record(let v) = event { verdicts.append(v) }
        }
        return (result, verdicts)
    }

    func restore(_ journal: String = "j.jsonl") throws -> RestoreJob.Outcome {
        try RestoreJob(journal: try Journal.load(RawPath(s.path(journal))), records: catalog.records).run()
    }
}

@Suite("the inspection pipeline under cleanup")
struct InspectorTests {
    @Test("verdicts come in id order across batches", arguments: [1, 4])
    func verdictsInOrder(workers: Int) throws {
        let s = try Scratch()
        defer { s.remove() }
        let lib = try CleanupLibrary(s)
        var verdicts: [CleanupVerdict] = []
        try Inspector(records: lib.catalog.records, state: lib.catalog.state, settings: lib.settings(workers: workers)).run {
            verdicts.append(CleanupPolicy.judge($0))
        }
        #expect(verdicts.map(\.record.id) == lib.records.values.map(\.id).sorted())
        let byName = Dictionary(uniqueKeysWithValues: verdicts.map { ($0.record.files.first?.path.displayed ?? "", $0) })
        #expect(byName["keep/ok-faststart.mp4"]?.status == .valid)
        #expect(byName["keep/ok-faststart.mp4"]?.inspection.files.first?.facts?.frames == 60)
        #expect(byName["keep/ok-faststart.mp4"]?.inspection.files.first?.resolved == RawPath(s.inMedia("keep/ok-faststart.mp4")))
        #expect(byName["ok.webm"]?.inspection.files.first?.facts?.frames == 30)
        #expect(byName["sub/three-frames.mp4"]?.reasons.map(\.code) == [.tooFewFrames])
        #expect(byName["text.mp4"]?.reasons.map(\.code) == [.notMedia])
        #expect(byName["gone.mp4"]?.reasons.map(\.code) == [.missingFile])
    }

    @Test func minFramesIsHonoured() throws {
        let s = try Scratch()
        defer { s.remove() }
        let lib = try CleanupLibrary(s)
        let (_, lenient) = try lib.cleanup(minFrames: 3)
        #expect(lenient.first { $0.record.files.first?.path == "sub/three-frames.mp4" }?.status == .valid)
        let (_, strict) = try lib.cleanup(minFrames: 61)
        #expect(strict.filter { $0.status == .valid }.isEmpty)
    }

    @Test("a second dry run over an unchanged library opens no media file; --full probes them all again")
    func cleanupUsesTheCache() throws {
        let s = try Scratch()
        defer { s.remove() }
        let lib = try CleanupLibrary(s)
        let (first, _) = try lib.cleanup()
        #expect(first.stats.probed == 4, "the four files that exist")
        let (second, _) = try lib.cleanup()
        #expect(second.stats.probed == 0)
        #expect(second.stats.cached == 4)
        var settings = lib.settings()
        settings.full = true
        let full = try CleanupJob(catalog: lib.catalog, settings: settings, options: CleanupOptions()).run { _ in }
        #expect(full.stats.probed == 4)
    }
}

@Suite("cleanup apply and restore")
struct ApplyRestoreTests {
    @Test func applyWithTrashThenRestore() throws {
        let s = try Scratch()
        defer { s.remove() }
        let lib = try CleanupLibrary(s)
        let before = try lib.rows()
        let (result, verdicts) = try lib.cleanup(apply: true, trash: lib.trash, journal: "journals/one.jsonl")
        let doomed = verdicts.filter { $0.status == .invalid }.map(\.record.id)
        #expect(doomed.count == 3)
        #expect(result.deleted == 3)
        #expect(result.journal == RawPath(s.path("journals/one.jsonl")))
        let expectedMoves: Set<String> = ["sub/three-frames.mp4", "text.mp4"]
        #expect(Set(result.moved.map(\.from)) == Set(expectedMoves.map { RawPath(s.inMedia($0)) }))
        #expect(Set(result.moved.map(\.to)) == Set(expectedMoves.map { RawPath(s.path("trash/" + $0)) }))
        #expect(result.moved.allSatisfy { !$0.copied })
        // Files moved, keeping their relative paths; the valid ones untouched.
        #expect(!s.exists("media/sub/three-frames.mp4"))
        #expect(s.contents("trash/sub/three-frames.mp4") == FileManager.default.contents(atPath: Fixtures.path("three-frames.mp4")))
        #expect(s.contents("trash/text.mp4") == FileManager.default.contents(atPath: Fixtures.path("text.mp4")))
        #expect(!s.exists("trash/gone.mp4"))
        #expect(s.exists("media/keep/ok-faststart.mp4") && s.exists("media/ok.webm"))
        #expect(!s.exists("trash/keep") && !s.exists("trash/ok.webm"))
        // The catalog lost exactly the invalid rows.
        let survivors = before.filter { row in !doomed.contains(row["id"]?.integer ?? -1) }
        #expect(try lib.rows() == survivors)

        // The journal holds every deleted row, its reasons and its moves with the files' identities.
        let journal = try Journal.load(RawPath(s.path("journals/one.jsonl")))
        #expect(journal.header.records == 3)
        #expect(journal.header.mediaRoot == RawPath(s.media))
        #expect(journal.header.catalog == lib.catalog.records.identity)
        #expect(journal.header.trash == lib.trash)
        #expect(journal.header.minFrames == 10)
        #expect(journal.committed == true)
        let deletedRows = journal.changes.compactMap { c -> CatalogRow? in
            if case .deleted(_, _, let row, _) = c { return row }
            return nil
        }
        #expect(deletedRows == before.filter { !survivors.contains($0) })
        #expect(journal.reasons == Dictionary(uniqueKeysWithValues: verdicts.filter { $0.status == .invalid }.map {
            ($0.record.id, $0.reasons.map(\.code.rawValue))
        }))
        #expect(journal.moves.count == 2)
        #expect(journal.moves.allSatisfy { $0.file != nil && $0.column == "raw_file" })
        #expect(Set(journal.moved.map(\.to)) == Set(result.moved.map(\.to)))

        // Restore puts everything back.
        let restored = try lib.restore("journals/one.jsonl")
        #expect(restored.records.count == 3)
        #expect(restored.filesMovedBack == 2)
        #expect(try lib.rows() == before)
        #expect(s.contents("media/sub/three-frames.mp4") == FileManager.default.contents(atPath: Fixtures.path("three-frames.mp4")))
        #expect(s.exists("media/text.mp4"))
        #expect(!s.exists("trash/text.mp4") && !s.exists("trash/sub/three-frames.mp4"))

        // A second restore of the same journal finds everything in place: nothing to do.
        let again = try lib.restore("journals/one.jsonl")
        #expect(again.alreadyPresent)
        #expect(try lib.rows() == before)
        #expect(s.exists("media/text.mp4"))
    }

    @Test func applyWithoutTrashLeavesFilesAlone() throws {
        let s = try Scratch()
        defer { s.remove() }
        let lib = try CleanupLibrary(s)
        let (result, _) = try lib.cleanup(apply: true)
        #expect(result.deleted == 3)
        #expect(result.moved.isEmpty)
        #expect(s.exists("media/sub/three-frames.mp4") && s.exists("media/text.mp4"))
        #expect(try lib.catalog.records.count() == 2)
        let journal = try Journal.load(RawPath(s.path("j.jsonl")))
        #expect(journal.header.trash == nil)
        #expect(journal.moves.isEmpty)
        let back = try lib.restore()
        #expect(back.records.count == 3 && back.filesMovedBack == 0)
        #expect(try lib.catalog.records.count() == 5)
    }

    @Test func nothingInvalidDeletesNothing() throws {
        let s = try Scratch()
        defer { s.remove() }
        let lib = try CleanupLibrary(s)
        let before = try lib.rows()
        let (result, _) = try lib.cleanup(apply: true, trash: lib.trash, minFrames: 0)
        // With --min-frames 0 only the missing, empty and non-media files are invalid: 2 of 5.
        #expect(result.deleted == 2)
        #expect(!s.exists("trash/keep/ok-faststart.mp4"))
        _ = try lib.restore()
        #expect(try lib.rows() == before)
    }

    @Test("the default limit refuses to delete more than half the records, whatever the reason")
    func massGuard() throws {
        let s = try Scratch()
        defer { s.remove() }
        let lib = try CleanupLibrary(s)
        let before = try lib.rows()
        #expect(throws: MaintenanceError.self) { try lib.cleanup(apply: true, maxDelete: .default) }
        #expect(try lib.rows() == before)
        #expect(!s.exists("j.jsonl"))
    }

    @Test("a file already in the trash makes apply refuse before anything changes")
    func trashNeverOverwrites() throws {
        let s = try Scratch()
        defer { s.remove() }
        let lib = try CleanupLibrary(s)
        let before = try lib.rows()
        try FileManager.default.createDirectory(atPath: s.path("trash/sub"), withIntermediateDirectories: true)
        let precious = Data("an earlier cleanup's file".utf8)
        try precious.write(to: URL(fileURLWithPath: s.path("trash/sub/three-frames.mp4")))
        do {
            try lib.cleanup(apply: true, trash: lib.trash)
            Issue.record("apply overwrote the trash")
        } catch let error as MaintenanceError {
            guard case .refused(let message) = error else { Issue.record("expected refused, got \(error)"); return }
            #expect(message.contains(s.path("trash/sub/three-frames.mp4")))
        }
        #expect(try lib.rows() == before)
        #expect(!s.exists("j.jsonl"), "no journal for a refused apply")
        #expect(s.contents("trash/sub/three-frames.mp4") == precious)
        #expect(s.exists("media/sub/three-frames.mp4") && s.exists("media/text.mp4"))
        #expect(!s.exists("trash/text.mp4"))
    }

    @Test("a journal that cannot be written deletes and moves nothing")
    func journalFailure() throws {
        let s = try Scratch()
        defer { s.remove() }
        let lib = try CleanupLibrary(s)
        let before = try lib.rows()
        try Data("a file, not a folder".utf8).write(to: URL(fileURLWithPath: s.path("blocker")))
        #expect(throws: (any Error).self) { try lib.cleanup(apply: true, trash: lib.trash, journal: "blocker/j.jsonl") }
        #expect(try lib.rows() == before)
        #expect(s.exists("media/sub/three-frames.mp4") && s.exists("media/text.mp4"))
        #expect(!s.exists("trash/text.mp4"))
    }

    @Test("a full disk while the journal is written deletes nothing (an injected ENOSPC)")
    func journalENOSPC() throws {
        let s = try Scratch()
        defer { s.remove() }
        let lib = try CleanupLibrary(s)
        let before = try lib.rows()
        let count = Box(0)
        let faults = Faults { point in
            guard point == .journalWrite else { return }
            if count.withLock({ $0 += 1; return $0 }) == 3 { throw InjectedFault(point: point, errno: ENOSPC) }
        }
        #expect(throws: (any Error).self) { try lib.cleanup(apply: true, trash: lib.trash, faults: faults) }
        #expect(try lib.rows() == before)
        #expect(s.exists("media/sub/three-frames.mp4") && s.exists("media/text.mp4"))
    }

    @Test("a file another surviving record uses stays in place, even under another spelling")
    func sharedFileIsKept() throws {
        let s = try Scratch()
        defer { s.remove() }
        try s.place("ok-faststart.mp4", at: "shared.mp4")
        try s.place("ok.webm", at: "other.webm")
        let catalog = try s.catalog()
        let doomed = try catalog.records.insert([NewRecord(rawFile: "missing.mp4", processedFile: "shared.mp4")])[0]
        // The same file by its absolute path: a string comparison would call it another file.
        let survivor = try catalog.records.insert([NewRecord(rawFile: RawPath(s.inMedia("shared.mp4")))])[0]
        _ = try catalog.records.insert([NewRecord(rawFile: "other.webm")])
        var options = CleanupOptions()
        options.apply = true
        options.trash = RawPath(s.path("trash"))
        options.journal = RawPath(s.path("j.jsonl"))
        var kept: [RawPath] = []
        let result = try CleanupJob(catalog: catalog, settings: InspectionSettings(mediaRoot: MediaRoot(s.media), jobs: 2), options: options).run {
            if case .keptFile(let p, _) = $0 { kept.append(p) }
        }
        #expect(result.deleted == 1)
        #expect(result.moved.isEmpty)
        #expect(kept == [RawPath(s.inMedia("shared.mp4"))])
        #expect(s.exists("media/shared.mp4"))
        #expect(try catalog.records.record(id: doomed.id) == nil)
        #expect(try catalog.records.record(id: survivor.id)?.id == survivor.id)
    }

    @Test("a file outside the media root is never moved: reported and left alone")
    func outsideFiles() throws {
        let s = try Scratch()
        defer { s.remove() }
        try s.place("ok.webm", at: "keep.webm")
        try FileManager.default.createDirectory(atPath: s.path("elsewhere"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Fixtures.path("ok-faststart.mp4"), toPath: s.path("elsewhere/victim.mp4"))
        let catalog = try s.catalog()
        _ = try catalog.records.insert([NewRecord(rawFile: "keep.webm"), NewRecord(rawFile: "../elsewhere/victim.mp4")])
        var options = CleanupOptions()
        options.apply = true
        options.trash = RawPath(s.path("trash"))
        options.journal = RawPath(s.path("j.jsonl"))
        let result = try CleanupJob(catalog: catalog, settings: InspectionSettings(mediaRoot: MediaRoot(s.media), jobs: 1), options: options).run { _ in }
        #expect(result.deleted == 1, "the record naming a file outside the root is not usable by the app")
        #expect(result.moved.isEmpty)
        #expect(s.exists("elsewhere/victim.mp4"))
        #expect(!s.exists("trash/elsewhere") && !s.exists("trash/_outside"))
    }

    /// Applies a cleanup with a trash and returns the journal and the rows after it.
    func applied(_ s: Scratch) throws -> (CleanupLibrary, Journal, [CatalogRow]) {
        let lib = try CleanupLibrary(s)
        try lib.cleanup(apply: true, trash: lib.trash)
        return (lib, try Journal.load(RawPath(s.path("j.jsonl"))), try lib.rows())
    }

    @Test("restore refuses when a trashed file is missing, changing nothing")
    func restoreRefusesWhenTrashedFileMissing() throws {
        let s = try Scratch()
        defer { s.remove() }
        let (lib, journal, after) = try applied(s)
        try FileManager.default.removeItem(atPath: s.path("trash/text.mp4"))
        do {
            _ = try RestoreJob(journal: journal, records: lib.catalog.records).run()
            Issue.record("restored although a trashed file is gone")
        } catch let error as MaintenanceError {
            #expect(error.description.contains(s.path("trash/text.mp4")))
        }
        #expect(try lib.rows() == after)
        #expect(s.exists("trash/sub/three-frames.mp4"), "the other trashed file was not moved back")
        #expect(!s.exists("media/sub/three-frames.mp4"))
    }

    @Test("restore refuses when an original path exists again, changing nothing")
    func restoreRefusesWhenOriginalExists() throws {
        let s = try Scratch()
        defer { s.remove() }
        let (lib, journal, after) = try applied(s)
        let newcomer = Data("a new upload at the old path".utf8)
        try newcomer.write(to: URL(fileURLWithPath: s.path("media/text.mp4")))
        do {
            _ = try RestoreJob(journal: journal, records: lib.catalog.records).run()
            Issue.record("restored over a new file")
        } catch let error as MaintenanceError {
            #expect(error.description.contains(s.path("media/text.mp4")))
        }
        #expect(try lib.rows() == after)
        #expect(s.contents("media/text.mp4") == newcomer)
        #expect(s.exists("trash/text.mp4"))
        #expect(s.exists("trash/sub/three-frames.mp4") && !s.exists("media/sub/three-frames.mp4"))
    }

    @Test("restore refuses when a journaled uuid was taken, moving no file back")
    func restoreRefusesOnRowConflict() throws {
        let s = try Scratch()
        defer { s.remove() }
        let (lib, journal, _) = try applied(s)
        guard case .deleted(_, _, let row, _)? = journal.changes.first, let uuid = row["uuid"]?.string else {
            Issue.record("no deleted row in the journal")
            return
        }
        _ = try lib.catalog.records.insert([NewRecord(rawFile: "new.mp4", uuid: uuid)])
        let after = try lib.rows()
        #expect(throws: MaintenanceError.self) { try RestoreJob(journal: journal, records: lib.catalog.records).run() }
        #expect(try lib.rows() == after)
        #expect(s.exists("trash/text.mp4") && !s.exists("media/text.mp4"))
    }

    @Test("restore finishes a cleanup whose file moves never happened")
    func restoreWhenFilesWereNeverMoved() throws {
        let s = try Scratch()
        defer { s.remove() }
        let (lib, journal, _) = try applied(s)
        // Put the files back by hand (rename keeps the inode), as if the moves had not happened.
        for move in journal.moves { #expect(rename(s.path(move.to.displayed.replacingOccurrences(of: s.root + "/", with: "")), move.from.displayed) == 0) }
        let outcome = try RestoreJob(journal: journal, records: lib.catalog.records).run()
        #expect(outcome.records.count == 3)
        #expect(outcome.filesMovedBack == 0)
        #expect(try lib.catalog.records.count() == 5)
    }
}

@Suite("Trash safety")
struct TrashSafetyTests {
    @Test("a record whose file became a folder never drags that folder into the trash")
    func folderIsNotMoved() throws {
        let s = try Scratch()
        defer { s.remove() }
        try s.place("ok.webm", at: "clips/ok.webm")
        let catalog = try s.catalog()
        let folderRecord = try catalog.records.insert([NewRecord(rawFile: "clips")])[0]
        let inner = try catalog.records.insert([NewRecord(rawFile: "clips/ok.webm")])[0]
        var options = CleanupOptions()
        options.apply = true
        options.trash = RawPath(s.path("trash"))
        options.journal = RawPath(s.path("j.jsonl"))
        var verdicts: [CleanupVerdict] = []
        let result = try CleanupJob(catalog: catalog, settings: InspectionSettings(mediaRoot: MediaRoot(s.media), jobs: 2), options: options).run {
            if case .record(let v) = $0 { verdicts.append(v) }
        }
        #expect(verdicts.map { $0.reasons.map(\.code.rawValue) } == [["not_regular_file"], []])
        #expect(result.deleted == 1)
        #expect(result.moved.isEmpty)
        #expect(s.exists("media/clips/ok.webm"), "the surviving record's file stays where it is")
        #expect(!s.exists("trash/clips"))
        #expect(try catalog.records.record(id: folderRecord.id) == nil)
        #expect(try catalog.records.record(id: inner.id) != nil)
    }

    @Test("a dangling symlink already in the trash is not overwritten")
    func danglingSymlinkInTrash() throws {
        let s = try Scratch()
        defer { s.remove() }
        let lib = try CleanupLibrary(s)
        let before = try lib.rows()
        try FileManager.default.createDirectory(atPath: s.path("trash"), withIntermediateDirectories: true)
        let link = s.path("trash/text.mp4")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "/nonexistent/earlier-cleanup.mp4")
        var refused = false
        do {
            try lib.cleanup(apply: true, trash: lib.trash)
        } catch MaintenanceError.refused {
            refused = true
        }
        #expect(refused)
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == "/nonexistent/earlier-cleanup.mp4")
        #expect(try lib.rows() == before)
    }
}
