import Foundation

/// Where a PostgreSQL catalog is, from `--db postgres://user[:password]@host[:port]/dbname[?…]`
/// (also `postgresql://`), the libpq URI form: `?host=/socket/dir` for a Unix socket,
/// `?sslmode=disable|prefer|require|verify-ca|verify-full` and `?sslrootcert=FILE` for TLS.
/// Pure: no I/O. The password never leaves this value except to the driver: `redacted` is
/// what messages, journals and state keys show.
public struct PostgresLocation: Sendable, Equatable {
    public enum SSLMode: String, Sendable, Equatable {
        case disable, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var user: String
    public var password: String?
    /// A host name or address; nil with a socket directory.
    public var host: String?
    public var port: Int
    public var database: String
    /// libpq's `host=/dir`: the server's Unix socket is `dir/.s.PGSQL.PORT`.
    public var socketDirectory: String?
    public var sslMode: SSLMode
    public var sslRootCertificate: String?
    /// libpq's connect_timeout, in seconds (medialib's default: 10).
    public var connectTimeout: Int?

    public static func isURL(_ text: String) -> Bool {
        let lower = text.lowercased()
        return lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://")
    }

    /// Whether `text` looks like a URL of a database medialib does not speak (mysql://…).
    public static func isOtherURL(_ text: String) -> Bool {
        guard !isURL(text), let colon = text.range(of: "://") else { return false }
        let scheme = text[..<colon.lowerBound]
        return !scheme.isEmpty && scheme.allSatisfy { $0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == "." }
    }

    /// The socket file the driver connects to.
    public var socketPath: String? { socketDirectory.map { "\($0)/.s.PGSQL.\(port)" } }

    /// The URL without its password, for every message and for the catalog's identity.
    public var redacted: String {
        var s = "postgres://" + Self.encode(user) + "@"
        if let host { s += host.contains(":") ? "[\(host)]" : Self.encode(host) }
        s += ":\(port)/" + Self.encode(database)
        var query: [String] = []
        if let socketDirectory { query.append("host=" + Self.encode(socketDirectory)) }
        if sslMode != .prefer { query.append("sslmode=" + sslMode.rawValue) }
        if let sslRootCertificate { query.append("sslrootcert=" + Self.encode(sslRootCertificate)) }
        if let connectTimeout { query.append("connect_timeout=\(connectTimeout)") }
        return query.isEmpty ? s : s + "?" + query.joined(separator: "&")
    }

    public struct Malformed: Error, CustomStringConvertible, Sendable, Equatable {
        public var reason: String
        public var description: String { "malformed PostgreSQL URL: \(reason) (postgres://user[:password]@host[:port]/database[?host=/socket/dir&sslmode=…])" }
    }

    /// `defaultUser`: libpq's default, the operating system user.
    public static func parse(_ text: String, defaultUser: String = ProcessInfo.processInfo.environment["USER"] ?? "postgres") throws(Malformed) -> PostgresLocation {
        let lower = text.lowercased()
        let schemeLength = lower.hasPrefix("postgresql://") ? 13 : lower.hasPrefix("postgres://") ? 11 : 0
        guard schemeLength > 0 else { throw Malformed(reason: "it does not start with postgres:// or postgresql://") }
        var rest = Substring(text.dropFirst(schemeLength))
        var queryText: Substring? = nil
        if let q = rest.firstIndex(of: "?") {
            queryText = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        if rest.contains("#") { throw Malformed(reason: "a fragment (#) is not allowed") }
        var pathText: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            pathText = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        var user: String? = nil
        var password: String? = nil
        if let at = rest.lastIndex(of: "@") {
            let info = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = info.firstIndex(of: ":") {
                user = try decode(info[..<colon], "the user name")
                password = try decode(info[info.index(after: colon)...], "the password")
            } else {
                user = try decode(info, "the user name")
            }
        }
        var host: String? = nil
        var port = 5432
        var hostPort = rest
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw Malformed(reason: "an IPv6 address without its closing ]") }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            hostPort = hostPort[hostPort.index(after: close)...]
            if !hostPort.isEmpty {
                guard hostPort.hasPrefix(":") else { throw Malformed(reason: "unexpected text after the IPv6 address") }
                port = try parsePort(hostPort.dropFirst())
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = try decode(hostPort[..<colon], "the host")
            port = try parsePort(hostPort[hostPort.index(after: colon)...])
        } else if !hostPort.isEmpty {
            host = try decode(hostPort, "the host")
        }
        if host?.isEmpty == true { host = nil }
        if pathText.contains("/") { throw Malformed(reason: "the database name cannot contain a slash") }
        var database = try decode(pathText, "the database name")
        var socketDirectory: String? = nil
        var sslMode = SSLMode.prefer
        var rootCertificate: String? = nil
        var timeout: Int? = nil
        for pair in (queryText ?? "").split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = try decode(parts[0], "a parameter name")
            let value = try decode(parts.count > 1 ? parts[1] : "", "the value of \(name)")
            switch name {
            case "host":
                if value.hasPrefix("/") { socketDirectory = value } else { host = value }
            case "port": port = try parsePort(Substring(value))
            case "user": user = value
            case "password": password = value
            case "dbname": database = value
            case "sslmode":
                guard let mode = SSLMode(rawValue: value) else {
                    throw Malformed(reason: "sslmode must be disable, prefer, require, verify-ca or verify-full, not '\(value)'")
                }
                sslMode = mode
            case "sslrootcert": rootCertificate = value
            case "connect_timeout":
                guard let n = Int(value), (1...3600).contains(n) else { throw Malformed(reason: "connect_timeout must be a number of seconds from 1 to 3600") }
                timeout = n
            case "application_name": continue
            default: throw Malformed(reason: "unknown parameter '\(name)'")
            }
        }
        if host?.isEmpty == true { host = nil }
        if host == nil && socketDirectory == nil { socketDirectory = "/var/run/postgresql" }
        if let h = host, h.hasPrefix("/") {
            socketDirectory = h
            host = nil
        }
        let userName = user.flatMap { $0.isEmpty ? nil : $0 } ?? defaultUser
        if database.isEmpty { database = userName }
        if socketDirectory != nil && sslMode != .prefer && sslMode != .disable {
            throw Malformed(reason: "sslmode=\(sslMode.rawValue) needs a TCP host, not a Unix socket")
        }
        return PostgresLocation(user: userName, password: password, host: socketDirectory == nil ? host : nil, port: port,
                                database: database, socketDirectory: socketDirectory, sslMode: sslMode,
                                sslRootCertificate: rootCertificate, connectTimeout: timeout)
    }

    private static func parsePort(_ text: Substring) throws(Malformed) -> Int {
        guard !text.isEmpty, text.count <= 5, text.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(text), (1...65535).contains(n) else {
            throw Malformed(reason: "the port must be a number from 1 to 65535, not '\(text)'")
        }
        return n
    }

    private static func decode(_ text: Substring, _ what: String) throws(Malformed) -> String {
        guard let s = String(text).removingPercentEncoding else { throw Malformed(reason: "bad percent-encoding in \(what)") }
        if s.contains("\0") { throw Malformed(reason: "a NUL byte in \(what)") }
        return s
    }

    private static func encode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~/")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
