import MediaCatalog
import MediaProbe

/// What cleanup learned about one file a record names.
public struct FileFinding: Sendable, Equatable {
    public var kind: FileKind
    public var storedPath: String
    public var resolvedPath: String
    public var outcome: Result<ProbeResult, ProbeError>

    public init(kind: FileKind, storedPath: String, resolvedPath: String, outcome: Result<ProbeResult, ProbeError>) {
        self.kind = kind
        self.storedPath = storedPath
        self.resolvedPath = resolvedPath
        self.outcome = outcome
    }

    public var frames: Int? {
        if case .success(let r) = outcome { return r.frameCount }
        return nil
    }
}

/// A stable reason code, shared with `verify` where the meaning is the same.
public struct CleanupReason: Sendable, Equatable {
    public var code: String
    public var file: FileKind?
    public var detail: String

    public init(code: String, file: FileKind?, detail: String) {
        self.code = code
        self.file = file
        self.detail = detail
    }
}

public struct RecordVerdict: Sendable, Equatable {
    public var record: VideoRecord
    public var files: [FileFinding]
    public var reasons: [CleanupReason]
    public var isValid: Bool { reasons.isEmpty }
    /// Reasons that say "the file could not be reached" rather than "the file is bad":
    /// what an unmounted disk, a dead network mount or a wrong media root look like.
    public static let inaccessibleCodes: Set<String> = ["missing_file", "unreadable", "not_regular_file"]

    /// Every reason is an unreachable file: what the mass-deletion guard counts.
    public var isMissingFiles: Bool { !reasons.isEmpty && reasons.allSatisfy { Self.inaccessibleCodes.contains($0.code) } }
}

/// Pure judgement: a record and what its files are, in; a verdict, out.
public enum CleanupPlanner {
    public static let defaultMinFrames = 10

    public static func judge(_ record: VideoRecord, files: [FileFinding], minFrames: Int) -> RecordVerdict {
        var reasons: [CleanupReason] = []
        if files.isEmpty {
            reasons.append(CleanupReason(code: "no_files", file: nil, detail: "the record names no file"))
        }
        for f in files {
            switch f.outcome {
            case .failure(let error):
                reasons.append(CleanupReason(code: error.code, file: f.kind, detail: error.message))
            case .success(let probe):
                if probe.frameCount < minFrames {
                    var detail = "\(probe.frameCount) frames (< \(minFrames))"
                    if probe.isTruncated, let header = probe.headerFrameCount {
                        detail += ", truncated: header claims \(header)"
                    }
                    reasons.append(CleanupReason(code: "too_few_frames", file: f.kind, detail: detail))
                }
            }
        }
        return RecordVerdict(record: record, files: files, reasons: reasons)
    }
}

public struct CleanupSummary: Sendable, Equatable {
    public var total = 0
    public var valid = 0
    public var invalid = 0
    /// Invalid records whose only reasons are missing or unreachable files.
    public var invalidForMissingFiles = 0

    public init() {}

    public mutating func add(_ v: RecordVerdict) {
        total += 1
        if v.isValid { valid += 1 } else { invalid += 1 }
        if v.isMissingFiles { invalidForMissingFiles += 1 }
    }
}

/// Why `--apply` refuses to run without `--force`.
public enum CleanupGuard {
    public static func check(summary: CleanupSummary, mediaRoot: MediaRoot) -> String? {
        if !mediaRoot.exists {
            return "the media root \(mediaRoot.path) does not exist, so every file would look missing"
        }
        if mediaRoot.isEmptyDirectory && summary.total > 0 {
            return "the media root \(mediaRoot.path) is empty, so every file would look missing"
        }
        if summary.total > 0 && summary.invalidForMissingFiles * 2 > summary.total {
            return "\(summary.invalidForMissingFiles) of \(summary.total) records would be deleted for missing or unreadable files (more than half); the media root (\(mediaRoot.path)) may be wrong, unmounted or unreadable"
        }
        return nil
    }
}
