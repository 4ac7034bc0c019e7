import MediaFiles
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Sent down every connection's pipeline when the server begins a graceful shutdown.
struct ShutdownRequested: Sendable {}

/// One connection's life: requests answered one at a time in arrival order (pipelining),
/// reading paused while answers are owed (so a client that never reads cannot make the
/// server queue without bound), the idle timer between requests, the send timeout while an
/// answer waits for the client, and closing when the protocol says so.
final class ConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = RequestEvent
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private enum Item {
        case request(RequestHead, started: NIODeadline)
        case malformed(status: Int, reason: String)
    }

    private let responder: Responder
    private let configuration: ServerConfiguration
    private let accessLog: AccessLog
    private let writer: ResponseWriter
    private var loop: LoopState?
    private var queue = CircularBuffer<Item>(initialCapacity: 4)
    private var responding = false
    /// Close once the answer in progress is sent: `Connection: close`, a protocol error, shutdown.
    private var closing = false
    private var closed = false
    private var readHeld = false
    private var remote = "-"
    private var idleSince = NIODeadline.now()
    private var idleTimer: Scheduled<Void>?

    init(responder: Responder, configuration: ServerConfiguration, accessLog: AccessLog, loops: LoopStates) {
        self.responder = responder
        self.configuration = configuration
        self.accessLog = accessLog
        self.writer = ResponseWriter(configuration: configuration, log: responder.log)
        self.loopStates = loops
    }

    private let loopStates: LoopStates

    func handlerAdded(context: ChannelHandlerContext) {
        loop = loopStates.state(for: context.eventLoop)
    }

    func channelActive(context: ChannelHandlerContext) {
        remote = context.remoteAddress?.ipAddress ?? "-"
        becomeIdle(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        idleTimer?.cancel()
        idleTimer = nil
        queue.removeAll()
        writer.connectionClosed()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return } // nothing after an answer that closes
        switch unwrapInboundIn(data) {
        case .request(let head): queue.append(.request(head, started: .now()))
        case .malformed(let status, let reason): queue.append(.malformed(status: status, reason: reason))
        }
        if !responding { answerQueued(context: context) }
    }

    /// Reading is paused while answers are owed: the socket's receive window fills, and the
    /// client is slowed by TCP itself instead of by our memory.
    func read(context: ChannelHandlerContext) {
        if !queue.isEmpty || (responding && !context.channel.isWritable) {
            readHeld = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        writer.writabilityChanged(context.channel.isWritable, context: context, remote: remote)
        resumeReading(context: context)
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ShutdownRequested {
            closing = true
            queue.removeAll()
            if !responding { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    // MARK: answering

    private var pumping = false

    /// Answers queued requests in order. An answer written out at once (the usual case)
    /// finishes inside `start` and the loop continues, rather than recursing: a long
    /// pipeline cannot exhaust the stack.
    private func answerQueued(context: ChannelHandlerContext) {
        guard !pumping else { return }
        pumping = true
        defer { pumping = false }
        while !responding && !closed && !closing, let item = queue.popFirst() {
            // The idle timer stays armed: it finds the connection busy when it fires and lets
            // go; cancelling and re-arming it per request would cost a heap operation each time.
            responding = true
            start(item, context: context)
        }
        if !responding && !closed { settle(context: context) }
    }

    private func start(_ item: Item, context: ChannelHandlerContext) {
        switch item {
        case .malformed(let status, let reason):
            closing = true
            var response = Response.error(status, status == 431 ? "request head too large" : "malformed request: \(reason)")
            response.closes = true
            send(response, for: RequestHead(method: .get, target: "-", minorVersion: 1, keepAlive: false),
                 started: .now(), context: context)
        case .request(let head, let started):
            if !head.keepAlive { closing = true }
            guard head.minorVersion == 0 || head.hostCount == 1 else {
                send(.error(400, "HTTP/1.1 requests need exactly one Host header"), for: head, started: started, context: context)
                return
            }
            guard let loop else { return }
            switch responder.respond(to: head, loop: loop, on: context.eventLoop) {
            case .now(let response):
                send(response, for: head, started: started, context: context)
            case .later(let future):
                future.assumeIsolated().whenComplete { result in
                    guard !self.closed else { return }
                    let response = (try? result.get()) ?? .error(503, "the server is stopping")
                    self.send(response, for: head, started: started, context: context)
                }
            }
        }
    }

    /// The answer in progress is sent (or abandoned).
    private func finished(context: ChannelHandlerContext) {
        responding = false
        answerQueued(context: context) // no-op while inside the loop, which goes on by itself
    }

    /// Nothing owed: close if the protocol said so, else wait for the next request.
    private func settle(context: ChannelHandlerContext) {
        if closing {
            closed = true
            context.close(promise: nil)
            return
        }
        becomeIdle(context: context)
        resumeReading(context: context)
    }

    private func send(_ response: Response, for head: RequestHead, started: NIODeadline, context: ChannelHandlerContext) {
        guard let loop else { return }
        let closes = closing || response.closes
        let line = accessLog.enabled ? "\(remote) \"\(head.method.name) \(head.target.prefix(2000)) HTTP/1.\(head.minorVersion)\" \(response.status)" : ""
        let sent = head.isHead ? 0 : response.contentLength
        writer.write(response, for: head, closes: closes, loop: loop, context: context) { [accessLog] outcome in
            if accessLog.enabled {
                let millis = Double((NIODeadline.now() - started).nanoseconds) / 1_000_000
                accessLog.write("\(line) \(sent) \(AccessLog.format(millis))ms\(outcome == .sent ? "" : " aborted")")
            }
            if outcome == .aborted {
                self.closed = true
                self.responding = false
                context.close(promise: nil)
            } else {
                self.finished(context: context)
            }
        }
    }

    private func resumeReading(context: ChannelHandlerContext) {
        guard readHeld, queue.isEmpty, !closed, !(responding && !context.channel.isWritable) else { return }
        readHeld = false
        context.read()
    }

    // MARK: the idle timer

    /// A connection must deliver its next complete request within the head timeout of
    /// opening or of its last answer, or it is closed (slow loris, idle keep-alive). One
    /// scheduled task per timeout period, re-armed lazily, not one per request.
    private func becomeIdle(context: ChannelHandlerContext) {
        idleSince = .now()
        guard idleTimer == nil else { return }
        armIdleTimer(at: idleSince + configuration.requestHeadTimeout, context: context)
    }

    private func armIdleTimer(at deadline: NIODeadline, context: ChannelHandlerContext) {
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            self.idleTimer = nil
            guard !self.responding, self.queue.isEmpty, !self.closed else { return }
            let due = self.idleSince + self.configuration.requestHeadTimeout
            if NIODeadline.now() >= due {
                self.closed = true
                context.close(promise: nil)
            } else {
                self.armIdleTimer(at: due, context: context)
            }
        }
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

    static func format(_ ms: Double) -> String {
        let tenths = Int((ms * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}
