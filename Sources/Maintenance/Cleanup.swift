import Foundation
import MediaCatalog
import MediaFiles

/// How many records one apply may delete before it refuses.
public enum DeleteLimit: Sendable, Equatable, CustomStringConvertible {
    case count(Int)
    case percent(Double)

    public static let `default` = DeleteLimit.percent(50)

    /// "10" or "25%".
    public init?(_ text: String) {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.hasSuffix("%") {
            guard let p = Double(t.dropLast()), p.isFinite, p >= 0, p <= 100 else { return nil }
            self = .percent(p)
        } else {
            guard let n = Int(t), n >= 0 else { return nil }
            self = .count(n)
        }
    }

    public func allows(_ deleting: Int, of total: Int) -> Bool {
        switch self {
        case .count(let n): deleting <= n
        case .percent(let p): Double(deleting) <= Double(total) * p / 100
        }
    }

    public var description: String {
        switch self {
        case .count(let n): "\(n)"
        case .percent(let p): p == p.rounded() ? "\(Int(p))%" : "\(p)%"
        }
    }
}

public struct CleanupOptions: Sendable {
    public var apply = false
    public var cascade = false
    public var force = false
    public var maxDelete: DeleteLimit?
    public var trash: RawPath?
    public var journal: RawPath?

    public init() {}

    /// The default file age below which a file is not judged: an upload in progress.
    public static let defaultMinAge: Double = 300
}

/// What cleanup decides about one record.
public enum CleanupStatus: String, Sendable {
    case valid
    case invalid
    /// Invalid, but a PROTECT relation holds it: kept, reported.
    case protected
    /// A file changed within --min-age: not judged, kept.
    case kept
}

public struct CleanupVerdict: Sendable, Equatable {
    public var inspection: RecordInspection
    public var status: CleanupStatus
    /// The findings behind the status (invalidating ones, or the recently_modified ones).
    public var reasons: [Finding]
    /// Foreign catalogs: what the application's delete would take with it.
    public var dependents: Dependents?

    public var record: VideoRecord { inspection.record }
    public var wouldDelete: Bool { status == .invalid }
}

/// The cleanup policy over the inspection: pure.
public enum CleanupPolicy {
    public static func judge(_ i: RecordInspection) -> CleanupVerdict {
        let keeping = i.files.flatMap(\.findings).filter { $0.code.keepsRecord }
        if !keeping.isEmpty { return CleanupVerdict(inspection: i, status: .kept, reasons: keeping) }
        // A playable copy's troubles are verify's business: cleanup judges the record's own files.
        let reasons = i.findings.filter { $0.code.invalidatesRecord && $0.role == .original }
        return CleanupVerdict(inspection: i, status: reasons.isEmpty ? .valid : .invalid, reasons: reasons)
    }

    /// The detail cleanup shows for a reason: truncation is named next to a short frame count.
    public static func detail(_ f: Finding, in i: RecordInspection) -> String {
        guard f.code == .tooFewFrames, let kind = f.file, let p = i.file(kind, role: f.role)?.facts?.probe,
              p.isTruncated, let header = p.headerFrameCount else { return f.message }
        return f.message + ", truncated: header claims \(header)"
    }
}

public struct CleanupSummary: Sendable, Equatable {
    public var total = 0
    public var valid = 0
    public var invalid = 0
    public var protected = 0
    public var kept = 0
    /// Invalid records whose every reason is an unreachable file.
    public var invalidUnreachable = 0
    public var contentJudged = 0
    public var wrongContent = 0

    public init() {}

    mutating func add(_ v: CleanupVerdict) {
        total += 1
        switch v.status {
        case .valid: valid += 1
        case .invalid: invalid += 1
        case .protected: protected += 1
        case .kept: kept += 1
        }
        if v.status == .invalid || v.status == .protected,
           !v.reasons.isEmpty, v.reasons.allSatisfy({ $0.code.isUnreachable }) {
            invalidUnreachable += 1
        }
    }
}

