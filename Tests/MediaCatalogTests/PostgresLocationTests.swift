import Testing
@testable import MediaCatalogPostgres

/// `--db postgres://…` as libpq reads it, and what every message shows instead of it.
@Suite("PostgreSQL catalog URLs")
struct PostgresLocationTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var url: String
        var user = "alice"
        var password: String? = nil
        var host: String? = nil
        var port = 5432
        var database = "videos"
        var socket: String? = nil
        var ssl = PostgresLocation.SSLMode.prefer
        var redacted: String
        var testDescription: String { url }
    }

    static let cases: [Case] = [
        Case(url: "postgres://alice:s3cret@db.example:5433/videos", password: "s3cret", host: "db.example", port: 5433,
             redacted: "postgres://alice@db.example:5433/videos"),
        Case(url: "postgresql://alice@db.example/videos?sslmode=require", host: "db.example", ssl: .require,
             redacted: "postgres://alice@db.example:5432/videos?sslmode=require"),
        Case(url: "postgres://alice:p%40ss%2Fw%3Ard@[::1]:6000/videos", password: "p@ss/w:rd", host: "::1", port: 6000,
             redacted: "postgres://alice@[::1]:6000/videos"),
        Case(url: "postgres://alice:pw@/videos?host=/run/pg%20sock", password: "pw", socket: "/run/pg sock",
             redacted: "postgres://alice@:5432/videos?host=/run/pg%20sock"),
        Case(url: "postgres://alice@/videos", socket: "/var/run/postgresql",
             redacted: "postgres://alice@:5432/videos?host=/var/run/postgresql"),
        Case(url: "postgres:///videos?user=alice&password=x&port=7000&host=/tmp/s", password: "x", port: 7000, socket: "/tmp/s",
             redacted: "postgres://alice@:7000/videos?host=/tmp/s"),
        Case(url: "POSTGRES://alice@h", host: "h", database: "alice", redacted: "postgres://alice@h:5432/alice"),
        Case(url: "postgres://alice@h/videos?sslmode=verify-full&application_name=x", host: "h", ssl: .verifyFull,
             redacted: "postgres://alice@h:5432/videos?sslmode=verify-full"),
    ]

    @Test("parses user, password, host, port, database, socket and sslmode; redacts the password", arguments: cases)
    func parses(_ c: Case) throws {
        let l = try PostgresLocation.parse(c.url, defaultUser: "nobody")
        #expect(l.user == c.user)
        #expect(l.password == c.password)
        #expect(l.host == c.host)
        #expect(l.port == c.port)
        #expect(l.database == c.database)
        #expect(l.socketDirectory == c.socket)
        #expect(l.sslMode == c.ssl)
        #expect(l.redacted == c.redacted)
        if let p = c.password { #expect(!l.redacted.contains(p)) }
    }

    static let malformed: [(String, String)] = [
        ("mysql://a@b/c", "postgres://"),
        ("postgres://a:b@h:0/db", "port"),
        ("postgres://a:b@h:99999/db", "port"),
        ("postgres://a:b@h:54x/db", "port"),
        ("postgres://a:b@[::1/db", "IPv6"),
        ("postgres://a:b@h/db/more", "slash"),
        ("postgres://a:b@h/db#frag", "fragment"),
        ("postgres://a:%zz@h/db", "percent-encoding"),
        ("postgres://a:b%00c@h/db", "NUL"),
        ("postgres://a@h/db?sslmode=sometimes", "sslmode"),
        ("postgres://a@h/db?connect_timeout=0", "connect_timeout"),
        ("postgres://a@h/db?options=-c%20x", "unknown parameter"),
        ("postgres://a@/db?host=/s&sslmode=require", "Unix socket"),
    ]

    @Test("malformed URLs are refused with the reason, never echoing the password")
    func refusesMalformed() {
        for (url, reason) in Self.malformed {
            do {
                _ = try PostgresLocation.parse(url, defaultUser: "nobody")
                Issue.record("accepted \(url)")
            } catch {
                #expect(error.description.contains(reason), "\(url): \(error.description)")
                #expect(!error.description.contains(":b@") && !error.description.contains("b%00c"), "\(error.description)")
            }
        }
    }

    @Test("only postgres:// and postgresql:// are PostgreSQL; other schemes are named as such")
    func schemes() {
        #expect(PostgresLocation.isURL("postgresql://x"))
        #expect(PostgresLocation.isURL("Postgres://x"))
        #expect(!PostgresLocation.isURL("catalog.sqlite"))
        #expect(PostgresLocation.isOtherURL("mysql://u@h/db"))
        #expect(!PostgresLocation.isOtherURL("./odd://name.sqlite"), "a relative path with :// inside is a file")
        #expect(!PostgresLocation.isOtherURL("media/videos.sqlite"))
    }
}
