import Dispatch
import Maintenance
import MediaCatalog
import MediaFiles
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The `serve` server: SwiftNIO, HTTP/1.1 with keep-alive and pipelining, sendfile for bodies.
public final class MediaHTTPServer: Sendable {
    private let configuration: ServerConfiguration
    private let responder: Responder
    private let group: MultiThreadedEventLoopGroup
    private let threads: NIOThreadPool
    private let loops: LoopStates
    private let monitor: (any ChangeMonitor)?
    private let connections = ConnectionRegistry()
    private let serverChannel = NIOLockedValueBox<Channel?>(nil)
    private let shutdownStarted = NIOLockedValueBox(false)
    private let shutdownFinished = DispatchSemaphore(value: 0)

    public init(configuration: ServerConfiguration, catalog: OpenCatalog, mediaRoot: MediaRoot,
                log: @escaping @Sendable (String) -> Void) {
        self.configuration = configuration
        group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.eventLoopThreads))
        threads = NIOThreadPool(numberOfThreads: max(1, configuration.blockingThreads))
        threads.start()
        responder = Responder(catalog: catalog, mediaRoot: mediaRoot, configuration: configuration, threads: threads, log: log)
        monitor = catalog.records.makeChangeMonitor()
        loops = LoopStates(group: group, fileCacheCapacity: configuration.fileCacheCapacity,
                           monitor: monitor, sweepEvery: configuration.fileCacheIdle)
    }

    /// Binds and starts accepting; returns the bound address (port 0 picks a free one).
    public func start() throws -> SocketAddress {
        let configuration = self.configuration
        let responder = self.responder
        let connections = self.connections
        let loops = self.loops
        let accessLog = AccessLog(enabled: configuration.accessLog)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 4)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard connections.add(channel, limit: configuration.maxConnections) else {
                        try channel.pipeline.syncOperations.addHandler(RejectHandler())
                        return
                    }
                    channel.closeFuture.whenComplete { _ in connections.remove(channel) }
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(RequestDecoder(maxHeadBytes: configuration.maxHeadBytes)))
                    try channel.pipeline.syncOperations.addHandler(
                        ConnectionHandler(responder: responder, configuration: configuration, accessLog: accessLog, loops: loops))
                }
            }
        let channel = try bootstrap.bind(host: configuration.host, port: configuration.port).wait()
        serverChannel.withLockedValue { $0 = channel }
        guard let address = channel.localAddress else { throw ServerError.notBound }
        return address
    }

    /// Stops accepting, lets in-flight responses finish for up to the grace period, then cuts
    /// the rest. Waits on the connections' close events, not a poll.
    public func shutdown() {
        let first = shutdownStarted.withLockedValue { started in
            defer { started = true }
            return !started
        }
        guard first else { return }
        defer { shutdownFinished.signal() }
        let channel = serverChannel.withLockedValue { c -> Channel? in
            defer { c = nil }
            return c
        }
        try? channel?.close().wait()
        let open = connections.all
        for c in open { c.pipeline.fireUserInboundEventTriggered(ShutdownRequested()) }
        let loop = group.next()
        let allClosed = EventLoopFuture.andAllComplete(open.map(\.closeFuture), on: loop)
        let cut = loop.scheduleTask(in: configuration.shutdownGrace) {
            for c in open { c.close(promise: nil) }
        }
        try? allClosed.wait()
        cut.cancel()
        try? threads.syncShutdownGracefully()
        try? group.syncShutdownGracefully()
        monitor?.stop()
    }

    /// Blocks until a `shutdown` (from any thread) has finished.
    public func waitUntilShutDown() {
        shutdownFinished.wait()
        shutdownFinished.signal()
    }

    /// Connections open now (tests and diagnostics).
    public var connectionCount: Int { connections.count }
}

public enum ServerError: Error, CustomStringConvertible {
    case notBound
    public var description: String { "the server did not bind" }
}

/// Each event loop's state, found without a lock: the table is built before the first
/// connection and never changes.
final class LoopStates: Sendable {
    private let states: [ObjectIdentifier: LoopState]
    private let fallback: LoopState

    init(group: MultiThreadedEventLoopGroup, fileCacheCapacity: Int, monitor: (any ChangeMonitor)?, sweepEvery idle: TimeAmount) {
        var table: [ObjectIdentifier: LoopState] = [:]
        for loop in group.makeIterator() {
            let state = LoopState(fileCacheCapacity: fileCacheCapacity, monitor: monitor)
            table[ObjectIdentifier(loop)] = state
            if fileCacheCapacity > 0 {
                loop.scheduleRepeatedTask(initialDelay: idle, delay: .nanoseconds(max(idle.nanoseconds / 2, 1_000_000))) { _ in
                    state.files.sweep(idle: idle)
                }
            }
        }
        states = table
        fallback = LoopState(fileCacheCapacity: 0, monitor: nil)
    }

    /// No loops of its own: every loop gets a state without caches.
    init() {
        states = [:]
        fallback = LoopState(fileCacheCapacity: 0, monitor: nil)
    }

    func state(for loop: any EventLoop) -> LoopState {
        states[ObjectIdentifier(loop as AnyObject)] ?? fallback
    }
}

/// One connection's handlers without sockets or threads: off-loop work runs inline and
/// nothing is cached between requests. The request-path fuzzer drives them in NIOEmbedded's
/// EmbeddedChannel, bytes in and bytes (or a close) out.
public enum ConnectionHandlers {
    public static func make(catalog: OpenCatalog, mediaRoot: MediaRoot, configuration: ServerConfiguration,
                            log: @escaping @Sendable (String) -> Void) -> [any ChannelHandler] {
        let responder = Responder(catalog: catalog, mediaRoot: mediaRoot, configuration: configuration, threads: nil, log: log)
        return [
            ByteToMessageHandler(RequestDecoder(maxHeadBytes: configuration.maxHeadBytes)),
            ConnectionHandler(responder: responder, configuration: configuration, accessLog: AccessLog(enabled: false), loops: LoopStates()),
        ]
    }
}

/// Live connections, for the cap and for graceful shutdown.
final class ConnectionRegistry: Sendable {
    private let channels = NIOLockedValueBox<[ObjectIdentifier: Channel]>([:])

    func add(_ channel: Channel, limit: Int) -> Bool {
        channels.withLockedValue { map in
            guard map.count < limit else { return false }
            map[ObjectIdentifier(channel)] = channel
            return true
        }
    }

    func remove(_ channel: Channel) {
        _ = channels.withLockedValue { $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    var count: Int { channels.withLockedValue { $0.count } }
    var all: [Channel] { channels.withLockedValue { Array($0.values) } }
}

/// Over the connection cap: a 503 and close, without reading the request.
final class RejectHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    func channelActive(context: ChannelHandlerContext) {
        let body = "{\"error\":\"too many connections\"}"
        let text = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nRetry-After: 1\r\nConnection: close\r\n\r\n\(body)"
        context.writeAndFlush(NIOAny(ByteBuffer(string: text))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
