import ArgumentParser
import Foundation
import Maintenance
import MediaCatalog
import MediaProbe

struct Cleanup: ParsableCommand, GlobalCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find records whose video is missing or too short; report them, or delete them with --apply.",
        discussion: "A dry run is the default. --apply journals every deleted row first; `medialib restore JOURNAL` undoes it.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("min-frames"), help: "Records with a file of fewer frames are invalid.")
    var minFrames: Int = CleanupPlanner.defaultMinFrames

    @Flag(help: "Delete the invalid records (journaled, in one transaction).")
    var apply = false

    @Option(help: ArgumentHelp("Also move the deleted records' files into this folder.", valueName: "dir"))
    var trash: String?

    @Option(help: ArgumentHelp("Where to write the journal (default: medialib-journals/ beside the catalog).", valueName: "file"))
    var journal: String?

    @Flag(help: "Apply even when a safety guard trips.")
    var force = false

    @Option(help: "text or json.")
    var format: OutputFormat = .text

    @Option(help: "Files probed in parallel (default: the number of cores).")
    var jobs: Int = WorkerPool.defaultWorkers

    func validate() throws {
        if minFrames < 0 { throw ValidationError("--min-frames must be 0 or more") }
        if jobs < 1 { throw ValidationError("--jobs must be 1 or more") }
        if !apply && (journal != nil || force || trash != nil) {
            throw ValidationError("--trash, --journal and --force only make sense with --apply")
        }
    }

    func run() throws {
        let catalog = try global.openCatalog(apply ? .write : .read)
        let root = try global.resolveMediaRoot(catalog)
        if !root.exists && !force {
            throw Failure(code: Exit.cannotRun, message: "error: the media root \(root.path) does not exist, so every file would look missing; nothing was checked (set --media-root, or --apply --force to delete anyway)")
        }
        let inspector = CleanupInspector(mediaRoot: root, minFrames: minFrames, workers: jobs)
        var summary = CleanupSummary()
        var all: [RecordVerdict] = []
        var invalid: [RecordVerdict] = []
        try inspector.inspect(catalog) { v in
            summary.add(v)
            if format == .text { print(Self.line(v)) } else { all.append(v) }
            if !v.isValid { invalid.append(v) }
        }
        if apply {
            try applyPlan(invalid, summary: summary, all: all, catalog: catalog, root: root)
        } else {
            report(summary: summary, invalid: invalid, all: all, root: root)
            if summary.invalid > 0 { throw Exit.problems }
        }
    }

    private func report(summary: CleanupSummary, invalid: [RecordVerdict], all: [RecordVerdict], root: MediaRoot) {
        switch format {
        case .text:
            print(Self.totals(summary))
            if invalid.isEmpty {
                print("Nothing to delete.")
            } else {
                print("Would delete:")
                for v in invalid { print("  " + Self.deletionLine(v)) }
                print("Dry run: nothing was changed. Delete these with `medialib cleanup --apply`.")
            }
        case .json:
            try? Console.printJSON(CleanupDocument(mode: "dry_run", catalog: catalogLocation, root: root, minFrames: minFrames,
                                                   all: all, summary: summary))
        }
    }

    private var catalogLocation: String { MediaRoot.absolute(global.catalogPath) }

    private func applyPlan(_ invalid: [RecordVerdict], summary: CleanupSummary, all: [RecordVerdict],
                           catalog: SQLiteCatalog, root: MediaRoot) throws {
        if let reason = CleanupGuard.check(summary: summary, mediaRoot: root), !force {
            throw Failure(code: Exit.cannotRun, message: "refused: \(reason).\nNothing was deleted. Check --media-root / MEDIALIB_MEDIA_ROOT; if this really is intended, run again with --force.")
        }
        var document = CleanupDocument(mode: "apply", catalog: catalogLocation, root: root, minFrames: minFrames,
                                       all: all, summary: summary)
        guard !invalid.isEmpty else {
            if format == .text {
                print(Self.totals(summary))
                print("Nothing to delete.")
            } else { try Console.printJSON(document) }
            return
        }
        let journalPath = journal.map { MediaRoot.absolute($0) }
            ?? CleanupApplier.defaultJournalPath(catalogPath: global.catalogPath)
        if FileManager.default.fileExists(atPath: journalPath) {
            throw Failure(code: Exit.cannotRun, message: "error: journal \(journalPath) already exists; choose another --journal (nothing was deleted)")
        }
        let applier = CleanupApplier(mediaRoot: root, trash: trash, minFrames: minFrames)
        let outcome: CleanupApplier.Outcome
        do {
            outcome = try applier.apply(invalid, catalog: catalog, journalPath: journalPath)
        } catch {
            throw Failure(code: Exit.cannotRun, message: "error: \(error)")
        }
        switch format {
        case .text:
            print(Self.totals(summary))
            print("Deleted:")
            for v in invalid { print("  " + Self.deletionLine(v)) }
            for m in outcome.moved { print("Trashed \(m.from) -> \(m.to)") }
            for k in outcome.keptShared { print("Kept \(k): another record still uses it") }
            print("Deleted \(outcome.deleted) records. Journal: \(outcome.journalPath)")
            print("Undo with: medialib restore \(outcome.journalPath)")
        case .json:
            document.deleted = outcome.deleted
            document.journal = outcome.journalPath
            document.trashed = outcome.moved.map { ["from": $0.from, "to": $0.to] }
            try Console.printJSON(document)
        }
    }

    static func totals(_ s: CleanupSummary) -> String {
        "Total: \(s.total) | Valid: \(s.valid) | Invalid: \(s.invalid)"
    }

    static func line(_ v: RecordVerdict) -> String {
        let head = "\(v.isValid ? "valid  " : "invalid") #\(v.record.id) \(Console.shortUUID(v.record.uuid))"
        if v.isValid {
            let frames = v.files.map { "\($0.kind.rawValue) \($0.frames ?? 0) frames" }.joined(separator: ", ")
            return "\(head)  \(frames)"
        }
        return "\(head)  \(reasonsText(v))"
    }

    static func deletionLine(_ v: RecordVerdict) -> String {
        "#\(v.record.id) \(Console.shortUUID(v.record.uuid))  \(reasonsText(v))"
    }

    static func reasonsText(_ v: RecordVerdict) -> String {
        v.reasons.map { r in
            guard let kind = r.file, let f = v.files.first(where: { $0.kind == kind }) else { return "\(r.code): \(r.detail)" }
            return "\(r.code): \(kind.rawValue) \(f.storedPath): \(r.detail)"
        }.joined(separator: "; ")
    }
}

