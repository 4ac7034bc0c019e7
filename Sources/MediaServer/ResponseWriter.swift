import HTTPRanges
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Writes one response at a time on a connection: the head with the headers every response
/// carries (Date, Server, CORS, Connection, Content-Length), a small body in the same write,
/// a large one through `FileBodyStream`. Owns the send timeout: an answer the client does
/// not take within it is abandoned and the connection closed.
final class ResponseWriter {
    enum Outcome: Equatable { case sent, aborted }

    private let configuration: ServerConfiguration
    private let log: @Sendable (String) -> Void
    /// "Vary: Origin\r\n" plus, per allowed origin, its CORS lines: encoded once.
    private let vary: ByteBuffer?
    private let corsLines: [String: ByteBuffer]
    private var sendTimer: Scheduled<Void>?
    private var stream: FileBodyStream?
    /// An inline answer handed to a channel that was then over its write-buffer mark: it is
    /// done when the channel drains (writable again), or cut by the send timeout.
    private var awaitingWritable: ((Outcome) -> Void)?

    /// File bodies up to this size are read (a copy: later writes to the file cannot reach
    /// it) and sent with the head in one write. A 64 KiB range costs less this way than as a
    /// write plus a sendfile whose pages must then be watched until the client has them.
    static let copyLimit: Int64 = 64 * 1024

    init(configuration: ServerConfiguration, log: @escaping @Sendable (String) -> Void) {
        self.configuration = configuration
        self.log = log
        if configuration.corsOrigins.isEmpty {
            vary = nil
            corsLines = [:]
        } else {
            vary = ByteBuffer(string: "Vary: Origin\r\n")
            var lines: [String: ByteBuffer] = [:]
            for origin in configuration.corsOrigins {
                lines[origin] = ByteBuffer(string: "Access-Control-Allow-Origin: \(origin)\r\nAccess-Control-Allow-Credentials: true\r\nAccess-Control-Expose-Headers: Content-Range, Content-Length, Accept-Ranges, ETag\r\n")
            }
            corsLines = lines
        }
    }

    func connectionClosed() {
        sendTimer?.cancel()
        sendTimer = nil
        stream?.stop()
        stream = nil
        if let waiting = awaitingWritable {
            awaitingWritable = nil
            waiting(.aborted)
        }
    }

    func writabilityChanged(_ writable: Bool, context: ChannelHandlerContext, remote: String) {
        guard writable, let waiting = awaitingWritable else { return }
        awaitingWritable = nil
        sendTimer?.cancel()
        sendTimer = nil
        waiting(.sent)
    }

    func write(_ response: Response, for head: RequestHead, closes: Bool, loop: LoopState,
               context: ChannelHandlerContext, completion: @escaping (Outcome) -> Void) {
        let bodyLength = head.isHead ? 0 : response.contentLength
        let inline: Bool
        switch response.body {
        case .none: inline = true
        case .bytes: inline = bodyLength <= FileBodyStream.regionSize
        case .file: inline = bodyLength <= Self.copyLimit
        case .multipart: inline = bodyLength == 0
        }
        var buffer = context.channel.allocator.buffer(capacity: 384 + (inline ? Int(bodyLength) : 0))
        encodeHead(response, head: head, closes: closes, loop: loop, into: &buffer)
        guard !head.isHead else { return sendInline(buffer, context: context, completion: completion) }
        switch response.body {
        case .none:
            sendInline(buffer, context: context, completion: completion)
        case .bytes(var bytes) where inline:
            buffer.writeBuffer(&bytes)
            sendInline(buffer, context: context, completion: completion)
        case .bytes(let bytes):
            context.write(NIOAny(IOData.byteBuffer(buffer)), promise: nil)
            var pieces: [FileBodyStream.Piece] = []
            var offset = 0
            while offset < bytes.readableBytes {
                let length = min(Int(FileBodyStream.regionSize), bytes.readableBytes - offset)
                if let slice = bytes.getSlice(at: bytes.readerIndex + offset, length: length) { pieces.append(.bytes(slice)) }
                offset += length
            }
            stream(pieces, file: nil, mustHold: 0, context: context, completion: completion)
        case .file(let file, let range) where inline:
            // Read first, then check the file is still the one the head describes: the copy is
            // then exactly that version. Otherwise nothing is sent and the connection closes.
            if let failure = FileBodyStream.copy(range, of: file, into: &buffer) {
                log("warning: \(file.filename) \(failure) while being read; closing the connection")
                return completion(.aborted)
            }
            sendInline(buffer, context: context, completion: completion)
        case .file(let file, let range):
            context.write(NIOAny(IOData.byteBuffer(buffer)), promise: nil)
            stream(FileBodyStream.withheldEnd([.file(range)]), file: file, mustHold: range.last + 1, context: context,
                   completion: completion)
        case .multipart(let file, let multipart):
            context.write(NIOAny(IOData.byteBuffer(buffer)), promise: nil)
            var pieces: [FileBodyStream.Piece] = []
            var mustHold: Int64 = 0
            for part in multipart.parts {
                mustHold = max(mustHold, part.range.last + 1)
                pieces.append(.bytes(ByteBuffer(bytes: part.header)))
                pieces.append(.file(part.range))
            }
            pieces.append(.bytes(ByteBuffer(bytes: multipart.trailer)))
            stream(FileBodyStream.withheldEnd(pieces), file: file, mustHold: mustHold, context: context, completion: completion)
        }
    }

