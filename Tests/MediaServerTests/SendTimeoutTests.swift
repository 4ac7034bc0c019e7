// A client that asks for a large file and stops reading must not hold its connection,
// descriptor and slot forever (slow loris on the sending side).

import Foundation
import MediaCatalog
import MediaFiles
import Testing
import TestSupport

@Suite("send timeout")
struct SendTimeoutTests {
    @Test("a client that stops reading a large body is cut after the send timeout; a reading one is not")
    func stalledReader() async throws { try await heavy { try await self.stalledReaderAlone() } }

    func stalledReaderAlone() async throws {
        let (lib, server) = try await startServer { $0.sendTimeout = .seconds(1) }
        defer { server.stop() }
        try lib.writeLarge(megabytes: 16, to: "huge.mp4")
        let id = try lib.add("huge", raw: "huge.mp4").id
        let expected = try lib.contents("huge.mp4")
        let (stalledClosed, steady) = try await io { () -> (Bool, [UInt8]) in
            let stalled = try server.connect(timeout: 10, receiveBuffer: 16 * 1024)
            defer { stalled.close() }
            try stalled.sendRequest("GET", videoPath(id))
            // Read nothing for a while: the server's socket buffer fills and progress stops.
            let closed = stalled.closesWhileStalled()
            // A client reading steadily gets the whole file, though it takes longer than the timeout.
            let reader = try server.connect(timeout: 10, receiveBuffer: 64 * 1024)
            defer { reader.close() }
            try reader.sendRequest("GET", videoPath(id))
            let head = try reader.readResponseHead()
            #expect(head.status == 200)
            return (closed, try reader.readBody(count: expected.count))
        }
        #expect(stalledClosed, "a connection that stopped reading is still open")
        expectSameBytes(steady, expected, "steady reader")
    }
}

@Suite("send timeout for generated bodies")
struct ListSendTimeoutTests {
    @Test("a client that stops reading a large JSON list is cut too, and its unsent bytes freed")
    func stalledListReader() async throws { try await heavy { try await self.stalledListReaderAlone() } }

    func stalledListReaderAlone() async throws {
        let (lib, server) = try await startServer(empty: true) { $0.sendTimeout = .seconds(1) }
        defer { server.stop() }
        // 1,000 records (the largest page), each naming two files with 4 KiB names: about 9 MB,
        // more than socket buffers hold (up to 4 MB each way on Linux).
        let long = String(repeating: "n", count: 4000)
        _ = try lib.catalog.records.insert((0..<1000).map {
            NewRecord(rawFile: RawPath("missing/\(long)-\($0).mp4"), processedFile: RawPath("missing/\(long)-\($0)-p.mp4"))
        })
        let closed = try await io { () -> Bool in
            let c = try server.connect(timeout: 90, receiveBuffer: 4096)
            defer { c.close() }
            try c.sendRequest("GET", "/api/media/videos/?limit=1000")
            // Building the list takes a while on a loaded machine: stall only once it is on its way.
            let head = try c.readResponseHead()
            #expect(head.status == 200)
            return c.closesWhileStalled()
        }
        #expect(closed, "a connection that stopped reading the list is still open")
        // A reading client still gets the whole list, and it parses.
        let items = try records(in: try await io {
            let c = try server.connect(timeout: 60)
            defer { c.close() }
            return try c.exchange("GET", "/api/media/videos/?limit=1000")
        })
        #expect(items.count == 1000)
    }
}

extension RawConnection {
    /// Drains the connection until the peer's close (true) or until nothing arrives for half a
    /// second (false). The FIN of a server that gave up sits behind the data it had already
    /// queued, where MSG_PEEK cannot see it; a server that did not give up resumes sending as
    /// we read, finishes, and then goes quiet without closing.
    /// Stops reading for `stall` seconds, then drains. On a loaded machine the body may still be
    /// on its way when the stall starts, and draining reads what was queued, which the server
    /// rightly counts as progress: so stall again until it cuts the connection or `deadline`
    /// passes. A server that never cuts hands over the whole body and then sits in keep-alive,
    /// so every drain ends in silence and this returns false.
    func closesWhileStalled(stall: Double = 3, deadline: Double = 40) -> Bool {
        let end = Date().addingTimeInterval(deadline)
        while Date() < end {
            Thread.sleep(forTimeInterval: stall)
            if peerHasClosedAfterDraining() { return true }
        }
        return false
    }

    func peerHasClosedAfterDraining() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var total = 0
        while total < 256 << 20 {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, 500)
            if ready < 0 { if errno == EINTR { continue }; return false }
            if ready == 0 { return false }
            let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if n == 0 { return true }
            if n < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { continue }
                return true // reset: closed as well
            }
            total += n
        }
        return false
    }
}
