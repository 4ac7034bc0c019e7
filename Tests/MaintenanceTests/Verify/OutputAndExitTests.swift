import Foundation
import Testing
import TestSupport
import MediaFiles
import Maintenance
import MediaCatalog
import MediaProbe

/// Which library a test starts from.
enum Library: String, Sendable {
    case empty, clean, warningsOnly, errors, mixed

    /// Lays the library out; returns how many records have issues.
    @discardableResult
    func build(_ scratch: Scratch) throws -> Int {
        switch self {
        case .empty:
            _ = try scratch.catalog()
            return 0
        case .clean:
            try scratch.place("ok-faststart.mp4")
            try scratch.place("ok.webm")
            try scratch.insert([("ok-faststart.mp4", "ok.webm"), ("ok.webm", nil)])
            return 0
        case .warningsOnly:
            try scratch.place("ok-faststart.mp4")
            try scratch.place("ok-moov-end.mp4")
            try scratch.place("hevc.mp4")
            try scratch.insert([("ok-faststart.mp4", nil), ("ok-moov-end.mp4", nil), ("hevc.mp4", nil)])
            return 2
        case .errors:
            try scratch.place("ok-faststart.mp4")
            try scratch.place("three-frames.mp4")
            try scratch.insert([("ok-faststart.mp4", nil), ("three-frames.mp4", nil)])
            return 1
        case .mixed:
            for f in ["ok-faststart.mp4", "ok-moov-end.mp4", "three-frames.mp4", "truncated.mp4", "ok.webm"] {
                try scratch.place(f)
            }
            // ids 1..6: ok, warning, error (2 issues), error (missing), ok, no_files
            try scratch.insert([("ok-faststart.mp4", nil), ("ok-moov-end.mp4", nil), ("truncated.mp4", nil),
                                ("gone.mp4", "three-frames.mp4"), ("ok.webm", nil), (nil, nil)])
            return 4
        }
    }
}

