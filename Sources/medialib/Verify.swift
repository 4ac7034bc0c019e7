import ArgumentParser
import Foundation
import Maintenance
import MediaCatalog
import MediaProbe

struct Verify: ParsableCommand, GlobalCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that every record would stream to a browser (for cron).",
        discussion: """
            Exit codes: 0 all streamable; 1 an error (or, with --strict, a warning); 2 usage; \
            3 could not run (catalog unreadable, media root missing). Unchanged files are answered \
            from the catalog's cache without being opened; --full re-probes everything.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json, jsonl }

    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("min-frames"), help: "Files with fewer frames are errors.")
    var minFrames: Int = CleanupPlanner.defaultMinFrames

    @Option(help: "Files probed in parallel (default: the number of cores).")
    var jobs: Int = WorkerPool.defaultWorkers

    @Flag(help: "Ignore cached results and probe every file again.")
    var full = false

    @Flag(help: "Also decode every video frame (slow); reports decode_error.")
    var deep = false

    @Flag(help: "Warnings (not_faststart, codec_not_browser_safe) fail the run too.")
    var strict = false

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
        if jobs < 1 { throw ValidationError("--jobs must be 1 or more") }
        if let via, !via.hasPrefix("http://") { throw ValidationError("--via takes an http:// URL") }
        if !(viaTimeout > 0 && viaTimeout <= 3600) { throw ValidationError("--via-timeout must be a number of seconds between 0 and 3600") }
    }

    func run() throws {
        let started = Date()
        var cacheWritable = true
        let catalog: SQLiteCatalog
        do {
            catalog = try SQLiteCatalog(path: global.catalogPath, access: .write)
        } catch CatalogError.readOnly {
            // Still verify a read-only catalog; only the cache is lost.
            cacheWritable = false
            catalog = try global.openCatalog(.read)
            Console.error("note: the catalog is read-only; results are not cached")
        } catch let error as CatalogError {
            throw Failure(code: Exit.cannotRun, message: "error: \(error.description)")
        }
        let root = try global.requireExistingMediaRoot(catalog)
        let verifier = Verifier(
            mediaRoot: root, minFrames: minFrames, workers: jobs, depth: deep ? .deep : .standard, full: full,
            toolVersion: "medialib \(MediaLib.version) checks 1 \(Prober.libraryVersion)",
            http: via.map { HTTPStreamCheck(base: $0, template: viaTemplate, timeout: viaTimeout) })
        let output = VerifyOutput(format: format, quiet: quiet)
        output.begin()
        let progress = Progress(enabled: Console.stderrIsTerminal)
        let counters: Verifier.Counters
        do {
            counters = try verifier.run(catalog, cacheWritable: cacheWritable) { result in
                progress.tick()
                output.record(result)
            }
        } catch {
            throw Failure(code: Exit.cannotRun, message: "error: \(error)")
        }
        progress.finish()
        let elapsed = Date().timeIntervalSince(started)
        output.end(counters, elapsed: elapsed, strict: strict)
        if counters.errors > 0 || (strict && counters.warnings > 0) { throw Exit.problems }
    }
}

/// Renders results as they stream in: nothing is held back, whatever the library's size.
struct VerifyOutput {
    let format: Verify.Format
    let quiet: Bool
    private let encoder = Console.jsonEncoder(pretty: false)
    private let first = Box(true)

    init(format: Verify.Format, quiet: Bool) {
        self.format = format
        self.quiet = quiet
    }

    final class Box: @unchecked Sendable {
        var value: Bool
        init(_ v: Bool) { value = v }
    }

    func begin() {
        if format == .json { print("{\"records\":[", terminator: "") }
    }

    func record(_ r: RecordVerification) {
        if quiet && r.issues.isEmpty { return }
        switch format {
        case .text:
            for issue in r.issues {
                let where_ = issue.file.flatMap { k in r.files.first { $0.kind == k } }.map { "\($0.kind.rawValue) \($0.storedPath)" } ?? "record"
                print("\(issue.severity.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)) #\(r.record.id) \(Console.shortUUID(r.record.uuid))  \(where_): \(issue.code): \(issue.message)")
            }
        case .json, .jsonl:
            let line = String(decoding: (try? encoder.encode(RecordItem(r))) ?? Data(), as: UTF8.self)
            if format == .jsonl {
                print(line)
            } else {
                print((first.value ? "\n" : ",\n") + line, terminator: "")
                first.value = false
            }
        }
    }

    func end(_ c: Verifier.Counters, elapsed: Double, strict: Bool) {
        let summary = SummaryItem(c, elapsed: elapsed, strict: strict)
        switch format {
        case .text:
            if quiet { return }
            print("Verified \(c.records) records (\(c.files) files: \(c.probed) probed, \(c.cached) cached) in \(String(format: "%.2f", elapsed)) s: \(c.ok) ok, \(c.warnings) with warnings, \(c.errors) with errors")
        case .json:
            let s = String(decoding: (try? encoder.encode(summary)) ?? Data(), as: UTF8.self)
            print("\n],\"summary\":\(s)}")
        case .jsonl:
            let s = String(decoding: (try? encoder.encode(["summary": summary])) ?? Data(), as: UTF8.self)
            print(s)
        }
    }

    struct IssueItem: Encodable {
        var code: String
        var severity: String
        var file: String?
        var message: String
    }

    struct FileItem: Encodable {
        var kind: String
        var path: String
        var cached: Bool
        var frames: Int?
        var codec: String?
        var container: String?
        var width: Int?
        var height: Int?
        var duration: Double?
        var faststart: Bool?
        var error: String?
    }

    struct RecordItem: Encodable {
        var id: Int64
        var uuid: String
        var status: String
        var issues: [IssueItem]
        var files: [FileItem]

        init(_ r: RecordVerification) {
            id = r.record.id
            uuid = r.record.uuid
            status = r.status
            issues = r.issues.map { IssueItem(code: $0.code, severity: $0.severity.rawValue, file: $0.file?.rawValue, message: $0.message) }
            files = r.files.map { f in
                let p = f.facts?.probe
                return FileItem(kind: f.kind.rawValue, path: f.storedPath, cached: f.cached, frames: f.facts?.frames,
                                codec: p?.videoCodec, container: p?.container, width: p?.width, height: p?.height,
                                duration: p?.duration, faststart: p?.moovBeforeMdat, error: f.facts?.errorCode)
            }
        }
    }

    struct SummaryItem: Encodable {
        var records: Int
        var ok: Int
        var warnings: Int
        var errors: Int
        var files: Int
        var probed: Int
        var cached: Int
        var elapsed_seconds: Double
        var strict: Bool
        var passed: Bool

        init(_ c: Verifier.Counters, elapsed: Double, strict: Bool) {
            records = c.records
            ok = c.ok
            warnings = c.warnings
            errors = c.errors
            files = c.files
            probed = c.probed
            cached = c.cached
            elapsed_seconds = (elapsed * 1000).rounded() / 1000
            self.strict = strict
            passed = c.errors == 0 && !(strict && c.warnings > 0)
        }
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
