import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// How many bytes a client on this very host has received and not yet read, asked of the
/// kernel through sock_diag (the data `ss` shows as Recv-Q), by the connection's exact
/// addresses and ports. nil when the client's socket is not in this host's network namespace
/// (a remote client) or the kernel will not say. See `state`.
///
/// Why it matters: over loopback the kernel passes sendfile's page-cache pages to the
/// client's receive queue without copying them, so until the client reads them, a truncation
/// of the file can still zero them. An acknowledgement proves nothing there; an empty
/// receive queue does.
enum PeerReceiveQueue {
    /// What the client's socket holds: bytes received and not yet read, and bytes received
    /// in all (in order, as its tcpi_bytes_received counts them; nil from a kernel that
    /// does not say).
    struct State: Equatable {
        var unread: Int
        var received: UInt64?
    }

    static func state(client: SocketAddress, server: SocketAddress) -> State? {
        guard let query = request(client: client, server: server) else { return nil }
        let fd = socket(AF_NETLINK, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 4 /* NETLINK_SOCK_DIAG */)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let sent = query.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        guard sent == query.count else { return nil }
        var reply = [UInt8](repeating: 0, count: 4096)
        // The kernel answers while handling the send: the reply is already queued.
        let got = reply.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        return parse(reply.prefix(max(0, got)))
    }

    /// nlmsghdr + inet_diag_req_v2 for SOCK_DIAG_BY_FAMILY, looking up one TCP socket: the
    /// client's, so its "source" is the client's address and port, its "destination" ours.
    static func request(client: SocketAddress, server: SocketAddress) -> [UInt8]? {
        guard let c = endpoint(client), let s = endpoint(server), c.family == s.family else { return nil }
        var m: [UInt8] = []
        func u16(_ v: UInt16) { withUnsafeBytes(of: v) { m += $0 } }
        func u32(_ v: UInt32) { withUnsafeBytes(of: v) { m += $0 } }
        u32(72)                      // nlmsg_len: 16 + 56
        u16(20)                      // nlmsg_type: SOCK_DIAG_BY_FAMILY
        u16(1)                       // nlmsg_flags: NLM_F_REQUEST (one socket, no dump)
        u32(1)                       // nlmsg_seq
        u32(0)                       // nlmsg_pid
        m += [c.family, UInt8(IPPROTO_TCP), 1 << (2 - 1) /* idiag_ext: INET_DIAG_INFO */, 0]
        u32(0xFFFF_FFFF)             // idiag_states: any
        m += c.portBytes + s.portBytes // network order, as on the wire
        m += c.address + s.address
        u32(0)                       // idiag_if
        u32(0xFFFF_FFFF)             // idiag_cookie: INET_DIAG_NOCOOKIE
        u32(0xFFFF_FFFF)
        return m
    }

    /// idiag_rqueue from an inet_diag_msg reply, and tcpi_bytes_received from its
    /// INET_DIAG_INFO attribute; nil for an error reply (ENOENT: not here).
    static func parse(_ reply: ArraySlice<UInt8>) -> State? {
        let bytes = Array(reply)
        guard bytes.count >= 16 else { return nil }
        func u64(_ at: Int) -> UInt64 { bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt64.self) } }
        func u32(_ at: Int) -> UInt32 { bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt32.self) } }
        func u16(_ at: Int) -> UInt16 { bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt16.self) } }
        let length = min(Int(u32(0)), bytes.count)
        guard u16(4) == 20, length >= 16 + 72 else { return nil }
        // inet_diag_msg: family, state, timer, retrans (4), sockid (48), expires (4), rqueue.
        var state = State(unread: Int(u32(16 + 56)), received: nil)
        // Then attributes (rtattr: length, type, payload, padded to 4 bytes).
        var at = 16 + 72
        while at + 4 <= length {
            let size = Int(u16(at))
            guard size >= 4, at + size <= length else { break }
            if u16(at + 2) == 2 /* INET_DIAG_INFO */, size >= 4 + 136 {
                state.received = u64(at + 4 + 128) // struct tcp_info's tcpi_bytes_received
            }
            at += (size + 3) & ~3
        }
        return state
    }

    private struct Endpoint {
        var family: UInt8
        var portBytes: [UInt8]
        var address: [UInt8] // always 16 bytes: an IPv4 address takes the first 4
    }

    private static func endpoint(_ address: SocketAddress) -> Endpoint? {
        switch address {
        case .v4(let a):
            var sin = a.address
            let port = withUnsafeBytes(of: &sin.sin_port) { Array($0) }
            let ip = withUnsafeBytes(of: &sin.sin_addr) { Array($0) }
            return Endpoint(family: UInt8(AF_INET), portBytes: port, address: ip + [UInt8](repeating: 0, count: 12))
        case .v6(let a):
            var sin6 = a.address
            let port = withUnsafeBytes(of: &sin6.sin6_port) { Array($0) }
            let ip = withUnsafeBytes(of: &sin6.sin6_addr) { Array($0) }
            // A v4 client of a dual-stack listener is an AF_INET socket on its side.
            if ip[0..<10].allSatisfy({ $0 == 0 }) && ip[10] == 0xFF && ip[11] == 0xFF {
                return Endpoint(family: UInt8(AF_INET), portBytes: port, address: Array(ip[12..<16]) + [UInt8](repeating: 0, count: 12))
            }
            return Endpoint(family: UInt8(AF_INET6), portBytes: port, address: ip)
        case .unixDomainSocket:
            return nil
        }
    }
}