/// Why an apply refuses to delete anything (each overridden by --force alone).
public enum CleanupGuard {
    public static func check(summary s: CleanupSummary, root: MediaRoot, limit: DeleteLimit?) -> String? {
        if !root.exists {
            return "the media root \(root.path.displayed) does not exist, so every file would look missing"
        }
        if root.isEmptyDirectory && s.total > 0 {
            return "the media root \(root.path.displayed) is empty, so every file would look missing"
        }
        if s.total > 0 && s.invalidUnreachable * 2 > s.total {
            return "\(s.invalidUnreachable) of \(s.total) records would be deleted for missing or unreadable files (more than half); the media root (\(root.path.displayed)) may be wrong, unmounted or unreadable"
        }
        if s.contentJudged > 0 && s.wrongContent * 2 > s.contentJudged {
            return "\(s.wrongContent) of \(s.contentJudged) files libav looked at are not media or unreadable (more than half); the media root may be wrong, or the files encrypted (an encrypted store)"
        }
        let limit = limit ?? .default
        if !limit.allows(s.invalid, of: s.total) {
            return "the apply would delete \(s.invalid) of \(s.total) records, more than \(limit == .default ? "half" : "--max-delete \(limit)") allows"
        }
        return nil
    }
}

/// What cleanup reports as it goes, for the CLI to render.
public enum CleanupEvent: Sendable {
    case record(CleanupVerdict)
    /// Every record judged; nothing deleted yet.
    case planned(CleanupSummary)
    /// A note for the operator (a trash under the media root, a frame folder left in place…).
    case note(String)
    case moved(Journal.Moved)
    /// A file left in place, and why.
    case keptFile(RawPath, String)
}

public struct CleanupResult: Sendable {
    public var summary = CleanupSummary()
    public var stats = InspectionStats()
    public var deleted = 0
    public var rows: [String: Int] = [:]
    public var nulled = 0
    public var journal: RawPath?
    public var moved: [Journal.Moved] = []
}

/// `medialib cleanup`: inspect, judge, and with --apply: guard, journal, delete in one
/// transaction, then move files to the trash.
public final class CleanupJob {
    let catalog: OpenCatalog
    let settings: InspectionSettings
    let options: CleanupOptions
    let faults: Faults

    public init(catalog: OpenCatalog, settings: InspectionSettings, options: CleanupOptions, faults: Faults = .none) {
        self.catalog = catalog
        self.settings = settings
        self.options = options
        self.faults = faults
    }

    var records: any RecordStore { catalog.records }
    var root: MediaRoot { settings.mediaRoot }

