import Foundation
import Testing
import MediaProbe
import MediaFiles
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

private let mp4Family = "mov,mp4,m4a,3gp,3g2,mj2"
private let matroska = "matroska,webm"

/// What probing one committed fixture must report (see Fixtures/make-fixtures.sh).
struct ProbeCase: Sendable, CustomTestStringConvertible {
    var file: String
    var container: String
    var codec: String
    var headerFrames: Int?
    /// With `ProbeOptions(counting: .always)`.
    var countedAlways: Int
    /// With the default `.whenNeeded`: only counted when the header is missing or untrustworthy.
    var countedWhenNeeded: Int?
    var frameCount: Int
    var indexPastEnd: Bool
    var truncated: Bool
    var moovBeforeMdat: Bool?
    /// Seconds; nil: not asserted.
    var duration: Double?
    var testDescription: String { file }
}

let probeCases: [ProbeCase] = [
    .init(file: "ok-faststart.mp4", container: mp4Family, codec: "h264", headerFrames: 60, countedAlways: 60,
          countedWhenNeeded: nil, frameCount: 60, indexPastEnd: false, truncated: false, moovBeforeMdat: true, duration: 2.0),
    .init(file: "ok-moov-end.mp4", container: mp4Family, codec: "h264", headerFrames: 60, countedAlways: 60,
          countedWhenNeeded: nil, frameCount: 60, indexPastEnd: false, truncated: false, moovBeforeMdat: false, duration: 2.0),
    .init(file: "three-frames.mp4", container: mp4Family, codec: "h264", headerFrames: 3, countedAlways: 3,
          countedWhenNeeded: nil, frameCount: 3, indexPastEnd: false, truncated: false, moovBeforeMdat: true, duration: 0.1),
    .init(file: "ok.webm", container: matroska, codec: "vp9", headerFrames: nil, countedAlways: 30,
          countedWhenNeeded: 30, frameCount: 30, indexPastEnd: false, truncated: false, moovBeforeMdat: nil, duration: nil),
    .init(file: "truncated.mp4", container: mp4Family, codec: "h264", headerFrames: 60, countedAlways: 9,
          countedWhenNeeded: 9, frameCount: 9, indexPastEnd: true, truncated: true, moovBeforeMdat: true, duration: 2.0),
    .init(file: "hevc.mp4", container: mp4Family, codec: "hevc", headerFrames: 30, countedAlways: 30,
          countedWhenNeeded: nil, frameCount: 30, indexPastEnd: false, truncated: false, moovBeforeMdat: true, duration: 1.0),
]

private func fileSize(_ path: String) throws -> Int64 {
    let attrs = try FileManager.default.attributesOfItem(atPath: path)
    return (attrs[.size] as? NSNumber)?.int64Value ?? -1
}

@Suite("Prober on the committed fixtures")
struct ProberFixtureTests {
    @Test("counting always", arguments: probeCases)
    func countingAlways(_ c: ProbeCase) throws {
        let path = Fixtures.path(c.file)
        let result = try Prober(options: ProbeOptions(counting: .always)).probe(path: path).get()
        #expect(result.container == c.container)
        #expect(result.videoCodec == c.codec)
        #expect(result.width == 64)
        #expect(result.height == 48)
        #expect(result.headerFrameCount == c.headerFrames)
        #expect(result.countedPackets == c.countedAlways)
        #expect(result.frameCount == c.frameCount)
        #expect(result.indexPastEnd == c.indexPastEnd)
        #expect(result.isTruncated == c.truncated)
        #expect(result.moovBeforeMdat == c.moovBeforeMdat)
        #expect(result.decodeErrors == nil, "no decoding was asked for")
        #expect(result.fileSize == (try fileSize(path)))
        #expect(result.isMP4Family == (c.container == mp4Family))
        #expect(result.isMatroskaFamily == (c.container == matroska))
        if let expected = c.duration {
            let duration = try #require(result.duration)
            #expect(abs(duration - expected) < 0.05, "duration \(duration) s, expected about \(expected) s")
        }
    }

