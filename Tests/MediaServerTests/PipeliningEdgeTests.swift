// Pipelined requests behind a response too large for one flush, request timeouts that
// cover the body too, and HTTP/1.x connection details. These began as bug reports against
// an earlier HTTPHandler, which reset its per-connection state when the *first* of several
// pipelined responses finished; they now guard the fix.

import Foundation
import MediaServer
import Testing
import TestSupport

@Suite("Pipelining behind a large response")
struct PipelineBehindLargeResponseTests {
    /// A server over one 8 MiB file: its response cannot leave in one flush to a client with a
    /// small receive buffer, so the next pipelined request is answered while it is still on the wire.
    static func start(_ configure: @escaping @Sendable (inout ServerConfiguration) -> Void = { _ in })
        async throws -> (TestLibrary, TestServer, Int64) {
        let (lib, server) = try await startServer(empty: true, configure)
        try lib.writeLarge(megabytes: 8, to: "large.mp4")
        return (lib, server, try lib.add("large", raw: "large.mp4").id)
    }

    /// Earlier: the first response's completion saw the second request's `Connection: close`
    /// and closed the channel; the second response never arrived.
    @Test("a pipelined request with Connection: close behind a large response gets all its bytes")
    func closeRequestBehindLargeResponse() async throws {
        let (lib, server, id) = try await Self.start()
        defer { server.stop() }
        let (first, second, closed) = try await io {
            let c = try server.connect(timeout: 5, receiveBuffer: 64 * 1024)
            defer { c.close() }
            try c.send(RawConnection.request("GET", videoPath(id))
                + RawConnection.request("GET", videoPath(id), headers: [("Connection", "close")]))
            return (try c.readResponse(), try c.readResponse(), try c.waitForClose(within: 15))
        }
        let expected = try lib.contents("large.mp4")
        #expect(first.status == 200)
        #expect(first.header("Connection")?.lowercased() != "close")
        expectSameBytes(first.body, expected, "first response")
        #expect(second.status == 200)
        #expect(second.header("Connection")?.lowercased() == "close")
        expectSameBytes(second.body, expected, "second response")
        #expect(closed)
    }

    /// Earlier: the first response's completion armed the head timer while the second
    /// response was being sent, and the timer cut it.
    @Test("a pipelined response slower than the request timeout is not cut by it")
    func secondResponseOutlivesRequestTimeout() async throws {
        let (lib, server, id) = try await Self.start { $0.requestHeadTimeout = .milliseconds(300) }
        defer { server.stop() }
        let (first, second, body) = try await io {
            let c = try server.connect(timeout: 5, receiveBuffer: 64 * 1024)
            defer { c.close() }
            try c.send(RawConnection.request("GET", videoPath(id)) + RawConnection.request("GET", videoPath(id)))
            let first = try c.readResponse()
            let second = try c.readResponseHead()
            // A reader pausing mid-response for longer than the request timeout.
            Thread.sleep(forTimeInterval: 0.8)
            return (first, second, try c.readBody(count: 8 << 20))
        }
        let expected = try lib.contents("large.mp4")
        #expect(first.status == 200)
        expectSameBytes(first.body, expected, "first response")
        #expect(second.status == 200)
        expectSameBytes(body, expected, "second response")
    }

    /// Earlier: the parse error closed the channel at once, cutting the 8 MiB response.
    @Test("a malformed request pipelined behind a large response: that response completes, then the connection closes")
    func malformedBehindLargeResponse() async throws {
        let (lib, server, id) = try await Self.start()
        defer { server.stop() }
        let (first, closed, after) = try await io {
            let c = try server.connect(timeout: 5, receiveBuffer: 64 * 1024)
            defer { c.close() }
            try c.send(RawConnection.request("GET", videoPath(id)) + "THIS IS NOT HTTP\r\n\r\n")
            return (try c.readResponse(), try c.waitForClose(within: 15), try server.get("/healthz"))
        }
        #expect(first.status == 200)
        expectSameBytes(first.body, try lib.contents("large.mp4"), "first response")
        #expect(closed)
        #expect(after.status == 200)
    }

    @Test("requests pipelined after Connection: close are not answered")
    func nothingAfterClose() async throws {
        let (_, server, id) = try await Self.start()
        defer { server.stop() }
        let (first, rest) = try await io {
            let c = try server.connect()
            defer { c.close() }
            try c.send(RawConnection.request("GET", videoPath(id), headers: [("Range", "bytes=0-9"), ("Connection", "close")])
                + RawConnection.request("GET", "/healthz"))
            return (try c.readResponse(), try c.readToEOF())
        }
        #expect(first.status == 206)
        #expect(first.header("Connection")?.lowercased() == "close")
        #expect(rest.isEmpty, "\(rest.count) bytes after the closing response")
    }
}

@Suite("Request timeout and HTTP/1.x details")
struct ProtocolDetailTests {
    /// Earlier: the timer stopped at the request head, so a stalled body held the connection
    /// (and a `maxConnections` slot) forever: the slow-POST form of slow loris.
    @Test("a request whose body never arrives is cut like a slow head")
    func stalledBody() async throws {
        let (_, server) = try await startServer { $0.requestHeadTimeout = .milliseconds(300) }
        defer { server.stop() }
        let (closed, after) = try await io {
            let c = try server.connect()
            defer { c.close() }
            try c.send("POST /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nhalf")
            return (waitUntil(seconds: 15) { c.peerHasClosed() }, try server.get("/healthz"))
        }
        #expect(closed != nil, "a connection stuck in a request body is held open")
        #expect(after.status == 200)
    }

    @Test("HTTP/1.0 with Connection: keep-alive is told the connection persists, and it does")
    func http10KeepAlive() async throws {
        let (lib, server) = try await startServer()
        defer { server.stop() }
        let (first, again, open) = try await io {
            let c = try server.connect()
            defer { c.close() }
            let keepAlive = [("Connection", "keep-alive")]
            return (try c.exchange("GET", videoPath(lib.id("both")), headers: keepAlive, version: "HTTP/1.0"),
                    try c.exchange("GET", "/healthz", headers: keepAlive, version: "HTTP/1.0"),
                    !c.peerHasClosed())
        }
        #expect(first.status == 200)
        #expect(first.version == "HTTP/1.0")
        #expect(first.header("Connection")?.lowercased() == "keep-alive")
        expectSameBytes(first.body, try lib.contents("processed/ok.mp4"), "first")
        #expect(again.status == 200)
        #expect(open)
    }

    /// RFC 9112 §3.2: an HTTP/1.1 request without Host, or with several Host lines, is a 400.
    @Test("HTTP/1.1 without Host, or with two Host lines, is a 400", arguments: [
        "GET /healthz HTTP/1.1\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    ])
    func hostRequired(_ request: String) async throws {
        let (_, server) = try await startServer()
        defer { server.stop() }
        let r = try await io {
            let c = try server.connect()
            defer { c.close() }
            try c.send(request)
            return try c.readResponse()
        }
        #expect(r.status == 400)
        expectJSONError(r)
        expectLengthMatchesBody(r)
    }
}
