// The request table: one request against a fresh server over the standard library, then its
// status, headers and body checked, the body byte for byte against the file on disk.
//
// Placeholders in targets, request headers and expected header values:
//   {id:NAME} {uuid:NAME} {UUID:NAME} {pctid:NAME}  a record of the standard library
//   {size:FILE} {last:FILE}                          a file's size and last byte index
//   {etag} {weaketag} {lastmod}                      validators from a HEAD of the same target

import Foundation
import HTTPRanges
import Testing
import TestSupport

enum HeaderCheck: Sendable {
    case equals(String, String)
    case absent(String)
    case contains(String, String)
    case present(String)
}

enum BodyCheck: Sendable {
    /// No body may follow (HEAD, 204, 304); checked by reusing the connection.
    case none
    /// Content-Length: 0.
    case empty
    /// The whole file (a path under the media root).
    case whole(String)
    /// Bytes first...last (inclusive) of the file.
    case slice(String, Int, Int)
    /// multipart/byteranges with these parts, in this order.
    case multipart(String, [ClosedRange<Int>])
    case jsonError
    /// Some body, not checked further (the page's own assets).
    case some
    /// The JSON record list.
    case list
    /// The health document.
    case health
}

struct RequestCase: Sendable, CustomTestStringConvertible {
    let name: String
    let method: String
    let target: String
    let headers: [(String, String)]
    let status: Int
    let checks: [HeaderCheck]
    let body: BodyCheck
    var testDescription: String { name }
}

private func row(_ name: String, target: String, headers: [(String, String)] = [], _ status: Int,
                 _ checks: [HeaderCheck], _ body: BodyCheck) -> RequestCase {
    RequestCase(name: name, method: "GET", target: target, headers: headers, status: status, checks: checks, body: body)
}

private func row(_ name: String, _ method: String, _ target: String, _ headers: [(String, String)], _ status: Int,
                 _ checks: [HeaderCheck], _ body: BodyCheck) -> RequestCase {
    RequestCase(name: name, method: method, target: target, headers: headers, status: status, checks: checks, body: body)
}

private let big = "/api/media/videos/{id:big}/"
private let bigFile = "big.mp4"
private let both = "/api/media/videos/{id:both}/"
private let processedFile = "processed/ok.mp4"
private let rawFile = "raw/three-frames.mp4"
private let total = "/\(bigSize)"
private let lastByte = bigSize - 1
private let future = "Fri, 01 Jan 2100 00:00:00 GMT"
private let past = "Sun, 06 Nov 1994 08:49:37 GMT"
private let mp4 = HeaderCheck.equals("Content-Type", "video/mp4")
private let acceptRanges = HeaderCheck.equals("Accept-Ranges", "bytes")
private let noRange = HeaderCheck.absent("Content-Range")

/// `n` disjoint one-byte ranges 0-0, 2-2, 4-4, ...
private func disjoint(_ n: Int) -> String { "bytes=" + (0..<n).map { "\($0 * 2)-\($0 * 2)" }.joined(separator: ",") }

