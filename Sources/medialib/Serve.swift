import ArgumentParser
import Foundation
import MediaCatalog
import MediaFiles
import MediaServer
import NIOCore

struct Serve: ParsableCommand, GlobalCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stream the catalog's videos over HTTP/1.1 with byte ranges browsers can seek in.",
        discussion: """
            Routes: GET / (the operator's page), GET|HEAD|OPTIONS /api/media/videos/{id or uuid}/?type=raw|processed, \
            GET /api/media/videos/ (paged JSON), GET /api/media/summary, GET /healthz. With --port 0 a free port is \
            chosen; the first line on stdout is the URL, printed once connections are accepted. SIGINT, SIGTERM and \
            SIGHUP stop accepting and let in-flight responses finish (a second signal stops at once).
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one).")
    var port = 8000

    @Option(name: .customLong("cors-origin"), help: ArgumentHelp("An origin allowed to read responses (repeatable; default $FRONTEND_ORIGIN).", valueName: "origin"))
    var corsOrigins: [String] = []

    @Option(name: .customLong("max-connections"), help: "Connections served at once; more get 503.")
    var maxConnections = 4096

    @Option(name: .customLong("head-timeout"), help: "Seconds a connection may take to send a complete request.")
    var headTimeout = 30

    @Option(name: .customLong("send-timeout"), help: "Seconds a response may wait for a client that stopped reading before the connection is closed.")
    var sendTimeout = 60

    @Flag(name: .customLong("no-access-log"), help: "Do not log one line per request on stderr.")
    var noAccessLog = false

    func validate() throws {
        if !(0...65535).contains(port) { throw ValidationError("--port must be between 0 and 65535") }
        if maxConnections < 1 { throw ValidationError("--max-connections must be 1 or more") }
        if !(1...86_400).contains(headTimeout) { throw ValidationError("--head-timeout must be between 1 and 86400 seconds") }
        if !(1...86_400).contains(sendTimeout) { throw ValidationError("--send-timeout must be between 1 and 86400 seconds") }
    }

    /// Blocked in every thread (NIO's included, which inherit the mask) and taken by one
    /// sigwait thread, so a signal can never land where nobody listens. SIGHUP drains too:
    /// the access log is stderr, there is no file to reopen.
    static var stopSignals: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGHUP)
        return set
    }

    func run() throws {
        var blocked = Self.stopSignals
        pthread_sigmask(SIG_BLOCK, &blocked, nil)
        let catalog = try global.open(.read)
        let root = try global.requireExistingMediaRoot(catalog)
        var config = ServerConfiguration()
        config.host = host
        config.port = port
        var origins = corsOrigins
        if origins.isEmpty, let env = ProcessInfo.processInfo.environment["FRONTEND_ORIGIN"], !env.isEmpty {
            origins = env.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }
        config.corsOrigins = Set(origins)
        config.maxConnections = maxConnections
        config.requestHeadTimeout = .seconds(Int64(headTimeout))
        config.sendTimeout = .seconds(Int64(sendTimeout))
        config.accessLog = !noAccessLog
        let server = MediaHTTPServer(configuration: config, catalog: catalog, mediaRoot: root) { Console.error($0) }
        let address: SocketAddress
        do {
            address = try server.start()
        } catch {
            server.shutdown()
            throw Failure.cannotRun("cannot listen on \(host):\(port): \(error)")
        }
        let shownHost = address.protocol == .inet6 ? "[\(address.ipAddress ?? host)]" : (address.ipAddress ?? host)
        Console.out.line("http://\(shownHost):\(address.port ?? port)/")
        Console.out.flush()
        Console.error("serving \(catalog.records.identity) from media root \(root.path.displayed); Ctrl-C to stop")

        Thread.detachNewThread {
            // The first signal drains in-flight responses; a second one exits at once.
            var sig: Int32 = 0
            var set = Self.stopSignals
            sigwait(&set, &sig)
            Console.error("shutting down: finishing in-flight responses (signal again to stop at once)")
            Thread.detachNewThread { server.shutdown() }
            sigwait(&set, &sig)
            Foundation.exit(130)
        }
        server.waitUntilShutDown()
    }
}
