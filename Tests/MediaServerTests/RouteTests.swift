// Route is pure: a request target in, a route out. Table-driven, like the contract's table.

import Testing
@testable import MediaServer

struct RouteCase: CustomTestStringConvertible, Sendable {
    let target: String
    let expected: Route
    init(_ target: String, _ expected: Route) {
        self.target = target
        self.expected = expected
    }
    var testDescription: String { target.count > 60 ? String(target.prefix(60)) + "…" : target }
}

private func list(after: Int64 = 0, limit: Int = Route.ListQuery.defaultLimit, status: String? = nil, code: String? = nil, q: String? = nil) -> Route {
    var query = Route.ListQuery()
    query.after = after
    query.limit = limit
    query.status = status
    query.code = code
    query.q = q
    return .videoList(query)
}

private let uuid = "c6e4a9de-7a9f-5c29-b089-a0e46887e9fe"

let routeCases: [RouteCase] = [
    RouteCase("*", .serverWide),
    RouteCase("/", .page),
    RouteCase("/?x=1", .page),
    RouteCase("/#top", .page),
    RouteCase("/healthz", .health),
    RouteCase("/healthz?probe=1", .health),
    RouteCase("/assets/app.js", .asset("app.js")),
    RouteCase("/assets/app.css", .asset("app.css")),
    RouteCase("/assets/other.js", .notFound),
    RouteCase("/api/media/summary", .summary),
    RouteCase("/api/media/summary/", .summary),
    // Videos: id or uuid, slash optional, type optional.
    RouteCase("/api/media/videos/4/", .video(.id(4), nil)),
    RouteCase("/api/media/videos/4", .video(.id(4), nil)),
    RouteCase("/api/media/videos/4/?type=raw", .video(.id(4), .raw)),
    RouteCase("/api/media/videos/4?type=processed", .video(.id(4), .processed)),
    RouteCase("/api/media/videos/4/?other=1&type=raw", .video(.id(4), .raw)),
    RouteCase("/api/media/videos/4/?type=%72aw", .video(.id(4), .raw)),
    RouteCase("/api/media/videos/4/?typeX=raw", .video(.id(4), nil)),
    RouteCase("/api/media/videos/4/?type=thumb", .badRequest("type must be raw or processed, not 'thumb'")),
    RouteCase("/api/media/videos/4/?type=", .badRequest("type must be raw or processed, not ''")),
    RouteCase("/api/media/videos/999999999999999999/", .video(.id(999_999_999_999_999_999), nil)),
    RouteCase("/api/media/videos/9999999999999999999/", .badRequest("'9999999999999999999' is not a record id (an integer) or a uuid")),
    RouteCase("/api/media/videos/0/", .badRequest("'0' is not a record id (an integer) or a uuid")),
    RouteCase("/api/media/videos/-4/", .badRequest("'-4' is not a record id (an integer) or a uuid")),
    RouteCase("/api/media/videos/\(uuid)/", .video(.uuid(uuid), nil)),
    RouteCase("/api/media/videos/C6E4A9DE-7A9F-5C29-B089-A0E46887E9FE", .video(.uuid(uuid), nil)),
    RouteCase("/api/media/videos/c6e4a9de7a9f5c29b089a0e46887e9fe/?type=raw", .video(.uuid(uuid), .raw)),
    RouteCase("/api/media/videos/c6e4a9de7a9f5c29b089a0e46887e9f/", .badRequest("'c6e4a9de7a9f5c29b089a0e46887e9f' is not a record id (an integer) or a uuid")),
    RouteCase("/api/media/videos/%34/", .video(.id(4), nil)),
    RouteCase("/api/media/videos/4/5/", .notFound),
    RouteCase("/api/media/videos//", .notFound),
    RouteCase("/api/media/videosX/4/", .notFound),
    RouteCase("/api/media/video/4/", .notFound),
    // Absolute form (RFC 9112 §3.2.2): the path counts, the authority does not.
    RouteCase("http://example.com/api/media/videos/4/?type=raw", .video(.id(4), .raw)),
    RouteCase("http://example.com", .page),
    RouteCase("http://example.com/healthz#frag", .health),
    // Percent-encoding: decoded once; malformed or NUL is a 400; not UTF-8 names nothing.
    RouteCase("/heal%74hz", .health),
    RouteCase("/api/media/videos/4%2", .badRequest("malformed percent-encoding in the path")),
    RouteCase("/api/media/videos/%00/", .badRequest("malformed percent-encoding in the path")),
    RouteCase("/%FF", .badRequest("malformed percent-encoding in the path")),
    // An overlong '.' (%C0%AE) is not UTF-8; an encoded '..' is no id and climbs nowhere.
    RouteCase("/api/media/videos/%C0%AE%C0%AE/", .badRequest("malformed percent-encoding in the path")),
    RouteCase("/api/media/videos/%2e%2e/", .badRequest("'..' is not a record id (an integer) or a uuid")),
    RouteCase("/%2e%2e/%2e%2e/etc/passwd", .notFound),
    RouteCase("/nothing/here", .notFound),
    RouteCase("", .notFound),
    // The listing.
    RouteCase("/api/media/videos/", list()),
    RouteCase("/api/media/videos", list()),
    RouteCase("/api/media/videos/?after=57&limit=1000", list(after: 57, limit: 1000)),
    RouteCase("/api/media/videos/?status=error&code=too_few_frames&q=up%20loads", list(status: "error", code: "too_few_frames", q: "up loads")),
    RouteCase("/api/media/videos/?q=a+b&code=", list(q: "a b")),
    RouteCase("/api/media/videos/?limit=0", .badRequest("limit must be between 1 and 1000")),
    RouteCase("/api/media/videos/?limit=1001", .badRequest("limit must be between 1 and 1000")),
    RouteCase("/api/media/videos/?after=-1", .badRequest("after must be a record id (0 or more)")),
    RouteCase("/api/media/videos/?status=broken", .badRequest("status must be ok, warning, error or unchecked")),
    RouteCase("/api/media/videos/?q=%zz", .badRequest("malformed percent-encoding in q")),
]

@Suite("routes")
struct RouteTests {
    @Test(arguments: routeCases)
    func parse(_ c: RouteCase) {
        #expect(Route.parse(target: c.target) == c.expected)
    }
}
