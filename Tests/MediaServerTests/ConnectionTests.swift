// Connection-level behaviour: malformed bytes, keep-alive, pipelining, closing, timeouts,
// the connection cap, aborted and truncated transfers, graceful shutdown.

import Foundation
import Testing
import TestSupport

struct MalformedCase: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let status: Int
    var testDescription: String { name }

    init(_ name: String, _ text: String, _ status: Int) {
        self.name = name
        self.bytes = Array(text.utf8)
        self.status = status
    }

    init(_ name: String, bytes: [UInt8], _ status: Int) {
        self.name = name
        self.bytes = bytes
        self.status = status
    }
}

let malformedCases: [MalformedCase] = [
    MalformedCase("garbage request line", "HELLO THERE\r\n\r\n", 400),
    MalformedCase("lower-case method", "get /healthz HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    MalformedCase("unknown HTTP version", "GET /healthz HTTP/9.9\r\nHost: a\r\n\r\n", 400),
    MalformedCase("header without colon", "GET /healthz HTTP/1.1\r\nHost: a\r\nNoColonHere\r\n\r\n", 400),
    MalformedCase("space before the colon", "GET /healthz HTTP/1.1\r\nHost : a\r\n\r\n", 400),
    MalformedCase("Content-Length with Transfer-Encoding",
                  "POST /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    MalformedCase("non-numeric Content-Length", "GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n", 400),
    MalformedCase("two different Content-Lengths",
                  "GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx", 400),
    MalformedCase("NUL in a header value", bytes: Array("GET /healthz HTTP/1.1\r\nHost: a\r\nX-A: b".utf8) + [0] + Array("c\r\n\r\n".utf8), 400),
    MalformedCase("TLS ClientHello on the plain port", bytes: [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03] + Array(repeating: 0x41, count: 64), 400),
    MalformedCase("bare CR inside a header line", "GET /healthz HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n", 400),
    MalformedCase("raw NUL in the request target", bytes: Array("GET /heal".utf8) + [0] + Array("thz HTTP/1.1\r\nHost: a\r\n\r\n".utf8), 400),
    MalformedCase("a body over 1 MiB", "GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n", 413),
    MalformedCase("chunks over 1 MiB", "GET /healthz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n200000\r\n", 413),
    MalformedCase("a transfer coding other than chunked", "GET /healthz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    MalformedCase("one header field over 32 KiB",
                  "GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: \(String(repeating: "a", count: 40 * 1024))\r\n\r\n", 431),
    MalformedCase("many header fields over 32 KiB",
                  "GET /healthz HTTP/1.1\r\nHost: a\r\n" + (0..<900).map { "X-Field-\($0): \(String(repeating: "v", count: 30))\r\n" }.joined() + "\r\n", 431),
    MalformedCase("request target over 32 KiB", "GET /\(String(repeating: "p", count: 40 * 1024)) HTTP/1.1\r\nHost: a\r\n\r\n", 431),
]

@Suite("Connections")
struct ConnectionTests {
    @Test(arguments: malformedCases)
    func malformedRequest(_ c: MalformedCase) async throws {
        let (_, server) = try await startServer()
        defer { server.stop() }
        let (r, closed, after) = try await io {
            let connection = try server.connect()
            defer { connection.close() }
            try connection.send(c.bytes)
            let r = try connection.readResponse()
            let closed = try connection.waitForClose(within: 15)
            return (r, closed, try server.get("/healthz"))
        }
        #expect(r.status == c.status, "\(r)")
        expectJSONError(r)
        expectLengthMatchesBody(r)
        expectValidDate(r)
        #expect(r.header("Connection")?.lowercased() == "close")
        #expect(closed, "the server should close after a malformed request")
        #expect(after.status == 200, "the server is unharmed")
    }

    @Test("keep-alive: three requests on one connection")
    func keepAlive() async throws {
        let (lib, server) = try await startServer()
        defer { server.stop() }
        let big = try lib.contents("big.mp4")
        let (responses, stillOpen) = try await io {
            let c = try server.connect()
            defer { c.close() }
            let responses = [
                try c.exchange("GET", videoPath(lib.id("big")), headers: [("Range", "bytes=500-1499")]),
                try c.exchange("GET", videoPath(lib.id("both"))),
                try c.exchange("GET", videoPath(lib.id("big"))),
            ]
            return (responses, !c.peerHasClosed())
        }
        #expect(responses.map(\.status) == [206, 200, 200])
        expectSameBytes(responses[0].body, Array(big[500...1499]), "first")
        expectSameBytes(responses[1].body, try lib.contents("processed/ok.mp4"), "second")
        expectSameBytes(responses[2].body, big, "third")
        for r in responses {
            #expect(r.header("Connection")?.lowercased() != "close")
        }
        #expect(stillOpen)
    }

    @Test("pipelining: three GETs in one write come back in order")
    func pipelined() async throws {
        let (lib, server) = try await startServer()
        defer { server.stop() }
        let requests = [
            RawConnection.request("GET", videoPath(lib.id("big")), headers: [("Range", "bytes=-1000")]),
            RawConnection.request("GET", videoPath(lib.id("both"), "?type=raw")),
            RawConnection.request("GET", videoPath(lib.id("big"))),
        ]
        let (responses, stillOpen) = try await io {
            let c = try server.connect()
            defer { c.close() }
            try c.send(requests.joined())
            let responses = [try c.readResponse(), try c.readResponse(), try c.readResponse()]
            return (responses, !c.peerHasClosed())
        }
        let big = try lib.contents("big.mp4")
        #expect(responses.map(\.status) == [206, 200, 200])
        #expect(responses[0].header("Content-Range") == "bytes \(bigSize - 1000)-\(bigSize - 1)/\(bigSize)")
        expectSameBytes(responses[0].body, Array(big[(bigSize - 1000)...]), "first")
        expectSameBytes(responses[1].body, try lib.contents("raw/three-frames.mp4"), "second")
        expectSameBytes(responses[2].body, big, "third")
        #expect(stillOpen)
    }

    @Test("pipelining: HEAD, 404, OPTIONS and a range in one write")
    func pipelinedMixed() async throws {
        let (lib, server) = try await startServer()
        defer { server.stop() }
        let video = videoPath(lib.id("webm"))
        let responses = try await io {
            let c = try server.connect()
            defer { c.close() }
            try c.send([
                RawConnection.request("HEAD", video),
                RawConnection.request("GET", "/api/media/videos/424242/"),
                RawConnection.request("OPTIONS", video, headers: [("Origin", allowedOrigin)]),
                RawConnection.request("GET", video, headers: [("Range", "bytes=1-3")]),
            ].joined())
            return [try c.readResponse(method: "HEAD"), try c.readResponse(), try c.readResponse(method: "OPTIONS"),
                    try c.readResponse()]
        }
        #expect(responses.map(\.status) == [200, 404, 204, 206])
        #expect(responses[0].body.isEmpty)
        expectJSONError(responses[1])
        #expect(responses[2].header("Access-Control-Allow-Origin") == allowedOrigin)
        expectSameBytes(responses[3].body, Array(try lib.contents("clip.webm")[1...3]), "range")
    }

    @Test("a GET with a body: the body is skipped, not read as the next request")
    func getWithBody() async throws {
        let (lib, server) = try await startServer()
        defer { server.stop() }
        let (first, next) = try await io {
            let c = try server.connect()
            defer { c.close() }
            try c.send("GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 19\r\n\r\nGET /nope HTTP/1.1\r")
            return (try c.readResponse(), try c.exchange("GET", videoPath(lib.id("both"))))
        }
        #expect(first.status == 200)
        #expect(next.status == 200)
        expectSameBytes(next.body, try lib.contents("processed/ok.mp4"), "next")
    }

    @Test("a chunked body is skipped too, and the connection goes on")
    func chunkedBodySkipped() async throws {
        let (_, server) = try await startServer()
        defer { server.stop() }
        let (first, next) = try await io {
            let c = try server.connect()
            defer { c.close() }
            try c.send("GET /healthz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nGET /\r\n3;x=y\r\nabc\r\n0\r\nTrailer: z\r\n\r\n")
            return (try c.readResponse(), try c.exchange("GET", "/nope"))
        }
        #expect(first.status == 200)
        #expect(next.status == 404, "the body was read as a request")
    }

    @Test("HTTP/1.0 without keep-alive: the server answers in HTTP/1.0 and closes")
    func http10Closes() async throws {
        let (lib, server) = try await startServer()
        defer { server.stop() }
        let (r, closed) = try await io {
            let c = try server.connect()
            defer { c.close() }
            try c.send("GET \(videoPath(lib.id("both"))) HTTP/1.0\r\n\r\n")
            return (try c.readResponse(), try c.waitForClose(within: 15))
        }
        #expect(r.status == 200)
        #expect(r.version == "HTTP/1.0")
        #expect(r.header("Connection")?.lowercased() == "close")
        expectSameBytes(r.body, try lib.contents("processed/ok.mp4"), "body")
        expectLengthMatchesBody(r)
        #expect(closed)
    }

    @Test("Connection: close is honoured")
    func connectionClose() async throws {
        let (lib, server) = try await startServer()
        defer { server.stop() }
        let (r, closed) = try await io {
            let c = try server.connect()
            defer { c.close() }
            let r = try c.exchange("GET", videoPath(lib.id("big")), headers: [("Connection", "close"), ("Range", "bytes=0-99")])
            return (r, try c.waitForClose(within: 15))
        }
        #expect(r.status == 206)
        #expect(r.header("Connection")?.lowercased() == "close")
        expectSameBytes(r.body, Array(try lib.contents("big.mp4")[0...99]), "body")
        #expect(closed)
    }

    @Test("head timeout: half a request line, or an idle keep-alive, is cut after ~1 s")
    func headTimeout() async throws {
        let (_, server) = try await startServer { $0.requestHeadTimeout = .seconds(1) }
        defer { server.stop() }
        struct Seen: Sendable {
            var idleAnswered: Bool
            var openAtHalfSecond: (slow: Bool, idle: Bool)
            var closedAfter: Double?
            var healthAfter: Int
        }
        let seen = try await io {
            let slow = try server.connect()
            defer { slow.close() }
            let idle = try server.connect()
            defer { idle.close() }
            let start = Date()
            try slow.send("GET /heal")
            let answered = try idle.exchange("GET", "/healthz").status == 200
            Thread.sleep(forTimeInterval: 0.5)
            let open = (!slow.peerHasClosed(), !idle.peerHasClosed())
            let closed = waitUntil(seconds: 15) { slow.peerHasClosed() && idle.peerHasClosed() }
            return Seen(idleAnswered: answered, openAtHalfSecond: open,
                        closedAfter: closed.map { _ in Date().timeIntervalSince(start) },
                        healthAfter: try server.get("/healthz").status)
        }
        #expect(seen.idleAnswered)
        #expect(seen.openAtHalfSecond.slow, "closed before the timeout")
        #expect(seen.openAtHalfSecond.idle, "idle keep-alive closed before the timeout")
        // Generous against a loaded machine; a server without the timeout never closes them.
        #expect(seen.closedAfter != nil, "connections still open 15 s after opening")
        #expect(seen.healthAfter == 200, "the server still serves")
    }

    @Test("head timeout: a request head trickling in byte by byte is cut too")
    func trickledHead() async throws {
        let (_, server) = try await startServer { $0.requestHeadTimeout = .seconds(1) }
        defer { server.stop() }
        // About 15 s of trickle: a server that restarts its timer on every byte lets it all
        // through; one that times the whole head cuts it after about a second.
        let text = Array("GET /healthz HTTP/1.1\r\nHost: a\r\nX-Slow: \(String(repeating: "z", count: 450))\r\n\r\n".utf8)
        let (closed, sent) = try await io {
            let c = try server.connect()
            defer { c.close() }
            var sent = 0
            while sent < text.count, !c.peerHasClosed() {
                try? c.send([text[sent]])
                sent += 1
                Thread.sleep(forTimeInterval: 0.03)
            }
            let closed = try c.peerHasClosed() || c.waitForClose(within: 2)
            return (closed, sent)
        }
        #expect(closed)
        #expect(sent < text.count, "the whole head got through")
    }

    @Test("the open-file cache holds few descriptors, lets go of idle ones, and never of one still sending")
    func fileCacheDescriptors() async throws {
        let (lib, server) = try await startServer { $0.fileCacheCapacity = 4; $0.fileCacheIdle = .milliseconds(600) }
        defer { server.stop() }
        let targets = ["big", "both", "webm", "mkv", "mov", "nonascii", "quote"].map { videoPath(lib.id($0)) }
        let (peak, afterIdle, deletedHeld) = try await io { () -> (Int, Int, Bool) in
            var peak = 0
            for t in targets {
                _ = try server.get(t, headers: [("Range", "bytes=0-1")])
                peak = max(peak, openDescriptors(under: lib.mediaRoot).count)
            }
            _ = waitUntil(seconds: 15) { openDescriptors(under: lib.mediaRoot).isEmpty }
            let afterIdle = openDescriptors(under: lib.mediaRoot).count
            // A deleted file: its descriptor goes at the next request for it, or with the sweep.
            _ = try server.get(videoPath(lib.id("webm")), headers: [("Range", "bytes=0-1")])
            try FileManager.default.removeItem(atPath: lib.path("clip.webm"))
            let gone = try server.get(videoPath(lib.id("webm")))
            return (peak, afterIdle, gone.status != 404 || openDescriptors(under: lib.mediaRoot).contains { $0.contains("clip.webm") })
        }
        #expect(peak <= 4, "at most the cache's capacity: \(peak)")
        #expect(afterIdle == 0)
        #expect(!deletedHeld, "a deleted file is 404 and its descriptor is released")
    }

    @Test("connection cap: a third connection gets 503 and the slot frees when one closes")
    func connectionCap() async throws {
        let (_, server) = try await startServer { $0.maxConnections = 2 }
        defer { server.stop() }
        struct Seen: Sendable {
            var admitted: [Int]
            var rejected: HTTPResponse
            var rejectedClosed: Bool
            var stillServed: Int
            var freed: Bool
        }
        let seen = try await io {
            let a = try server.connect()
            let b = try server.connect()
            defer { b.close() }
            let admitted = [try a.exchange("GET", "/healthz").status, try b.exchange("GET", "/healthz").status]
            let third = try server.connect()
            defer { third.close() }
            let rejected = try third.readResponse()
            let rejectedClosed = try third.waitForClose(within: 15)
            let stillServed = try b.exchange("GET", "/healthz").status
            a.close()
            var freed = false
            let deadline = Date().addingTimeInterval(20)
            while !freed && Date() < deadline {
                let c = try server.connect()
                if let r = try? c.exchange("GET", "/healthz"), r.status == 200 { freed = true }
                c.close()
                if !freed { Thread.sleep(forTimeInterval: 0.05) }
            }
            return Seen(admitted: admitted, rejected: rejected, rejectedClosed: rejectedClosed,
                        stillServed: stillServed, freed: freed)
        }
        #expect(seen.admitted == [200, 200])
        #expect(seen.rejected.status == 503)
        expectJSONError(seen.rejected)
        expectLengthMatchesBody(seen.rejected)
        #expect(seen.rejected.header("Connection")?.lowercased() == "close")
        #expect(seen.rejected.header("Retry-After") != nil)
        #expect(seen.rejectedClosed)
        #expect(seen.stillServed == 200, "the admitted connections are unaffected")
        #expect(seen.freed, "no connection admitted after one of the two closed")
    }

    @Test("connection cap: a rejected client that already sent its request still reads the 503")
    func connectionCapWithRequestSent() async throws {
        let (_, server) = try await startServer { $0.maxConnections = 1 }
        defer { server.stop() }
        let (first, rejected) = try await io {
            let a = try server.connect()
            defer { a.close() }
            let first = try a.exchange("GET", "/healthz")
            let b = try server.connect()
            defer { b.close() }
            try b.sendRequest("GET", "/healthz")
            return (first, try b.readResponse())
        }
        #expect(first.status == 200)
        #expect(rejected.status == 503)
    }

    @Test("a client aborting mid-body does not disturb the server")
    func clientAbortsMidBody() async throws {
        let (lib, server) = try await startServer(empty: true)
        defer { server.stop() }
        try lib.writeLarge(megabytes: 8, to: "large.mp4")
        let id = try lib.add("large", raw: "large.mp4").id
        let (heads, whole, tail) = try await io {
            var heads: [HTTPResponse] = []
            for useReset in [true, false] {
                let c = try server.connect(receiveBuffer: 64 * 1024)
                try c.sendRequest("GET", videoPath(id))
                heads.append(try c.readResponseHead())
                _ = try c.readBody(count: 1 << 20)
                if useReset { c.abort() } else { c.close() }
            }
            let c = try server.connect(timeout: 10)
            defer { c.close() }
            return (heads, try c.exchange("GET", videoPath(id)),
                    try c.exchange("GET", videoPath(id), headers: [("Range", "bytes=-65536")]))
        }
        for head in heads {
            #expect(head.status == 200)
            #expect(head.header("Content-Length") == String(8 << 20))
        }
        let expected = try lib.contents("large.mp4")
        #expect(whole.status == 200)
        expectSameBytes(whole.body, expected, "whole file after aborts")
        #expect(tail.status == 206)
        expectSameBytes(tail.body, Array(expected[((8 << 20) - 65536)...]), "tail")
    }

    @Test("without the open-file cache, no descriptor of a served file outlives its response, whatever the outcome")
    func noDescriptorLeaks() async throws {
        let (lib, server) = try await startServer { $0.fileCacheCapacity = 0 }
        defer { server.stop() }
        try lib.writeLarge(megabytes: 8, to: "large.mp4")
        let large = try lib.add("large", raw: "large.mp4")
        let big = videoPath(lib.id("big"))
        let (seenDuringTransfer, leftOpen) = try await io {
            guard let etag = try server.request("HEAD", big).header("ETag") else { throw ClientError.malformed("no ETag") }
            let requests: [(String, String, [(String, String)])] = [
                ("GET", big, []), ("HEAD", big, []),
                ("GET", big, [("Range", "bytes=0-9")]), ("HEAD", big, [("Range", "bytes=0-9")]),
                ("GET", big, [("Range", "bytes=0-0,10-10")]), ("HEAD", big, [("Range", "bytes=0-0,10-10")]),
                ("GET", big, [("If-None-Match", etag)]), ("GET", big, [("If-Match", "\"x\"")]),
                ("GET", big, [("Range", "bytes=-0")]), ("GET", big, [("If-Range", "\"x\""), ("Range", "bytes=0-1")]),
                ("GET", videoPath(lib.id("empty")), []), ("HEAD", videoPath(lib.id("empty")), []),
                ("GET", videoPath(lib.id("directory")), []), ("GET", videoPath(lib.id("fifo")), []),
            ]
            let c = try server.connect()
            defer { c.close() }
            for _ in 0..<5 {
                for (method, target, headers) in requests { _ = try c.exchange(method, target, headers: headers) }
            }
            var seen: [Bool] = []
            for _ in 0..<3 {
                let aborted = try server.connect(receiveBuffer: 64 * 1024)
                try aborted.sendRequest("GET", videoPath(large.id))
                _ = try aborted.readResponseHead()
                _ = try aborted.readBody(count: 100_000)
                // The probe does see the server's descriptor while the transfer is stalled.
                seen.append(openDescriptors(under: lib.mediaRoot).contains { $0.hasSuffix("/large.mp4") })
                aborted.abort()
            }
            _ = waitUntil(seconds: 15) { openDescriptors(under: lib.mediaRoot).isEmpty }
            return (seen, openDescriptors(under: lib.mediaRoot))
        }
        #expect(seenDuringTransfer == [true, true, true])
        #expect(leftOpen.isEmpty, "still open: \(leftOpen)")
    }

    @Test("a file truncated while it is sent: the connection is cut short, never padded")
    func fileTruncatedDuringTransfer() async throws {
        let (lib, server) = try await startServer(empty: true)
        defer { server.stop() }
        let megabytes = 64
        let original = try await io {
            try lib.writeLarge(megabytes: megabytes, to: "huge.mp4")
            return try lib.contents("huge.mp4")
        }
        let id = try lib.add("huge", raw: "huge.mp4").id
        let path = lib.path("huge.mp4")

        let (head, received, truncated, after) = try await io {
            let c = try server.connect(timeout: 10, receiveBuffer: 64 * 1024)
            defer { c.close() }
            try c.sendRequest("GET", videoPath(id))
            let head = try c.readResponseHead()
            var received = try c.readBody(count: 1 << 20)
            // The server is now blocked on a full socket, far from the end of the file.
            let truncated = truncate(path, off_t((megabytes / 2) << 20)) == 0
            received += try c.readToEOF()
            return (head, received, truncated, try server.get(videoPath(id), headers: [("Range", "bytes=0-9")]))
        }
        #expect(head.status == 200)
        let announced = Int(head.header("Content-Length") ?? "") ?? -1
        #expect(announced == megabytes << 20)
        #expect(truncated)
        #expect(received.count < announced, "the client must see a short body")
        #expect(received.count <= (megabytes / 2) << 20, "more bytes than the truncated file holds")
        expectSameBytes(received, Array(original[0..<min(received.count, original.count)]), "received prefix")
        #expect(server.log.all.contains { $0.contains("shrank") }, "log: \(server.log.all)")
        // The server keeps serving, and now describes the shorter file.
        #expect(after.status == 206)
        #expect(after.header("Content-Range") == "bytes 0-9/\((megabytes / 2) << 20)")
        expectSameBytes(after.body, Array(original[0...9]), "after")
    }

    @Test("a file rewritten in place while it is sent (same size): the body ends short, never complete with two versions")
    func fileRewrittenInPlaceDuringTransfer() async throws {
        let (lib, server) = try await startServer(empty: true)
        defer { server.stop() }
        let megabytes = 16
        let original = try await io {
            try lib.writeLarge(megabytes: megabytes, to: "rewritten.mp4")
            return try lib.contents("rewritten.mp4")
        }
        let id = try lib.add("rewritten", raw: "rewritten.mp4").id
        let path = lib.path("rewritten.mp4")

        let (head, received, rewritten) = try await io {
            let c = try server.connect(timeout: 10, receiveBuffer: 64 * 1024)
            defer { c.close() }
            try c.sendRequest("GET", videoPath(id))
            let head = try c.readResponseHead()
            var received = try c.readBody(count: 1 << 20)
            // The server is blocked on a full socket; the file's second half changes under it,
            // its size unchanged: sendfile alone would send the new bytes as if they were old.
            let fd = open(path, O_WRONLY)
            let fresh = [UInt8](repeating: 0xA5, count: (megabytes / 2) << 20)
            let rewritten = fd >= 0 && pwrite(fd, fresh, fresh.count, off_t((megabytes / 2) << 20)) == fresh.count
            if fd >= 0 { close(fd) }
            received += try c.readBody(upTo: (megabytes << 20) - received.count)
            return (head, received, rewritten)
        }
        #expect(head.status == 200)
        #expect(rewritten)
        #expect(received.count < megabytes << 20, "the client must see a short body, not a complete mixed one")
        expectSameBytes(Array(received.prefix(1 << 20)), Array(original[0..<(1 << 20)]), "the bytes sent before the change")
        #expect(server.log.all.contains { $0.contains("changed while being sent") }, "log: \(server.log.all)")
    }

    @Test("graceful shutdown: the in-flight response completes, idle connections close, the port refuses")
    func gracefulShutdown() async throws {
        // A port below the ephemeral range: no other test's server (port 0) nor client socket
        // can take it once it is free, so "the port refuses" means this server stopped.
        var started: (TestLibrary, TestServer)?
        for _ in 0..<30 where started == nil {
            let port = Int.random(in: 20_000..<32_000)
            started = try? await startServer(empty: true) {
                $0.shutdownGrace = .seconds(30)
                $0.port = port
            }
        }
        let (lib, server) = try #require(started, "no free port below the ephemeral range")
        defer { server.stop() }
        try lib.writeLarge(megabytes: 8, to: "large.mp4")
        let id = try lib.add("large", raw: "large.mp4").id
        struct Seen: Sendable {
            var idleAnswered = false
            var head: HTTPResponse?
            var refusedDuringShutdown = false
            var idleClosed = false
            var finishedEarly = false
            var bodyMatches = false
            var closedAfterResponse = false
            var shutdownReturned = false
            var shutdownSeconds = 0.0
            var refusedAfter = false
        }
        let expected = try lib.contents("large.mp4")
        let port = server.port
        let mediaServer = server.server
        let seen = try await io {
            var seen = Seen()
            let idle = try server.connect()
            defer { idle.close() }
            seen.idleAnswered = try idle.exchange("GET", "/healthz").status == 200
            let busy = try server.connect(timeout: 10, receiveBuffer: 64 * 1024)
            defer { busy.close() }
            try busy.sendRequest("GET", videoPath(id))
            seen.head = try busy.readResponseHead()
            var body = try busy.readBody(count: 256 * 1024)

            let done = LogLines()
            let started = Date()
            Thread.detachNewThread {
                mediaServer.shutdown()
                done.append("done")
            }
            seen.refusedDuringShutdown = waitUntil(seconds: 15) { !portAcceptsConnections(port) } != nil
            seen.idleClosed = waitUntil(seconds: 15) { idle.peerHasClosed() } != nil
            Thread.sleep(forTimeInterval: 0.3)
            seen.finishedEarly = !done.all.isEmpty
            body += try busy.readBody(count: (8 << 20) - body.count)
            seen.bodyMatches = body == expected
            seen.closedAfterResponse = try busy.waitForClose(within: 15)
            seen.shutdownReturned = waitUntil(seconds: 10) { !done.all.isEmpty } != nil
            seen.shutdownSeconds = Date().timeIntervalSince(started)
            seen.refusedAfter = !portAcceptsConnections(port)
            return seen
        }
        #expect(seen.idleAnswered)
        #expect(seen.head?.status == 200)
        #expect(seen.refusedDuringShutdown, "the port still accepts connections during shutdown")
        #expect(seen.idleClosed, "an idle keep-alive connection was not closed at shutdown")
        #expect(!seen.finishedEarly, "shutdown finished while a response was in flight")
        #expect(seen.bodyMatches, "the in-flight body differs from the file")
        #expect(seen.closedAfterResponse, "the connection should close after its last response")
        #expect(seen.shutdownReturned, "shutdown did not return")
        // Well inside the grace period: shutdown waited for the response, not for the timer.
        #expect(seen.shutdownSeconds < 25)
        #expect(seen.refusedAfter)
    }
}
