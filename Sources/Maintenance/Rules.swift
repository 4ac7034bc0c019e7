import MediaCatalog
import MediaFiles
import MediaProbe

/// What one libavformat open learned about a file, or why it could not: as probed now or
/// as the probe cache remembers it.
public struct FileFacts: Sendable, Equatable {
    public var probe: ProbeResult?
    public var error: ProbeError?

    public init(_ outcome: Result<ProbeResult, ProbeError>) {
        switch outcome {
        case .success(let p): probe = p
        case .failure(let e): error = e
        }
    }

    public var frames: Int? { probe?.frameCount }
}

/// The probe cache's form of `FileFacts`: one tab-separated line, owned here and nowhere
/// else. (Decoding JSON for every cached file dominated a cached run over 100,000 records.)
public enum FactsCodec {
    /// Part of the cache key: bump it when what a probe records or how it is judged changes.
    public static let version = "facts 2"

    public static func encode(_ facts: FileFacts) -> String {
        if let e = facts.error {
            return ["e2", e.code, e.message.replacingOccurrences(of: "\t", with: " ").replacingOccurrences(of: "\n", with: " ")]
                .joined(separator: "\t")
        }
        guard let p = facts.probe else { return "e2\tnot_media\tno facts" }
        func opt<T>(_ v: T?) -> String { v.map { "\($0)" } ?? "-" }
        return ["p2", String(p.frameCount), clean(p.container), clean(p.videoCodec), String(p.width), String(p.height),
                opt(p.duration), opt(p.headerFrameCount), opt(p.countedPackets), p.indexPastEnd ? "1" : "0",
                p.moovBeforeMdat.map { $0 ? "1" : "0" } ?? "-", opt(p.decodeErrors), String(p.fileSize)].joined(separator: "\t")
    }

    static func clean(_ s: String) -> String { s.replacingOccurrences(of: "\t", with: " ") }

    /// nil for anything that is not a line of this version (old, foreign or damaged): a miss.
    public static func decode(_ line: String) -> FileFacts? {
        let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        if f.first == "e2", f.count == 3 {
            guard let error = ProbeError(code: f[1], message: f[2]) else { return nil }
            return FileFacts(.failure(error))
        }
        guard f.first == "p2", f.count == 13, Int(f[1]) != nil, let width = Int(f[4]), let height = Int(f[5]),
              let size = Int64(f[12]) else { return nil }
        func optInt(_ s: String) -> Int? { s == "-" ? nil : Int(s) }
        let probe = ProbeResult(
            container: f[2], videoCodec: f[3], width: width, height: height,
            duration: f[6] == "-" ? nil : Double(f[6]), headerFrameCount: optInt(f[7]),
            countedPackets: optInt(f[8]), indexPastEnd: f[9] == "1",
            moovBeforeMdat: f[10] == "-" ? nil : f[10] == "1", decodeErrors: optInt(f[11]),
            fileSize: size)
        return FileFacts(.success(probe))
    }
}

extension ProbeError {
    /// Rebuilds an error from its cached code and message.
    init?(code: String, message: String) {
        func detail(after prefix: String) -> String {
            message.hasPrefix(prefix) ? String(message.dropFirst(prefix.count)) : message
        }
        switch code {
        case "missing_file": self = .missing
        case "not_regular_file": self = .notRegularFile
        case "unreadable": self = .unreadable(detail(after: "cannot read file: "))
        case "empty_file": self = .empty
        case "not_media": self = .notMedia(detail(after: "not a media file: "))
        case "no_video_stream": self = .noVideoStream
        default: return nil
        }
    }

    var findingCode: Finding.Code {
        switch self {
        case .missing: .missingFile
        case .notRegularFile: .notRegularFile
        case .unreadable: .unreadable
        case .empty: .emptyFile
        case .notMedia: .notMedia
        case .noVideoStream: .noVideoStream
        }
    }
}

/// Pure judgement: facts in, findings out. Codecs and containers every browser plays.
public enum Rules {
    public static let browserCodecs: Set<String> = ["h264", "vp8", "vp9", "av1"]

    public static func findings(for facts: FileFacts, kind: FileKind, role: Finding.Role, path: RawPath,
                                minFrames: Int) -> [Finding] {
        if let e = facts.error { return [Finding(e.findingCode, file: kind, role: role, e.message)] }
        guard let p = facts.probe else { return [] }
        var out: [Finding] = []
        if p.isTruncated {
            let detail = p.indexPastEnd
                ? "the container index points past the end of the file (\(p.fileSize) bytes)"
                : "the header claims \(p.headerFrameCount ?? 0) frames but only \(p.countedPackets ?? 0) packets are present"
            out.append(Finding(.truncated, file: kind, role: role, detail))
        }
        if p.frameCount < minFrames {
            out.append(Finding(.tooFewFrames, file: kind, role: role, "\(p.frameCount) frames (< \(minFrames))"))
        }
        if let errors = p.decodeErrors, errors > 0 {
            out.append(Finding(.decodeError, file: kind, role: role, "\(errors) frames failed to decode"))
        }
        if p.frameCount > 0 && (p.duration ?? 0) <= 0 {
            out.append(Finding(.zeroDuration, file: kind, role: role,
                               "\(p.frameCount) frames but a duration of zero: players show no length and cannot seek"))
        }
        if p.isMP4Family && p.moovBeforeMdat == false {
            out.append(Finding(.notFaststart, file: kind, role: role,
                               "the moov index comes after the media data; browsers need an extra round trip to start"))
        }
        let ext = path.pathExtension
        if !browserCodecs.contains(p.videoCodec) {
            out.append(Finding(.codecNotBrowserSafe, file: kind, role: role,
                               "video codec \(p.videoCodec) does not play in every browser (use H.264, VP8, VP9 or AV1)"))
        } else if !((p.isMP4Family && ["mp4", "m4v"].contains(ext)) || (p.isMatroskaFamily && ext == "webm")) {
            out.append(Finding(.codecNotBrowserSafe, file: kind, role: role,
                               "container .\(ext) (\(p.container)) does not play in every browser (use MP4 or WebM)"))
        }
        return out
    }

    /// An encrypted file (ciphertext by design) is judged by the application's frame count.
    public static func findingsForEncrypted(size: Int64, appFrameCount: Int64?, kind: FileKind, minFrames: Int) -> [Finding] {
        var out = [Finding(.encrypted, file: kind,
                           "ciphertext by design (\(size) bytes): not probed; frame count from the catalog: \(appFrameCount.map(String.init) ?? "not set")")]
        if let n = appFrameCount, n < Int64(minFrames) {
            out.append(Finding(.tooFewFrames, file: kind, "\(n) frames according to the catalog (< \(minFrames))"))
        }
        return out
    }
}
