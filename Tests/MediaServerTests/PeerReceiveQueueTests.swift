import Foundation
import NIOCore
import Testing
@testable import MediaServer

/// sock_diag answers for a real loopback connection: the client's unread bytes, then none
/// once it has read them, and nothing at all for a connection that does not exist here.
@Suite("a local client's receive queue, from the kernel")
struct PeerReceiveQueueTests {
    private static func port(of fd: Int32) -> Int {
        var sin = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: sin.sin_port))
    }

    @Test("unread and received bytes of a client on this host, zero unread once read, nil for a connection that is not here")
    func loopback() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener); close(client) }
        var any = sockaddr_in()
        any.sin_family = sa_family_t(AF_INET)
        any.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &any) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        try #require(bound == 0 && listen(listener, 1) == 0)
        any.sin_port = UInt16(Self.port(of: listener)).bigEndian
        let connected = withUnsafePointer(to: &any) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        try #require(connected == 0)
        let server = accept(listener, nil, nil)
        try #require(server >= 0)
        defer { close(server) }

        let clientAddress = try SocketAddress(ipAddress: "127.0.0.1", port: Self.port(of: client))
        let serverAddress = try SocketAddress(ipAddress: "127.0.0.1", port: Self.port(of: listener))
        #expect(PeerReceiveQueue.state(client: clientAddress, server: serverAddress)?.unread == 0)

        let payload = [UInt8](repeating: 7, count: 5000)
        #expect(send(server, payload, payload.count, 0) == payload.count)
        var unread: Int?
        for _ in 0..<200 {
            unread = PeerReceiveQueue.state(client: clientAddress, server: serverAddress)?.unread
            if unread == payload.count { break }
            usleep(5000)
        }
        #expect(unread == payload.count)
        #expect(PeerReceiveQueue.state(client: clientAddress, server: serverAddress)?.received == UInt64(payload.count))

        var sink = [UInt8](repeating: 0, count: 8192)
        var read = 0
        while read < payload.count {
            let n = recv(client, &sink, sink.count, 0)
            if n <= 0 { break }
            read += n
        }
        #expect(PeerReceiveQueue.state(client: clientAddress, server: serverAddress)?.unread == 0)

        // A client port nothing here uses: no such socket on this host.
        let nobody = try SocketAddress(ipAddress: "127.0.0.1", port: 1)
        #expect(PeerReceiveQueue.state(client: nobody, server: serverAddress) == nil)
    }

    @Test("a v4 client of a dual-stack listener is looked up as IPv4; a Unix socket is not looked up")
    func addressForms() throws {
        let mapped = try SocketAddress(ipAddress: "::ffff:127.0.0.1", port: 4000)
        let plain = try SocketAddress(ipAddress: "127.0.0.1", port: 80)
        let request = try #require(PeerReceiveQueue.request(client: mapped, server: plain))
        #expect(request.count == 72)
        #expect(request[16] == UInt8(AF_INET))
        #expect(Array(request[28..<32]) == [127, 0, 0, 1])
        #expect(PeerReceiveQueue.request(client: try SocketAddress(unixDomainSocketPath: "/tmp/x"), server: plain) == nil)
    }
}
