import Foundation
import Logging
import MediaCatalog
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

/// A bounded pool of PostgreSQL connections used from synchronous code: the CLI's commands
/// and serve's blocking thread pool (never an event loop). postgres-nio's future API is
/// waited on with a deadline of our own, because a query on a connection the server dropped
/// mid-transaction may never complete; PostgresClient is not used, because it retries a
/// refused password for a minute instead of saying so.
final class PostgresSessions: @unchecked Sendable {
    let location: PostgresLocation
    let maximum: Int
    /// Bounds one statement (and a connection attempt).
    let timeout: TimeAmount
    private let configuration: PostgresConnection.Configuration
    private let lock = NSCondition()
    private var idle: [PostgresConnection] = []
    private var open = 0
    private var nextID = 1
    private var closed = false
    static let logger: Logger = {
        var l = Logger(label: "medialib.postgres")
        l.logLevel = .critical
        return l
    }()

    init(location: PostgresLocation, maximum: Int, timeout: TimeAmount = .seconds(10)) throws {
        self.location = location
        self.maximum = max(1, maximum)
        self.timeout = timeout
        configuration = try Self.configuration(location, connectTimeout: timeout)
    }

    static func configuration(_ l: PostgresLocation, connectTimeout: TimeAmount) throws -> PostgresConnection.Configuration {
        var c: PostgresConnection.Configuration
        if let socket = l.socketPath {
            c = .init(unixSocketPath: socket, username: l.user, password: l.password, database: l.database)
        } else {
            let tls: PostgresConnection.Configuration.TLS
            switch l.sslMode {
            case .disable: tls = .disable
            case .prefer, .require:
                // libpq's prefer and require encrypt without checking the certificate.
                var t = TLSConfiguration.makeClientConfiguration()
                t.certificateVerification = .none
                let context = try sslContext(t)
                tls = l.sslMode == .prefer ? .prefer(context) : .require(context)
            case .verifyCA, .verifyFull:
                var t = TLSConfiguration.makeClientConfiguration()
                t.certificateVerification = l.sslMode == .verifyFull ? .fullVerification : .noHostnameVerification
                if let root = l.sslRootCertificate { t.trustRoots = .file(root) }
                tls = .require(try sslContext(t))
            }
            c = .init(host: l.host ?? "localhost", port: l.port, username: l.user, password: l.password, database: l.database, tls: tls)
        }
        c.options.connectTimeout = connectTimeout
        // Pinned so every value's text form is unambiguous (timestamps in UTC, floats exact).
        c.options.additionalStartupParameters = [
            ("application_name", "medialib"), ("DateStyle", "ISO, YMD"), ("IntervalStyle", "postgres"),
            ("TimeZone", "UTC"), ("extra_float_digits", "3"),
        ]
        return c
    }

    private static func sslContext(_ t: TLSConfiguration) throws -> NIOSSLContext {
        do { return try NIOSSLContext(configuration: t) } catch {
            throw CatalogError.cannotOpen("PostgreSQL", "cannot set up TLS: \(error)")
        }
    }