    public func run(_ report: (CleanupEvent) throws -> Void) throws -> CleanupResult {
        var result = CleanupResult()
        var doomed: [CleanupVerdict] = []
        /// Files of every record that stays, by identity: a file another record uses stays put.
        var usedBy: [FileIdentity.Key: Int64] = [:]
        var allFiles: [FileIdentity.Key: [Int64]] = [:]
        var batch: [CleanupVerdict] = []
        func flush() throws {
            if !records.isOwned {
                let dependents = try records.dependents(of: batch.filter { $0.status == .invalid }.map(\.record))
                for i in batch.indices {
                    guard let d = dependents[batch[i].record.id] else { continue }
                    batch[i].dependents = d
                    if d.isProtected { batch[i].status = .protected }
                }
            }
            for v in batch {
                result.summary.add(v)
                // A dry run keeps nothing per record: its memory stays flat in the catalog's size.
                if v.status == .invalid && options.apply { doomed.append(v) }
                try report(.record(v))
            }
            batch.removeAll(keepingCapacity: true)
        }
        result.stats = try Inspector(records: records, state: catalog.state, settings: settings).run { inspection in
            let v = CleanupPolicy.judge(inspection)
            if options.apply {
                for f in inspection.files {
                    guard let key = f.identity?.key else { continue }
                    allFiles[key, default: []].append(v.record.id)
                }
            }
            batch.append(v)
            if batch.count >= settings.batchSize { try flush() }
        }
        try flush()
        result.summary.contentJudged = result.stats.contentJudged
        result.summary.wrongContent = result.stats.wrongContent
        let doomedIDs = Set(doomed.map(\.record.id))
        for (key, ids) in allFiles {
            if let survivor = ids.first(where: { !doomedIDs.contains($0) }) { usedBy[key] = survivor }
        }
        try report(.planned(result.summary))
        guard options.apply else { return result }

        if !options.force, let why = CleanupGuard.check(summary: result.summary, root: root, limit: options.maxDelete) {
            throw MaintenanceError.refused("refused: \(why).\nNothing was deleted. If this really is intended, run again with --force\(why.contains("--max-delete") || why.contains("half allows") ? " (or raise --max-delete)" : "").")
        }
        guard !doomed.isEmpty else { return result }
        if !options.cascade {
            let held = doomed.filter { $0.dependents?.hasDependents ?? false }
            if !held.isEmpty {
                var tables = Set<String>()
                for v in held { tables.formUnion(v.dependents?.deletions.keys.map { $0 } ?? []); tables.formUnion(v.dependents?.nullings.keys.map { $0 } ?? []) }
                throw MaintenanceError.refused("refused: \(held.count) of the \(doomed.count) records to delete have dependent rows (\(tables.sorted().joined(separator: ", "))) that \(records.profile.name)'s own delete would remove or null.\nNothing was deleted. Run again with --cascade to delete them the way the application would (every row is journaled and `medialib restore` puts them back).")
            }
        }

        // Trash: checked and planned before anything is deleted.
        var planned: [Journal.Move] = []
        if let trashPath = options.trash {
            let trash = try Trash.prepare(trashPath)
            if trashPath.isInside(root.path) || (root.realRoot.map { (FileSystem.realPath(trashPath) ?? trashPath).isInside($0) } ?? false) {
                try report(.note("warning: the trash \(trashPath.displayed) lies under the media root; `medialib import` skips it, but other tools may not"))
            }
            planned = try planMoves(doomed, trash: trash, usedBy: usedBy, report: report)
            try trash.checkRoom(for: planned.map { ($0.from, $0.file?.size ?? 0) })
        }
        for v in doomed {
            if let dir = v.record.frameDirectory {
                try report(.note("record \(v.record.id): its frame folder \(dir.displayed) (\(FolderSize.describe(root.resolve(dir)))) is left in place"))
            }
        }

        let journalPath = options.journal ?? defaultJournalPath()
        let header = Journal.Header(version: Journal.version, createdAt: JournalWriter.now(), catalog: records.identity,
                                    mediaRoot: root.path, trash: options.trash, minFrames: settings.minFrames,
                                    records: doomed.count, videoTable: records.profile.video.table)
        var reasons: [Int64: [String]] = [:]
        for v in doomed { reasons[v.record.id] = v.reasons.map(\.code.rawValue) }
        let journal = try JournalWriter(path: journalPath, header: header, reasons: reasons, faults: faults)
        journal.planMoves(planned)
        journal.recheck = { try Self.recheck(doomed) }
        result.journal = journalPath
        let outcome: DeletionOutcome
        do {
            outcome = try records.delete(DeletionRequest(records: doomed.map(\.record), cascade: options.cascade), journal: journal)
        } catch let e as CatalogError {
            throw MaintenanceError.failed("\(e.description)\nNothing was deleted (journal \(journalPath.displayed) records what would have been).")
        }
        try? journal.markCommitted()
        try faults.reach(.afterCommit)
        result.deleted = outcome.records
        result.rows = outcome.rows
        result.nulled = outcome.nulled
        // The rows are gone and the journal holds them; moving files is housekeeping that
        // restore can finish or undo from the journal if it is interrupted.
        for m in planned {
            do {
                let moved = try FileMover.move(from: m.from, to: m.to, faults: faults)
                let done = Journal.Moved(from: m.from, to: m.to, file: moved.identity, copied: moved.copied)
                try? journal.recordMoved(done)
                result.moved.append(done)
                try report(.moved(done))
                try faults.reach(.afterMove)
            } catch let e as MaintenanceError {
                throw MaintenanceError.failed("deleted \(outcome.records) records (journal \(journalPath.displayed)), but moving \(m.from.displayed) to the trash failed: \(e). Run `medialib restore \(journalPath.displayed)` to undo.")
            }
        }
        try? journal.finish()
        return result
    }

