import Foundation
import Testing
import MediaCatalog
import MediaProbe
@testable import Maintenance

/// A media folder and catalog built from the fixtures:
/// valid: keep/ok-faststart.mp4, ok.webm; invalid: sub/three-frames.mp4, text.mp4, gone.mp4 (no file).
struct Library {
    let s: Scratch
    let catalog: SQLiteCatalog
    let root: MediaRoot
    var records: [String: VideoRecord] = [:]

    init(_ s: Scratch) throws {
        self.s = s
        try s.place("ok-faststart.mp4", at: "keep/ok-faststart.mp4")
        try s.place("ok.webm", at: "ok.webm")
        try s.place("three-frames.mp4", at: "sub/three-frames.mp4")
        try s.place("text.mp4", at: "text.mp4")
        catalog = try SQLiteCatalog(path: s.path("cat.sqlite"), access: .create)
        root = MediaRoot(s.path("media"))
        for name in ["keep/ok-faststart.mp4", "ok.webm", "sub/three-frames.mp4", "text.mp4", "gone.mp4"] {
            records[name] = try catalog.insert(rawFile: name, processedFile: nil, uuid: nil)
        }
    }

    func verdicts(minFrames: Int = 10) throws -> [RecordVerdict] {
        var out: [RecordVerdict] = []
        var inspector = CleanupInspector(mediaRoot: root, minFrames: minFrames, workers: 3)
        inspector.batchSize = 2
        try inspector.inspect(catalog) { out.append($0) }
        return out
    }

    var trash: String { s.path("trash") }
    func applier(trash: String?) -> CleanupApplier { CleanupApplier(mediaRoot: root, trash: trash, minFrames: 10) }
}

@Suite("CleanupInspector")
struct InspectorTests {
    @Test("verdicts come in id order across batches", arguments: [1, 4])
    func verdictsInOrder(workers: Int) throws {
        let s = try Scratch()
        defer { s.remove() }
        let lib = try Library(s)
        var inspector = CleanupInspector(mediaRoot: lib.root, minFrames: 10, workers: workers)
        inspector.batchSize = 2
        var verdicts: [RecordVerdict] = []
        try inspector.inspect(lib.catalog) { verdicts.append($0) }
        #expect(verdicts.map(\.record.id) == lib.records.values.map(\.id).sorted())
        let byName = Dictionary(uniqueKeysWithValues: verdicts.map { ($0.record.rawFile!, $0) })
        #expect(byName["keep/ok-faststart.mp4"]?.isValid == true)
        #expect(byName["keep/ok-faststart.mp4"]?.files.first?.frames == 60)
        #expect(byName["keep/ok-faststart.mp4"]?.files.first?.resolvedPath == s.path("media/keep/ok-faststart.mp4"))
        #expect(byName["ok.webm"]?.files.first?.frames == 30)
        #expect(byName["sub/three-frames.mp4"]?.reasons.map(\.code) == ["too_few_frames"])
        #expect(byName["text.mp4"]?.reasons.map(\.code) == ["not_media"])
        #expect(byName["gone.mp4"]?.reasons.map(\.code) == ["missing_file"])
        #expect(byName["gone.mp4"]?.isMissingFiles == true)
    }

    @Test func minFramesIsHonoured() throws {
        let s = try Scratch()
        defer { s.remove() }
        let lib = try Library(s)
        let lenient = try lib.verdicts(minFrames: 3)
        #expect(lenient.first { $0.record.rawFile == "sub/three-frames.mp4" }?.isValid == true)
        let strict = try lib.verdicts(minFrames: 61)
        #expect(strict.filter(\.isValid).isEmpty)
    }
}

