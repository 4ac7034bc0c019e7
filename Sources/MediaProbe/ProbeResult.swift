/// What one libavformat open learned about a file.
public struct ProbeResult: Sendable, Equatable, Codable {
    /// libavformat's demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2" or "matroska,webm".
    public var container: String
    public var videoCodec: String
    public var width: Int
    public var height: Int
    /// Seconds, when the container knows.
    public var duration: Double?
    /// Frame count stored in the container header (MP4 sample tables); nil when absent (WebM).
    public var headerFrameCount: Int?
    /// Video packets counted by demuxing (no decoding); nil when not counted.
    public var countedPackets: Int?
    /// The container index names bytes past the end of the file.
    public var indexPastEnd: Bool
    /// For MP4/MOV: whether the moov index comes before the media data. nil for other containers.
    public var moovBeforeMdat: Bool?
    /// Frames that failed to decode (only with `ProbeOptions.decode`).
    public var decodeErrors: Int?
    public var fileSize: Int64

    public init(container: String, videoCodec: String, width: Int, height: Int, duration: Double?,
                headerFrameCount: Int?, countedPackets: Int?, indexPastEnd: Bool,
                moovBeforeMdat: Bool?, decodeErrors: Int? = nil, fileSize: Int64) {
        self.container = container
        self.videoCodec = videoCodec
        self.width = width
        self.height = height
        self.duration = duration
        self.headerFrameCount = headerFrameCount
        self.countedPackets = countedPackets
        self.indexPastEnd = indexPastEnd
        self.moovBeforeMdat = moovBeforeMdat
        self.decodeErrors = decodeErrors
        self.fileSize = fileSize
    }

    /// The header's count can be trusted only while the index stays inside the file
    /// and demuxing (when done) found at least as many packets.
    public var headerIsConsistent: Bool {
        guard let header = headerFrameCount, !indexPastEnd else { return false }
        if let counted = countedPackets { return counted >= header }
        return true
    }

    /// The frame count cleanup and verify judge by: the header's when consistent, else counted packets.
    public var frameCount: Int {
        if headerIsConsistent, let header = headerFrameCount { return header }
        return countedPackets ?? 0
    }

    /// The file lost data: its index points past its end, or its header claims frames that are not there.
    public var isTruncated: Bool {
        if indexPastEnd { return true }
        if let header = headerFrameCount, let counted = countedPackets { return counted < header }
        return false
    }

    public var isMP4Family: Bool { container.hasPrefix("mov") }
    public var isMatroskaFamily: Bool { container.hasPrefix("matroska") }
}

/// Why a file could not be probed. Each case maps to a stable code used in reports.
public enum ProbeError: Error, Sendable, Equatable, Codable {
    case missing
    case notRegularFile
    case unreadable(String)
    case empty
    case notMedia(String)
    case noVideoStream

    public var code: String {
        switch self {
        case .missing: "missing_file"
        case .notRegularFile: "not_regular_file"
        case .unreadable: "unreadable"
        case .empty: "empty_file"
        case .notMedia: "not_media"
        case .noVideoStream: "no_video_stream"
        }
    }

    public var message: String {
        switch self {
        case .missing: "file does not exist"
        case .notRegularFile: "not a regular file"
        case .unreadable(let why): "cannot read file: \(why)"
        case .empty: "file is empty (0 bytes)"
        case .notMedia(let why): "not a media file: \(why)"
        case .noVideoStream: "no video stream"
        }
    }
}

public struct ProbeOptions: Sendable, Equatable {
    public enum Counting: Sendable, Equatable {
        /// Count packets only when the header lacks a trustworthy count (cleanup).
        case whenNeeded
        /// Always count (verify: compares the count with the header).
        case always
    }
    public var counting: Counting
    /// Decode every video frame and count decode errors (`verify --deep`).
    public var decode: Bool

    public init(counting: Counting = .whenNeeded, decode: Bool = false) {
        self.counting = counting
        self.decode = decode
    }
}