@Suite("verify: output formats")
struct OutputFormatTests {
    @Test("text: problem lines first, in id order, then one summary line")
    func text() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try Library.mixed.build(scratch)
        let run = try await runVerify(scratch, [])
        #expect(run.status == 1)
        let lines = run.lines
        try #require(lines.count == 7, "\(run)")
        let problems = Array(lines.dropLast())
        #expect(problems.allSatisfy { $0.hasPrefix("error   #") || $0.hasPrefix("warning #") }, "\(problems)")
        let ids = problems.compactMap { line in
            line.split(separator: "#", maxSplits: 1).last.flatMap { Int($0.prefix { $0.isNumber }) }
        }
        #expect(ids == [2, 3, 3, 4, 4, 6])
        #expect(problems[0].contains("not_faststart"))
        #expect(problems[1].contains("truncated.mp4: truncated:"))
        #expect(problems[2].contains("too_few_frames"))
        #expect(problems[3].contains("raw gone.mp4: missing_file:"))
        #expect(problems[4].contains("processed three-frames.mp4: too_few_frames:"))
        #expect(problems[5].contains("record: no_files:"))
        let summary = try #require(lines.last)
        #expect(summary.wholeMatch(of: #/Verified 6 records \(6 files: \d+ probed, \d+ cached\) in \d+\.\d\d s: 2 ok, 1 with warnings, 3 with errors/#) != nil,
                "\(summary)")
        #expect(lines.filter { $0.hasPrefix("Verified") }.count == 1)
    }

    @Test("--quiet: only problem lines, no summary")
    func quiet() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try Library.mixed.build(scratch)
        let loud = try await runVerify(scratch, [])
        let quiet = try await runVerify(scratch, ["--quiet"])
        #expect(quiet.status == 1)
        #expect(quiet.lines == Array(loud.lines.dropLast()))
        #expect(!quiet.stdout.contains("Verified"))
    }

    @Test("--quiet on a clean library prints nothing and exits 0", arguments: [Library.clean, .empty])
    func quietClean(_ library: Library) async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try library.build(scratch)
        let run = try await runVerify(scratch, ["--quiet"])
        #expect(run.status == 0)
        #expect(run.stdout.isEmpty, "\(run)")
    }

    @Test("--format json: one document with records and summary")
    func json() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try Library.mixed.build(scratch)
        let (run, report) = try await verifyJSON(scratch)
        #expect(run.status == 1)
        #expect(report.records.map(\.id) == [1, 2, 3, 4, 5, 6])
        #expect(report.records.map(\.status) == ["ok", "warning", "error", "error", "ok", "error"])
        #expect(report.records.map(\.codes) == [[], ["not_faststart"], ["truncated", "too_few_frames"],
                                                ["missing_file", "too_few_frames"], [], ["no_files"]])
        #expect(report.records[3].issues.map(\.file) == ["raw", "processed"])
        #expect(report.records[5].issues.first?.file == nil)
        #expect(report.records[3].files.map(\.kind) == ["raw", "processed"])
        #expect(report.records[3].files.first?.error == "missing_file")
        #expect(report.records[0].files.first?.frames == 60)
        #expect(report.records[0].files.first?.codec == "h264")
        let s = report.summary
        #expect([s.records, s.ok, s.warnings, s.errors, s.files] == [6, 2, 1, 3, 6] as [Int])
        #expect(s.probed == 5)
        #expect(s.cached == 0)
        #expect(s.elapsed_seconds >= 0)
        #expect(s.passed == false)
        // The document is one JSON object; its summary carries exactly the documented keys (plus strict).
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["records", "summary"])
        let summaryKeys = Set((object["summary"] as? [String: Any])?.keys.map { $0 } ?? [])
        #expect(summaryKeys.isSuperset(of: ["records", "ok", "warnings", "errors", "files", "probed", "cached",
                                            "elapsed_seconds", "passed"]), "\(summaryKeys)")
    }

    @Test("--format json on an empty catalog, and with --quiet on a clean one, is still one valid document",
          arguments: [(Library.empty, [] as [String]), (.clean, ["--quiet"])])
    func jsonNoRecords(_ library: Library, _ more: [String]) async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try library.build(scratch)
        let (run, report) = try await verifyJSON(scratch, more)
        #expect(run.status == 0)
        #expect(report.records.isEmpty)
        #expect(report.summary.passed)
    }

    @Test("--format json --quiet: only records with issues")
    func jsonQuiet() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try Library.mixed.build(scratch)
        let (_, report) = try await verifyJSON(scratch, ["--quiet"])
        #expect(report.records.map(\.id) == [2, 3, 4, 6])
        #expect(report.summary.records == 6)
    }

    @Test("--format jsonl: one object per line, the summary last")
    func jsonl() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try Library.mixed.build(scratch)
        let run = try await runVerify(scratch, ["--format", "jsonl"])
        #expect(run.status == 1)
        let lines = run.lines
        try #require(lines.count == 7, "\(run)")
        let records = try lines.dropLast().map { try JSONDecoder().decode(JSONRecord.self, from: Data($0.utf8)) }
        #expect(records.map(\.id) == [1, 2, 3, 4, 5, 6])
        let last = try #require(lines.last)
        let summary = try JSONDecoder().decode(JSONLSummaryLine.self, from: Data(last.utf8)).summary
        #expect(summary.records == 6)
        #expect(summary.passed == false)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
        #expect(Array(object.keys) == ["summary"])
        // The same records as --format json.
        let (_, report) = try await verifyJSON(scratch)
        #expect(records.map(\.codes) == report.records.map(\.codes))
    }
}

struct ExitCase: Sendable, CustomTestStringConvertible {
    enum Catalog: Sendable { case normal, directory, notSQLite, missing }
    enum Root: Sendable { case normal, missing, aFile }
    var name: String
    var library: Library = .clean
    var catalog: Catalog = .normal
    var mediaRoot: Root = .normal
    var arguments: [String] = []
    var status: Int32
    var testDescription: String { name }
}