@Suite("CleanupApplier and Restorer")
struct ApplyRestoreTests {
    @Test func applyWithTrashThenRestore() throws {
        let s = try Scratch()
        defer { s.remove() }
        let lib = try Library(s)
        let before = try lib.catalog.allRows()
        let verdicts = try lib.verdicts()
        let doomed = verdicts.filter { !$0.isValid }.map(\.record.id)
        #expect(doomed.count == 3)
        let journalPath = s.path("journals/one.jsonl")

        let outcome = try lib.applier(trash: lib.trash).apply(verdicts, catalog: lib.catalog, journalPath: journalPath)
        #expect(outcome.deleted == 3)
        #expect(outcome.journalPath == journalPath)
        #expect(outcome.keptShared.isEmpty)
        let expectedMoves: Set<String> = ["sub/three-frames.mp4", "text.mp4"]
        #expect(Set(outcome.moved.map(\.from)) == Set(expectedMoves.map { s.path("media/" + $0) }))
        #expect(Set(outcome.moved.map(\.to)) == Set(expectedMoves.map { s.path("trash/" + $0) }))
        // Files moved, keeping their relative paths; the valid ones untouched.
        #expect(!s.exists("media/sub/three-frames.mp4"))
        #expect(s.contents("trash/sub/three-frames.mp4") == FileManager.default.contents(atPath: Fixtures.path("three-frames.mp4")))
        #expect(s.contents("trash/text.mp4") == FileManager.default.contents(atPath: Fixtures.path("text.mp4")))
        #expect(!s.exists("trash/gone.mp4"))
        #expect(s.exists("media/keep/ok-faststart.mp4") && s.exists("media/ok.webm"))
        #expect(!s.exists("trash/keep") && !s.exists("trash/ok.webm"))
        // The catalog lost exactly the invalid rows.
        let doomedValues = Set(doomed)
        let survivors = before.filter { row in
            if case .integer(let id)? = row["id"] { return !doomedValues.contains(id) }
            return true
        }
        #expect(try lib.catalog.allRows() == survivors)

        // The journal holds every deleted row, its reasons and its moves.
        let journal = try Restorer.load(journalPath)
        #expect(journal.header.records == 3)
        #expect(journal.header.mediaRoot == s.path("media"))
        #expect(journal.header.catalog == s.path("cat.sqlite"))
        #expect(journal.header.trash == lib.trash)
        #expect(journal.header.minFrames == 10)
        #expect(journal.entries.map(\.row) == before.filter { !survivors.contains($0) })
        let reasons = Dictionary(uniqueKeysWithValues: journal.entries.map { e in
            (e.row["raw_file"].flatMap { if case .text(let t) = $0 { return t }; return nil } ?? "", e.reasons)
        })
        #expect(reasons == ["sub/three-frames.mp4": ["too_few_frames"], "text.mp4": ["not_media"], "gone.mp4": ["missing_file"]])
        let journaledMoves = journal.entries.flatMap(\.trash)
        #expect(journaledMoves.count == outcome.moved.count)
        #expect(journaledMoves.allSatisfy { outcome.moved.contains($0) })

        // Restore puts everything back.
        let restored = try Restorer().restore(journal, into: lib.catalog)
        #expect(restored.restored == 3)
        #expect(restored.filesMovedBack == 2)
        #expect(try lib.catalog.allRows() == before)
        #expect(s.contents("media/sub/three-frames.mp4") == FileManager.default.contents(atPath: Fixtures.path("three-frames.mp4")))
        #expect(s.exists("media/text.mp4"))
        #expect(!s.exists("trash/text.mp4") && !s.exists("trash/sub/three-frames.mp4"))

        // A second restore of the same journal conflicts and changes nothing.
        #expect(throws: MaintenanceError.self) { try Restorer().restore(journal, into: lib.catalog) }
        #expect(try lib.catalog.allRows() == before)
        #expect(s.exists("media/text.mp4"))
    }

