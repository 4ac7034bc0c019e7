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

    private enum State {
        case awaitingHead
        case receiving(HTTPRequestHead, NIODeadline)
        case responding
    }

    private let responder: Responder
    private let configuration: ServerConfiguration
    private let accessLog: AccessLog
    private var state = State.awaitingHead
    private var headTimer: Scheduled<Void>?
    private var closeAfterResponse = false
    private var remote = "-"
    private var cachedDate: (second: Int64, text: String) = (-1, "")

    init(responder: Responder, configuration: ServerConfiguration, accessLog: AccessLog) {
        self.responder = responder
        self.configuration = configuration
        self.accessLog = accessLog
    }

    func channelActive(context: ChannelHandlerContext) {
        remote = context.remoteAddress?.ipAddress ?? "-"
        armHeadTimer(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        headTimer?.cancel()
        headTimer = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            headTimer?.cancel()
            headTimer = nil
            state = .receiving(head, .now())
        case .body:
            break // Bodies of GET/HEAD/OPTIONS carry nothing we use.
        case .end:
            guard case .receiving(let head, let started) = state else { return }
            state = .responding
            var response = responder.respond(to: head)
            if !head.isKeepAlive || closeAfterResponse { closeAfterResponse = true }
            decorate(&response, for: head)
            write(response, for: head, started: started, context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ShutdownRequested {
            closeAfterResponse = true
            if case .awaitingHead = state { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard let parseError = error as? HTTPParserError else {
            context.close(promise: nil)
            return
        }
        // A malformed request: answer once if no response is under way, then close.
        guard case .responding = state else {
            let status: HTTPResponseStatus = parseError == .headerOverflow ? .requestHeaderFieldsTooLarge : .badRequest
            var response = Response.error(status, status == .badRequest ? "malformed request" : "request head too large")
            closeAfterResponse = true
            state = .responding
            let fake = HTTPRequestHead(version: .http1_1, method: .GET, uri: "-")
            decorate(&response, for: fake)
            write(response, for: fake, started: .now(), context: context)
            return
        }
        context.close(promise: nil)
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
        if closeAfterResponse { h.replaceOrAdd(name: "Connection", value: "close") }
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
        let isHead = head.method == .HEAD
        var file: OpenedFile?
        var handle: NIOFileHandle?
        var mustHold: Int64 = 0
        switch response.body {
        case .none:
            break
        case .closeFile(let f):
            _ = close(f.descriptor)
        case .bytes(let bytes):
            if !isHead { context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: bytes)))), promise: nil) }
        case .file(let f, let range):
            if isHead { _ = close(f.descriptor); break }
            let h = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: f.descriptor)
            (file, handle, mustHold) = (f, h, range.last + 1)
            let region = FileRegion(fileHandle: h, readerIndex: Int(range.first), endIndex: Int(range.last + 1))
            context.write(wrapOutboundOut(.body(.fileRegion(region))), promise: nil)
        case .multipart(let f, let multipart):
            if isHead { _ = close(f.descriptor); break }
            let h = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: f.descriptor)
            (file, handle) = (f, h)
            for part in multipart.parts {
                mustHold = max(mustHold, part.range.last + 1)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: part.header)))), promise: nil)
                let region = FileRegion(fileHandle: h, readerIndex: Int(part.range.first), endIndex: Int(part.range.last + 1))
                context.write(wrapOutboundOut(.body(.fileRegion(region))), promise: nil)
            }
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: multipart.trailer)))), promise: nil)
        }
        let sent = isHead ? 0 : response.contentLength
        var finished = false
        var watch: Scheduled<Void>?
        let line = accessLog.enabled ? "\(remote) \"\(head.method.rawValue) \(head.uri) HTTP/\(head.version.major).\(head.version.minor)\" \(response.status.code)" : ""
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { result in
            finished = true
            watch?.cancel()
            if let handle { try? handle.close() }
            let millis = Double((NIODeadline.now() - started).nanoseconds) / 1_000_000
            switch result {
            case .success:
                self.accessLog.write("\(line) \(sent) \(Self.format(millis))ms")
                self.responseDidEnd(context: context)
            case .failure:
                self.accessLog.write("\(line) \(sent) \(Self.format(millis))ms aborted")
                context.close(promise: nil)
            }
        }
        // sendfile past a shrunken end returns 0 forever; notice and cut the connection instead.
        if !finished, let file {
            func check() {
                watch = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(200)) {
                    guard !finished else { return }
                    if let size = file.currentSize(), size < mustHold {
                        self.responder.log("warning: \(file.filename) shrank to \(size) bytes while being sent; closing the connection")
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
        if closeAfterResponse {
            context.close(promise: nil)
            return
        }
        state = .awaitingHead
        armHeadTimer(context: context)
    }

    private func armHeadTimer(context: ChannelHandlerContext) {
        headTimer?.cancel()
        headTimer = context.eventLoop.assumeIsolated().scheduleTask(in: configuration.requestHeadTimeout) {
            if case .responding = self.state { return }
            context.close(promise: nil)
        }
    }

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
