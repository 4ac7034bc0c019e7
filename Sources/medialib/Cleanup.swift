import ArgumentParser
import Foundation
import Maintenance
import MediaProbe
import MediaCatalog
import MediaFiles

struct Cleanup: ParsableCommand, GlobalCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find records whose video is missing or too short; report them, or delete them with --apply.",
        discussion: """
            A dry run is the default. --apply refuses (exit 3) when the media root is missing or empty, when most \
            files are unreachable or not media, or when it would delete more than --max-delete (default: half the \
            records); --force overrides. Every deleted row is journaled first; `medialib restore JOURNAL` undoes it.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("min-frames"), help: "Records with a file of fewer frames are invalid.")
    var minFrames: Int = 10

    @Option(name: .customLong("min-age"), help: ArgumentHelp("Files modified more recently than this are not judged (an upload in progress): 90s, 5m, 2h, 1d, or seconds.", valueName: "duration"))
    var minAge: String = "5m"

    @Option(name: .customLong("max-delete"), help: ArgumentHelp("Refuse to delete more records than this: a count or a percentage (default 50%).", valueName: "n|p%"))
    var maxDelete: String?

    @Flag(help: "Delete the invalid records (journaled, in one transaction).")
    var apply = false

    @Flag(help: "Also delete (or null) the rows that depend on them, as the application's own delete would.")
    var cascade = false

    @Option(help: ArgumentHelp("Also move the deleted records' files into this folder.", valueName: "dir"))
    var trash: String?

    @Option(help: ArgumentHelp("Where to write the journal (default: medialib-journals/ beside medialib's own catalog; for another app's database, journals/ beside the --state file).", valueName: "file"))
    var journal: String?

    @Flag(help: "Apply even when a safety guard trips.")
    var force = false

    @Flag(help: "Ignore the probe cache and probe every file again.")
    var full = false

    @Option(help: "text or json.")
    var format: OutputFormat = .text

    @Option(help: "Files probed in parallel (default: the number of cores).")
    var jobs: Int?

    func validate() throws {
        if minFrames < 0 { throw ValidationError("--min-frames must be 0 or more") }
        if let jobs, jobs < 1 || jobs > 1024 { throw ValidationError("--jobs must be between 1 and 1024") }
        if DurationText.parse(minAge) == nil { throw ValidationError("--min-age takes a duration up to 10 years, such as 90s, 5m, 2h, 1d") }
        if let maxDelete, DeleteLimit(maxDelete) == nil { throw ValidationError("--max-delete takes a count (10) or a percentage (25%)") }
        if !apply && (journal != nil || force || trash != nil || cascade || maxDelete != nil) {
            throw ValidationError("--trash, --journal, --cascade, --max-delete and --force only make sense with --apply")
        }
    }

    func run() throws {
        do { try Prober.loadLibrary() } catch { throw Failure.cannotRun("cannot probe videos: \(error)") }
        let catalog = try global.open(apply ? .write : .read)
        let root = try global.resolveMediaRoot(catalog)
        if !root.exists && !force {
            throw Failure.cannotRun("the media root \(root.path.displayed) does not exist, so every file would look missing; nothing was checked (set --media-root, or --apply --force to delete anyway)")
        }
        var options = CleanupOptions()
        options.apply = apply
        options.cascade = cascade
        options.force = force
        options.maxDelete = maxDelete.flatMap(DeleteLimit.init)
        options.trash = trash.map { MediaRoot(RawArguments.path($0)).path }
        options.journal = journal.map { MediaRoot(RawArguments.path($0)).path }
        let settings = InspectionSettings(mediaRoot: root, minFrames: minFrames, minAge: DurationText.parse(minAge) ?? 300,
                                          full: full, jobs: jobs ?? WorkerPool.defaultWorkers)
        if let journalPath = options.journal, FileSystem.occupied(journalPath) {
            throw Failure.cannotRun("journal \(journalPath.displayed) already exists; choose another --journal (nothing was deleted)")
        }
        let report = CleanupReport(format: format, catalog: catalog, root: root, minFrames: minFrames, apply: apply,
                                   catalogArguments: global.catalogArguments(catalog))
        report.begin()
        let result: CleanupResult
        do {
            result = try CleanupJob(catalog: catalog, settings: settings, options: options, faults: try Faults.fromEnvironment())
                .run(report.event)
        } catch {
            report.abandon(Main.describe(error).1 ?? "\(error)")
            throw error
        }
        if let note = result.stats.cacheSkipped, format == .text { Console.error("note: \(note)") }
        report.end(result)
        if !apply && (result.summary.invalid > 0 || result.summary.protected > 0) { throw Exit.problems }
    }
}

/// cleanup's output, as the job goes: text lines, or one JSON document streamed record by
/// record (memory stays flat in the record count).
final class CleanupReport {
    let format: OutputFormat
    let catalog: OpenCatalog
    let root: MediaRoot
    let minFrames: Int
    let apply: Bool
    /// How the undo line names the catalog again.
    let catalogArguments: [String]
    private var first = true
    /// What the closing lines need of the records to delete: their lines (text) or ids (json).
    private var plannedLines: [String] = []
    /// Whether a record to delete takes rows of other tables with it (then --apply needs --cascade).
    private var plannedCascades = false
    private var plannedIDs: [Int64] = []
    private var summary = CleanupSummary()
    private var notes: [String] = []

    init(format: OutputFormat, catalog: OpenCatalog, root: MediaRoot, minFrames: Int, apply: Bool, catalogArguments: [String]) {
        self.format = format
        self.catalogArguments = catalogArguments
        self.catalog = catalog
        self.root = root
        self.minFrames = minFrames
        self.apply = apply
    }

    func begin() {
        guard format == .json else { return }
        var o = JSONObject()
        o.string("catalog", catalog.records.identity.description)
        o.path("media_root", root.path)
        o.int("min_frames", minFrames)
        o.string("mode", apply ? "apply" : "dry_run")
        o.string("schema", catalog.records.profile.name)
        Console.out.write(String(o.text.dropLast()) + ",\"records\":[")
    }

    /// A failed run still leaves one valid document on stdout, saying why it stopped.
    func abandon(_ why: String) {
        if format == .json { Console.out.line("\n],\"error\":\(JSONText.string(why))}") }
    }

    func event(_ e: CleanupEvent) {
        switch e {
        case .record(let v):
            switch format {
            case .text:
                Console.out.line(Self.line(v))
                if v.wouldDelete {
                    plannedLines.append(Self.deletionLine(v))
                    if v.dependents?.hasDependents == true { plannedCascades = true }
                }
            case .json:
                Console.out.write((first ? "\n" : ",\n") + Self.json(v))
                first = false
                if v.wouldDelete { plannedIDs.append(v.record.id) }
            }
        case .planned(let s):
            summary = s
            if format == .text && !apply { textPlan() }
        case .note(let text):
            if format == .text { Console.error(text) } else { notes.append(text) }
        case .moved(let m):
            if format == .text { Console.out.line("\(m.copied ? "Copied" : "Trashed") \(m.from.displayed) -> \(m.to.displayed)") }
        case .keptFile(let path, let why):
            if format == .text { Console.out.line("Kept \(path.displayed): \(why)") } else { notes.append("kept \(path.displayed): \(why)") }
        }
    }

    private func textPlan() {
        Console.out.line(Self.totals(summary))
        if plannedLines.isEmpty {
            Console.out.line("Nothing to delete.")
        } else {
            Console.out.line("Would delete:")
            for line in plannedLines { Console.out.line("  " + line) }
            let command = plannedCascades ? "medialib cleanup --apply --cascade" : "medialib cleanup --apply"
            Console.out.line("Dry run: nothing was changed. Delete these with `\(command)`.")
        }
    }

    func end(_ result: CleanupResult) {
        switch format {
        case .text:
            guard apply else { return }
            Console.out.line(Self.totals(result.summary))
            if result.deleted == 0 {
                Console.out.line("Nothing to delete.")
                return
            }
            Console.out.line("Deleted:")
            for line in plannedLines { Console.out.line("  " + line) }
            let others = result.rows.filter { $0.key != catalog.records.profile.video.table }.values.reduce(0, +)
            let nulled = result.nulled > 0 ? ", nulled \(result.nulled) value\(result.nulled == 1 ? "" : "s")" : ""
            let extra = others > 0 || result.nulled > 0 ? " and \(others) dependent row\(others == 1 ? "" : "s")\(nulled)" : ""
            let journal = result.journal?.displayed ?? ""
            Console.out.line("Deleted \(result.deleted) record\(result.deleted == 1 ? "" : "s")\(extra). Journal: \(journal)")
            Console.out.line("Undo with: " + Console.shellCommand(["medialib", "restore", journal] + catalogArguments))
        case .json:
            var o = JSONObject()
            o.raw("summary", Self.summaryJSON(result.summary))
            o.raw("would_delete", JSONText.array(plannedIDs.map { String($0) }))
            if apply {
                o.int("deleted", result.deleted)
                o.path("journal", result.journal)
                o.raw("trashed", JSONText.array(result.moved.map { m in
                    var t = JSONObject()
                    t.path("from", m.from)
                    t.path("to", m.to)
                    t.bool("copied", m.copied)
                    return t.text
                }))
            }
            if !notes.isEmpty { o.raw("notes", JSONText.array(notes.map(JSONText.string))) }
            Console.out.line("\n]," + String(o.text.dropFirst()))
        }
    }

    static func totals(_ s: CleanupSummary) -> String {
        var t = "Total: \(s.total) | Valid: \(s.valid) | Invalid: \(s.invalid)"
        if s.protected > 0 { t += " | Protected: \(s.protected)" }
        if s.kept > 0 { t += " | Kept (recently modified): \(s.kept)" }
        return t
    }

    static func label(_ status: CleanupStatus) -> String {
        switch status {
        case .valid: "valid  "
        case .invalid: "invalid"
        case .protected: "protected"
        case .kept: "kept   "
        }
    }

    static func line(_ v: CleanupVerdict) -> String {
        let head = "\(label(v.status)) \(Console.label(id: v.record.id, uuid: v.record.uuid))"
        if v.status == .valid {
            let frames = v.inspection.files.map { f -> String in
                let name = f.kind.rawValue + (f.role == .streamable ? " copy" : "")
                if let n = f.facts?.frames { return "\(name) \(n) frames" }
                if f.findings.contains(where: { $0.code == .encrypted }) {
                    return "\(name) encrypted (\(v.record.appFrameCount.map { "\($0) frames per the catalog" } ?? "frame count unknown"))"
                }
                return "\(name) not judged"
            }.joined(separator: ", ")
            return "\(head)  \(frames)"
        }
        var text = "\(head)  \(reasonsText(v))"
        if v.status == .protected, let d = v.dependents { text += "; held by \(d.protectedBy.joined(separator: "; "))" }
        return text
    }

    static func deletionLine(_ v: CleanupVerdict) -> String {
        var text = "\(Console.label(id: v.record.id, uuid: v.record.uuid))  \(reasonsText(v))"
        if let d = v.dependents, d.hasDependents { text += "\n      with: \(d.summary)" }
        return text
    }

    static func reasonsText(_ v: CleanupVerdict) -> String {
        v.reasons.map { r in
            let detail = CleanupPolicy.detail(r, in: v.inspection)
            guard let kind = r.file, let f = v.inspection.file(kind, role: r.role) else { return "\(r.code.rawValue): \(detail)" }
            return "\(r.code.rawValue): \(kind.rawValue)\(r.role == .streamable ? " copy" : "") \(f.stored.displayed): \(detail)"
        }.joined(separator: "; ")
    }

    static func json(_ v: CleanupVerdict) -> String {
        var o = JSONObject()
        if let d = v.dependents, d.hasDependents || d.isProtected {
            var dep = JSONObject()
            dep.raw("deletes", "{" + d.deletions.sorted { $0.key < $1.key }.map { "\(JSONText.string($0.key)):\($0.value)" }.joined(separator: ",") + "}")
            dep.raw("nulls", "{" + d.nullings.sorted { $0.key < $1.key }.map { "\(JSONText.string($0.key)):\($0.value)" }.joined(separator: ",") + "}")
            dep.raw("protected_by", JSONText.array(d.protectedBy.map(JSONText.string)))
            o.raw("dependents", dep.text)
        }
        o.raw("files", JSONText.array(v.inspection.files.map { f in
            var fo = JSONObject()
            fo.bool("cached", f.source == .cached)
            fo.int("counted_packets", f.facts?.probe?.countedPackets)
            fo.string("error", f.findings.first { VerifyOutput.fileErrors.contains($0.code) }?.code.rawValue)
            fo.int("frames", f.facts?.frames)
            fo.int("header_frames", f.facts?.probe?.headerFrameCount)
            fo.string("kind", f.kind.rawValue)
            fo.path("path", f.stored)
            fo.path("resolved_path", f.resolved)
            fo.string("role", f.role.rawValue)
            return fo.text
        }))
        o.int("id", v.record.id)
        o.raw("reasons", JSONText.array(v.reasons.map { r in
            var ro = JSONObject()
            ro.string("code", r.code.rawValue)
            ro.string("detail", CleanupPolicy.detail(r, in: v.inspection))
            ro.string("file", r.file?.rawValue)
            return ro.text
        }))
        o.string("status", v.status.rawValue)
        o.string("uuid", v.record.uuid)
        return o.text
    }

    static func summaryJSON(_ s: CleanupSummary) -> String {
        var o = JSONObject()
        o.int("invalid", s.invalid)
        o.int("kept", s.kept)
        o.int("protected", s.protected)
        o.int("total", s.total)
        o.int("valid", s.valid)
        return o.text
    }
}