    /// A whole answer in one buffer. While the channel stays under its write-buffer mark the
    /// answer is done at once (no promise, no callback: the common case costs nothing more);
    /// past it, the answer waits for the channel to drain, and the send timeout starts. So a
    /// client that never reads holds at most the mark's worth of answers.
    private func sendInline(_ buffer: ByteBuffer, context: ChannelHandlerContext, completion: @escaping (Outcome) -> Void) {
        context.writeAndFlush(NIOAny(IOData.byteBuffer(buffer)), promise: nil)
        guard context.channel.isActive else { return completion(.aborted) }
        if context.channel.isWritable { return completion(.sent) }
        awaitingWritable = completion
        sendTimer = context.eventLoop.assumeIsolated().scheduleTask(in: configuration.sendTimeout) {
            guard let waiting = self.awaitingWritable else { return }
            self.awaitingWritable = nil
            self.log("warning: a client stopped reading; closing its connection after the send timeout")
            context.close(promise: nil)
            waiting(.aborted)
        }
    }

    /// One write; if the socket cannot take it at once, the send timeout starts.
    private func send(_ buffer: ByteBuffer, context: ChannelHandlerContext, completion: @escaping (Outcome) -> Void) {
        let promise = context.eventLoop.makePromise(of: Void.self)
        var done = false
        promise.futureResult.assumeIsolated().whenComplete { result in
            done = true
            self.sendTimer?.cancel()
            self.sendTimer = nil
            switch result {
            case .success: completion(.sent)
            case .failure: completion(.aborted)
            }
        }
        context.writeAndFlush(NIOAny(IOData.byteBuffer(buffer)), promise: promise)
        if !done {
            sendTimer = context.eventLoop.assumeIsolated().scheduleTask(in: configuration.sendTimeout) {
                guard !done else { return }
                self.log("warning: a client stopped reading; closing its connection after the send timeout")
                context.close(promise: nil)
            }
        }
    }

    private func stream(_ pieces: [FileBodyStream.Piece], file: ServedFile?, mustHold: Int64, context: ChannelHandlerContext,
                        completion: @escaping (Outcome) -> Void) {
        let s = FileBodyStream(pieces: pieces, file: file, mustHold: mustHold, sendTimeout: configuration.sendTimeout,
                               context: context, log: log) { outcome in
            self.stream = nil
            completion(outcome)
        }
        stream = s
        s.start()
    }

    // MARK: the head

