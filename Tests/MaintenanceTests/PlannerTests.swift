import Foundation
import Testing
import TestSupport
import MediaCatalog
import MediaFiles
import MediaProbe
@testable import Maintenance

/// One file a record names, with what probing it gave.
struct FileSpec: Sendable {
    var kind: FileKind
    var outcome: Result<ProbeResult, ProbeError>
}

struct JudgeCase: Sendable, CustomTestStringConvertible {
    var name: String
    var files: [FileSpec]
    var minFrames: Int = 10
    /// Expected reasons as (code, file kind).
    var reasons: [(String, FileKind?)]
    /// Every reason says the file could not be reached (what the mass-deletion guard counts).
    var missingOnly: Bool = false
    var testDescription: String { name }
}

private func ok(_ kind: FileKind, _ frames: Int) -> FileSpec { FileSpec(kind: kind, outcome: .success(probe(frames: frames))) }
private func bad(_ kind: FileKind, _ error: ProbeError) -> FileSpec { FileSpec(kind: kind, outcome: .failure(error)) }

/// What the pipeline makes of a record whose files gave these outcomes: the pure part of it.
func inspection(_ record: VideoRecord, _ files: [FileSpec], minFrames: Int) -> RecordInspection {
    var list: [FileInspection] = []
    for f in files {
        let facts = FileFacts(f.outcome)
        let path = RawPath(f.kind == .raw ? "/m/r.mp4" : "/m/p.mp4")
        list.append(FileInspection(kind: f.kind, role: .original, stored: path.lastComponent, resolved: path, identity: nil,
                                   facts: facts, source: .probed,
                                   findings: Rules.findings(for: facts, kind: f.kind, role: .original, path: path, minFrames: minFrames)))
    }
    let recordLevel = files.isEmpty ? [Finding(.noFiles, file: nil, "the record names no file")] : []
    return RecordInspection(record: record, files: list, findings: recordLevel + list.flatMap(\.findings))
}

let judgeCases: [JudgeCase] = [
    JudgeCase(name: "no files", files: [], reasons: [("no_files", nil)]),
    JudgeCase(name: "missing raw", files: [bad(.raw, .missing)], reasons: [("missing_file", .raw)], missingOnly: true),
    JudgeCase(name: "raw is a folder", files: [bad(.raw, .notRegularFile)], reasons: [("not_regular_file", .raw)], missingOnly: true),
    JudgeCase(name: "unreadable raw", files: [bad(.raw, .unreadable("Permission denied"))], reasons: [("unreadable", .raw)], missingOnly: true),
    JudgeCase(name: "raw missing, processed unreadable", files: [bad(.raw, .missing), bad(.processed, .unreadable("Stale file handle"))],
              reasons: [("missing_file", .raw), ("unreadable", .processed)], missingOnly: true),
    JudgeCase(name: "empty raw", files: [bad(.raw, .empty)], reasons: [("empty_file", .raw)]),
    JudgeCase(name: "text raw", files: [bad(.raw, .notMedia("Invalid data"))], reasons: [("not_media", .raw)]),
    JudgeCase(name: "audio-only raw", files: [bad(.raw, .noVideoStream)], reasons: [("no_video_stream", .raw)]),
    JudgeCase(name: "9 frames, min 10", files: [ok(.raw, 9)], reasons: [("too_few_frames", .raw)]),
    JudgeCase(name: "10 frames, min 10", files: [ok(.raw, 10)], reasons: []),
    JudgeCase(name: "3 frames, min 3", files: [ok(.raw, 3)], minFrames: 3, reasons: []),
    JudgeCase(name: "3 frames, min 4", files: [ok(.raw, 3)], minFrames: 4, reasons: [("too_few_frames", .raw)]),
    JudgeCase(name: "0 frames, min 0", files: [ok(.raw, 0)], minFrames: 0, reasons: []),
    JudgeCase(name: "only a processed file, fine", files: [ok(.processed, 60)], reasons: []),
    JudgeCase(name: "only a raw file, fine", files: [ok(.raw, 60)], reasons: []),
    JudgeCase(name: "raw fine, processed too short", files: [ok(.raw, 60), ok(.processed, 2)], reasons: [("too_few_frames", .processed)]),
    JudgeCase(name: "raw missing, processed fine", files: [bad(.raw, .missing), ok(.processed, 60)],
              reasons: [("missing_file", .raw)], missingOnly: true),
    JudgeCase(name: "both missing", files: [bad(.raw, .missing), bad(.processed, .missing)],
              reasons: [("missing_file", .raw), ("missing_file", .processed)], missingOnly: true),
    JudgeCase(name: "raw missing, processed empty", files: [bad(.raw, .missing), bad(.processed, .empty)],
              reasons: [("missing_file", .raw), ("empty_file", .processed)]),
    JudgeCase(name: "raw too short, processed missing", files: [ok(.raw, 1), bad(.processed, .missing)],
              reasons: [("too_few_frames", .raw), ("missing_file", .processed)]),
    JudgeCase(name: "truncated but long enough: valid for cleanup", files: [FileSpec(kind: .raw, outcome: .success(probe(frames: 60, counted: 40)))],
              reasons: []),
]

