import CFFmpeg
import MediaFiles
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Opens a file once with libavformat and reports what `ProbeResult` describes.
/// Safe to call from many threads at once: each call owns its own contexts.
public struct Prober: Sendable {
    public var options: ProbeOptions

    public init(options: ProbeOptions = ProbeOptions()) {
        self.options = options
    }

    /// The libavformat and libavcodec versions medialib was built against (the loader refuses
    /// another major version): cached verdicts must not outlive a libav upgrade. Known without
    /// loading libav, so serve can judge cached facts without mapping it.
    public static var libraryVersion: String {
        let f = medialib_avformat_build_version(), c = medialib_avcodec_build_version()
        return "avformat \(f >> 16).\((f >> 8) & 0xFF).\(f & 0xFF) avcodec \(c >> 16).\((c >> 8) & 0xFF).\(c & 0xFF)"
    }

    /// libav logs to stderr by default; medialib keeps it quiet unless `--verbose`. Applied
    /// when libav loads; setting it loads nothing.
    public static func setLibavLogging(verbose: Bool) {
        medialib_av_set_log_level(verbose ? AV_LOG_WARNING : AV_LOG_QUIET)
    }

    /// Loads libav (once). Commands that probe call it first, so a missing library is one
    /// clear error instead of every file reported unreadable.
    public static func loadLibrary() throws(LibraryUnavailable) {
        var buffer = [CChar](repeating: 0, count: 512)
        if medialib_av_load(&buffer, buffer.count) != 0 {
            throw LibraryUnavailable(description: String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
    }

    public struct LibraryUnavailable: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public func probe(path: RawPath) -> Result<ProbeResult, ProbeError> {
        do { try Self.loadLibrary() } catch { return .failure(.unreadable("libav is not available: \(error)")) }
        let identity: FileIdentity
        switch FileCheck.regularFile(at: path) {
        case .failure(let error): return .failure(error)
        case .success(let id): identity = id
        }
        return Demuxer.open(path: path).flatMap { demuxer in
            defer { demuxer.close() }
            return inspect(demuxer, path: path, size: identity.size)
        }
    }

    private func inspect(_ demuxer: Demuxer, path: RawPath, size: Int64) -> Result<ProbeResult, ProbeError> {
        guard let stream = demuxer.videoStream(), let codecpar = stream.pointee.codecpar else { return .failure(.noVideoStream) }
        let par = codecpar.pointee
        let header = stream.pointee.nb_frames > 0 ? Int(stream.pointee.nb_frames) : nil
        let pastEnd = Demuxer.indexPastEnd(stream, fileSize: size)
        var result = ProbeResult(
            container: demuxer.containerName,
            videoCodec: String(cString: avcodec_get_name(par.codec_id)),
            width: Int(par.width), height: Int(par.height),
            duration: demuxer.durationSeconds(stream),
            headerFrameCount: header, countedPackets: nil,
            indexPastEnd: pastEnd, moovBeforeMdat: nil, fileSize: size)
        if result.isMP4Family {
            result.moovBeforeMdat = MP4Boxes.moovBeforeMdat(path: path)
        }
        let mustCount = options.counting == .always || options.decode || header == nil || pastEnd
        if mustCount {
            let scan = demuxer.scanVideoPackets(streamIndex: Int(stream.pointee.index), decode: options.decode)
            // A read error mid-file says nothing about the video: it must not pass for a short
            // or truncated file (cleanup would delete it, verify would cache the verdict).
            if let error = scan.readError { return .failure(.unreadable(Demuxer.errorString(error))) }
            result.countedPackets = scan.packets
            if options.decode { result.decodeErrors = scan.decodeErrors }
        }
        return .success(result)
    }
}

/// Owns one AVFormatContext.
final class Demuxer {
    private var context: UnsafeMutablePointer<AVFormatContext>?

    private init(context: UnsafeMutablePointer<AVFormatContext>) {
        self.context = context
    }

    static func open(path: RawPath) -> Result<Demuxer, ProbeError> {
        var ctx: UnsafeMutablePointer<AVFormatContext>? = nil
        // "file:" stops libav from reading a colon in the name as a protocol (http:, pipe:).
        guard let rc = RawPath(bytes: Array("file:".utf8) + path.bytes).withCString({ avformat_open_input(&ctx, $0, nil, nil) }) else {
            return .failure(.missing)
        }
        guard rc >= 0, let ctx else { return .failure(classify(rc)) }
        let demuxer = Demuxer(context: ctx)
        // MP4 and Matroska headers already describe their streams; only probe deeper when they do not.
        if demuxer.videoStream().map({ ($0.pointee.codecpar?.pointee.width ?? 0) == 0 }) ?? (ctx.pointee.nb_streams == 0) {
            let info = avformat_find_stream_info(ctx, nil)
            if info < 0 && ctx.pointee.nb_streams == 0 {
                demuxer.close()
                return .failure(classify(info))
            }
        }
        return .success(demuxer)
    }

    func close() {
        if context != nil { avformat_close_input(&context) }
    }

    deinit { close() }

    var containerName: String {
        guard let fmt = context?.pointee.iformat else { return "unknown" }
        return String(cString: fmt.pointee.name)
    }

    /// The first real video stream; cover art (attached pictures) is not a video.
    func videoStream() -> UnsafeMutablePointer<AVStream>? {
        guard let ctx = context, let streams = ctx.pointee.streams else { return nil }
        for i in 0..<Int(ctx.pointee.nb_streams) {
            guard let st = streams[i] else { continue }
            if let par = st.pointee.codecpar, par.pointee.codec_type == AVMEDIA_TYPE_VIDEO,
               (st.pointee.disposition & AV_DISPOSITION_ATTACHED_PIC) == 0 {
                return st
            }
        }
        return nil
    }

    func durationSeconds(_ stream: UnsafeMutablePointer<AVStream>) -> Double? {
        let st = stream.pointee
        if st.duration != medialib_av_nopts_value(), st.duration > 0, st.time_base.den != 0 {
            return Double(st.duration) * Double(st.time_base.num) / Double(st.time_base.den)
        }
        if let ctx = context, ctx.pointee.duration != medialib_av_nopts_value(), ctx.pointee.duration > 0 {
            return Double(ctx.pointee.duration) / Double(AV_TIME_BASE)
        }
        return nil
    }

    /// The last index entry must end inside the file; MP4 sample tables index every frame,
    /// so a cut file shows up here without reading any media data.
    static func indexPastEnd(_ stream: UnsafeMutablePointer<AVStream>, fileSize: Int64) -> Bool {
        let count = avformat_index_get_entries_count(stream)
        guard count > 0 else { return false }
        var furthest: Int64 = 0
        // Entries are in time order, not byte order; check the tail where the latest bytes live.
        for i in max(0, count - 64)..<count {
            guard let entry = avformat_index_get_entry(stream, i) else { continue }
            // Values come from the file: a hostile index must not trap on overflow.
            let (end, overflow) = entry.pointee.pos.addingReportingOverflow(Int64(entry.pointee.size))
            furthest = max(furthest, overflow ? Int64.max : end)
        }
        return furthest > fileSize
    }

    struct Scan { var packets = 0; var decodeErrors = 0; var readError: Int32? }

    /// Demuxes every packet of one stream. Packets libav marks corrupt (cut short by EOF) do not count.
    func scanVideoPackets(streamIndex: Int, decode: Bool) -> Scan {
        var scan = Scan()
        guard let ctx = context else { return scan }
        for i in 0..<Int(ctx.pointee.nb_streams) where i != streamIndex {
            ctx.pointee.streams[i]?.pointee.discard = AVDISCARD_ALL
        }
        let decoder = decode ? ctx.pointee.streams[streamIndex].map { Decoder(stream: $0) } : nil
        var packet = av_packet_alloc()
        defer { av_packet_free(&packet) }
        guard let packet else { return scan }
        while true {
            let rc = av_read_frame(ctx, packet)
            if rc < 0 {
                // The end, or data cut short (a truncated file): both are facts about the file.
                // Anything else (EIO, ESTALE, a dropped mount) is about the disk.
                let ioFailed = ctx.pointee.pb.map { $0.pointee.error < 0 && $0.pointee.error != medialib_averror_eof() } ?? false
                if ioFailed || (rc != medialib_averror_eof() && Demuxer.isSystemError(rc)) {
                    scan.readError = ioFailed ? (ctx.pointee.pb?.pointee.error ?? rc) : rc
                }
                break
            }
            if Int(packet.pointee.stream_index) == streamIndex,
               (packet.pointee.flags & AV_PKT_FLAG_CORRUPT) == 0 {
                scan.packets += 1
                if let decoder { scan.decodeErrors += decoder.decode(packet) }
            }
            av_packet_unref(packet)
        }
        if let decoder { scan.decodeErrors += decoder.flush() }
        if decode, decoder?.isOpen != true { scan.decodeErrors += 1 }
        return scan
    }

    /// libav errors that carry an errno (AVERROR(e) is -e): the system failed, not the format.
    static func isSystemError(_ rc: Int32) -> Bool {
        rc < 0 && -rc < 4096
    }

    static func classify(_ rc: Int32) -> ProbeError {
        switch rc {
        case medialib_averror(ENOENT): return .missing
        case _ where isSystemError(rc) && rc != medialib_averror(EINVAL):
            return .unreadable(errorString(rc))
        default: return .notMedia(errorString(rc))
        }
    }

    static func errorString(_ rc: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 128)
        return buffer.withUnsafeMutableBufferPointer { buf in
            String(cString: medialib_av_err2str(rc, buf.baseAddress, buf.count))
        }
    }
}

/// Decodes one video stream for `--deep`; counts frames the codec rejects.
final class Decoder {
    private var context: UnsafeMutablePointer<AVCodecContext>?
    private var frame: UnsafeMutablePointer<AVFrame>?
    private(set) var isOpen = false