let exitCases: [ExitCase] = [
    ExitCase(name: "clean: 0", status: 0),
    ExitCase(name: "empty catalog: 0", library: .empty, status: 0),
    ExitCase(name: "clean --strict: 0", arguments: ["--strict"], status: 0),
    ExitCase(name: "errors: 1", library: .errors, status: 1),
    ExitCase(name: "warnings only: 0", library: .warningsOnly, status: 0),
    ExitCase(name: "warnings only --strict: 1", library: .warningsOnly, arguments: ["--strict"], status: 1),
    ExitCase(name: "--jobs 0: 2", arguments: ["--jobs", "0"], status: 2),
    ExitCase(name: "--format xml: 2", arguments: ["--format", "xml"], status: 2),
    ExitCase(name: "--via ftp://x: 2", arguments: ["--via", "ftp://x"], status: 2),
    ExitCase(name: "--min-frames -1: 2", arguments: ["--min-frames", "-1"], status: 2),
    ExitCase(name: "--via-timeout 0: 2", arguments: ["--via", "http://127.0.0.1:9", "--via-timeout", "0"], status: 2),
    ExitCase(name: "unknown flag: 2", arguments: ["--fast"], status: 2),
    ExitCase(name: "catalog is a directory: 3", catalog: .directory, status: 3),
    ExitCase(name: "catalog is not SQLite: 3", catalog: .notSQLite, status: 3),
    ExitCase(name: "catalog missing: 3", catalog: .missing, status: 3),
    ExitCase(name: "media root missing: 3, not every file missing", library: .errors, mediaRoot: .missing, status: 3),
    ExitCase(name: "media root is a file: 3", library: .errors, mediaRoot: .aFile, status: 3),
]

@Suite("verify: exit codes")
struct ExitCodeTests {
    @Test(arguments: exitCases)
    func exitCode(_ c: ExitCase) async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try c.library.build(scratch)
        let db: String
        switch c.catalog {
        case .normal: db = scratch.db
        case .directory:
            db = scratch.root + "/folder.sqlite"
            try FileManager.default.createDirectory(atPath: db, withIntermediateDirectories: false)
        case .notSQLite:
            db = scratch.root + "/text.sqlite"
            try Data("not a database, only some text that is long enough\n".utf8).write(to: URL(fileURLWithPath: db))
        case .missing: db = scratch.root + "/absent.sqlite"
        }
        let root: String
        switch c.mediaRoot {
        case .normal: root = scratch.media
        case .missing: root = scratch.root + "/no-such-media"
        case .aFile:
            root = scratch.root + "/a-file"
            try Data("x".utf8).write(to: URL(fileURLWithPath: root))
        }
        let run = try await runCLI(["verify", "--db", db, "--media-root", root, "--format", "json"] + c.arguments, in: scratch)
        #expect(run.status == c.status, "\(run)")
        switch c.status {
        case 0, 1:
            let report = try decodeReport(run.stdout)
            #expect(report.summary.passed == (c.status == 0))
        default:
            #expect(run.stdout.isEmpty, "nothing on stdout when the job could not run: \(run)")
            #expect(!run.stderr.isEmpty)
        }
        if c.mediaRoot != .normal { #expect(run.stderr.contains("media root")) }
        if c.catalog == .missing { #expect(!FileManager.default.fileExists(atPath: db), "verify must not create a catalog") }
    }

    @Test("a missing media root in text mode names the root and lists no file")
    func missingRootText() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try Library.mixed.build(scratch)
        let run = try await runCLI(["verify", "--db", scratch.db, "--media-root", scratch.root + "/gone"], in: scratch)
        #expect(run.status == 3)
        #expect(run.stdout.isEmpty)
        #expect(!run.stderr.contains("missing_file"))
        #expect(run.stderr.contains(scratch.root + "/gone"))
    }
}