let requestCases: [RequestCase] = [
    // MARK: routes
    row("by id with trailing slash: processed by default", target: both, 200, [mp4, acceptRanges, noRange], .whole(processedFile)),
    row("by id without trailing slash", target: "/api/media/videos/{id:both}", 200, [mp4], .whole(processedFile)),
    row("by uuid", target: "/api/media/videos/{uuid:both}/", 200, [mp4], .whole(processedFile)),
    row("by uuid without slash", target: "/api/media/videos/{uuid:both}", 200, [mp4], .whole(processedFile)),
    row("by upper-case uuid", target: "/api/media/videos/{UUID:both}/", 200, [], .whole(processedFile)),
    row("percent-encoded id", target: "/api/media/videos/{pctid:both}/", 200, [], .whole(processedFile)),
    row("absolute-form target", target: "http://127.0.0.1/api/media/videos/{id:both}/", 200, [], .whole(processedFile)),
    row("type=raw", target: both + "?type=raw", 200, [mp4], .whole(rawFile)),
    row("type=processed", target: both + "?type=processed", 200, [mp4], .whole(processedFile)),
    row("percent-encoded type value", target: both + "?type=r%61w", 200, [], .whole(rawFile)),
    row("fragment is not part of the query", target: both + "?type=raw#x", 200, [], .whole(rawFile)),
    row("last type parameter wins", target: both + "?type=processed&type=raw", 200, [], .whole(rawFile)),
    row("type=raw by uuid, no slash", target: "/api/media/videos/{uuid:both}?type=raw", 200, [], .whole(rawFile)),
    row("other query parameters ignored", target: both + "?t=12&type=raw&x", 200, [], .whole(rawFile)),
    row("default is raw when there is no processed file", target: big, 200, [mp4, acceptRanges], .whole(bigFile)),
    row("processed-only record by default", target: "/api/media/videos/{id:processedOnly}/", 200, [], .whole("processed/only.mp4")),
    row("symlink inside the media root is served", target: "/api/media/videos/{id:insideLink}/", 200, [mp4], .whole(bigFile)),
    row("absolute stored path inside the root", target: "/api/media/videos/{id:absoluteInside}/", 200, [], .whole(bigFile)),
    row("video list", target: "/api/media/videos/", 200, [.equals("Content-Type", "application/json")], .list),
    row("video list without slash", target: "/api/media/videos", 200, [.equals("Content-Type", "application/json")], .list),
    row("healthz", target: "/healthz", 200, [.equals("Content-Type", "application/json")], .health),
    row("HEAD healthz", "HEAD", "/healthz", [], 200, [.equals("Content-Type", "application/json"), .present("Content-Length")], .none),

    // MARK: errors
    row("bad id", target: "/api/media/videos/abc/", 400, [], .jsonError),
    row("id zero", target: "/api/media/videos/0/", 400, [], .jsonError),
    row("negative id", target: "/api/media/videos/-1/", 400, [], .jsonError),
    row("id too long for Int64", target: "/api/media/videos/99999999999999999999/", 400, [], .jsonError),
    row("malformed percent-encoding", target: "/api/media/videos/%zz/", 400, [], .jsonError),
    row("bad type", target: both + "?type=thumbnail", 400, [], .jsonError),
    row("empty type", target: both + "?type=", 400, [], .jsonError),
    row("unknown id", target: "/api/media/videos/987654/", 404, [], .jsonError),
    row("unknown uuid", target: "/api/media/videos/00000000-0000-4000-8000-000000000000/", 404, [], .jsonError),
    row("missing file", target: "/api/media/videos/{id:missing}/", 404, [], .jsonError),
    row("no processed file", target: big + "?type=processed", 404, [], .jsonError),
    row("no raw file", target: "/api/media/videos/{id:processedOnly}/?type=raw", 404, [], .jsonError),
    row("symlink out of the media root", target: "/api/media/videos/{id:escape}/", 404, [], .jsonError),
    row("absolute path outside the media root", target: "/api/media/videos/{id:outsideAbsolute}/", 404, [], .jsonError),
    row("dot-dot path outside the media root", target: "/api/media/videos/{id:dotdot}/", 404, [], .jsonError),
    row("a directory is not served", target: "/api/media/videos/{id:directory}/", 404, [], .jsonError),
    row("a FIFO is not served (and does not hang)", target: "/api/media/videos/{id:fifo}/", 404, [], .jsonError),
    row("extra path segment", target: both + "extra", 404, [], .jsonError),
    row("encoded slashes do not traverse", target: "/api/media/videos/..%2F..%2Fcatalog.sqlite/", 404, [], .jsonError),
    row("dot segments do not reach a record", target: "/api/media/videos/../../healthz/{id:both}", 404, [], .jsonError),
    row("unknown route", target: "/nope", 404, [], .jsonError),
    row("HEAD of a 404", "HEAD", "/api/media/videos/987654/", [], 404, [.equals("Content-Type", "application/json")], .none),
    row("POST on a video", "POST", both, [("Content-Length", "0")], 405, [.equals("Allow", "GET, HEAD, OPTIONS")], .jsonError),
    row("DELETE on a video", "DELETE", both, [], 405, [.equals("Allow", "GET, HEAD, OPTIONS")], .jsonError),
    row("PUT on a video", "PUT", both, [("Content-Length", "0")], 405, [.equals("Allow", "GET, HEAD, OPTIONS")], .jsonError),
    row("POST on healthz", "POST", "/healthz", [("Content-Length", "0")], 405, [.equals("Allow", "GET, HEAD")], .jsonError),
    row("OPTIONS on healthz", "OPTIONS", "/healthz", [], 405, [.equals("Allow", "GET, HEAD")], .jsonError),
    row("DELETE on the list", "DELETE", "/api/media/videos/", [], 405, [.equals("Allow", "GET, HEAD")], .jsonError),

    // MARK: CORS
    row("preflight from an allowed origin", "OPTIONS", both,
        [("Origin", allowedOrigin), ("Access-Control-Request-Method", "GET"), ("Access-Control-Request-Headers", "range")], 204,
        [.equals("Access-Control-Allow-Origin", allowedOrigin), .equals("Access-Control-Allow-Credentials", "true"),
         .contains("Access-Control-Allow-Methods", "GET"), .contains("Access-Control-Allow-Methods", "HEAD"),
         .contains("Access-Control-Allow-Headers", "range"), .present("Access-Control-Max-Age"),
         .contains("Vary", "Origin"), .absent("Content-Length")], .none),
    row("preflight from another origin", "OPTIONS", both,
        [("Origin", otherOrigin), ("Access-Control-Request-Method", "GET")], 204,
        [.absent("Access-Control-Allow-Methods"), .absent("Access-Control-Allow-Headers"), .absent("Access-Control-Max-Age")], .none),
    row("GET from an allowed origin", target: both, headers: [("Origin", allowedOrigin)], 200, [.contains("Vary", "Origin")], .whole(processedFile)),
    row("GET from another origin", target: both, headers: [("Origin", otherOrigin)], 200, [.contains("Vary", "Origin")], .whole(processedFile)),
    row("origin match is exact", target: both, headers: [("Origin", allowedOrigin + "/")], 200, [], .whole(processedFile)),
    row("206 from an allowed origin", target: big, headers: [("Origin", allowedOrigin), ("Range", "bytes=0-1")], 206, [.contains("Vary", "Origin")], .slice(bigFile, 0, 1)),
    row("304 from an allowed origin", target: big, headers: [("Origin", allowedOrigin), ("If-None-Match", "{etag}")], 304, [.contains("Vary", "Origin")], .none),
    row("404 from an allowed origin", target: "/api/media/videos/987654/", headers: [("Origin", allowedOrigin)], 404, [.contains("Vary", "Origin")], .jsonError),
    row("416 from an allowed origin", target: big, headers: [("Origin", allowedOrigin), ("Range", "bytes=\(bigSize)-")], 416, [.contains("Vary", "Origin")], .jsonError),

    // MARK: ranges
    row("bytes=0-1", target: big, headers: [("Range", "bytes=0-1")], 206, [.equals("Content-Range", "bytes 0-1\(total)"), mp4, acceptRanges], .slice(bigFile, 0, 1)),
    row("the operator's page: a strict CSP, nosniff, no referrer", target: "/", 200,
        [.equals("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
         .equals("X-Content-Type-Options", "nosniff"), .equals("Referrer-Policy", "no-referrer"),
         .equals("Content-Type", "text/html; charset=utf-8")], .some),
    row("the page's script: nosniff, its own type", target: "/assets/app.js", 200,
        [.equals("X-Content-Type-Options", "nosniff"), .contains("Content-Type", "javascript")], .some),
    row("upper-case unit BYTES=0-1", target: big, headers: [("Range", "BYTES=0-1")], 206, [.equals("Content-Range", "bytes 0-1\(total)")], .slice(bigFile, 0, 1)),
    row("bytes=0-0", target: big, headers: [("Range", "bytes=0-0")], 206, [.equals("Content-Range", "bytes 0-0\(total)")], .slice(bigFile, 0, 0)),
    row("middle range", target: big, headers: [("Range", "bytes=1000-1999")], 206, [.equals("Content-Range", "bytes 1000-1999\(total)")], .slice(bigFile, 1000, 1999)),
    row("suffix -100", target: big, headers: [("Range", "bytes=-100")], 206,
        [.equals("Content-Range", "bytes \(bigSize - 100)-\(lastByte)\(total)")], .slice(bigFile, bigSize - 100, lastByte)),
    row("suffix larger than the file is clamped", target: big, headers: [("Range", "bytes=-2000000")], 206,
        [.equals("Content-Range", "bytes 0-\(lastByte)\(total)")], .slice(bigFile, 0, lastByte)),
    row("open range first-", target: big, headers: [("Range", "bytes=1048000-")], 206,
        [.equals("Content-Range", "bytes 1048000-\(lastByte)\(total)")], .slice(bigFile, 1_048_000, lastByte)),
    row("last past the end is clamped", target: big, headers: [("Range", "bytes=1048000-2000000")], 206,
        [.equals("Content-Range", "bytes 1048000-\(lastByte)\(total)")], .slice(bigFile, 1_048_000, lastByte)),
    row("last byte only", target: big, headers: [("Range", "bytes=\(lastByte)-")], 206,
        [.equals("Content-Range", "bytes \(lastByte)-\(lastByte)\(total)")], .slice(bigFile, lastByte, lastByte)),
    row("huge first-pos is unsatisfiable", target: big, headers: [("Range", "bytes=99999999999999999999-")], 416,
        [.equals("Content-Range", "bytes *\(total)"), acceptRanges], .jsonError),
    row("huge last-pos is clamped", target: big, headers: [("Range", "bytes=0-99999999999999999999")], 206,
        [.equals("Content-Range", "bytes 0-\(lastByte)\(total)")], .slice(bigFile, 0, lastByte)),
    row("suffix -0 is unsatisfiable", target: big, headers: [("Range", "bytes=-0")], 416, [.equals("Content-Range", "bytes *\(total)")], .jsonError),
    row("first == size is unsatisfiable", target: big, headers: [("Range", "bytes=\(bigSize)-")], 416, [.equals("Content-Range", "bytes *\(total)")], .jsonError),
    row("first > size is unsatisfiable", target: big, headers: [("Range", "bytes=\(bigSize + 5)-\(bigSize + 9)")], 416, [.equals("Content-Range", "bytes *\(total)")], .jsonError),
    row("416 on a small fixture names its size", target: both, headers: [("Range", "bytes=9999999-")], 416,
        [.equals("Content-Range", "bytes */{size:\(processedFile)}")], .jsonError),
    row("invalid bytes=abc: whole file", target: big, headers: [("Range", "bytes=abc")], 200, [noRange, acceptRanges], .whole(bigFile)),
    row("invalid bytes=1-0: whole file", target: big, headers: [("Range", "bytes=1-0")], 200, [noRange], .whole(bigFile)),
    row("unknown unit items=0-1: whole file", target: big, headers: [("Range", "items=0-1")], 200, [noRange], .whole(bigFile)),
    row("invalid bytes=+1-2: whole file", target: big, headers: [("Range", "bytes=+1-2")], 200, [noRange], .whole(bigFile)),
    row("invalid bytes = 0-1 (space around =): whole file", target: big, headers: [("Range", "bytes = 0-1")], 200, [noRange], .whole(bigFile)),
    row("one invalid spec spoils the set", target: big, headers: [("Range", "bytes=0-1,x-y")], 200, [noRange], .whole(bigFile)),
    row("empty file with a Range: 200 and empty", target: "/api/media/videos/{id:empty}/", headers: [("Range", "bytes=0-1")], 200,
        [noRange, .equals("Content-Length", "0")], .empty),
    row("empty file", target: "/api/media/videos/{id:empty}/", 200, [.equals("Content-Length", "0"), acceptRanges], .empty),
    row("overlapping ranges merge into one", target: big, headers: [("Range", "bytes=0-9,5-19")], 206,
        [.equals("Content-Range", "bytes 0-19\(total)"), mp4], .slice(bigFile, 0, 19)),
    row("adjacent ranges merge into one", target: big, headers: [("Range", "bytes=10-19,0-9")], 206,
        [.equals("Content-Range", "bytes 0-19\(total)")], .slice(bigFile, 0, 19)),
    row("two disjoint ranges: multipart", target: big, headers: [("Range", "bytes=0-9,100-109")], 206, [noRange],
        .multipart(bigFile, [0...9, 100...109])),
    row("disjoint ranges are sent in ascending order", target: big, headers: [("Range", "bytes=-5,100-109,0-0")], 206, [noRange],
        .multipart(bigFile, [0...0, 100...109, (bigSize - 5)...lastByte])),
    row("64 ranges: multipart", target: big, headers: [("Range", disjoint(64))], 206, [noRange],
        .multipart(bigFile, (0..<64).map { ($0 * 2)...($0 * 2) })),
    row("65 ranges: whole file", target: big, headers: [("Range", disjoint(65))], 200, [noRange], .whole(bigFile)),
    row("multipart not smaller than the file: whole file", target: "/api/media/videos/{id:tiny}/",
        headers: [("Range", "bytes=0-0,10-10")], 200, [noRange], .whole("tiny.mp4")),
    row("HEAD with a range", "HEAD", big, [("Range", "bytes=0-1")], 206,
        [.equals("Content-Range", "bytes 0-1\(total)"), .equals("Content-Length", "2")], .none),
    row("HEAD with an unsatisfiable range", "HEAD", big, [("Range", "bytes=-0")], 416,
        [.equals("Content-Range", "bytes *\(total)")], .none),
    row("range with type=raw", target: both + "?type=raw", headers: [("Range", "bytes=0-99")], 206,
        [.equals("Content-Range", "bytes 0-99/{size:\(rawFile)}")], .slice(rawFile, 0, 99)),

    // MARK: conditionals
    row("If-None-Match with the ETag", target: big, headers: [("If-None-Match", "{etag}")], 304,
        [.equals("ETag", "{etag}"), .absent("Content-Range")], .none),
    row("If-None-Match *", target: big, headers: [("If-None-Match", "*")], 304, [.equals("ETag", "{etag}")], .none),
    row("If-None-Match with the weak form", target: big, headers: [("If-None-Match", "{weaketag}")], 304, [], .none),
    row("If-None-Match in a list", target: big, headers: [("If-None-Match", "\"nope\", {etag}")], 304, [], .none),
    row("If-None-Match with another tag", target: big, headers: [("If-None-Match", "\"nope\"")], 200, [], .whole(bigFile)),
    row("If-None-Match wins over Range", target: big, headers: [("If-None-Match", "{etag}"), ("Range", "bytes=0-1")], 304, [], .none),
    row("HEAD with If-None-Match", "HEAD", big, [("If-None-Match", "{etag}")], 304, [.equals("ETag", "{etag}")], .none),
    row("If-Modified-Since in the future", target: big, headers: [("If-Modified-Since", future)], 304, [], .none),
    row("If-Modified-Since equal to Last-Modified", target: big, headers: [("If-Modified-Since", "{lastmod}")], 304, [], .none),
    row("If-Modified-Since in the past", target: big, headers: [("If-Modified-Since", past)], 200, [], .whole(bigFile)),
    row("If-Modified-Since unparseable is ignored", target: big, headers: [("If-Modified-Since", "yesterday")], 200, [], .whole(bigFile)),
    row("If-None-Match overrides If-Modified-Since", target: big,
        headers: [("If-None-Match", "\"nope\""), ("If-Modified-Since", future)], 200, [], .whole(bigFile)),
    row("If-Match mismatch", target: big, headers: [("If-Match", "\"nope\"")], 412, [], .jsonError),
    row("If-Match with the ETag", target: big, headers: [("If-Match", "{etag}")], 200, [], .whole(bigFile)),
    row("If-Match *", target: big, headers: [("If-Match", "*")], 200, [], .whole(bigFile)),
    row("If-Match with the weak form fails", target: big, headers: [("If-Match", "{weaketag}")], 412, [], .jsonError),
    row("If-Unmodified-Since in the past", target: big, headers: [("If-Unmodified-Since", past)], 412, [], .jsonError),
    row("If-Unmodified-Since in the future", target: big, headers: [("If-Unmodified-Since", future)], 200, [], .whole(bigFile)),
    row("If-Range with the ETag", target: big, headers: [("If-Range", "{etag}"), ("Range", "bytes=0-1")], 206,
        [.equals("Content-Range", "bytes 0-1\(total)")], .slice(bigFile, 0, 1)),
    row("If-Range with another ETag", target: big, headers: [("If-Range", "\"nope\""), ("Range", "bytes=0-1")], 200, [noRange], .whole(bigFile)),
    row("If-Range with the weak ETag", target: big, headers: [("If-Range", "{weaketag}"), ("Range", "bytes=0-1")], 200, [noRange], .whole(bigFile)),
    row("If-Range with the exact Last-Modified", target: big, headers: [("If-Range", "{lastmod}"), ("Range", "bytes=0-1")], 206,
        [.equals("Content-Range", "bytes 0-1\(total)")], .slice(bigFile, 0, 1)),
    row("If-Range with an older date", target: big, headers: [("If-Range", past), ("Range", "bytes=0-1")], 200, [noRange], .whole(bigFile)),

    // MARK: representation headers
    row("Content-Type mp4", target: big, 200, [mp4, .equals("Content-Disposition", "inline; filename=\"big.mp4\"")], .whole(bigFile)),
    row("Content-Type webm", target: "/api/media/videos/{id:webm}/", 200, [.equals("Content-Type", "video/webm")], .whole("clip.webm")),
    row("Content-Type mkv", target: "/api/media/videos/{id:mkv}/", 200, [.equals("Content-Type", "video/x-matroska")], .whole("clip.mkv")),
    row("Content-Type mov", target: "/api/media/videos/{id:mov}/", 200, [.equals("Content-Type", "video/quicktime")], .whole("clip.mov")),
    row("Content-Disposition for a non-ASCII name", target: "/api/media/videos/{id:nonascii}/", 200,
        [.equals("Content-Disposition", "inline; filename=\"vid_o _.mp4\"; filename*=UTF-8''vid%C3%A9o%20%C3%BC.mp4"), mp4],
        .whole("vidéo ü.mp4")),
    row("Content-Disposition for a name with quotes", target: "/api/media/videos/{id:quote}/", 200,
        [.equals("Content-Disposition", "inline; filename=\"say _hi_.mp4\"; filename*=UTF-8''say%20%22hi%22.mp4")],
        .whole("say \"hi\".mp4")),
    row("validators on 206", target: big, headers: [("Range", "bytes=0-1")], 206,
        [.equals("ETag", "{etag}"), .equals("Last-Modified", "{lastmod}"), acceptRanges], .slice(bigFile, 0, 1)),
]

@Suite("Request table")
struct RequestTableTests {
    @Test("table has enough rows") func tableSize() {
        #expect(requestCases.count >= 40)
        #expect(Set(requestCases.map(\.name)).count == requestCases.count, "row names must be unique")
    }

    /// What one row's connection saw: the response under test and the one after it.
    struct Exchange: Sendable {
        var validators: Validators?
        var headers: [(String, String)]
        var response: HTTPResponse
        var next: HTTPResponse
    }

    @Test(arguments: requestCases)
    func request(_ c: RequestCase) async throws {
        let (lib, server) = try await startServer()
        defer { server.stop() }
        let target = try expand(c.target, lib)
        let needsValidators = (c.headers.map(\.1) + c.checks.map(\.value))
            .contains { $0.contains("{etag}") || $0.contains("{weaketag}") || $0.contains("{lastmod}") }

        let exchange = try await io {
            var validators: Validators?
            if needsValidators {
                let head = try server.request("HEAD", target)
                guard let etag = head.header("ETag"), let lastModified = head.header("Last-Modified") else {
                    throw PlaceholderError(description: "no validators in \(head)")
                }
                validators = Validators(etag: etag, lastModified: lastModified)
            }
            let headers = try c.headers.map { ($0.0, try expand($0.1, lib, validators)) }
            let connection = try server.connect()
            defer { connection.close() }
            try connection.sendRequest(c.method, target, headers: headers)
            let response = try connection.readResponse(method: c.method)
            // The response was framed exactly: the connection carries a second request cleanly.
            let next = try connection.exchange("GET", "/healthz")
            return Exchange(validators: validators, headers: headers, response: response, next: next)
        }
        let r = exchange.response
        let validators = exchange.validators
        let headers = exchange.headers

        #expect(r.status == c.status, "\(r)")
        #expect(r.version == "HTTP/1.1")
        expectValidDate(r)
        #expect(r.header("Transfer-Encoding") == nil)
        let bodyless = c.method == "HEAD" || r.status == 204 || r.status == 304
        if !bodyless { expectLengthMatchesBody(r) }
        if r.status == 304 || r.status == 204 { #expect(r.header("Content-Length") == nil) }

        for check in c.checks {
            switch check {
            case .equals(let name, let value):
                let expected = try expand(value, lib, validators)
                #expect(r.header(name) == expected, "\(name)")
                #expect(r.values(name).count == 1, "\(name) appears \(r.values(name).count) times")
            case .absent(let name):
                #expect(r.header(name) == nil, "\(name) should be absent")
            case .contains(let name, let part):
                #expect(r.header(name)?.contains(part) == true, "\(name): \(r.header(name) ?? "nil") should contain \(part)")
            case .present(let name):
                #expect(r.header(name) != nil, "\(name) should be present")
            }
        }
        expectCORS(r, requestOrigin: headers.first { $0.0 == "Origin" }?.1)

        try checkBody(c.body, r, lib)
        #expect(exchange.next.status == 200, "the request after this one: \(exchange.next)")
        #expect(exchange.next.header("Content-Type") == "application/json")
    }

    /// CORS headers appear exactly for the allowed origin; Vary: Origin always (CORS is configured).
    func expectCORS(_ r: HTTPResponse, requestOrigin: String?) {
        #expect(r.values("Vary").joined(separator: ",").contains("Origin"), "Vary: Origin missing")
        if requestOrigin == allowedOrigin {
            #expect(r.header("Access-Control-Allow-Origin") == allowedOrigin)
            #expect(r.header("Access-Control-Allow-Credentials") == "true")
            let exposed = (r.header("Access-Control-Expose-Headers") ?? "").lowercased()
            for name in ["content-range", "content-length", "accept-ranges", "etag"] {
                #expect(exposed.contains(name), "Access-Control-Expose-Headers lacks \(name)")
            }
        } else {
            #expect(r.header("Access-Control-Allow-Origin") == nil)
            #expect(r.header("Access-Control-Allow-Credentials") == nil)
            #expect(r.header("Access-Control-Expose-Headers") == nil)
        }
    }

    func checkBody(_ check: BodyCheck, _ r: HTTPResponse, _ lib: TestLibrary) throws {
        switch check {
        case .none:
            #expect(r.body.isEmpty)
        case .some:
            #expect(!r.body.isEmpty)
        case .empty:
            #expect(r.body.isEmpty)
            #expect(r.header("Content-Length") == "0")
        case .whole(let file):
            expectSameBytes(r.body, try lib.contents(file), file)
            #expect(r.header("ETag") != nil)
            #expect(r.header("Last-Modified").flatMap(HTTPDate.parse) != nil)
            #expect(r.header("Accept-Ranges") == "bytes")
        case .slice(let file, let first, let last):
            let bytes = try lib.contents(file)
            expectSameBytes(r.body, Array(bytes[first...last]), "\(file) \(first)-\(last)")
            #expect(r.header("Accept-Ranges") == "bytes")
        case .multipart(let file, let ranges):
            let bytes = try lib.contents(file)
            let boundary = try multipartBoundary(try #require(r.header("Content-Type")))
            let parts = try parseMultipartByteranges(r.body, boundary: boundary)
            #expect(parts.count == ranges.count)
            for (part, range) in zip(parts, ranges) {
                #expect(part.contentType == "video/mp4")
                #expect(part.contentRange == "bytes \(range.lowerBound)-\(range.upperBound)/\(bytes.count)")
                expectSameBytes(part.data, Array(bytes[range]), "part \(range)")
            }
            #expect(r.header("Accept-Ranges") == "bytes")
        case .jsonError:
            expectJSONError(r)
        case .list:
            let doc = try #require(try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any])
            let list = try #require(doc["records"] as? [[String: Any]])
            #expect(list.count == lib.records.count)
            #expect(doc["next"] is NSNull, "one page holds them all")
            let bothRecord = lib.record("both")
            let entry = try #require(list.first { ($0["id"] as? Int).map(Int64.init) == bothRecord.id })
            #expect(entry["uuid"] as? String == bothRecord.uuid)
            let raw = try #require(listedFile(entry, "raw"))
            #expect(raw["path"] as? String == "raw/three-frames.mp4")
            #expect(raw["exists"] as? Bool == true)
            #expect(raw["size"] as? Int == (try lib.size(rawFile)))
            #expect(raw["url"] as? String == "/api/media/videos/\(bothRecord.id)/?type=raw")
            let processed = try #require(listedFile(entry, "processed"))
            #expect(processed["size"] as? Int == (try lib.size(processedFile)))
            let missing = try #require(list.first { ($0["id"] as? Int).map(Int64.init) == lib.id("missing") })
            let missingRaw = try #require(listedFile(missing, "raw"))
            #expect(missingRaw["exists"] as? Bool == false)
            #expect(missingRaw["size"] is NSNull)
            #expect(listedFile(missing, "processed") == nil)
            let nonASCII = try #require(list.first { ($0["id"] as? Int).map(Int64.init) == lib.id("nonascii") })
            #expect(listedFile(nonASCII, "raw")?["path"] as? String == "vidéo ü.mp4")
        case .health:
            let doc = try #require(try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any])
            #expect(doc["status"] as? String == "ok")
            #expect(doc["records"] as? Int == lib.records.count)
        }
    }
}

extension HeaderCheck {
    var value: String {
        switch self {
        case .equals(_, let v), .contains(_, let v): v
        case .absent, .present: ""
        }
    }
}

struct PlaceholderError: Error, CustomStringConvertible {
    var description: String
}

/// The validators a HEAD of the row's target returned.
struct Validators: Sendable {
    var etag: String
    var lastModified: String
}

/// Replaces the {kind:argument} placeholders described at the top of this file.
func expand(_ text: String, _ lib: TestLibrary, _ validators: Validators? = nil) throws -> String {
    var out = ""
    var rest = Substring(text)
    while let open = rest.firstIndex(of: "{") {
        out += rest[..<open]
        guard let close = rest[open...].firstIndex(of: "}") else { throw PlaceholderError(description: "unclosed { in \(text)") }
        let token = rest[rest.index(after: open)..<close]
        let parts = token.split(separator: ":", maxSplits: 1).map(String.init)
        switch (parts[0], parts.count > 1 ? parts[1] : nil) {
        case ("id", let name?): out += String(lib.id(name))
        case ("uuid", let name?): out += lib.uuid(name)
        case ("UUID", let name?): out += lib.uuid(name).uppercased()
        case ("pctid", let name?): out += String(lib.id(name)).unicodeScalars.map { "%3\($0)" }.joined()
        case ("size", let file?): out += String(try lib.size(file))
        case ("last", let file?): out += String(try lib.size(file) - 1)
        case ("etag", nil):
            guard let validators else { throw PlaceholderError(description: "no validators for \(text)") }
            out += validators.etag
        case ("weaketag", nil):
            guard let validators else { throw PlaceholderError(description: "no validators for \(text)") }
            out += "W/" + validators.etag
        case ("lastmod", nil):
            guard let validators else { throw PlaceholderError(description: "no validators for \(text)") }
            out += validators.lastModified
        default:
            throw PlaceholderError(description: "unknown placeholder {\(token)}")
        }
        rest = rest[rest.index(after: close)...]
    }
    return out + rest
}
