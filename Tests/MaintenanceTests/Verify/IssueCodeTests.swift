import Foundation
import Testing
import Maintenance
import MediaCatalog
import MediaFiles
import TestSupport
import MediaProbe
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One real file situation and the issues verify must report for it, in order.
struct Situation: Sendable, CustomTestStringConvertible {
    var name: String
    var minFrames = 10
    var depth: ProbeDepth = .standard
    /// Lays out files in the scratch media root; returns the record's stored raw and processed paths.
    var setup: @Sendable (Scratch) throws -> (raw: String?, processed: String?)
    var codes: [String]
    /// The file every issue names (nil: the record itself).
    var file: FileKind? = .raw
    var testDescription: String { name }
}

private func fixture(_ name: String, as stored: String? = nil) -> @Sendable (Scratch) throws -> (raw: String?, processed: String?) {
    { scratch in (try scratch.place(name, at: stored), nil) }
}

let situations: [Situation] = [
    // Errors before libavformat is involved.
    Situation(name: "missing file", setup: { _ in ("gone.mp4", nil) }, codes: ["missing_file"]),
    Situation(name: "missing folder on the way", setup: { _ in ("no/such/dir/gone.mp4", nil) }, codes: ["missing_file"]),
    Situation(name: "a directory", setup: { s in
        try FileManager.default.createDirectory(atPath: s.inMedia("folder.mp4"), withIntermediateDirectories: true)
        return ("folder.mp4", nil)
    }, codes: ["not_regular_file"]),
    Situation(name: "a FIFO (must not block)", setup: { s in
        guard mkfifo(s.inMedia("pipe.mp4"), 0o644) == 0 else { throw SystemCallFailed(call: "mkfifo", code: errno) }
        return ("pipe.mp4", nil)
    }, codes: ["not_regular_file"]),
    Situation(name: "a UNIX socket", setup: { s in
        try makeUnixSocket(at: s.inMedia("socket.mp4"))
        return ("socket.mp4", nil)
    }, codes: ["not_regular_file"]),
    // A device would never end; it is refused before anything opens it (even before the root check).
    Situation(name: "a symlink to /dev/zero (must not read forever)", setup: { s in
        try FileManager.default.createSymbolicLink(atPath: s.inMedia("zero.mp4"), withDestinationPath: "/dev/zero")
        return ("zero.mp4", nil)
    }, codes: ["not_regular_file"]),
    // stat(2) fails with ELOOP even for root: the one `unreadable` cause root cannot bypass.
    Situation(name: "a symlink loop (unreadable)", setup: { s in
        try FileManager.default.createSymbolicLink(atPath: s.inMedia("loop-a.mp4"), withDestinationPath: "loop-b.mp4")
        try FileManager.default.createSymbolicLink(atPath: s.inMedia("loop-b.mp4"), withDestinationPath: "loop-a.mp4")
        return ("loop-a.mp4", nil)
    }, codes: ["unreadable"]),
    Situation(name: "an empty file", setup: fixture("empty.mp4"), codes: ["empty_file"]),
    Situation(name: "a symlink inside the root to a fixture outside it", setup: { s in
        try FileManager.default.createSymbolicLink(atPath: s.inMedia("link.mp4"),
                                                   withDestinationPath: Fixtures.path("ok-faststart.mp4"))
        return ("link.mp4", nil)
    }, codes: ["outside_media_root"]),
    Situation(name: "an absolute stored path outside the root", setup: { _ in
        (Fixtures.path("ok-faststart.mp4"), nil)
    }, codes: ["outside_media_root"]),
    Situation(name: "a stored path escaping the root with ..", setup: { s in
        try FileManager.default.copyItem(atPath: Fixtures.path("ok-faststart.mp4"), toPath: s.root + "/outside.mp4")
        return ("../outside.mp4", nil)
    }, codes: ["outside_media_root"]),
    Situation(name: "a symlink inside the root to a file inside it is fine", setup: { s in
        try s.place("ok-faststart.mp4", at: "real/ok.mp4")
        try FileManager.default.createSymbolicLink(atPath: s.inMedia("link.mp4"), withDestinationPath: "real/ok.mp4")
        return ("link.mp4", nil)
    }, codes: []),
    // What libavformat finds.
    Situation(name: "text named .mp4", setup: fixture("text.mp4"), codes: ["not_media"]),
    Situation(name: "audio only", setup: fixture("audio-only.mp4"), codes: ["no_video_stream"]),
    Situation(name: "3 frames, default minimum 10", setup: fixture("three-frames.mp4"), codes: ["too_few_frames"]),
    Situation(name: "3 frames, --min-frames 3", minFrames: 3, setup: fixture("three-frames.mp4"), codes: []),
    Situation(name: "3 frames, --min-frames 4", minFrames: 4, setup: fixture("three-frames.mp4"), codes: ["too_few_frames"]),
    Situation(name: "60 frames, --min-frames 60", minFrames: 60, setup: fixture("ok-faststart.mp4"), codes: []),
    Situation(name: "60 frames, --min-frames 61", minFrames: 61, setup: fixture("ok-faststart.mp4"), codes: ["too_few_frames"]),
    Situation(name: "30 WebM frames (counted), --min-frames 31", minFrames: 31, setup: fixture("ok.webm"), codes: ["too_few_frames"]),
    Situation(name: "truncated (9 of 60 frames left)", setup: fixture("truncated.mp4"), codes: ["truncated", "too_few_frames"]),
    Situation(name: "truncated, --min-frames 5", minFrames: 5, setup: fixture("truncated.mp4"), codes: ["truncated"]),
    Situation(name: "no files (NULL paths)", setup: { _ in (nil, nil) }, codes: ["no_files"], file: nil),
    Situation(name: "no files (empty paths)", setup: { _ in ("", "") }, codes: ["no_files"], file: nil),
    Situation(name: "corrupt mdat, --deep", depth: .deep, setup: { s in
        try makeCorruptCopy(at: s.inMedia("corrupt.mp4"))
        return ("corrupt.mp4", nil)
    }, codes: ["decode_error"]),
    Situation(name: "corrupt mdat, without --deep nothing decodes", setup: { s in
        try makeCorruptCopy(at: s.inMedia("corrupt.mp4"))
        return ("corrupt.mp4", nil)
    }, codes: []),
    // Warnings.
    Situation(name: "moov at the end", setup: fixture("ok-moov-end.mp4"), codes: ["not_faststart"]),
    Situation(name: "HEVC", setup: fixture("hevc.mp4"), codes: ["codec_not_browser_safe"]),
    Situation(name: "H.264 MP4 named .mkv", setup: fixture("ok-faststart.mp4", as: "h264.mkv"), codes: ["codec_not_browser_safe"]),
    Situation(name: "VP9 WebM named .mkv", setup: fixture("ok.webm", as: "vp9.mkv"), codes: ["codec_not_browser_safe"]),
    Situation(name: "VP9 WebM named .mp4", setup: fixture("ok.webm", as: "vp9.mp4"), codes: ["codec_not_browser_safe"]),
    Situation(name: "moov at the end named .mkv: both warnings", setup: fixture("ok-moov-end.mp4", as: "late.mkv"),
              codes: ["not_faststart", "codec_not_browser_safe"]),
    // Clean.
    Situation(name: "faststart H.264 MP4", setup: fixture("ok-faststart.mp4"), codes: []),
    Situation(name: "faststart H.264 named .m4v", setup: fixture("ok-faststart.mp4", as: "ok.m4v"), codes: []),
    Situation(name: "faststart H.264 named .MP4", setup: fixture("ok-faststart.mp4", as: "UPPER.MP4"), codes: []),
    Situation(name: "VP9 WebM", setup: fixture("ok.webm"), codes: []),
    Situation(name: "a name with spaces and a colon", setup: fixture("ok-faststart.mp4", as: "a b/c:d é.mp4"), codes: []),
    // Both files: each issue names its own file.
    Situation(name: "raw fine, processed 3 frames", setup: { s in
        (try s.place("ok-faststart.mp4", at: "raw.mp4"), try s.place("three-frames.mp4", at: "processed.mp4"))
    }, codes: ["too_few_frames"], file: .processed),
    Situation(name: "only a processed file, missing", setup: { _ in (nil, "processed/gone.mp4") },
              codes: ["missing_file"], file: .processed),
]

