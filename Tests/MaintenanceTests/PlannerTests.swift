import Foundation
import Testing
import MediaCatalog
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
]

@Suite("CleanupPlanner")
struct PlannerTests {
    @Test(arguments: judgeCases)
    func judge(_ c: JudgeCase) {
        let record = sampleRecord(7, raw: c.files.contains { $0.kind == .raw } ? "r.mp4" : nil,
                                  processed: c.files.contains { $0.kind == .processed } ? "p.mp4" : nil)
        let files = c.files.map { f in
            FileFinding(kind: f.kind, storedPath: f.kind == .raw ? "r.mp4" : "p.mp4",
                        resolvedPath: "/m/" + (f.kind == .raw ? "r.mp4" : "p.mp4"), outcome: f.outcome)
        }
        let verdict = CleanupPlanner.judge(record, files: files, minFrames: c.minFrames)
        #expect(verdict.record == record)
        #expect(verdict.files == files)
        #expect(verdict.reasons.map(\.code) == c.reasons.map(\.0))
        #expect(verdict.reasons.map(\.file) == c.reasons.map(\.1))
        #expect(verdict.isValid == c.reasons.isEmpty)
        #expect(verdict.isMissingFiles == c.missingOnly)
        for r in verdict.reasons { #expect(!r.detail.isEmpty) }
    }

    @Test func tooFewFramesDetailNamesTheCountAndTruncation() {
        let truncated = FileFinding(kind: .raw, storedPath: "t.mp4", resolvedPath: "/m/t.mp4",
                                    outcome: .success(probe(frames: 60, counted: 9, pastEnd: true)))
        let v = CleanupPlanner.judge(sampleRecord(), files: [truncated], minFrames: 10)
        #expect(v.reasons.map(\.detail) == ["9 frames (< 10), truncated: header claims 60"])
        #expect(truncated.frames == 9)

        let short = FileFinding(kind: .processed, storedPath: "s.mp4", resolvedPath: "/m/s.mp4",
                                outcome: .success(probe(frames: 3)))
        let v2 = CleanupPlanner.judge(sampleRecord(), files: [short], minFrames: 10)
        #expect(v2.reasons.map(\.detail) == ["3 frames (< 10)"])
    }

    @Test func probeErrorsKeepTheirMessage() {
        let f = FileFinding(kind: .raw, storedPath: "x", resolvedPath: "/x", outcome: .failure(.notMedia("Invalid data found")))
        let v = CleanupPlanner.judge(sampleRecord(), files: [f], minFrames: 10)
        #expect(v.reasons == [CleanupReason(code: "not_media", file: .raw, detail: "not a media file: Invalid data found")])
        #expect(f.frames == nil)
    }

    @Test func summaryCounts() {
        let verdicts = judgeCases.enumerated().map { i, c in
            CleanupPlanner.judge(sampleRecord(Int64(i)), files: c.files.map {
                FileFinding(kind: $0.kind, storedPath: "f", resolvedPath: "/f", outcome: $0.outcome)
            }, minFrames: c.minFrames)
        }
        var summary = CleanupSummary()
        for v in verdicts { summary.add(v) }
        #expect(summary.total == judgeCases.count)
        #expect(summary.valid == judgeCases.filter { $0.reasons.isEmpty }.count)
        #expect(summary.invalid == judgeCases.filter { !$0.reasons.isEmpty }.count)
        #expect(summary.invalidForMissingFiles == judgeCases.filter(\.missingOnly).count)
        #expect(summary.valid + summary.invalid == summary.total)
    }
}

@Suite("CleanupGuard")
struct GuardTests {
    func summary(total: Int, missing: Int, otherInvalid: Int = 0) -> CleanupSummary {
        var s = CleanupSummary()
        for i in 0..<total {
            let files: [FileFinding]
            if i < missing {
                files = [FileFinding(kind: .raw, storedPath: "m", resolvedPath: "/m", outcome: .failure(.missing))]
            } else if i < missing + otherInvalid {
                files = [FileFinding(kind: .raw, storedPath: "e", resolvedPath: "/e", outcome: .failure(.empty))]
            } else {
                files = [FileFinding(kind: .raw, storedPath: "o", resolvedPath: "/o", outcome: .success(probe(frames: 60)))]
            }
            s.add(CleanupPlanner.judge(sampleRecord(Int64(i)), files: files, minFrames: 10))
        }
        return s
    }

    /// A media root holding one file, so it is neither missing nor empty.
    func populatedRoot(_ s: Scratch) throws -> MediaRoot {
        try s.place("ok.webm", at: "keep.webm")
        return MediaRoot(s.path("media"))
    }

    @Test func missingRootRefuses() throws {
        let s = try Scratch()
        defer { s.remove() }
        let root = MediaRoot(s.path("not-mounted"))
        let message = try #require(CleanupGuard.check(summary: summary(total: 4, missing: 0), mediaRoot: root))
        #expect(message.contains(root.path))
        #expect(message.contains("does not exist"))
        // Even with nothing to judge.
        #expect(CleanupGuard.check(summary: CleanupSummary(), mediaRoot: root) != nil)
    }

    @Test func emptyRootRefuses() throws {
        let s = try Scratch()
        defer { s.remove() }
        try FileManager.default.createDirectory(atPath: s.path("media"), withIntermediateDirectories: true)
        let root = MediaRoot(s.path("media"))
        let message = try #require(CleanupGuard.check(summary: summary(total: 3, missing: 0), mediaRoot: root))
        #expect(message.contains("empty"))
        #expect(CleanupGuard.check(summary: CleanupSummary(), mediaRoot: root) == nil, "an empty catalog deletes nothing")
    }

    @Test("missing files: more than half refuses, half or less is allowed", arguments: [
        (4, 3, 0, true), (4, 2, 0, false), (4, 2, 2, false), (5, 3, 0, true), (5, 2, 3, false),
        (1, 1, 0, true), (2, 1, 0, false), (9, 5, 0, true), (9, 4, 5, false), (10, 5, 0, false), (10, 6, 0, true),
        (6, 0, 6, false),
    ])
    func missingShare(total: Int, missing: Int, otherInvalid: Int, refuses: Bool) throws {
        let s = try Scratch()
        defer { s.remove() }
        let root = try populatedRoot(s)
        let sum = summary(total: total, missing: missing, otherInvalid: otherInvalid)
        #expect(sum.invalidForMissingFiles == missing)
        let message = CleanupGuard.check(summary: sum, mediaRoot: root)
        #expect((message != nil) == refuses)
        if let message {
            #expect(message.contains("\(missing) of \(total)"))
        }
    }
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