    func encodeHead(_ r: Response, head: RequestHead, closes: Bool, loop: LoopState, into buffer: inout ByteBuffer) {
        if var prefix = r.prefix, head.minorVersion == 1 {
            // A served file's answer: its status line and fixed headers were encoded once for
            // the file; only what changes per request is written here.
            buffer.writeBuffer(&prefix)
            if let range = r.contentRange {
                buffer.writeStaticString("Content-Range: bytes ")
                buffer.writeDecimal(range.first)
                buffer.writeStaticString("-")
                buffer.writeDecimal(range.last)
                buffer.writeStaticString("/")
                buffer.writeDecimal(r.fileSize)
                buffer.writeStaticString("\r\n")
            }
            finishHead(r, head: head, closes: closes, loop: loop, into: &buffer)
            return
        }
        buffer.writeStaticString(head.minorVersion == 0 ? "HTTP/1.0 " : "HTTP/1.1 ")
        buffer.writeString(String(r.status))
        buffer.writeStaticString(" ")
        buffer.writeString(Response.reason(r.status))
        buffer.writeStaticString("\r\n")
        if var v = r.validators { buffer.writeBuffer(&v) }
        if var rep = r.representation, r.status == 200 || r.status == 206 { buffer.writeBuffer(&rep) }
        for (name, value) in r.headers {
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }
        if let range = r.contentRange {
            buffer.writeStaticString("Content-Range: bytes ")
            buffer.writeDecimal(range.first)
            buffer.writeStaticString("-")
            buffer.writeDecimal(range.last)
            buffer.writeStaticString("/")
            buffer.writeDecimal(r.fileSize)
            buffer.writeStaticString("\r\n")
        }
        buffer.writeStaticString("Server: medialib\r\n")
        finishHead(r, head: head, closes: closes, loop: loop, into: &buffer)
    }

    /// Date, CORS, Connection, Content-Length and the blank line: on every answer.
    private func finishHead(_ r: Response, head: RequestHead, closes: Bool, loop: LoopState, into buffer: inout ByteBuffer) {
        var date = loop.date()
        buffer.writeBuffer(&date)
        if var vary {
            buffer.writeBuffer(&vary)
            if let origin = head.origin, var lines = corsLines[origin] { buffer.writeBuffer(&lines) }
        }
        if closes {
            buffer.writeStaticString("Connection: close\r\n")
        } else if head.minorVersion == 0 {
            // HTTP/1.0 assumes close unless told otherwise (RFC 9112 Appendix C.2.2).
            buffer.writeStaticString("Connection: keep-alive\r\n")
        }
        if r.hasContentLength {
            buffer.writeStaticString("Content-Length: ")
            buffer.writeDecimal(r.contentLength)
            buffer.writeStaticString("\r\n")
        }
        buffer.writeStaticString("\r\n")
    }
}

/// The kernel's struct tcp_info, as raw bytes: Glibc's older copy of it lacks
/// tcpi_notsent_bytes (Linux 4.6). Offsets from include/uapi/linux/tcp.h.
struct KernelTCPInfo: Sendable {
    var raw: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
              UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
              UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
              UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

    private func u32(at offset: Int) -> UInt32 {
        withUnsafeBytes(of: raw) { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }
    }
    /// Segments sent and not yet acknowledged (tcpi_unacked).
    var unacknowledged: UInt32 { u32(at: 24) }
    /// Bytes queued and not yet sent (tcpi_notsent_bytes).
    var unsent: UInt32 { u32(at: 144) }
    /// Distinct bytes sent so far: tcpi_bytes_sent less tcpi_bytes_retrans (Linux 4.19).
    var distinctBytesSent: UInt64 {
        withUnsafeBytes(of: raw) { $0.loadUnaligned(fromByteOffset: 200, as: UInt64.self) &- $0.loadUnaligned(fromByteOffset: 208, as: UInt64.self) }
    }
}

extension ByteBuffer {
    /// A non-negative integer in decimal, without making a String of it first.
    mutating func writeDecimal(_ value: Int64) {
        var n = UInt64(clamping: value)
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0) // 24 bytes: enough for any UInt64
        withUnsafeMutableBytes(of: &digits) { raw in
            var i = raw.count
            repeat {
                i -= 1
                raw[i] = UInt8(truncatingIfNeeded: n % 10) + 0x30
                n /= 10
            } while n > 0
            writeBytes(UnsafeRawBufferPointer(rebasing: raw[i...]))
        }
    }
}