    /// A connection of the pool for `body`; a connection that failed is not reused.
    func with<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        let connection = try borrow()
        let session = PostgresSession(connection: connection, sessions: self)
        do {
            let result = try body(session)
            giveBack(connection, broken: session.broken)
            return result
        } catch {
            giveBack(connection, broken: true)
            throw error
        }
    }

    /// Reads retry when the server went away (a restart): the pool reconnects, with backoff.
    func read<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        var delay = 0.2
        for attempt in 1...4 {
            do {
                return try with(body)
            } catch let e as CatalogError where attempt < 4 && Self.isTransient(e) {
                Thread.sleep(forTimeInterval: delay)
                delay *= 2.5
            }
        }
        return try with(body)
    }

    static func isTransient(_ e: CatalogError) -> Bool {
        if case .failed(let m) = e { return m.hasPrefix(PostgresErrors.lostPrefix) }
        if case .cannotOpen(_, let m) = e { return m.contains("refused") || m.contains("shutting down") || m.contains("starting up") }
        return false
    }

    private func borrow() throws -> PostgresConnection {
        lock.lock()
        let deadline = Date().addingTimeInterval(Double(timeout.nanoseconds) / 1e9 * 3)
        while idle.isEmpty && open >= maximum && !closed {
            if !lock.wait(until: deadline) {
                lock.unlock()
                throw CatalogError.busy("all \(maximum) connections to \(location.redacted) stayed busy; try a larger --db-pool")
            }
        }
        if closed {
            lock.unlock()
            throw CatalogError.failed("the connection pool is closed")
        }
        if let c = idle.popLast() {
            lock.unlock()
            if !c.isClosed { return c }
            lock.lock()
            open -= 1
            lock.unlock()
            return try borrow()
        }
        open += 1
        let id = nextID
        nextID += 1
        lock.unlock()
        do {
            return try connect(id: id)
        } catch {
            lock.lock()
            open -= 1
            lock.signal()
            lock.unlock()
            throw error
        }
    }

    private func connect(id: Int) throws -> PostgresConnection {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let future = PostgresConnection.connect(on: loop, configuration: configuration, id: id, logger: Self.logger)
        do {
            return try Self.wait(future, timeout: timeout + .seconds(2), what: "connecting to \(location.redacted)")
        } catch let e as CatalogError {
            throw e
        } catch {
            throw PostgresErrors.catalogError(error, location: location, connecting: true)
        }
    }

    private func giveBack(_ c: PostgresConnection, broken: Bool) {
        lock.lock()
        if broken || closed || c.isClosed {
            open -= 1
            lock.signal()
            lock.unlock()
            // The connection must outlive its close (postgres-nio asserts it was closed when freed).
            let closing: EventLoopFuture<Void> = c.close()
            closing.whenComplete { _ in withExtendedLifetime(c) {} }
            return
        }
        idle.append(c)
        lock.signal()
        lock.unlock()
    }

    func shutdown() {
        lock.lock()
        closed = true
        let all = idle
        idle.removeAll()
        lock.broadcast()
        lock.unlock()
        for c in all {
            let closing: EventLoopFuture<Void> = c.close()
            _ = try? closing.wait()
        }
    }

    /// Waits for `future` at most `timeout`; a future that never completes is abandoned.
    static func wait<T: Sendable>(_ future: EventLoopFuture<T>, timeout: TimeAmount, what: String) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox<T>()
        future.whenComplete { result in
            box.set(result)
            done.signal()
        }
        guard done.wait(timeout: .now() + .nanoseconds(Int(timeout.nanoseconds))) == .success, let result = box.get() else {
            throw CatalogError.failed("\(PostgresErrors.lostPrefix)no answer from PostgreSQL within \(timeout.nanoseconds / 1_000_000_000) s while \(what)")
        }
        return try result.get()
    }
}

final class ResultBox<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Result<T, any Error>?
    func set(_ v: Result<T, any Error>) { lock.lock(); value = v; lock.unlock() }
    func get() -> Result<T, any Error>? { lock.lock(); defer { lock.unlock() }; return value }
}

/// One borrowed connection: statements with text parameters, rows as text.
final class PostgresSession {
    let connection: PostgresConnection
    unowned let sessions: PostgresSessions
    private(set) var broken = false

    init(connection: PostgresConnection, sessions: PostgresSessions) {
        self.connection = connection
        self.sessions = sessions
    }

    /// Runs one statement. Parameters are text with no declared type (the server infers each
    /// from its use: a column's type, an array of it); nil is NULL. Every result column must be
    /// text (the SQL casts with ::text), so rows come back as the strings PostgreSQL prints.
    @discardableResult
    func run(_ sql: String, _ parameters: [String?] = []) throws -> (rows: [[String?]], affected: Int) {
        var binds = PostgresBindings(capacity: parameters.count)
        for p in parameters {
            if let p { binds.append(UntypedText(text: p)) } else { binds.appendNull() }
        }
        let query = PostgresQuery(unsafeSQL: sql, binds: binds)
        // A query on a connection the server already closed (a restart while it sat in the
        // pool or inside a transaction) never completes in postgres-nio: say so at once.
        guard !connection.isClosed else {
            broken = true
            throw CatalogError.failed(PostgresErrors.lostPrefix + "the server closed the connection (restarted or shut down)")
        }
        do {
            let result = try PostgresSessions.wait(connection.query(query, logger: PostgresSessions.logger),
                                                   timeout: sessions.timeout * 6, what: "running a query")
            let rows = result.rows.map { row in
                row.map { cell -> String? in cell.bytes.map { String(decoding: $0.readableBytesView, as: UTF8.self) } }
            }
            return (rows, result.metadata.rows ?? 0)
        } catch let e as CatalogError {
            broken = true
            throw e
        } catch {
            if connection.isClosed { broken = true }
            throw PostgresErrors.catalogError(error, location: sessions.location, connecting: false)
        }
    }