    @Test("counting only when needed (the cleanup default)", arguments: probeCases)
    func countingWhenNeeded(_ c: ProbeCase) throws {
        let result = try Prober().probe(path: Fixtures.path(c.file)).get()
        #expect(result.headerFrameCount == c.headerFrames)
        #expect(result.countedPackets == c.countedWhenNeeded)
        #expect(result.frameCount == c.frameCount)
        #expect(result.isTruncated == c.truncated)
        #expect(result.indexPastEnd == c.indexPastEnd)
    }

    @Test("deep decoding of the good files finds no errors",
          arguments: probeCases.filter { !$0.truncated })
    func deepDecode(_ c: ProbeCase) throws {
        let result = try Prober(options: ProbeOptions(decode: true)).probe(path: Fixtures.path(c.file)).get()
        #expect(result.decodeErrors == 0)
        #expect(result.countedPackets == c.countedAlways, "decoding implies counting")
        #expect(result.frameCount == c.frameCount)
    }

    @Test("errors for files that are not usable videos", arguments: [
        ("empty.mp4", "empty_file"),
        ("text.mp4", "not_media"),
        ("audio-only.mp4", "no_video_stream"),
    ])
    func fixtureErrors(file: String, code: String) {
        for options in [ProbeOptions(), ProbeOptions(counting: .always), ProbeOptions(decode: true)] {
            let result = Prober(options: options).probe(path: Fixtures.path(file))
            #expect(result.failureCode == code, "\(file) with \(options)")
        }
    }

    @Test("probing from many threads at once gives the serial answers")
    func concurrentProbes() throws {
        let files = probeCases.map(\.file) + ["empty.mp4", "text.mp4", "audio-only.mp4"]
        let prober = Prober(options: ProbeOptions(counting: .always))
        let serial = files.map { prober.probe(path: Fixtures.path($0)) }
        let jobs = Array(repeating: files, count: 4).flatMap { $0 }
        let results = Mutex(Array<Result<ProbeResult, ProbeError>?>(repeating: nil, count: jobs.count))
        DispatchQueue.concurrentPerform(iterations: jobs.count) { i in
            let r = prober.probe(path: Fixtures.path(jobs[i]))
            results.withLock { $0[i] = r }
        }
        let parallel = results.withLock { $0 }
        for (i, file) in jobs.enumerated() {
            #expect(parallel[i] == serial[i % files.count], "\(file)")
        }
    }
}

extension Result where Failure == ProbeError {
    var failureCode: String? {
        if case .failure(let e) = self { return e.code }
        return nil
    }
}