    @Test func applyWithoutTrashLeavesFilesAlone() throws {
        let s = try Scratch()
        defer { s.remove() }
        let lib = try Library(s)
        let outcome = try lib.applier(trash: nil).apply(try lib.verdicts(), catalog: lib.catalog, journalPath: s.path("j.jsonl"))
        #expect(outcome.deleted == 3)
        #expect(outcome.moved.isEmpty)
        #expect(s.exists("media/sub/three-frames.mp4") && s.exists("media/text.mp4"))
        #expect(try lib.catalog.recordCount() == 2)
        let journal = try Restorer.load(s.path("j.jsonl"))
        #expect(journal.header.trash == nil)
        #expect(journal.entries.allSatisfy { $0.trash.isEmpty })
        let back = try Restorer().restore(journal, into: lib.catalog)
        #expect(back.restored == 3 && back.filesMovedBack == 0)
        #expect(try lib.catalog.recordCount() == 5)
    }

    @Test func nothingInvalidDeletesNothing() throws {
        let s = try Scratch()
        defer { s.remove() }
        let lib = try Library(s)
        let valid = try lib.verdicts().filter(\.isValid)
        let before = try lib.catalog.allRows()
        let outcome = try lib.applier(trash: lib.trash).apply(valid, catalog: lib.catalog, journalPath: s.path("j.jsonl"))
        #expect(outcome.deleted == 0)
        #expect(try lib.catalog.allRows() == before)
        #expect(!s.exists("trash/keep/ok-faststart.mp4"))
    }

    @Test("a file already in the trash makes apply refuse before anything changes")
    func trashNeverOverwrites() throws {
        let s = try Scratch()
        defer { s.remove() }
        let lib = try Library(s)
        let before = try lib.catalog.allRows()
        try FileManager.default.createDirectory(atPath: s.path("trash/sub"), withIntermediateDirectories: true)
        let precious = Data("an earlier cleanup's file".utf8)
        try precious.write(to: URL(fileURLWithPath: s.path("trash/sub/three-frames.mp4")))
        do {
            _ = try lib.applier(trash: lib.trash).apply(try lib.verdicts(), catalog: lib.catalog, journalPath: s.path("j.jsonl"))
            Issue.record("apply overwrote the trash")
        } catch let error as MaintenanceError {
            guard case .refused(let message) = error else { Issue.record("expected refused, got \(error)"); return }
            #expect(message.contains(s.path("trash/sub/three-frames.mp4")))
        }
        #expect(try lib.catalog.allRows() == before)
        #expect(!s.exists("j.jsonl"), "no journal for a refused apply")
        #expect(s.contents("trash/sub/three-frames.mp4") == precious)
        #expect(s.exists("media/sub/three-frames.mp4") && s.exists("media/text.mp4"))
        #expect(!s.exists("trash/text.mp4"))
    }

