import Foundation
import MediaCatalog

/// Undoes an applied cleanup from its journal: files back from the trash, rows back with
/// their ids and uuids. Checks everything first and changes nothing on any conflict.
public struct Restorer: Sendable {
    public init() {}

    public struct Outcome: Sendable {
        public var restored: Int
        public var filesMovedBack: Int
    }

    public static func load(_ path: String) throws -> Journal {
        guard let data = FileManager.default.contents(atPath: path) else {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
                throw JournalError.cannotRead(path, isDir.boolValue ? "it is a directory" : "permission denied")
            }
            throw JournalError.cannotRead(path, "no such file")
        }
        return try Journal.decode(data)
    }

    public func restore(_ journal: Journal, into catalog: any Catalog) throws -> Outcome {
        let rows = journal.entries.map(\.row)
        var problems = try catalog.restoreConflicts(rows: rows)
        var pending: [Journal.Move] = []
        for move in journal.entries.flatMap(\.trash) {
            let inTrash = FileMover.occupied(move.to)
            let inPlace = FileMover.occupied(move.from)
            switch (inTrash, inPlace) {
            case (true, false): pending.append(move)
            case (false, true): continue // never moved, or already moved back
            case (true, true): problems.append("\(move.from) exists again and \(move.to) is still in the trash")
            case (false, false): problems.append("\(move.to) is no longer in the trash")
            }
        }
        if !problems.isEmpty {
            throw MaintenanceError.refused("cannot restore; nothing was changed:\n  " + problems.joined(separator: "\n  "))
        }
        var movedBack: [Journal.Move] = []
        do {
            for move in pending {
                try FileMover.move(from: move.to, to: move.from)
                movedBack.append(move)
            }
            try catalog.restore(rows: rows)
        } catch {
            // Put back into the trash what was moved, so a failed restore changes nothing.
            for move in movedBack.reversed() { try? FileMover.move(from: move.from, to: move.to) }
            throw MaintenanceError.failed("restore failed, nothing was changed: \(error)")
        }
        return Outcome(restored: rows.count, filesMovedBack: movedBack.count)
    }
}
