import Dispatch
import MediaCatalog
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// The `serve` server: SwiftNIO, HTTP/1.1, keep-alive and pipelining, sendfile for bodies.
public final class MediaHTTPServer: Sendable {
    private let configuration: ServerConfiguration
    private let responder: Responder
    private let group: MultiThreadedEventLoopGroup
    private let connections = ConnectionRegistry()
    private let serverChannel = NIOLockedValueBox<Channel?>(nil)
    private let log: @Sendable (String) -> Void
    private let shutdownStarted = NIOLockedValueBox(false)
    private let shutdownFinished = DispatchSemaphore(value: 0)

    public init(configuration: ServerConfiguration, catalog: any Catalog, mediaRoot: MediaRoot,
                log: @escaping @Sendable (String) -> Void) {
        self.configuration = configuration
        self.log = log
        responder = Responder(catalog: catalog, mediaRoot: mediaRoot, configuration: configuration, log: log)
        group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.eventLoopThreads))
    }

    /// Binds and starts accepting; returns the bound address (port 0 picks a free one).
    public func start() throws -> SocketAddress {
        let configuration = self.configuration
        let responder = self.responder
        let connections = self.connections
        let accessLog = AccessLog(enabled: configuration.accessLog)
        var decoderLimits = NIOHTTPDecoderLimitConfiguration()
        decoderLimits.maxHeaderListSize = configuration.maxHeadBytes
        decoderLimits.maxHeaderFieldSize = configuration.maxHeadBytes
        let limits = decoderLimits
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard connections.add(channel, limit: configuration.maxConnections) else {
                        try channel.pipeline.syncOperations.addHandler(RejectHandler())
                        return
                    }
                    channel.closeFuture.whenComplete { _ in connections.remove(channel) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withPipeliningAssistance: true,
                        withErrorHandling: false,
                        withOutboundHeaderValidation: true,
                        withEncoderConfiguration: HTTPResponseEncoder.Configuration(),
                        withDecoderLimitConfiguration: limits)
                    try channel.pipeline.syncOperations.addHandler(
                        HTTPHandler(responder: responder, configuration: configuration, accessLog: accessLog))
                }
            }
        let channel = try bootstrap.bind(host: configuration.host, port: configuration.port).wait()
        serverChannel.withLockedValue { $0 = channel }
        guard let address = channel.localAddress else { throw ServerError.notBound }
        return address
    }

    /// Stops accepting, lets in-flight responses finish for up to the grace period, then cuts the rest.
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
        connections.broadcastShutdown()
        let deadline = NIODeadline.now() + configuration.shutdownGrace
        while connections.count > 0 && NIODeadline.now() < deadline {
            usleep(20_000)
        }
        connections.closeAll()
        try? group.syncShutdownGracefully()
    }

    /// Blocks until a `shutdown` (from any thread) has finished.
    public func waitUntilShutDown() {
        shutdownFinished.wait()
        shutdownFinished.signal()
    }
}

public enum ServerError: Error, CustomStringConvertible {
    case notBound
    public var description: String { "the server did not bind" }
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

    func broadcastShutdown() {
        for channel in channels.withLockedValue({ Array($0.values) }) {
            channel.pipeline.fireUserInboundEventTriggered(ShutdownRequested())
        }
    }

    func closeAll() {
        for channel in channels.withLockedValue({ Array($0.values) }) {
            channel.close(promise: nil)
        }
    }
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