@Suite("Prober on paths that are not regular, readable files")
struct ProberPathTests {
    @Test func missingFile() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        #expect(Prober().probe(path: scratch.path("nope.mp4")).failureCode == "missing_file")
        #expect(Prober().probe(path: scratch.path("no-dir/nope.mp4")).failureCode == "missing_file")
    }

    @Test func pathThroughARegularFileIsMissing() throws {
        // stat gives ENOTDIR: the file cannot exist.
        #expect(Prober().probe(path: Fixtures.path("ok-faststart.mp4") + "/inner.mp4").failureCode == "missing_file")
    }

    @Test func danglingSymlinkIsMissing() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try FileManager.default.createSymbolicLink(atPath: scratch.path("link.mp4"), withDestinationPath: scratch.path("gone.mp4"))
        #expect(Prober().probe(path: scratch.path("link.mp4")).failureCode == "missing_file")
    }

    @Test func symlinkToAFixtureIsFollowed() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try FileManager.default.createSymbolicLink(atPath: scratch.path("link.mp4"), withDestinationPath: Fixtures.path("ok-faststart.mp4"))
        let result = try Prober().probe(path: scratch.path("link.mp4")).get()
        #expect(result.frameCount == 60)
    }

    @Test func symlinkLoopIsUnreadable() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try FileManager.default.createSymbolicLink(atPath: scratch.path("a.mp4"), withDestinationPath: scratch.path("b.mp4"))
        try FileManager.default.createSymbolicLink(atPath: scratch.path("b.mp4"), withDestinationPath: scratch.path("a.mp4"))
        let result = Prober().probe(path: scratch.path("a.mp4"))
        #expect(result.failureCode == "unreadable")
        if case .failure(let error) = result {
            #expect(error.message.hasPrefix("cannot read file: "))
        }
    }

    @Test func directoryIsNotARegularFile() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try FileManager.default.createDirectory(atPath: scratch.path("folder.mp4"), withIntermediateDirectories: false)
        #expect(Prober().probe(path: scratch.path("folder.mp4")).failureCode == "not_regular_file")
    }

    @Test("a FIFO is refused promptly instead of blocking in open", arguments: [
        ProbeOptions(), ProbeOptions(counting: .always), ProbeOptions(decode: true),
    ])
    func fifoIsNotARegularFile(options: ProbeOptions) throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let fifo = scratch.path("pipe.mp4")
        try #require(mkfifo(fifo, 0o600) == 0, "mkfifo: \(String(cString: strerror(errno)))")
        let started = ContinuousClock.now
        let code = withDeadline(seconds: 10) { Prober(options: options).probe(path: fifo).failureCode }
        if code == nil {
            // Unblock a reader stuck in open(2) so the test process can go on.
            let fd = open(fifo, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { close(fd) }
            Issue.record("probing a FIFO did not return within 10 s")
            return
        }
        #expect(code == "not_regular_file")
        #expect(ContinuousClock.now - started < .seconds(2))
    }

    @Test func devNullIsNotARegularFile() {
        #expect(Prober().probe(path: "/dev/null").failureCode == "not_regular_file")
    }

    @Test("names with spaces, unicode, colons and URL characters", arguments: [
        "a:b ü.mp4", "pipe:1.mp4", "http:x.mp4", "space name.mp4", "ünïcödé 视频.mp4",
        "50% #1?.mp4", "-dash.mp4", "file:x.mp4",
    ])
    func unusualNames(name: String) throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let target = scratch.path(name)
        try FileManager.default.copyItem(atPath: Fixtures.path("ok-faststart.mp4"), toPath: target)
        let result = try Prober(options: ProbeOptions(counting: .always)).probe(path: target).get()
        #expect(result.frameCount == 60)
        #expect(result.countedPackets == 60)
        #expect(result.moovBeforeMdat == true)
        #expect(result.videoCodec == "h264")
    }

    @Test("a folder with a colon and spaces in its name")
    func unusualFolder() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let dir = scratch.path("http: ü folder")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        let target = (dir as NSString).appendingPathComponent("ok.webm")
        try FileManager.default.copyItem(atPath: Fixtures.path("ok.webm"), toPath: target)
        let result = try Prober().probe(path: target).get()
        #expect(result.frameCount == 30)
        #expect(result.container == matroska)
    }

    @Test func copiedTruncationIsDetectedFromTheIndex() throws {
        // Cutting a good faststart file anywhere after its moov box makes the index point past the end.
        let scratch = try Scratch()
        defer { scratch.remove() }
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("ok-faststart.mp4")))
        let cut = scratch.path("cut.mp4")
        try data.prefix(data.count - 100).write(to: URL(fileURLWithPath: cut))
        let result = try Prober().probe(path: cut).get()
        #expect(result.headerFrameCount == 60)
        #expect(result.indexPastEnd)
        #expect(result.isTruncated)
        #expect(result.countedPackets != nil, "an untrustworthy header makes the prober count")
        #expect(result.frameCount < 60)
    }
}