@Suite("verify: every issue code from a real file situation")
struct IssueCodeTests {
    @Test(arguments: situations)
    func situation(_ s: Situation) async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let (raw, processed) = try s.setup(scratch)
        let record = try scratch.insert(raw: raw, processed: processed)
        let run = try await verifyLibrary(scratch, minFrames: s.minFrames, depth: s.depth, timeout: 20)
        let result = try #require(run.record(record.id))
        #expect(result.issues.map(\.code) == s.codes, "\(result.issues)")
        for issue in result.issues {
            #expect(issue.severity == (warningCodes.contains(issue.code) ? "warning" : "error"), "\(issue)")
            #expect(issue.file == s.file, "\(issue)")
            #expect(!issue.message.isEmpty)
        }
        let expectedStatus = s.codes.contains { !warningCodes.contains($0) } ? "error" : (s.codes.isEmpty ? "ok" : "warning")
        #expect(result.status == expectedStatus)
        #expect(run.counters.records == 1)
        #expect(run.counters.errors + run.counters.warnings + run.counters.ok == 1)
        #expect(run.counters.files == [raw, processed].compactMap { $0 }.filter { !$0.isEmpty }.count)
    }

    @Test("the file-level error codes are the stat/libav reasons, reported on the file too",
          arguments: [("gone.mp4", "missing_file"), ("empty.mp4", "empty_file"), ("text.mp4", "not_media"),
                      ("audio-only.mp4", "no_video_stream")])
    func fileFactsCarryTheCode(_ file: String, _ code: String) async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        if file != "gone.mp4" { try scratch.place(file) }
        let record = try scratch.insert(raw: file)
        let run = try await verifyLibrary(scratch)
        let result = try #require(run.record(record.id))
        #expect(result.files.count == 1)
        #expect(result.files.first?.errorCode == code)
        #expect(result.files.first?.resolvedPath == scratch.inMedia(file))
        #expect(result.files.first?.storedPath == file)
    }

    @Test("unreadable by permission (chmod 000), only meaningful when not root",
          .enabled(if: getuid() != 0, "root reads any file whatever its mode; the symlink-loop case covers unreadable as root"))
    func unreadableByPermission() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try scratch.place("ok-faststart.mp4", at: "locked.mp4")
        chmod(scratch.inMedia("locked.mp4"), 0)
        let record = try scratch.insert(raw: "locked.mp4")
        let run = try await verifyLibrary(scratch)
        #expect(run.codes(record.id) == ["unreadable"])
    }

    @Test("--deep finds no decode_error in the valid fixtures",
          arguments: ["ok-faststart.mp4", "ok-moov-end.mp4", "ok.webm", "hevc.mp4", "three-frames.mp4"])
    func deepOnValidFixtures(_ file: String) async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try scratch.place(file)
        let record = try scratch.insert(raw: file)
        let run = try await verifyLibrary(scratch, minFrames: 1, depth: .deep)
        let result = try #require(run.record(record.id))
        #expect(!result.issues.contains { $0.code == "decode_error" }, "\(result.issues)")
        #expect(result.files.first?.facts?.probe?.decodeErrors == 0)
    }

    /// The whole table through the real CLI at once: the stable codes as scripts see them in JSON.
    @Test("the CLI reports every code in issues[].code and exits 1")
    func everyCodeThroughTheCLI() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        // Situations with the default minimum; one catalog, one media root, distinct file names.
        var expected: [Int64: (codes: [String], file: String?)] = [:]
        // (A stored "../" path escapes its own folder only; the other two outside_media_root cases stay.)
        for (i, s) in situations.enumerated() where s.minFrames == 10 && !s.name.contains("..") {
            let sub = try Scratch()
            defer { sub.remove() }
            // Lay out in a private scratch first, then move into this media root under a unique folder.
            let (raw, processed) = try s.setup(sub)
            let folder = "case\(i)"
            try FileManager.default.moveItem(atPath: sub.media, toPath: scratch.inMedia(folder))
            func stored(_ p: String?) -> String? {
                guard let p else { return nil }
                return p.isEmpty || p.hasPrefix("/") ? p : folder + "/" + p
            }
            // The symlink loop and the in-root link are relative and moved with their folder.
            let record = try scratch.insert(raw: stored(raw), processed: stored(processed))
            var codes = s.codes
            if s.depth == .deep { codes = [] }  // this run is not --deep: see deepRunReportsDecodeError
            expected[record.id] = (codes, s.file?.rawValue)
        }
        let (run, report) = try await verifyJSON(scratch)
        #expect(run.status == 1)
        #expect(report.records.count == expected.count)
        for record in report.records {
            let want = try #require(expected[record.id])
            #expect(record.codes == want.codes, "record \(record.id): \(record.issues)")
            for issue in record.issues {
                #expect(issue.severity == (warningCodes.contains(issue.code) ? "warning" : "error"))
                #expect(issue.file == want.file)
            }
        }
        let seen = Set(report.records.flatMap(\.codes))
        let all: Set<String> = ["missing_file", "not_regular_file", "unreadable", "empty_file", "outside_media_root",
                                "not_media", "no_video_stream", "too_few_frames", "truncated", "no_files",
                                "not_faststart", "codec_not_browser_safe"]
        #expect(seen == all)
        #expect(report.summary.passed == false)
    }

    @Test("--deep through the CLI reports decode_error for the corrupt copy only")
    func deepRunReportsDecodeError() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try makeCorruptCopy(at: scratch.inMedia("corrupt.mp4"))
        try scratch.place("ok-faststart.mp4")
        try scratch.place("ok.webm")
        let records = try scratch.insert([("corrupt.mp4", nil), ("ok-faststart.mp4", "ok.webm")])
        let (plain, plainReport) = try await verifyJSON(scratch)
        #expect(plain.status == 0, "without --deep nothing is decoded: \(plain)")
        #expect(plainReport.records.allSatisfy { $0.issues.isEmpty })
        let (deep, report) = try await verifyJSON(scratch, ["--deep"])
        #expect(deep.status == 1)
        #expect(report.record(records[0].id)?.codes == ["decode_error"])
        #expect(report.record(records[1].id)?.codes == [])
    }

    @Test("--min-frames on the CLI", arguments: [(nil as Int?, 1 as Int32), (3, 0), (61, 1)])
    func minFramesFlag(_ minFrames: Int?, _ status: Int32) async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try scratch.place("three-frames.mp4")
        try scratch.place("ok-faststart.mp4")
        try scratch.insert([("three-frames.mp4", nil), ("ok-faststart.mp4", nil)])
        let (run, report) = try await verifyJSON(scratch, minFrames.map { ["--min-frames", String($0)] } ?? [])
        #expect(run.status == status, "\(run)")
        let threshold = minFrames ?? 10
        #expect(report.records[0].codes == (3 < threshold ? ["too_few_frames"] : []))
        #expect(report.records[1].codes == (60 < threshold ? ["too_few_frames"] : []))
    }

    @Test("a FIFO never blocks the CLI")
    func fifoThroughTheCLI() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        #expect(mkfifo(scratch.inMedia("pipe.mp4"), 0o644) == 0)
        try scratch.insert(raw: "pipe.mp4")
        let run = try await runVerify(scratch, ["--format", "json", "--deep", "--full"], timeout: 20)
        #expect(run.status == 1)
        #expect(run.seconds < 10)
        #expect(try decodeReport(run.stdout).records.first?.codes == ["not_regular_file"])
    }
}