    init(stream: UnsafeMutablePointer<AVStream>) {
        guard let par = stream.pointee.codecpar, let codec = avcodec_find_decoder(par.pointee.codec_id),
              let ctx = avcodec_alloc_context3(codec) else { return }
        context = ctx
        frame = av_frame_alloc()
        ctx.pointee.thread_count = 1
        isOpen = avcodec_parameters_to_context(ctx, stream.pointee.codecpar) >= 0
            && avcodec_open2(ctx, codec, nil) >= 0
    }

    deinit {
        av_frame_free(&frame)
        avcodec_free_context(&context)
    }

    /// Returns the number of errors this packet produced.
    func decode(_ packet: UnsafeMutablePointer<AVPacket>?) -> Int {
        guard isOpen, let ctx = context else { return 0 }
        var errors = 0
        let sent = avcodec_send_packet(ctx, packet)
        if sent < 0 && sent != medialib_averror_eof() && sent != medialib_averror(EAGAIN) { errors += 1 }
        while true {
            let rc = avcodec_receive_frame(ctx, frame)
            if rc == medialib_averror(EAGAIN) || rc == medialib_averror_eof() { break }
            if rc < 0 { errors += 1; break }
            if let frame, (frame.pointee.decode_error_flags != 0 || (frame.pointee.flags & AV_FRAME_FLAG_CORRUPT) != 0) {
                errors += 1
            }
            av_frame_unref(frame)
        }
        return errors
    }

    func flush() -> Int { decode(nil) }
}
