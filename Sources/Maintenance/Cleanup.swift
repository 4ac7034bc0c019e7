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
                    if FileMover.occupied(dest) {
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
        try catalog.delete(doomed.map(\.record)) { rows in
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
    /// Whether anything, even a dangling symlink, occupies the path.
    static func occupied(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// Never overwrites, not even a dangling symlink: link(2) fails atomically when the
    /// destination exists, where a check-then-rename would race. Across file systems,
    /// copies into a file created with O_EXCL, then removes the source.
    static func move(from: String, to: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: (to as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        if link(from, to) == 0 {
            if unlink(from) != 0 {
                let why = String(cString: strerror(errno))
                unlink(to)
                throw MaintenanceError.failed("cannot remove \(from) after linking it to \(to): \(why)")
            }
            return
        }
        let err = errno
        if err == EEXIST { throw MaintenanceError.failed("\(to) already exists; refusing to overwrite it") }
        guard err == EXDEV || err == EPERM else {
            throw MaintenanceError.failed("cannot move \(from) to \(to): \(String(cString: strerror(err)))")
        }
        try copyExclusive(from: from, to: to)
        do { try fm.removeItem(atPath: from) } catch {
            unlink(to)
            throw MaintenanceError.failed("cannot remove \(from) after copying it to \(to): \(error)")
        }
    }

    private static func copyExclusive(from: String, to: String) throws {
        let src = open(from, O_RDONLY | O_CLOEXEC)
        guard src >= 0 else { throw MaintenanceError.failed("cannot read \(from): \(String(cString: strerror(errno)))") }
        defer { close(src) }
        let dst = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard dst >= 0 else {
            throw MaintenanceError.failed(errno == EEXIST ? "\(to) already exists; refusing to overwrite it"
                                                           : "cannot create \(to): \(String(cString: strerror(errno)))")
        }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var ok = true
        while ok {
            let n = buffer.withUnsafeMutableBytes { read(src, $0.baseAddress, $0.count) }
            if n == 0 { break }
            if n < 0 { if errno == EINTR { continue }; ok = false; break }
            var off = 0
            while off < n {
                let w = buffer.withUnsafeBytes { write(dst, $0.baseAddress! + off, n - off) }
                if w <= 0 { if errno == EINTR { continue }; ok = false; break }
                off += w
            }
        }
        ok = ok && fsync(dst) == 0
        close(dst)
        if !ok {
            unlink(to)
            throw MaintenanceError.failed("copying \(from) to \(to) failed: \(String(cString: strerror(errno)))")
        }
    }
}
