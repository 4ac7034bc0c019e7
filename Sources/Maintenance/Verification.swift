import Foundation
import MediaCatalog
import MediaProbe

/// One finding of `verify`, with a stable code scripts can match on.
public struct VerifyIssue: Sendable, Equatable {
    public enum Severity: String, Sendable { case error, warning }
    public var code: String
    public var severity: Severity
    public var file: FileKind?
    public var message: String

    public init(_ code: String, _ severity: Severity, file: FileKind?, _ message: String) {
        self.code = code
        self.severity = severity
        self.file = file
        self.message = message
    }
}

/// Facts about one file, as probed or as remembered by the cache.
public struct FileFacts: Sendable, Equatable {
    public var frames: Int?
    public var probe: ProbeResult?
    public var errorCode: String?
    public var errorMessage: String?

    public init(_ outcome: Result<ProbeResult, ProbeError>) {
        switch outcome {
        case .success(let p):
            frames = p.frameCount
            probe = p
        case .failure(let e):
            errorCode = e.code
            errorMessage = e.message
        }
    }
}

/// The verification cache's compact form of `FileFacts`: one tab-separated line. Decoding
/// JSON for every cached file dominated a cached run over 100,000 records.
extension FileFacts {
    public init(frames: Int?, probe: ProbeResult?, errorCode: String?, errorMessage: String?) {
        self.frames = frames
        self.probe = probe
        self.errorCode = errorCode
        self.errorMessage = errorMessage
    }

    public var cacheLine: String {
        if let code = errorCode {
            return ["e1", code, (errorMessage ?? "").replacingOccurrences(of: "\t", with: " ")].joined(separator: "\t")
        }
        guard let p = probe else { return "e1\tnot_media\tno facts" }
        func opt<T>(_ v: T?) -> String { v.map { "\($0)" } ?? "-" }
        return ["p1", String(p.frameCount), p.container, p.videoCodec, String(p.width), String(p.height),
                opt(p.duration), opt(p.headerFrameCount), opt(p.countedPackets), p.indexPastEnd ? "1" : "0",
                p.moovBeforeMdat.map { $0 ? "1" : "0" } ?? "-", opt(p.decodeErrors), String(p.fileSize)].joined(separator: "\t")
    }

    public init?(cacheLine line: String) {
        let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        if f.first == "e1", f.count == 3 {
            self.init(frames: nil, probe: nil, errorCode: f[1], errorMessage: f[2])
            return
        }
        guard f.first == "p1", f.count == 13, let frames = Int(f[1]), let width = Int(f[4]), let height = Int(f[5]),
              let size = Int64(f[12]) else { return nil }
        let probe = ProbeResult(
            container: f[2], videoCodec: f[3], width: width, height: height,
            duration: f[6] == "-" ? nil : Double(f[6]), headerFrameCount: f[7] == "-" ? nil : Int(f[7]),
            countedPackets: f[8] == "-" ? nil : Int(f[8]), indexPastEnd: f[9] == "1",
            moovBeforeMdat: f[10] == "-" ? nil : f[10] == "1", decodeErrors: f[11] == "-" ? nil : Int(f[11]),
            fileSize: size)
        self.init(frames: frames, probe: probe, errorCode: nil, errorMessage: nil)
    }
}

public struct FileVerification: Sendable, Equatable {
    public var kind: FileKind
    public var storedPath: String
    public var resolvedPath: String
    public var facts: FileFacts?
    /// Answered from the cache without opening the file.
    public var cached: Bool
    /// Opened with libavformat in this run.
    public var probed: Bool = false
}

public struct RecordVerification: Sendable, Equatable {
    public var record: VideoRecord
    public var files: [FileVerification]
    public var issues: [VerifyIssue]

    public var hasErrors: Bool { issues.contains { $0.severity == .error } }
    public var hasWarnings: Bool { issues.contains { $0.severity == .warning } }
    public var status: String { hasErrors ? "error" : (hasWarnings ? "warning" : "ok") }
}

/// Pure judgement of verify: facts in, issues out. Codecs and containers browsers play everywhere.
public enum StreamabilityRules {
    public static let browserCodecs: Set<String> = ["h264", "vp8", "vp9", "av1"]

    public static func issues(for facts: FileFacts, kind: FileKind, path: String, minFrames: Int) -> [VerifyIssue] {
        if let code = facts.errorCode {
            return [VerifyIssue(code, .error, file: kind, facts.errorMessage ?? code)]
        }
        guard let p = facts.probe else { return [] }
        var out: [VerifyIssue] = []
        if p.isTruncated {
            let detail = p.indexPastEnd
                ? "the container index points past the end of the file (\(p.fileSize) bytes)"
                : "the header claims \(p.headerFrameCount ?? 0) frames but only \(p.countedPackets ?? 0) packets are present"
            out.append(VerifyIssue("truncated", .error, file: kind, detail))
        }
        if p.frameCount < minFrames {
            out.append(VerifyIssue("too_few_frames", .error, file: kind, "\(p.frameCount) frames (< \(minFrames))"))
        }
        if let errors = p.decodeErrors, errors > 0 {
            out.append(VerifyIssue("decode_error", .error, file: kind, "\(errors) frames failed to decode"))
        }
        if p.isMP4Family && p.moovBeforeMdat == false {
            out.append(VerifyIssue("not_faststart", .warning, file: kind,
                                   "the moov index comes after the media data; browsers need an extra round trip to start"))
        }
        let ext = MediaRoot.pathExtension(path)
        if !browserCodecs.contains(p.videoCodec) {
            out.append(VerifyIssue("codec_not_browser_safe", .warning, file: kind,
                                   "video codec \(p.videoCodec) does not play in every browser (use H.264, VP8, VP9 or AV1)"))
        } else if !((p.isMP4Family && ["mp4", "m4v"].contains(ext)) || (p.isMatroskaFamily && ext == "webm")) {
            out.append(VerifyIssue("codec_not_browser_safe", .warning, file: kind,
                                   "container .\(ext) (\(p.container)) does not play in every browser (use MP4 or WebM)"))
        }
        return out
    }
}
