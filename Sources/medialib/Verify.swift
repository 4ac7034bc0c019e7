import ArgumentParser
import Foundation
import Maintenance
import MediaProbe
import MediaCatalog

struct Verify: ParsableCommand, GlobalCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that every record would stream to a browser (for cron).",
        discussion: """
            Exit codes: 0 all streamable; 1 an error (or, with --strict, a warning); 2 usage; \
            3 could not run (catalog unreadable, media root missing). Unchanged files are answered \
            from the probe cache without being opened; --full re-probes everything.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json, jsonl }

    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("min-frames"), help: "Files with fewer frames are errors.")
    var minFrames: Int = 10

    @Option(help: "Files probed in parallel (default: the number of cores).")
    var jobs: Int?

    @Flag(help: "Ignore cached results and probe every file again.")
    var full = false

    @Flag(help: "Also decode every video frame (slow); reports decode_error.")
    var deep = false

    @Flag(help: "Warnings (not_faststart, codec_not_browser_safe, zero_duration) fail the run too.")
    var strict = false

    @Option(help: ArgumentHelp("Check only shard K of N (by record id; every record is in exactly one shard).", valueName: "k/n"))
    var shard: String?

    @Option(help: ArgumentHelp("Also check a running server at this base URL (http://host:port).", valueName: "url"))
    var via: String?

    @Option(name: .customLong("via-template"), help: ArgumentHelp("URL template for --via; placeholders {base} {id} {uuid} {type} {path} (the stored path).", valueName: "template"))
    var viaTemplate: String = HTTPStreamCheck.defaultTemplate

    @Option(name: .customLong("via-timeout"), help: "Seconds to wait for the server in each --via request.")
    var viaTimeout: Double = 10

    @Option(help: "text, json or jsonl.")
    var format: Format = .text

    @Flag(help: "Print only records with problems.")
    var quiet = false

    func validate() throws {
        if minFrames < 0 { throw ValidationError("--min-frames must be 0 or more") }
        if let jobs, jobs < 1 || jobs > 1024 { throw ValidationError("--jobs must be between 1 and 1024") }
        if let via, let problem = HTTPStreamCheck.problem(with: via) { throw ValidationError(problem) }
        if !(viaTimeout > 0 && viaTimeout <= 3600) { throw ValidationError("--via-timeout must be a number of seconds between 0 and 3600") }
        if let shard, Shard(shard) == nil { throw ValidationError("--shard takes K/N with 1 ≤ K ≤ N, e.g. 2/3") }
    }

    func run() throws {
        do { try Prober.loadLibrary() } catch { throw Failure.cannotRun("cannot probe videos: \(error)") }
        let started = Date()
        let catalog = try global.open(.read)
        let root = try global.requireExistingMediaRoot(catalog)
        let settings = InspectionSettings(
            mediaRoot: root, minFrames: minFrames, depth: deep ? .deep : .standard, full: full, jobs: jobs ?? WorkerPool.defaultWorkers,
            http: via.map { HTTPStreamCheck(base: $0, template: viaTemplate, timeout: viaTimeout) })
        let output = VerifyOutput(format: format, quiet: quiet)
        output.begin()
        let progress = Progress(enabled: Console.stderrIsTerminal)
        let counters: VerifyCounters
        do {
            counters = try VerifyJob(catalog: catalog, settings: settings, shard: shard.flatMap(Shard.init)).run { inspection, status in
                progress.tick()
                output.record(inspection, status)
            }
        } catch {
            progress.finish()
            throw error
        }
        progress.finish()
        if let note = counters.stats.cacheSkipped, catalog.state.isWritable { Console.error("note: \(note)") }
        output.end(counters, elapsed: Date().timeIntervalSince(started), strict: strict)
        if !counters.passed(strict: strict) { throw Exit.problems }
    }
}

/// Renders results as they stream in: nothing is held back, whatever the library's size.
final class VerifyOutput {
    let format: Verify.Format
    let quiet: Bool
    private var first = true

    init(format: Verify.Format, quiet: Bool) {
        self.format = format
        self.quiet = quiet
    }

    func begin() {
        if format == .json { Console.out.write("{\"records\":[") }
    }

    func record(_ i: RecordInspection, _ status: VerifyPolicy.Status) {
        let reported = VerifyPolicy.reported(i)
        if quiet && reported.isEmpty { return }
        switch format {
        case .text:
            for f in reported {
                let place = f.file.flatMap { k in i.file(k, role: f.role) }
                    .map { "\($0.kind.rawValue)\($0.role == .streamable ? " copy" : "") \($0.stored.displayed)" } ?? "record"
                let severity = f.severity.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)
                Console.out.line("\(severity) \(Console.label(id: i.record.id, uuid: i.record.uuid))  \(place): \(f.code.rawValue): \(f.message)")
            }
        case .json, .jsonl:
            let line = Self.json(i, status)
            if format == .jsonl {
                Console.out.line(line)
            } else {
                Console.out.write((first ? "\n" : ",\n") + line)
                first = false
            }
        }
    }

    func end(_ c: VerifyCounters, elapsed: Double, strict: Bool) {
        let s = c.stats
        var o = JSONObject()
        o.int("cached", s.cached)
        o.double("elapsed_seconds", (elapsed * 1000).rounded() / 1000)
        o.int("errors", c.errors)
        o.int("files", s.files)
        o.int("ok", c.ok)
        o.bool("passed", c.passed(strict: strict))
        o.int("probed", s.probed)
        o.int("records", c.records)
        o.bool("strict", strict)
        o.int("warnings", c.warnings)
        switch format {
        case .text:
            if quiet { return }
            Console.out.line("Verified \(c.records) records (\(s.files) files: \(s.probed) probed, \(s.cached) cached) in \(String(format: "%.2f", elapsed)) s: \(c.ok) ok, \(c.warnings) with warnings, \(c.errors) with errors")
        case .json:
            Console.out.line("\n],\"summary\":\(o.text)}")
        case .jsonl:
            Console.out.line("{\"summary\":\(o.text)}")
        }
    }

    /// What stat(2) or libav said about the file itself.
    static let fileErrors: Set<Finding.Code> = [.missingFile, .notRegularFile, .unreadable, .emptyFile, .notMedia, .noVideoStream]

    static func json(_ i: RecordInspection, _ status: VerifyPolicy.Status) -> String {
        var o = JSONObject()
        o.raw("files", JSONText.array(i.files.map { f in
            let p = f.facts?.probe
            var fo = JSONObject(omitNil: true)
            fo.bool("cached", f.source == .cached)
            fo.string("codec", p?.videoCodec)
            fo.string("container", p?.container)
            fo.double("duration", p?.duration)
            fo.string("error", f.findings.first { Self.fileErrors.contains($0.code) }?.code.rawValue)
            fo.bool("faststart", p?.moovBeforeMdat)
            fo.int("frames", f.facts?.frames)
            fo.int("height", p?.height)
            fo.string("kind", f.kind.rawValue)
            fo.path("path", f.stored)
            if f.role == .streamable { fo.string("role", "streamable") }
            fo.int("width", p?.width)
            return fo.text
        }))
        o.int("id", i.record.id)
        o.raw("issues", JSONText.array(i.findings.map { f in
            var io = JSONObject(omitNil: true)
            io.string("code", f.code.rawValue)
            io.string("file", f.file?.rawValue)
            io.string("message", f.message)
            io.string("severity", f.severity.rawValue)
            return io.text
        }))
        o.string("status", status.rawValue)
        o.string("uuid", i.record.uuid)
        return o.text
    }
}

/// "verified N records" on stderr, only for a person at a terminal.
final class Progress {
    let enabled: Bool
    private var count = 0
    private var last = Date.distantPast

    init(enabled: Bool) { self.enabled = enabled }

    func tick() {
        count += 1
        guard enabled, Date().timeIntervalSince(last) > 0.2 else { return }
        last = Date()
        FileHandle.standardError.write(Data("\rverified \(count) records".utf8))
    }

    func finish() {
        if enabled && count > 0 { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