@Suite("verify: parallelism does not change results")
struct JobsTests {
    /// 40 records mixing every outcome, verified in batches of 7 so several batches and a ragged tail run.
    private func bigLibrary(_ scratch: Scratch) throws {
        let files = ["ok-faststart.mp4", "ok-moov-end.mp4", "ok.webm", "hevc.mp4", "three-frames.mp4",
                     "truncated.mp4", "text.mp4", "audio-only.mp4", "empty.mp4"]
        for f in files { try scratch.place(f) }
        var pairs: [(String?, String?)] = []
        for i in 0..<40 {
            let raw = i % 11 == 10 ? "gone-\(i).mp4" : files[i % files.count]
            let processed = i % 3 == 0 ? files[(i * 5) % files.count] : nil
            pairs.append((i % 13 == 12 ? nil : raw, processed))
        }
        try scratch.insert(pairs)
    }

    @Test("the library with 1 and 4 workers: identical results, in id order")
    func library() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try bigLibrary(scratch)
        let one = try await verifyLibrary(scratch, workers: 1, full: true, cacheWritable: false, batchSize: 7)
        let four = try await verifyLibrary(scratch, workers: 4, full: true, cacheWritable: false, batchSize: 7)
        #expect(one.results.count == 40)
        #expect(one.results.map(\.record.id) == (1...40).map(Int64.init))
        #expect(four.results == one.results)
        #expect(four.counters == one.counters)
    }

    @Test("the CLI with --jobs 1 and --jobs 4: identical records, in id order")
    func cli() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try bigLibrary(scratch)
        let one = try await runVerify(scratch, ["--jobs", "1", "--full", "--format", "jsonl"])
        let four = try await runVerify(scratch, ["--jobs", "4", "--full", "--format", "jsonl"])
        #expect(one.status == 1)
        #expect(four.status == 1)
        #expect(one.lines.count == 41)
        #expect(Array(four.lines.dropLast()) == Array(one.lines.dropLast()))
        let ids = try one.lines.dropLast().map { try JSONDecoder().decode(JSONRecord.self, from: Data($0.utf8)).id }
        #expect(ids == (1...40).map(Int64.init))
        let s1 = try JSONDecoder().decode(JSONLSummaryLine.self, from: Data(one.lines.last!.utf8)).summary
        var s4 = try JSONDecoder().decode(JSONLSummaryLine.self, from: Data(four.lines.last!.utf8)).summary
        s4.elapsed_seconds = s1.elapsed_seconds
        #expect(s4 == s1)
    }
}

@Suite("verify: where the catalog and the media root come from (cron sets no flags)")
struct ResolutionTests {
    /// Each way of naming the catalog and the root must find the same two files.
    @Test(arguments: ["flags, relative to the working folder", "environment", "the catalog's own media_root setting"])
    func sources(_ how: String) async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try scratch.place("ok-faststart.mp4")
        try scratch.place("three-frames.mp4")
        try scratch.insert([("ok-faststart.mp4", nil), ("three-frames.mp4", nil)])
        let run: CLIResult
        switch how {
        case "environment":
            run = try await runCLI(["verify", "--format", "json"], in: scratch,
                                   environment: ["MEDIALIB_DB": scratch.db, "MEDIALIB_MEDIA_ROOT": scratch.media])
        case "flags, relative to the working folder":
            run = try await runCLI(["verify", "--format", "json", "--db", "cat.sqlite", "--media-root", "media"], in: scratch)
        default:
            try scratch.catalog().state.setSetting(SettingKey.mediaRoot, scratch.media)
            run = try await runCLI(["verify", "--format", "json", "--db", scratch.db], in: scratch)
        }
        #expect(run.status == 1, "\(run)")
        let report = try decodeReport(run.stdout)
        #expect(report.records.map(\.codes) == [[], ["too_few_frames"]])
    }

    @Test("--media-root wins over MEDIALIB_MEDIA_ROOT")
    func flagWinsOverEnvironment() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try scratch.place("ok-faststart.mp4")
        try scratch.insert(raw: "ok-faststart.mp4")
        let run = try await runCLI(["verify", "--format", "json", "--db", scratch.db, "--media-root", scratch.media], in: scratch,
                                   environment: ["MEDIALIB_MEDIA_ROOT": scratch.root + "/elsewhere"])
        #expect(run.status == 0, "\(run)")
    }
}
