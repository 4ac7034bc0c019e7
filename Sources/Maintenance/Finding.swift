import MediaCatalog

/// One thing the inspection found about a record or one of its files. Codes are stable:
/// scripts match on them, in cleanup's and verify's output alike.
public struct Finding: Sendable, Equatable {
    public enum Severity: String, Sendable, Comparable {
        case info, warning, error
        public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
        var rank: Int { self == .info ? 0 : self == .warning ? 1 : 2 }
    }

    /// Every code, with what it means to each policy. One list: a new check is written once.
    public enum Code: String, Sendable, CaseIterable, Codable {
        // The file cannot be reached: what a dead mount or a wrong media root looks like.
        case missingFile = "missing_file"
        case notRegularFile = "not_regular_file"
        case unreadable
        // The file is there and bad.
        case emptyFile = "empty_file"
        case outsideMediaRoot = "outside_media_root"
        case notMedia = "not_media"
        case noVideoStream = "no_video_stream"
        case tooFewFrames = "too_few_frames"
        case truncated
        case decodeError = "decode_error"
        case noFiles = "no_files"
        // It plays, but not everywhere or not well.
        case notFaststart = "not_faststart"
        case codecNotBrowserSafe = "codec_not_browser_safe"
        case zeroDuration = "zero_duration"
        // Facts, not faults.
        case encrypted
        case recentlyModified = "recently_modified"
        // What a running server answered (verify --via).
        case httpStatus = "http_status"
        case httpNoRangeSupport = "http_no_range_support"
        case httpWrongBytes = "http_wrong_bytes"
        case httpWrongLength = "http_wrong_length"
        case httpBadResponse = "http_bad_response"
        case httpError = "http_error"

        /// How verify rates it.
        public var severity: Severity {
            switch self {
            case .notFaststart, .codecNotBrowserSafe, .zeroDuration: .warning
            case .encrypted, .recentlyModified: .info
            default: .error
            }
        }

        /// Whether cleanup deletes a record for it (found on one of the record's own files).
        /// Truncation alone is not enough (a truncated file with enough frames still plays),
        /// nor are a decoder's complaints or a server's answers.
        public var invalidatesRecord: Bool {
            switch self {
            case .missingFile, .notRegularFile, .unreadable, .emptyFile, .outsideMediaRoot, .notMedia,
                 .noVideoStream, .tooFewFrames, .noFiles: true
            default: false
            }
        }

        /// Cleanup keeps the record whatever else it found: the file is still being written.
        public var keepsRecord: Bool { self == .recentlyModified }

        /// Counted by the guard against a dead mount or a wrong media root.
        public var isUnreachable: Bool { self == .missingFile || self == .unreadable || self == .notRegularFile }

        /// Counted by the guard against a wrong root or an encrypted store: content libav
        /// cannot make sense of.
        public var looksLikeWrongContent: Bool { self == .notMedia || self == .unreadable }

        /// May a probe outcome with this code be cached? A read error may pass (a flaky
        /// mount); what the bytes decide stays decided until the file changes.
        public var isCacheable: Bool { self != .unreadable }
    }

    public enum Role: String, Sendable {
        /// The file the record names.
        case original
        /// The playable copy of it (a streamable path column).
        case streamable
    }

    public var code: Code
    /// nil: about the record as a whole.
    public var file: FileKind?
    public var role: Role
    public var message: String

    public init(_ code: Code, file: FileKind?, role: Role = .original, _ message: String) {
        self.code = code
        self.file = file
        self.role = role
        self.message = message
    }

    public var severity: Severity { code.severity }
}