    func rows(_ sql: String, _ parameters: [String?] = []) throws -> [[String?]] {
        try run(sql, parameters).rows
    }

    /// BEGIN … COMMIT around `body`; ROLLBACK on any error (or a broken connection is dropped).
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try run("BEGIN")
        do {
            // Django declares its foreign keys DEFERRABLE INITIALLY DEFERRED; checked at COMMIT.
            try run("SET CONSTRAINTS ALL DEFERRED")
            try run("SET LOCAL lock_timeout = '10s'")
            let result = try body()
            try run("COMMIT")
            return result
        } catch {
            if !broken { _ = try? run("ROLLBACK") }
            throw error
        }
    }
}

/// Text with no declared type: PostgreSQL infers it from where the parameter is used.
struct UntypedText: PostgresDynamicTypeEncodable {
    var text: String
    var psqlType: PostgresDataType { PostgresDataType(0) }
    var psqlFormat: PostgresFormat { .text }
    func encode<E: PostgresJSONEncoder>(into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<E>) {
        byteBuffer.writeString(text)
    }
}

/// PostgreSQL's errors as one line each, without a password, and with the SQLSTATEs that
/// decide what an operator does next.
enum PostgresErrors {
    static let lostPrefix = "lost the connection to PostgreSQL: "

    static func catalogError(_ error: any Error, location: PostgresLocation, connecting: Bool) -> CatalogError {
        let shown = location.redacted
        if let e = error as? PSQLError {
            let state = e.serverInfo?[.sqlState] ?? ""
            let message = e.serverInfo?[.message] ?? ""
            switch state {
            case "28P01", "28000": return .cannotOpen(shown, "password authentication failed for user \(location.user)")
            case "3D000": return .cannotOpen(shown, "database \(location.database) does not exist")
            case "42501": return .readOnly(shown, "the role \(location.user) may not do this: \(message)")
            case "55P03", "40P01": return .busy("another session holds a lock on the catalog (\(message)); nothing was changed")
            case "40001": return .conflict("a concurrent change to the catalog: \(message); nothing was changed")
            case "57P01", "57P02", "57P03": return .failed(lostPrefix + "the server is shutting down or starting up (\(message))")
            case "23503", "23505", "23502", "23514":
                return .conflict("the database refused the change (\(message)); nothing was changed")
            case "42P01": return .unknownSchema(shown, message)
            case "": break
            default: return .failed("PostgreSQL error \(state): \(message)")
            }
            switch e.code {
            case .connectionError:
                let why = e.underlying.map { describe($0) } ?? "connection error"
                return connecting ? .cannotOpen(shown, why) : .failed(lostPrefix + why)
            case .serverClosedConnection, .clientClosedConnection, .uncleanShutdown:
                return .failed(lostPrefix + "the server closed the connection")
            case .authMechanismRequiresPassword:
                return .cannotOpen(shown, "the server asks for a password and the URL gives none")
            case .sslUnsupported:
                return .cannotOpen(shown, "the server does not offer TLS (sslmode=\(location.sslMode.rawValue))")
            default:
                return connecting ? .cannotOpen(shown, "\(e.code)") : .failed(lostPrefix + "\(e.code)")
            }
        }
        return connecting ? .cannotOpen(shown, describe(error)) : .failed(lostPrefix + describe(error))
    }

    static func describe(_ error: any Error) -> String {
        if let io = error as? IOError {
            switch io.errnoCode {
            case ECONNREFUSED: return "connection refused (is the server running?)"
            case ENOENT: return "no server socket there (is the server running?)"
            case EACCES: return "permission denied on the server's socket"
            default: return String(cString: strerror(io.errnoCode))
            }
        }
        if let c = error as? ChannelError, case .connectTimeout = c { return "the connection timed out" }
        if let n = error as? NIOConnectionError { return n.connectionErrors.first.map { describe($0.error) } ?? "cannot connect" }
        return String(describing: error).split(separator: "\n").first.map(String.init) ?? "error"
    }
}