    @Test("a journal that cannot be written deletes and moves nothing")
    func journalFailure() throws {
        let s = try Scratch()
        defer { s.remove() }
        let lib = try Library(s)
        let before = try lib.catalog.allRows()
        try Data("a file, not a folder".utf8).write(to: URL(fileURLWithPath: s.path("blocker")))
        #expect(throws: (any Error).self) {
            _ = try lib.applier(trash: lib.trash).apply(try lib.verdicts(), catalog: lib.catalog,
                                                        journalPath: s.path("blocker/j.jsonl"))
        }
        #expect(try lib.catalog.allRows() == before)
        #expect(s.exists("media/sub/three-frames.mp4") && s.exists("media/text.mp4"))
        #expect(!s.exists("trash/text.mp4"))
    }

    @Test("a file another surviving record names stays in place")
    func sharedFileIsKept() throws {
        let s = try Scratch()
        defer { s.remove() }
        try s.place("ok-faststart.mp4", at: "shared.mp4")
        let catalog = try SQLiteCatalog(path: s.path("cat.sqlite"), access: .create)
        let doomed = try catalog.insert(rawFile: "missing.mp4", processedFile: "shared.mp4", uuid: nil)
        let survivor = try catalog.insert(rawFile: "shared.mp4", processedFile: nil, uuid: nil)
        let root = MediaRoot(s.path("media"))
        var verdicts: [RecordVerdict] = []
        try CleanupInspector(mediaRoot: root, minFrames: 10, workers: 2).inspect(catalog) { verdicts.append($0) }
        #expect(verdicts.map(\.isValid) == [false, true])
        let outcome = try CleanupApplier(mediaRoot: root, trash: s.path("trash"), minFrames: 10)
            .apply(verdicts, catalog: catalog, journalPath: s.path("j.jsonl"))
        #expect(outcome.deleted == 1)
        #expect(outcome.moved.isEmpty)
        #expect(outcome.keptShared == [s.path("media/shared.mp4")])
        #expect(s.exists("media/shared.mp4"))
        #expect(try catalog.record(id: doomed.id) == nil)
        #expect(try catalog.record(id: survivor.id) == survivor)
    }

    @Test("files outside the media root go under _outside in the trash")
    func outsideFiles() throws {
        let s = try Scratch()
        defer { s.remove() }
        try FileManager.default.createDirectory(atPath: s.path("media"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: s.path("elsewhere"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Fixtures.path("three-frames.mp4"), toPath: s.path("elsewhere/short.mp4"))
        let catalog = try SQLiteCatalog(path: s.path("cat.sqlite"), access: .create)
        _ = try catalog.insert(rawFile: s.path("elsewhere/short.mp4"), processedFile: nil, uuid: nil)
        let root = MediaRoot(s.path("media"))
        let applier = CleanupApplier(mediaRoot: root, trash: s.path("trash"), minFrames: 10)
        #expect(applier.trashDestination(for: s.path("media/a/b.mp4"), trash: s.path("trash")) == s.path("trash/a/b.mp4"))
        #expect(applier.trashDestination(for: "/x/y.mp4", trash: s.path("trash")) == s.path("trash/_outside/x/y.mp4"))
        var verdicts: [RecordVerdict] = []
        try CleanupInspector(mediaRoot: root, minFrames: 10, workers: 1).inspect(catalog) { verdicts.append($0) }
        let outcome = try applier.apply(verdicts, catalog: catalog, journalPath: s.path("j.jsonl"))
        let dest = s.path("trash/_outside" + s.path("elsewhere/short.mp4"))
        #expect(outcome.moved == [Journal.Move(from: s.path("elsewhere/short.mp4"), to: dest)])
        #expect(FileManager.default.fileExists(atPath: dest))
        _ = try Restorer().restore(try Restorer.load(s.path("j.jsonl")), into: catalog)
        #expect(s.exists("elsewhere/short.mp4"))
        #expect(!FileManager.default.fileExists(atPath: dest))
    }

    /// Applies a cleanup with a trash and returns the journal and the rows after it.
    func applied(_ s: Scratch) throws -> (Library, Journal, [CatalogRow]) {
        let lib = try Library(s)
        _ = try lib.applier(trash: lib.trash).apply(try lib.verdicts(), catalog: lib.catalog, journalPath: s.path("j.jsonl"))
        return (lib, try Restorer.load(s.path("j.jsonl")), try lib.catalog.allRows())
    }

    @Test("restore refuses when a trashed file is missing, changing nothing")
    func restoreRefusesWhenTrashedFileMissing() throws {
        let s = try Scratch()
        defer { s.remove() }
        let (lib, journal, after) = try applied(s)
        try FileManager.default.removeItem(atPath: s.path("trash/text.mp4"))
        do {
            _ = try Restorer().restore(journal, into: lib.catalog)
            Issue.record("restored although a trashed file is gone")
        } catch let error as MaintenanceError {
            #expect(error.description.contains(s.path("trash/text.mp4")))
        }
        #expect(try lib.catalog.allRows() == after)
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
            _ = try Restorer().restore(journal, into: lib.catalog)
            Issue.record("restored over a new file")
        } catch let error as MaintenanceError {
            #expect(error.description.contains(s.path("media/text.mp4")))
        }
        #expect(try lib.catalog.allRows() == after)
        #expect(s.contents("media/text.mp4") == newcomer)
        #expect(s.exists("trash/text.mp4"))
        #expect(s.exists("trash/sub/three-frames.mp4") && !s.exists("media/sub/three-frames.mp4"))
    }

    @Test("restore refuses when a journaled id was taken, moving no file back")
    func restoreRefusesOnRowConflict() throws {
        let s = try Scratch()
        defer { s.remove() }
        let (lib, journal, _) = try applied(s)
        let uuid: String = { if case .text(let u)? = journal.entries[0].row["uuid"] { return u }; return "" }()
        _ = try lib.catalog.insert(rawFile: "new.mp4", processedFile: nil, uuid: uuid)
        let after = try lib.catalog.allRows()
        #expect(throws: MaintenanceError.self) { try Restorer().restore(journal, into: lib.catalog) }
        #expect(try lib.catalog.allRows() == after)
        #expect(s.exists("trash/text.mp4") && !s.exists("media/text.mp4"))
    }

    @Test("restore finishes a cleanup whose file moves never happened")
    func restoreWhenFilesWereNeverMoved() throws {
        let s = try Scratch()
        defer { s.remove() }
        let (lib, journal, _) = try applied(s)
        // Put the files back by hand, as if the moves had not happened.
        for move in journal.entries.flatMap(\.trash) {
            try FileManager.default.moveItem(atPath: move.to, toPath: move.from)
        }
        let outcome = try Restorer().restore(journal, into: lib.catalog)
        #expect(outcome.restored == 3)
        #expect(outcome.filesMovedBack == 0)
        #expect(try lib.catalog.recordCount() == 5)
    }
}