@Suite("FileCheck")
struct FileCheckTests {
    @Test func regularFileReportsItsIdentity() throws {
        let path = Fixtures.path("ok.webm")
        let identity = try FileCheck.regularFile(at: path).get()
        var st = stat()
        try #require(stat(path, &st) == 0)
        #expect(identity == FileIdentity(st))
        #expect(identity.size == Int64(st.st_size))
        #expect(identity.inode == UInt64(st.st_ino))
    }

    @Test func emptyFile() {
        #expect(FileCheck.regularFile(at: Fixtures.path("empty.mp4")) == .failure(.empty))
        // identity(at:) accepts what the server may serve: empty files too.
        #expect(FileCheck.identity(at: Fixtures.path("empty.mp4"))?.size == 0)
    }

    @Test func identityOfMissingFileIsNil() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        #expect(FileCheck.identity(at: scratch.path("missing")) == nil)
    }

    @Test func identityChangesWhenTheFileIsReplaced() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let path = scratch.path("v.mp4")
        try FileManager.default.copyItem(atPath: Fixtures.path("ok-faststart.mp4"), toPath: path)
        let before = try #require(FileCheck.identity(at: path))
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.copyItem(atPath: Fixtures.path("three-frames.mp4"), toPath: path)
        let after = try #require(FileCheck.identity(at: path))
        #expect(before != after)
        #expect(after.size < before.size)
    }
}

/// The derived properties cleanup and verify judge by, on hand-made results.
struct DerivedCase: Sendable, CustomTestStringConvertible {
    var name: String
    var header: Int?
    var counted: Int?
    var pastEnd: Bool
    var consistent: Bool
    var frameCount: Int
    var truncated: Bool
    var testDescription: String { name }
}

@Suite("ProbeResult derived properties")
struct ProbeResultTests {
    @Test(arguments: [
        DerivedCase(name: "header only", header: 60, counted: nil, pastEnd: false, consistent: true, frameCount: 60, truncated: false),
        DerivedCase(name: "header agrees with count", header: 60, counted: 60, pastEnd: false, consistent: true, frameCount: 60, truncated: false),
        DerivedCase(name: "more packets than header", header: 60, counted: 61, pastEnd: false, consistent: true, frameCount: 60, truncated: false),
        DerivedCase(name: "fewer packets than header", header: 60, counted: 9, pastEnd: false, consistent: false, frameCount: 9, truncated: true),
        DerivedCase(name: "index past end", header: 60, counted: 9, pastEnd: true, consistent: false, frameCount: 9, truncated: true),
        DerivedCase(name: "index past end, not counted", header: 60, counted: nil, pastEnd: true, consistent: false, frameCount: 0, truncated: true),
        DerivedCase(name: "no header, counted", header: nil, counted: 30, pastEnd: false, consistent: false, frameCount: 30, truncated: false),
        DerivedCase(name: "nothing known", header: nil, counted: nil, pastEnd: false, consistent: false, frameCount: 0, truncated: false),
    ])
    func derived(_ c: DerivedCase) {
        let r = ProbeResult(container: "mov,mp4,m4a,3gp,3g2,mj2", videoCodec: "h264", width: 64, height: 48, duration: 2,
                            headerFrameCount: c.header, countedPackets: c.counted, indexPastEnd: c.pastEnd,
                            moovBeforeMdat: true, fileSize: 1000)
        #expect(r.headerIsConsistent == c.consistent)
        #expect(r.frameCount == c.frameCount)
        #expect(r.isTruncated == c.truncated)
    }

    @Test func errorCodesAreStableAndDistinct() {
        let errors: [ProbeError] = [.missing, .notRegularFile, .unreadable("x"), .empty, .notMedia("y"), .noVideoStream]
        #expect(errors.map(\.code) == ["missing_file", "not_regular_file", "unreadable", "empty_file", "not_media", "no_video_stream"])
        #expect(Set(errors.map(\.message)).count == errors.count)
        #expect(ProbeError.unreadable("Permission denied").message.contains("Permission denied"))
        #expect(ProbeError.notMedia("Invalid data").message.contains("Invalid data"))
    }
}