    /// The file moves of the records to delete: regular files inside the media root that no
    /// surviving record uses, each once.
    func planMoves(_ doomed: [CleanupVerdict], trash: Trash, usedBy: [FileIdentity.Key: Int64],
                   report: (CleanupEvent) throws -> Void) throws -> [Journal.Move] {
        var planned: [Journal.Move] = []
        var seen = Set<FileIdentity.Key>()
        var targets = Set<RawPath>()
        for v in doomed {
            for f in v.inspection.files {
                guard let column = f.role == .original ? v.record.file(f.kind)?.column : v.record.file(f.kind)?.streamableColumn
                else { continue }
                // Only regular files move: never a folder, a device or a symlink (lstat).
                guard case .success(let st) = FileSystem.status(f.resolved, followingSymlinks: false), st.kind == .regular else { continue }
                guard root.containsRealPath(of: f.resolved), let real = FileSystem.realPath(f.resolved),
                      let relative = root.realRoot.flatMap({ real.relative(to: $0) }) else {
                    try report(.keptFile(f.resolved, "it lies outside the media root; cleanup never moves such a file"))
                    continue
                }
                if let other = usedBy[st.identity.key] {
                    try report(.keptFile(f.resolved, "record \(other) still uses it"))
                    continue
                }
                guard seen.insert(st.identity.key).inserted else { continue }
                let dest = trash.destination(for: relative)
                if FileSystem.occupied(dest) || !targets.insert(dest).inserted {
                    throw MaintenanceError.refused("the trash already holds \(dest.displayed); refusing to overwrite it (nothing was deleted)")
                }
                planned.append(Journal.Move(record: v.record.id, column: column, from: f.resolved, to: dest, file: st.identity))
            }
        }
        return planned
    }

    /// Just before the commit: every judged file must still be what it was (an upload that
    /// resumed, a file put back): otherwise nothing is deleted.
    static func recheck(_ doomed: [CleanupVerdict]) throws {
        for v in doomed {
            for f in v.inspection.files {
                let now: FileIdentity?
                if case .success(let st) = FileSystem.status(f.resolved) { now = st.identity } else { now = nil }
                guard now?.size == f.identity?.size, now?.inode == f.identity?.inode, now?.device == f.identity?.device,
                      now?.mtimeSinceEpochNanoseconds == f.identity?.mtimeSinceEpochNanoseconds else {
                    throw CatalogError.conflict("\(f.resolved.displayed) changed while cleanup ran (record \(v.record.id)); nothing was deleted (run cleanup again)")
                }
            }
        }
    }

    /// Beside medialib's own catalog; for another app's database, beside medialib's state for it.
    func defaultJournalPath(now: Date = Date()) -> RawPath {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let name = "cleanup-\(f.string(from: now))-\(getpid()).jsonl"
        return catalog.journalFolder.appending(name)
    }
}

enum FolderSize {
    static func describe(_ folder: RawPath) -> String {
        guard FileSystem.isDirectory(folder) else { return "missing" }
        var bytes: Int64 = 0
        var files = 0
        var pending = [folder]
        while let dir = pending.popLast(), files < 1_000_000 {
            guard case .success(let entries) = FileSystem.entries(of: dir) else { continue }
            for e in entries {
                let p = dir.appending(e.name)
                guard case .success(let st) = FileSystem.status(p, followingSymlinks: false) else { continue }
                if st.kind == .directory { pending.append(p) } else { bytes += st.identity.size; files += 1 }
            }
        }
        return "\(files) files, \(bytes) bytes"
    }
}
