import HTTPRanges
import NIOCore
import NIOHTTP1
#if canImport(Glibc)
import Glibc
#endif

/// Sent down every connection's pipeline when the server begins a graceful shutdown.
struct ShutdownRequested: Sendable {}

/// One connection: reads request heads, writes responses, enforces the head timeout,
/// and keeps a sent file honest while it is on the wire.
final class HTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let responder: Responder
    private let configuration: ServerConfiguration
    private let accessLog: AccessLog
    /// The request being received: its head has arrived, its end not yet.
    private var receiving: (head: HTTPRequestHead, started: NIODeadline)?
    /// Responses written but not yet fully sent. Pipelined requests are answered in order
    /// while earlier responses are still on the wire, so completion must not reset state.
    private var inFlight = 0
    /// Close once nothing is in flight: a `Connection: close` response, a protocol error, shutdown.
    private var closing = false
    private var requestTimer: Scheduled<Void>?
    private var remote = "-"
    private var cachedDate: (second: Int64, text: String) = (-1, "")

    init(responder: Responder, configuration: ServerConfiguration, accessLog: AccessLog) {
        self.responder = responder
        self.configuration = configuration
        self.accessLog = accessLog
    }

    func channelActive(context: ChannelHandlerContext) {
        remote = context.remoteAddress?.ipAddress ?? "-"
        armRequestTimer(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        requestTimer?.cancel()
        requestTimer = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            receiving = (head, .now())
        case .body:
            break // Bodies of GET/HEAD/OPTIONS carry nothing we use.
        case .end:
            // The timer covers head and body: a stalled body is a slow loris too.
            requestTimer?.cancel()
            requestTimer = nil
            guard let (head, started) = receiving else { return }
            receiving = nil
            guard !closing else { return } // nothing after a response that closes
            var response = headIsValid(head) ? responder.respond(to: head) : Response.error(.badRequest, "HTTP/1.1 requests need exactly one Host header")
            if !head.isKeepAlive { closing = true }
            decorate(&response, for: head)
            write(response, for: head, started: started, context: context)
        }
    }

    /// RFC 9112 §3.2: an HTTP/1.1 request without Host, or with several, is a 400.
    private func headIsValid(_ head: HTTPRequestHead) -> Bool {
        guard head.version.major == 1 && head.version.minor >= 1 else { return true }
        return head.headers["Host"].count == 1
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ShutdownRequested {
            closing = true
            if inFlight == 0 { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard let parseError = error as? HTTPParserError else {
            context.close(promise: nil)
            return
        }
        // Malformed bytes end the connection. Responses already written finish first;
        // with none under way the client is told why.
        let alreadyClosing = closing
        closing = true
        receiving = nil
        guard inFlight == 0, !alreadyClosing else { return }
        let status: HTTPResponseStatus = parseError == .headerOverflow ? .requestHeaderFieldsTooLarge : .badRequest
        var response = Response.error(status, status == .badRequest ? "malformed request" : "request head too large")
        let placeholder = HTTPRequestHead(version: .http1_1, method: .GET, uri: "-")
        decorate(&response, for: placeholder)
        write(response, for: placeholder, started: .now(), context: context)
    }

    // MARK: writing

    /// Headers every response carries: Date, Content-Length, CORS, Connection.
    private func decorate(_ response: inout Response, for head: HTTPRequestHead) {
        var h = response.headers
        h.add(name: "Date", value: dateHeader())
        h.add(name: "Server", value: "medialib")
        if response.status != .notModified && response.status != .noContent {
            h.replaceOrAdd(name: "Content-Length", value: String(response.contentLength))
        }
        if !configuration.corsOrigins.isEmpty {
            h.add(name: "Vary", value: "Origin")
            if let origin = head.headers.first(name: "Origin"), configuration.corsOrigins.contains(origin) {
                h.add(name: "Access-Control-Allow-Origin", value: origin)
                h.add(name: "Access-Control-Allow-Credentials", value: "true")
                h.add(name: "Access-Control-Expose-Headers", value: "Content-Range, Content-Length, Accept-Ranges, ETag")
            }
        }
        if closing {
            h.replaceOrAdd(name: "Connection", value: "close")
        } else if head.version.major == 1 && head.version.minor == 0 {
            // HTTP/1.0 assumes close unless told otherwise (RFC 9112 Appendix C.2.2).
            h.replaceOrAdd(name: "Connection", value: "keep-alive")
        }
        response.headers = h
    }

    /// Formatting a date per request shows in profiles; keep-alive connections reuse it per second.
    private func dateHeader() -> String {
        let now = Int64(time(nil))
        if now != cachedDate.second { cachedDate = (now, HTTPDate.format(now)) }
        return cachedDate.text
    }

    private func write(_ response: Response, for head: HTTPRequestHead, started: NIODeadline, context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: response.status,
                                                              headers: response.headers))), promise: nil)
        let progress = Progress()
        var pieces: [BodyStream.Piece] = []
        let isHead = head.method == .HEAD
        var file: OpenedFile?
        var handle: NIOFileHandle?
        var mustHold: Int64 = 0
        switch response.body {
        case .none:
            break
        case .bytes(let bytes) where bytes.count > Int(BodyStream.regionSize):
            // A large JSON list streams in slices like a file, so a client that stops reading
            // meets the send timeout and its unsent bytes do not pile up in the channel.
            if isHead { break }
            let whole = ByteBuffer(bytes: bytes)
            var offset = 0
            while offset < whole.readableBytes {
                let length = min(Int(BodyStream.regionSize), whole.readableBytes - offset)
                pieces.append(.bytes(whole.getSlice(at: whole.readerIndex + offset, length: length)!))
                offset += length
            }
        case .bytes(let bytes):
            if !isHead { context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: bytes)))), promise: nil) }
        case .file(let f, let range) where range.length <= Self.inlineBodyLimit:
            if isHead { _ = close(f.descriptor); break }
            // A few bytes (a player's first probe) cost less as one writev with the head than
            // as a write plus a sendfile; the read is bounded, so memory stays bounded too.
            var buffer = context.channel.allocator.buffer(capacity: Int(range.length))
            let count = Int(range.length)
            let got = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { raw in
                max(0, pread(f.descriptor, raw.baseAddress, count, off_t(range.first)))
            }
            _ = close(f.descriptor)
            guard got == count else {
                // The file shrank since fstat: never pad, never mislabel.
                responder.log("warning: \(f.filename) shrank while being read; closing the connection")
                context.close(promise: nil)
                return
            }
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        case .file(let f, let range):
            if isHead { _ = close(f.descriptor); break }
            let h = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: f.descriptor)
            (file, handle, mustHold) = (f, h, range.last + 1)
            pieces = [.file(range)]
        case .multipart(let f, let multipart):
            if isHead { _ = close(f.descriptor); break }
            let h = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: f.descriptor)
            (file, handle) = (f, h)
            for part in multipart.parts {
                mustHold = max(mustHold, part.range.last + 1)
                pieces.append(.bytes(ByteBuffer(bytes: part.header)))
                pieces.append(.file(part.range))
            }
            pieces.append(.bytes(ByteBuffer(bytes: multipart.trailer)))
        }
        let sent = isHead ? 0 : response.contentLength
        inFlight += 1
        var finished = false
        var watch: Scheduled<Void>?
        let line = accessLog.enabled ? "\(remote) \"\(head.method.rawValue) \(head.uri) HTTP/\(head.version.major).\(head.version.minor)\" \(response.status.code)" : ""
        let complete: (Result<Void, Error>) -> Void = { result in
            finished = true
            watch?.cancel()
            if let handle { try? handle.close() }
            let millis = Double((NIODeadline.now() - started).nanoseconds) / 1_000_000
            self.inFlight -= 1
            switch result {
            case .success:
                self.accessLog.write("\(line) \(sent) \(Self.format(millis))ms")
                self.responseDidEnd(context: context)
            case .failure:
                self.accessLog.write("\(line) \(sent) \(Self.format(millis))ms aborted")
                context.close(promise: nil)
            }
        }
        if !pieces.isEmpty {
            BodyStream(pieces: pieces, handle: handle, handler: self, context: context, progress: progress, done: complete).pump()
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete(complete)
        }
        // sendfile past a shrunken end returns 0 forever; notice and cut the connection instead.
        if !finished, !pieces.isEmpty {
            func check() {
                watch = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(200)) {
                    guard !finished else { return }
                    if let file, let size = file.currentSize(), size < mustHold {
                        self.responder.log("warning: \(file.filename) shrank to \(size) bytes while being sent; closing the connection")
                        context.close(promise: nil)
                    } else if NIODeadline.now() - progress.last > self.configuration.sendTimeout {
                        self.responder.log("warning: \(self.remote) stopped reading \(head.uri); closing the connection")
                        context.close(promise: nil)
                    } else {
                        check()
                    }
                }
            }
            check()
        }
    }

    private func responseDidEnd(context: ChannelHandlerContext) {
        guard inFlight == 0 else { return }
        if closing {
            context.close(promise: nil)
        } else {
            armRequestTimer(context: context)
        }
    }

    /// Runs only while nothing is being sent: a connection must deliver its next complete
    /// request within the timeout, or it is closed.
    private func armRequestTimer(context: ChannelHandlerContext) {
        requestTimer?.cancel()
        requestTimer = context.eventLoop.assumeIsolated().scheduleTask(in: configuration.requestHeadTimeout) {
            guard self.inFlight == 0 else { return }
            context.close(promise: nil)
        }
    }

    /// When the last piece of a file body left for the socket.
    final class Progress {
        var last = NIODeadline.now()
    }

    /// Bodies up to this size are read and sent with the head; larger ones go out with sendfile.
    static let inlineBodyLimit: Int64 = 16 * 1024

    static func format(_ ms: Double) -> String {
        let tenths = Int((ms * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}

/// Access-log lines on stderr, one write(2) each so lines from two event loops never interleave.
struct AccessLog: Sendable {
    let enabled: Bool

    func write(_ line: String) {
        guard enabled else { return }
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        _ = bytes.withUnsafeBytes { Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}

/// Sends a file body (or a multipart body's pieces) one sendfile region at a time: the next
/// region is queued only when the previous one has left for the socket. Memory per
/// connection is one region whatever the file's size (queuing every region of a 100 MB file
/// at once cost ~80 KB per slow reader), and each completion is progress for the send timeout.
final class BodyStream {
    enum Piece {
        case bytes(ByteBuffer)
        case file(ByteRange)
    }

    static let regionSize: Int64 = 256 * 1024

    private let pieces: [Piece]
    private let handle: NIOFileHandle?
    private let handler: HTTPHandler
    private let context: ChannelHandlerContext
    private let progress: HTTPHandler.Progress
    private let done: (Result<Void, Error>) -> Void
    private var index = 0
    private var position: Int64?
    private var pumping = false

    init(pieces: [Piece], handle: NIOFileHandle?, handler: HTTPHandler, context: ChannelHandlerContext,
         progress: HTTPHandler.Progress, done: @escaping (Result<Void, Error>) -> Void) {
        self.pieces = pieces
        self.handle = handle
        self.handler = handler
        self.context = context
        self.progress = progress
        self.done = done
    }

    /// Writes until a region is pending. A region that completes while still inside this loop
    /// (the socket took it at once) continues the loop instead of recursing, so a fast client
    /// and a huge file cannot exhaust the stack.
    func pump() {
        pumping = true
        defer { pumping = false }
        while index < pieces.count {
            let body: IOData
            switch pieces[index] {
            case .bytes(let buffer):
                body = .byteBuffer(buffer)
                index += 1
            case .file(let range):
                guard let handle else { index = pieces.count + 1; done(.failure(ChannelError.ioOnClosedChannel)); return }
                let start = position ?? range.first
                let stop = min(range.last + 1, start + Self.regionSize)
                if stop == range.last + 1 { index += 1; position = nil } else { position = stop }
                body = .fileRegion(FileRegion(fileHandle: handle, readerIndex: Int(start), endIndex: Int(stop)))
            }
            let written = context.eventLoop.makePromise(of: Void.self)
            var completedInline = false
            written.futureResult.assumeIsolated().whenComplete { result in
                switch result {
                case .failure(let error):
                    self.index = self.pieces.count + 1 // stop
                    self.done(.failure(error))
                case .success:
                    self.progress.last = .now()
                    if self.pumping { completedInline = true } else { self.pump() }
                }
            }
            context.writeAndFlush(handler.wrapOutboundOut(.body(body)), promise: written)
            if !completedInline { return }
        }
        guard index == pieces.count else { return }
        index += 1
        context.writeAndFlush(handler.wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete(done)
    }
}