/// Sends a file body (or a multipart body's pieces, or a large generated body) one bounded
/// region at a time: the next is queued only when the previous one has left for the socket,
/// so memory per connection is one region whatever the size. A watchdog cuts the connection
/// when the file shrinks below what is being sent (sendfile would stall forever, and padding
/// is never an option) or when the client stops taking bytes for the send timeout.
///
/// sendfile hands the socket the page cache's pages, not copies: a file written to or
/// truncated in place before those bytes leave changes them on the wire (a truncation zeroes
/// the rest of the page holding the new end). So a file body's last bytes are withheld
/// (`Piece.final`): they are sent, as a copy, only once the client has acknowledged every
/// byte before them and the file is still the version the head describes; otherwise the
/// connection is reset and the client sees a short body, never a complete mixed one.
final class FileBodyStream {
    enum Piece {
        case bytes(ByteBuffer)
        case file(ByteRange)
        /// The body's last file bytes: read and sent only after the check described above.
        case final(ByteRange)
    }

    static let regionSize: Int64 = 256 * 1024
    /// How many of a file body's last bytes are withheld: any number above zero would do;
    /// a page keeps the copy cheap.
    static let withheldLength: Int64 = 4096

    /// The pieces with the last file piece's end turned into a `.final` one.
    static func withheldEnd(_ pieces: [Piece]) -> [Piece] {
        guard let i = pieces.lastIndex(where: { if case .file = $0 { true } else { false } }),
              case .file(let range) = pieces[i] else { return pieces }
        let tail = min(range.length, withheldLength)
        var out = Array(pieces[..<i])
        if range.length > tail { out.append(.file(ByteRange(first: range.first, last: range.last - tail))) }
        out.append(.final(ByteRange(first: range.last - tail + 1, last: range.last)))
        out.append(contentsOf: pieces[(i + 1)...])
        return out
    }

    /// Appends the range's bytes read from the file, then checks the file is still the version
    /// the head describes, so the copy is exactly that version. nil if so, else what happened
    /// to the file ("shrank": it no longer holds them all; "changed").
    static func copy(_ range: ByteRange, of file: ServedFile, into buffer: inout ByteBuffer) -> String? {
        let count = Int(range.length)
        let got = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { raw in
            max(0, pread(file.descriptor, raw.baseAddress, count, off_t(range.first)))
        }
        guard got == count else { return "shrank" }
        return file.isUnchanged() ? nil : "changed"
    }

    private let pieces: [Piece]
    private let file: ServedFile?
    private let mustHold: Int64
    private let sendTimeout: TimeAmount
    private let context: ChannelHandlerContext
    private let log: @Sendable (String) -> Void
    private let done: (ResponseWriter.Outcome) -> Void
    private var index = 0
    private var position: Int64?
    private var pumping = false
    private var finished = false
    /// Set once every byte before the withheld end is acknowledged by the client.
    private var acknowledged = false
    private var polls = 0
    private var lastProgress = NIODeadline.now()
    private var watchdog: Scheduled<Void>?

    init(pieces: [Piece], file: ServedFile?, mustHold: Int64, sendTimeout: TimeAmount, context: ChannelHandlerContext,
         log: @escaping @Sendable (String) -> Void, done: @escaping (ResponseWriter.Outcome) -> Void) {
        self.pieces = pieces
        self.file = file
        self.mustHold = mustHold
        self.sendTimeout = sendTimeout
        self.context = context
        self.log = log
        self.done = done
    }

    func start() {
        pump()
        if !finished { watch() }
    }

    func stop() {
        guard !finished else { return }
        finish(.aborted)
    }

    private func finish(_ outcome: ResponseWriter.Outcome) {
        guard !finished else { return }
        finished = true
        watchdog?.cancel()
        watchdog = nil
        done(outcome)
    }