@Suite("cleanup policy")
struct PlannerTests {
    @Test(arguments: judgeCases)
    func judge(_ c: JudgeCase) {
        let record = sampleRecord(7, raw: c.files.contains { $0.kind == .raw } ? "r.mp4" : nil,
                                  processed: c.files.contains { $0.kind == .processed } ? "p.mp4" : nil)
        let i = inspection(record, c.files, minFrames: c.minFrames)
        let verdict = CleanupPolicy.judge(i)
        #expect(verdict.record == record)
        #expect(verdict.reasons.map(\.code.rawValue) == c.reasons.map(\.0))
        #expect(verdict.reasons.map(\.file) == c.reasons.map(\.1))
        #expect((verdict.status == .valid) == c.reasons.isEmpty)
        var summary = CleanupSummary()
        summary.add(verdict)
        #expect((summary.invalidUnreachable == 1) == c.missingOnly)
        for r in verdict.reasons { #expect(!r.message.isEmpty) }
    }

    @Test func tooFewFramesDetailNamesTheCountAndTruncation() {
        let truncated = inspection(sampleRecord(), [FileSpec(kind: .raw, outcome: .success(probe(frames: 60, counted: 9, pastEnd: true)))], minFrames: 10)
        let v = CleanupPolicy.judge(truncated)
        #expect(v.reasons.map { CleanupPolicy.detail($0, in: truncated) } == ["9 frames (< 10), truncated: header claims 60"])
        #expect(truncated.files[0].facts?.frames == 9)
        let short = inspection(sampleRecord(), [FileSpec(kind: .processed, outcome: .success(probe(frames: 3)))], minFrames: 10)
        #expect(CleanupPolicy.judge(short).reasons.map { CleanupPolicy.detail($0, in: short) } == ["3 frames (< 10)"])
    }

    @Test func probeErrorsKeepTheirMessage() {
        let i = inspection(sampleRecord(), [bad(.raw, .notMedia("Invalid data found"))], minFrames: 10)
        let v = CleanupPolicy.judge(i)
        #expect(v.reasons == [Finding(.notMedia, file: .raw, "not a media file: Invalid data found")])
        #expect(i.files[0].facts?.frames == nil)
    }

    @Test("a file modified within --min-age keeps its record, whatever else is wrong")
    func recentlyModifiedKeeps() {
        var i = inspection(sampleRecord(), [bad(.raw, .missing), ok(.processed, 60)], minFrames: 10)
        i.files[1].findings = [Finding(.recentlyModified, file: .processed, "modified 3s ago")]
        i.findings = i.files.flatMap(\.findings)
        let v = CleanupPolicy.judge(i)
        #expect(v.status == .kept)
        #expect(v.reasons.map(\.code) == [.recentlyModified])
    }

    @Test func summaryCounts() {
        var summary = CleanupSummary()
        for (n, c) in judgeCases.enumerated() {
            summary.add(CleanupPolicy.judge(inspection(sampleRecord(Int64(n)), c.files, minFrames: c.minFrames)))
        }
        #expect(summary.total == judgeCases.count)
        #expect(summary.valid == judgeCases.filter { $0.reasons.isEmpty }.count)
        #expect(summary.invalid == judgeCases.filter { !$0.reasons.isEmpty }.count)
        #expect(summary.invalidUnreachable == judgeCases.filter(\.missingOnly).count)
    }

    @Test("every code says what it means to both policies", arguments: Finding.Code.allCases)
    func codeTable(_ code: Finding.Code) {
        // Only errors invalidate a record; unreachable codes are a subset of invalidating ones.
        if code.invalidatesRecord { #expect(code.severity == .error) }
        if code.isUnreachable { #expect(code.invalidatesRecord) }
        if code.keepsRecord { #expect(!code.invalidatesRecord) }
        #expect(code.isCacheable == (code != .unreadable))
        #expect(Finding.Code(rawValue: code.rawValue) == code)
    }
}

@Suite("CleanupGuard")
struct GuardTests {
    func summary(total: Int, missing: Int, otherInvalid: Int = 0) -> CleanupSummary {
        var s = CleanupSummary()
        for n in 0..<total {
            let spec: FileSpec = n < missing ? bad(.raw, .missing) : (n < missing + otherInvalid ? bad(.raw, .empty) : ok(.raw, 60))
            s.add(CleanupPolicy.judge(inspection(sampleRecord(Int64(n)), [spec], minFrames: 10)))
        }
        return s
    }

    /// A media root holding one file, so it is neither missing nor empty.
    func populatedRoot(_ s: Scratch) throws -> MediaRoot {
        try s.place("ok.webm", at: "keep.webm")
        return MediaRoot(s.media)
    }

    @Test func missingRootRefuses() throws {
        let s = try Scratch()
        defer { s.remove() }
        let root = MediaRoot(s.path("not-mounted"))
        let message = try #require(CleanupGuard.check(summary: summary(total: 4, missing: 0), root: root, limit: nil))
        #expect(message.contains(root.path.displayed))
        #expect(message.contains("does not exist"))
        #expect(CleanupGuard.check(summary: CleanupSummary(), root: root, limit: nil) != nil, "even with nothing to judge")
    }

    @Test func emptyRootRefuses() throws {
        let s = try Scratch()
        defer { s.remove() }
        let root = MediaRoot(s.media)
        let message = try #require(CleanupGuard.check(summary: summary(total: 3, missing: 0), root: root, limit: nil))
        #expect(message.contains("empty"))
        #expect(CleanupGuard.check(summary: CleanupSummary(), root: root, limit: nil) == nil, "an empty catalog deletes nothing")
    }

    @Test("missing files: more than half refuses, half or less is allowed", arguments: [
        (4, 3, 0, true), (4, 2, 0, false), (5, 3, 0, true), (5, 2, 0, false),
        (1, 1, 0, true), (2, 1, 0, false), (9, 5, 0, true), (9, 4, 0, false), (10, 5, 0, false), (10, 6, 0, true),
    ])
    func missingShare(total: Int, missing: Int, otherInvalid: Int, refuses: Bool) throws {
        let s = try Scratch()
        defer { s.remove() }
        let root = try populatedRoot(s)
        let sum = summary(total: total, missing: missing, otherInvalid: otherInvalid)
        #expect(sum.invalidUnreachable == missing)
        let message = CleanupGuard.check(summary: sum, root: root, limit: .percent(100))
        #expect((message != nil) == refuses)
        if let message { #expect(message.contains("\(missing) of \(total)")) }
    }

    @Test("how much one apply may delete, whatever the reason", arguments: [
        // total, invalid (empty files, not missing), limit, refuses
        (15, 15, nil as DeleteLimit?, true), (10, 5, nil, false), (10, 6, nil, true), (4, 3, nil, true),
        (10, 6, .percent(60), false), (10, 7, .percent(60), true), (100, 3, .count(3), false), (100, 4, .count(3), true),
        (10, 0, .count(0), false), (10, 1, .count(0), true), (3, 3, .percent(100), false),
    ])
    func massGuard(total: Int, invalid: Int, limit: DeleteLimit?, refuses: Bool) throws {
        let s = try Scratch()
        defer { s.remove() }
        let root = try populatedRoot(s)
        let sum = summary(total: total, missing: 0, otherInvalid: invalid)
        let message = CleanupGuard.check(summary: sum, root: root, limit: limit)
        #expect((message != nil) == refuses, "\(message ?? "allowed")")
        if let message { #expect(message.contains("\(invalid) of \(total)")) }
    }

    @Test("more than half of the files libav judged are not media: a wrong root or an encrypted store")
    func wrongContentGuard() throws {
        let s = try Scratch()
        defer { s.remove() }
        let root = try populatedRoot(s)
        var sum = summary(total: 10, missing: 0)
        sum.contentJudged = 10
        sum.wrongContent = 6
        let message = try #require(CleanupGuard.check(summary: sum, root: root, limit: nil))
        #expect(message.contains("encrypted"))
        sum.wrongContent = 5
        #expect(CleanupGuard.check(summary: sum, root: root, limit: nil) == nil)
    }

    @Test("--max-delete values", arguments: [
        ("10", DeleteLimit.count(10) as DeleteLimit?), ("0", .count(0)), ("25%", .percent(25)), ("100%", .percent(100)),
        ("12.5%", .percent(12.5)), ("-1", nil), ("101%", nil), ("x", nil), ("%", nil), ("", nil),
    ])
    func deleteLimitParsing(_ text: String, _ expected: DeleteLimit?) {
        #expect(DeleteLimit(text) == expected)
    }

    @Test("--min-age values", arguments: [
        ("0", 0.0 as Double?), ("90s", 90), ("5m", 300), ("2h", 7200), ("1d", 86400), ("1.5m", 90), ("250ms", 0.25),
        ("-5m", nil), ("5 minutes", nil), ("", nil), ("m", nil),
    ])
    func durationParsing(_ text: String, _ expected: Double?) {
        #expect(DurationText.parse(text) == expected)
    }
}

@Suite("verify --shard")
struct ShardTests {
    @Test("every id in exactly one of N shards, and its shard never changes", arguments: [1, 2, 3, 7])
    func partition(n: Int) throws {
        let shards = (1...n).compactMap { Shard("\($0)/\(n)") }
        #expect(shards.count == n)
        var sizes = [Int](repeating: 0, count: n)
        for id in Int64(1)...5000 {
            let owners = shards.indices.filter { shards[$0].contains(id) }
            #expect(owners.count == 1, "id \(id)")
            if let o = owners.first { sizes[o] += 1 }
        }
        // Spread evenly enough that no machine gets twice its share.
        for size in sizes { #expect(size * n < 5000 * 2) }
    }

    @Test("K/N syntax", arguments: ["0/3", "4/3", "1/0", "a/b", "1", "1/2/3", "-1/2", ""])
    func badShards(_ text: String) { #expect(Shard(text) == nil) }
}

@Suite("WorkerPool")
struct WorkerPoolTests {
    @Test("map keeps input order", arguments: [1, 2, 4, 16])
    func keepsOrder(workers: Int) {
        let pool = WorkerPool(workers: workers)
        let items = Array(0..<200)
        let running = Gauge()
        let out = pool.map(items) { i -> String in
            running.enter()
            // Uneven work so completion order differs from input order.
            usleep(useconds_t((i * 7919) % 5 * 100))
            running.leave()
            return "item-\(i)"
        }
        #expect(out == items.map { "item-\($0)" })
        #expect(running.peak >= 1)
        #expect(running.peak <= workers, "never more than \(workers) at once")
        if workers == 1 { #expect(running.peak == 1) }
    }

    @Test func emptyAndSingleInputs() {
        let pool = WorkerPool(workers: 4)
        #expect(pool.map([Int]()) { $0 * 2 }.isEmpty)
        #expect(pool.map([21]) { $0 * 2 } == [42])
    }

    @Test func atLeastOneWorker() {
        #expect(WorkerPool(workers: 0).workers == 1)
        #expect(WorkerPool(workers: -3).workers == 1)
        #expect(WorkerPool(workers: 3).workers == 3)
        #expect(WorkerPool.defaultWorkers >= 1)
    }
}

/// Counts concurrent entries and remembers the peak.
final class Gauge: @unchecked Sendable {
    private let lock = NSLock()
    private var now = 0
    private var max = 0
    func enter() { lock.lock(); now += 1; if now > max { max = now }; lock.unlock() }
    func leave() { lock.lock(); now -= 1; lock.unlock() }
    var peak: Int { lock.lock(); defer { lock.unlock() }; return max }
}
