import Foundation
import MediaCatalog

public enum MaintenanceError: Error, Sendable, CustomStringConvertible {
    /// A safety guard refused; nothing changed.
    case refused(String)
    /// The job could not be done; nothing changed unless the message says otherwise.
    case failed(String)

    public var description: String {
        switch self {
        case .refused(let m): m
        case .failed(let m): m
        }
    }
}

/// Applies a cleanup: journal first, then one transaction, then (optionally) files to the trash.
public struct CleanupApplier: Sendable {
    public var mediaRoot: MediaRoot
    public var trash: String?
    public var minFrames: Int

    public init(mediaRoot: MediaRoot, trash: String?, minFrames: Int) {
        self.mediaRoot = mediaRoot
        self.trash = trash.map { MediaRoot.absolute($0) }
        self.minFrames = minFrames
    }

    public struct Outcome: Sendable {
        public var deleted: Int
        public var journalPath: String
        public var moved: [Journal.Move]
        /// Files left where they were because another record still names them.
        public var keptShared: [String]
    }

    public static func defaultJournalPath(catalogPath: String, now: Date = Date()) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let dir = (MediaRoot.absolute(catalogPath) as NSString).deletingLastPathComponent
        return (dir as NSString).appendingPathComponent("medialib-journals/cleanup-\(f.string(from: now))-\(getpid()).jsonl")
    }

    public func apply(_ verdicts: [RecordVerdict], catalog: any Catalog, journalPath: String) throws -> Outcome {
        let doomed = verdicts.filter { !$0.isValid }
        let ids = Set(doomed.map(\.record.id))
        var keptShared: [String] = []
        var movesByRecord: [Int64: [Journal.Move]] = [:]
        if let trash {
            var targets = Set<String>()
            for v in doomed {
                // Only regular files move: a record naming a folder must never drag a tree into the trash.
                for f in v.files where Self.isRegularFile(f.resolvedPath) {
                    // A file another surviving record names stays put.
                    let users = try catalog.records(namingPath: f.storedPath)
                    if users.contains(where: { !ids.contains($0.id) }) {
                        keptShared.append(f.resolvedPath)
                        continue
                    }
                    let dest = trashDestination(for: f.resolvedPath, trash: trash)
                    guard !targets.contains(dest) else { continue }
                    if FileManager.default.fileExists(atPath: dest) {
                        throw MaintenanceError.refused("trash already holds \(dest); refusing to overwrite it (nothing was deleted)")
                    }
                    targets.insert(dest)
                    movesByRecord[v.record.id, default: []].append(Journal.Move(from: f.resolvedPath, to: dest))
                }
            }
        }
        let reasons = Dictionary(uniqueKeysWithValues: doomed.map { ($0.record.id, $0.reasons.map(\.code)) })
        let root = mediaRoot
        let trashDir = trash
        let min = minFrames
        let catalogLocation = catalog.location
        try catalog.delete(ids: doomed.map(\.record.id)) { rows in
            let entries = rows.map { row -> Journal.Entry in
                let id: Int64 = { if case .integer(let i)? = row["id"] { return i }; return -1 }()
                return Journal.Entry(row: row, reasons: reasons[id] ?? [], trash: movesByRecord[id] ?? [])
            }
            let header = Journal.Header(medialibJournal: Journal.version, createdAt: Self.now(),
                                        catalog: MediaRoot.absolute(catalogLocation), mediaRoot: root.path,
                                        minFrames: min, trash: trashDir, records: entries.count)
            try Journal(header: header, entries: entries).writeDurably(to: journalPath)
        }
        // The rows are gone and the journal holds them; moving files is housekeeping that
        // restore can finish or undo from the journal if it is interrupted.
        var moved: [Journal.Move] = []
        for move in movesByRecord.values.flatMap({ $0 }) {
            do {
                try FileMover.move(from: move.from, to: move.to)
                moved.append(move)
            } catch {
                throw MaintenanceError.failed("deleted \(doomed.count) records (journal \(journalPath)), but moving \(move.from) to the trash failed: \(error). Run `medialib restore \(journalPath)` to undo.")
            }
        }
        return Outcome(deleted: doomed.count, journalPath: journalPath, moved: moved, keptShared: keptShared)
    }

    /// Keeps the path relative to the media root; files outside it go under `_outside/`.
    func trashDestination(for absolute: String, trash: String) -> String {
        let stored = mediaRoot.storedForm(ofAbsolute: absolute)
        let rel = stored.hasPrefix("/") ? "_outside" + stored : stored
        return (trash as NSString).appendingPathComponent(rel)
    }

    static func isRegularFile(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    static func now() -> String {
        let f = ISO8601DateFormatter()
        return f.string(from: Date())
    }
}

enum FileMover {
    /// rename(2) when on one file system; copy and remove across file systems. Never overwrites.
    static func move(from: String, to: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: (to as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        if fm.fileExists(atPath: to) { throw MaintenanceError.failed("\(to) already exists") }
        if rename(from, to) == 0 { return }
        guard errno == EXDEV else { throw MaintenanceError.failed(String(cString: strerror(errno))) }
        try fm.copyItem(atPath: from, toPath: to)
        try fm.removeItem(atPath: from)
    }
}