    private func watch() {
        watchdog = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(200)) {
            guard !self.finished else { return }
            if let file = self.file, let size = file.currentSize(), size < self.mustHold {
                self.log("warning: \(file.filename) shrank to \(size) bytes while being sent; closing the connection")
                self.reset()
            } else if NIODeadline.now() - self.lastProgress > self.sendTimeout {
                self.log("warning: a client stopped reading; closing its connection after the send timeout")
                self.context.close(promise: nil)
                self.finish(.aborted)
            } else {
                self.watch()
            }
        }
    }

    /// Writes until a region is pending. A region that completes while still inside this loop
    /// (the socket took it at once) continues the loop instead of recursing, so a fast client
    /// and a huge file cannot exhaust the stack.
    private func pump() {
        pumping = true
        defer { pumping = false }
        while index < pieces.count && !finished {
            let body: IOData
            switch pieces[index] {
            case .bytes(let buffer):
                body = .byteBuffer(buffer)
                index += 1
            case .file(let range):
                guard let file else { finish(.aborted); return }
                let start = position ?? range.first
                let stop = min(range.last + 1, start + Self.regionSize)
                if stop == range.last + 1 { index += 1; position = nil } else { position = stop }
                body = .fileRegion(FileRegion(fileHandle: file.handle, readerIndex: Int(start), endIndex: Int(stop)))
            case .final(let range):
                guard let file else { finish(.aborted); return }
                guard acknowledged else { return awaitAcknowledgement() }
                // The copy is of the version every earlier byte came from, or nothing is sent.
                var copy = context.channel.allocator.buffer(capacity: Int(range.length))
                if let failure = Self.copy(range, of: file, into: &copy) {
                    log("warning: \(file.filename) \(failure) while being sent; closing the connection")
                    return reset()
                }
                body = .byteBuffer(copy)
                index += 1
            }
            let written = context.eventLoop.makePromise(of: Void.self)
            var completedInline = false
            written.futureResult.assumeIsolated().whenComplete { result in
                guard !self.finished else { return }
                switch result {
                case .failure:
                    self.finish(.aborted)
                case .success:
                    self.lastProgress = .now()
                    if self.pumping { completedInline = true } else { self.pump() }
                }
            }
            context.writeAndFlush(NIOAny(body), promise: written)
            if !completedInline { return }
        }
        guard index == pieces.count, !finished else { return }
        finish(.sent)
    }

    /// Every earlier byte is handed to the kernel; the withheld end waits until the client has
    /// them all, polled every 50 µs at first, then every millisecond. A client on this host must
    /// have received every byte sent and read them out of its receive queue, which shares the
    /// file's pages until then (see `PeerReceiveQueue`); its acknowledgement is not awaited,
    /// as it may be delayed 40 ms while the client waits for the rest. A remote client must
    /// have acknowledged every byte: until then a retransmission would read the pages again.
    /// No later change to the file can reach those bytes then.
    private func awaitAcknowledgement() {
        guard let provider = context.channel as? SocketOptionProvider else {
            acknowledged = true
            return pump()
        }
        let info: EventLoopFuture<KernelTCPInfo> = provider.unsafeGetSocketOption(level: .tcp, name: .tcp_info)
        info.assumeIsolated().whenComplete { result in
            guard !self.finished else { return }
            guard case .success(let info) = result else {
                self.acknowledged = true
                return self.pump()
            }
            if info.unsent == 0 && self.clientHasEverything(info) {
                self.acknowledged = true
                return self.pump()
            }
            self.retryAcknowledgement()
        }
    }

    private func clientHasEverything(_ info: KernelTCPInfo) -> Bool {
        if let client = context.channel.remoteAddress, let server = context.channel.localAddress,
           let peer = PeerReceiveQueue.state(client: client, server: server) {
            return peer.unread == 0 && (peer.received.map { $0 >= info.distinctBytesSent } ?? (info.unacknowledged == 0))
        }
        return info.unacknowledged == 0
    }

    private func retryAcknowledgement() {
        if NIODeadline.now() - lastProgress > sendTimeout {
            log("warning: a client stopped reading; closing its connection after the send timeout")
            return reset()
        }
        polls += 1
        // A local client reading at full speed drains a region in well under a millisecond:
        // look again soon at first, then every millisecond for one that reads slowly.
        let wait = TimeAmount.microseconds(polls <= 20 ? 50 : 1000)
        context.eventLoop.assumeIsolated().scheduleTask(in: wait) { self.awaitAcknowledgement() }
    }

    /// Closes with a reset (SO_LINGER 0): bytes still queued are dropped, not sent.
    private func reset() {
        if let provider = context.channel as? SocketOptionProvider {
            _ = provider.setSoLinger(linger(l_onoff: 1, l_linger: 0))
        }
        context.close(promise: nil)
        finish(.aborted)
    }
}