@Suite("Trash safety")
struct TrashSafetyTests {
    @Test("a record whose file became a folder never drags that folder into the trash")
    func folderIsNotMoved() throws {
        let s = try Scratch()
        defer { s.remove() }
        try s.place("ok.webm", at: "clips/ok.webm")
        let catalog = try SQLiteCatalog(path: s.path("cat.sqlite"), access: .create)
        let folderRecord = try catalog.insert(rawFile: "clips", processedFile: nil, uuid: nil)
        let inner = try catalog.insert(rawFile: "clips/ok.webm", processedFile: nil, uuid: nil)
        let root = MediaRoot(s.path("media"))
        var verdicts: [RecordVerdict] = []
        try CleanupInspector(mediaRoot: root, minFrames: 10, workers: 2).inspect(catalog) { verdicts.append($0) }
        #expect(verdicts.map { $0.reasons.map(\.code) } == [["not_regular_file"], []])
        let outcome = try CleanupApplier(mediaRoot: root, trash: s.path("trash"), minFrames: 10)
            .apply(verdicts, catalog: catalog, journalPath: s.path("j.jsonl"))
        #expect(outcome.deleted == 1)
        #expect(outcome.moved.isEmpty)
        #expect(s.exists("media/clips/ok.webm"), "the surviving record's file stays where it is")
        #expect(!s.exists("trash/clips"))
        #expect(try catalog.record(id: folderRecord.id) == nil)
        #expect(try catalog.record(id: inner.id) == inner)
    }

    @Test("a dangling symlink already in the trash is not overwritten")
    func danglingSymlinkInTrash() throws {
        let s = try Scratch()
        defer { s.remove() }
        let lib = try Library(s)
        let before = try lib.catalog.allRows()
        try FileManager.default.createDirectory(atPath: s.path("trash"), withIntermediateDirectories: true)
        let link = s.path("trash/text.mp4")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "/nonexistent/earlier-cleanup.mp4")
        var refused = false
        do {
            _ = try lib.applier(trash: lib.trash).apply(try lib.verdicts(), catalog: lib.catalog, journalPath: s.path("j.jsonl"))
        } catch MaintenanceError.refused {
            refused = true
        }
        let linkIntact = (try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == "/nonexistent/earlier-cleanup.mp4"
        #expect(refused)
        #expect(linkIntact)

        if refused {
            #expect(try lib.catalog.allRows() == before)
        }
    }
}
