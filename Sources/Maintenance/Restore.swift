import Foundation
import MediaCatalog
import MediaFiles

/// `medialib restore JOURNAL`: files back from the trash, then every journaled row back in
/// one transaction. Everything is checked first; on any doubt nothing changes. A file moves
/// back only if it is the very file cleanup moved (device, inode, size, mtime as journaled)
/// and only to the path of the row it restores.
public final class RestoreJob {
    let journal: Journal
    let records: any RecordStore
    let faults: Faults

    public init(journal: Journal, records: any RecordStore, faults: Faults = .none) {
        self.journal = journal
        self.records = records
        self.faults = faults
    }

    public struct Outcome: Sendable {
        public var records: [Int64]
        public var rows: Int
        public var filesMovedBack: Int
        /// Moves a crash interrupted (the file was in both places): finished.
        public var movesCompleted: Int
        /// Nothing to do: the rows are there (restored before, or the cleanup never committed).
        public var alreadyPresent: Bool
        public var notes: [String]
    }

    /// Whether the journal was written for this catalog.
    public static func sameCatalog(_ journal: Journal, _ identity: CatalogIdentity) -> Bool {
        if journal.header.version == 1 {
            return journal.header.catalog.location == identity.location
                || FileSystem.realPath(RawPath(journal.header.catalog.location))?.displayed == identity.location
        }
        return journal.header.catalog == identity
    }

    enum Action {
        /// The file is in the trash only: move it back.
        case moveBack(from: RawPath, to: RawPath)
        /// Linked into the trash and never unlinked (a crash mid-move): drop the trash name.
        case dropTrashLink(RawPath)
    }

    public func run() throws -> Outcome {
        var problems: [String] = []
        var notes: [String] = []
        let state = try records.restoreState(of: journal.changes)
        if case .conflicts(let list) = state { problems += list }
        var actions: [Action] = []
        for move in journal.moves {
            switch check(move) {
            case .failure(let refusal): problems.append(refusal.why)
            case .success(let action?): actions.append(action)
            case .success(nil): break
            }
        }
        if !problems.isEmpty {
            throw MaintenanceError.refused("cannot restore; nothing was changed:\n  " + problems.joined(separator: "\n  "))
        }
        if state == .present && actions.isEmpty {
            let why = journal.committed == true
                ? "every journaled row is in the catalog already (restored before?)"
                : "every journaled row is still in the catalog: the cleanup never committed, or was restored before"
            return Outcome(records: journal.recordIDs, rows: 0, filesMovedBack: 0, movesCompleted: 0, alreadyPresent: true,
                           notes: ["nothing to restore: \(why)"])
        }
        var movedBack: [(from: RawPath, to: RawPath)] = []
        var completed = 0
        do {
            for action in actions {
                switch action {
                case .dropTrashLink(let trashPath):
                    if case .failure(let e) = FileSystem.unlink(trashPath) {
                        throw MaintenanceError.failed("cannot remove the trash link \(trashPath.displayed): \(e)")
                    }
                    completed += 1
                case .moveBack(let from, let to):
                    _ = try FileMover.move(from: from, to: to, faults: .none)
                    movedBack.append((from, to))
                    try faults.reach(.restoreAfterMoveBack)
                }
            }
            try faults.reach(.restoreBeforeRows)
            if state == .restorable { try records.restore(journal.changes) }
        } catch {
            // Put back into the trash what was moved, so a failed restore changes nothing.
            for m in movedBack.reversed() { _ = try? FileMover.move(from: m.to, to: m.from, faults: .none) }
            throw MaintenanceError.failed("restore failed, nothing was changed: \(error)")
        }
        if completed > 0 { notes.append("finished \(completed) file move(s) a crash had interrupted") }
        let rows = state == .restorable ? journal.changes.count : 0
        return Outcome(records: journal.recordIDs, rows: rows, filesMovedBack: movedBack.count, movesCompleted: completed,
                       alreadyPresent: false, notes: notes)
    }

    /// What to do about one journaled move, or why restore must refuse.
    struct Refusal: Error { var why: String }

    func check(_ move: Journal.Move) -> Result<Action?, Refusal> {
        // Only to the path of the row it restores.
        guard let row = deletedRow(move.record) else {
            return .failure(Refusal(why: "the journal moves \(move.from.displayed) for record \(move.record), whose row it does not hold"))
        }
        let root = MediaRoot(journal.header.mediaRoot, relativeTo: "/")
        let columns = move.column.map { [$0] } ?? Array(row.keys).sorted()
        let rowPaths = columns.compactMap { row[$0]?.bytes }.filter { !$0.isEmpty }.map { root.resolve(RawPath(bytes: $0)) }
        guard rowPaths.contains(move.from) else {
            return .failure(Refusal(why: "the journal moves a file back to \(move.from.displayed), which is not the path of record \(move.record)'s \(move.column ?? "file") (\(rowPaths.map(\.displayed).joined(separator: ", ")))"))
        }
        // Only from the trash the cleanup used.
        guard let trash = journal.header.trash, move.to.isInside(trash.standardized()), move.to.standardized() == move.to else {
            return .failure(Refusal(why: "the journal names \(move.to.displayed) as a trashed file, which is not inside the trash \(journal.header.trash?.displayed ?? "(none)")"))
        }
        let inTrash: FileStatus?
        if case .success(let st) = FileSystem.status(move.to, followingSymlinks: false) { inTrash = st } else { inTrash = nil }
        let inPlace: FileStatus?
        if case .success(let st) = FileSystem.status(move.from, followingSymlinks: false) { inPlace = st } else { inPlace = nil }
        // What should be in the trash: the copy's identity when the move copied, else the file itself.
        let expected = journal.moved.last(where: { $0.to == move.to && $0.from == move.from })?.file ?? move.file

        guard let trashed = inTrash else {
            if inPlace != nil { return .success(nil) } // never moved, or already moved back
            return .failure(Refusal(why: "\(move.to.displayed) is no longer in the trash"))
        }
        guard trashed.kind == .regular else {
            return .failure(Refusal(why: "\(move.to.displayed) in the trash is not a regular file; it is not what cleanup moved"))
        }
        if let expected, !Self.same(trashed.identity, expected, includingInode: true) {
            if let original = move.file, let present = inPlace, Self.same(present.identity, original, includingInode: true) {
                // The original never left; what is in the trash is a partial or stray copy.
                return .success(nil)
            }
            return .failure(Refusal(why: "\(move.to.displayed) in the trash is not the file cleanup moved (its size, time or inode differ)"))
        }
        if let present = inPlace {
            if present.identity.key == trashed.identity.key {
                return .success(.dropTrashLink(move.to))
            }
            return .failure(Refusal(why: "\(move.from.displayed) exists again and \(move.to.displayed) is still in the trash"))
        }
        return .success(.moveBack(from: move.to, to: move.from))
    }

    static func same(_ a: FileIdentity, _ b: FileIdentity, includingInode: Bool) -> Bool {
        a.size == b.size && a.mtimeSinceEpochNanoseconds == b.mtimeSinceEpochNanoseconds
            && (!includingInode || (a.inode == b.inode && a.device == b.device))
    }

    func deletedRow(_ record: Int64) -> CatalogRow? {
        for c in journal.changes {
            if case .deleted(let table, _, let row, let r) = c, r == record, table == journal.header.videoTable { return row }
        }
        return nil
    }
}