/// The `--format json` document of cleanup.
struct CleanupDocument: Encodable {
    struct FileItem: Encodable {
        var kind: String
        var path: String
        var resolved_path: String
        var frames: Int?
        var header_frames: Int?
        var counted_packets: Int?
        var error: String?
    }
    struct ReasonItem: Encodable {
        var code: String
        var file: String?
        var detail: String
    }
    struct RecordItem: Encodable {
        var id: Int64
        var uuid: String
        var status: String
        var reasons: [ReasonItem]
        var files: [FileItem]
    }
    struct Summary: Encodable {
        var total: Int
        var valid: Int
        var invalid: Int
    }

    var mode: String
    var catalog: String
    var media_root: String
    var min_frames: Int
    var records: [RecordItem]
    var summary: Summary
    var would_delete: [Int64]
    var deleted: Int?
    var journal: String?
    var trashed: [[String: String]]?

    init(mode: String, catalog: String, root: MediaRoot, minFrames: Int, all: [RecordVerdict], summary: CleanupSummary) {
        self.mode = mode
        self.catalog = catalog
        media_root = root.path
        min_frames = minFrames
        records = all.map { v in
            RecordItem(id: v.record.id, uuid: v.record.uuid, status: v.isValid ? "valid" : "invalid",
                       reasons: v.reasons.map { ReasonItem(code: $0.code, file: $0.file?.rawValue, detail: $0.detail) },
                       files: v.files.map { f in
                           var item = FileItem(kind: f.kind.rawValue, path: f.storedPath, resolved_path: f.resolvedPath)
                           switch f.outcome {
                           case .success(let p):
                               item.frames = p.frameCount
                               item.header_frames = p.headerFrameCount
                               item.counted_packets = p.countedPackets
                           case .failure(let e):
                               item.error = e.code
                           }
                           return item
                       })
        }
        self.summary = Summary(total: summary.total, valid: summary.valid, invalid: summary.invalid)
        would_delete = all.filter { !$0.isValid }.map(\.record.id)
    }
}
