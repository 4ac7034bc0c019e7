import NIOCore

public struct ServerConfiguration: Sendable {
    public var host: String = "127.0.0.1"
    public var port: Int = 8000
    /// Origins echoed in CORS headers; any other origin gets none.
    public var corsOrigins: Set<String> = []
    /// Connections beyond this are answered 503 and closed.
    public var maxConnections: Int = 4096
    /// A connection must deliver a complete request head within this time of opening or of its
    /// previous response ending; defeats slow-loris clients and reaps idle keep-alives.
    public var requestHeadTimeout: TimeAmount = .seconds(30)
    /// A response that makes no progress for this long (a client that stopped reading) is cut,
    /// freeing its descriptor and connection slot.
    public var sendTimeout: TimeAmount = .seconds(60)
    /// Largest request head accepted (431 beyond).
    public var maxHeadBytes: Int = 32 * 1024
    /// Ranges honoured in one request (CVE-2011-3192); more and the whole file is sent.
    public var maxRanges: Int = 64
    /// How long in-flight responses may run on SIGINT/SIGTERM before connections are cut.
    public var shutdownGrace: TimeAmount = .seconds(10)
    /// One line per request on stderr.
    public var accessLog: Bool = true
    public var eventLoopThreads: Int = System.coreCount
    /// Threads for work that must not run on an event loop: listings, and lookups that wait
    /// for another process's lock on the catalog.
    public var blockingThreads: Int = 2
    /// Seconds a request may wait for another process's lock on the catalog (off the event
    /// loop) before it is answered 503.
    public var catalogWait: Double = 2
    /// Opened files kept per event loop (each revalidated by stat on every request); 0: none.
    public var fileCacheCapacity: Int = 256
    /// A cached descriptor unused this long is closed.
    public var fileCacheIdle: TimeAmount = .seconds(10)

    public init() {}
}
