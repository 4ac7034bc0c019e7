import Foundation
import Testing
import TestSupport

/// `medialib serve` as an operator runs it: the URL on stdout, CORS from the environment,
/// the access log, SIGTERM, and answering while `cleanup --apply` writes the same catalog.
@Suite("serve, end to end")
struct ServeEndToEndTests {
    /// A running `medialib serve --port 0`; its first stdout line is the URL.
    final class Server {
        let process = Process()
        let url: String
        let port: UInt16
        let errPath: String

        /// `globals` replaces the sandbox's --db and --media-root (a PostgreSQL catalog, say).
        init(_ box: Sandbox, environment: [String: String] = [:], extra: [String] = [], globals: [String]? = nil) throws {
            guard let binary = Paths.binary else { throw HarnessError("no medialib binary") }
            var env = ProcessInfo.processInfo.environment
            for key in env.keys where key.hasPrefix("MEDIALIB_") || key == "FRONTEND_ORIGIN" { env[key] = nil }
            env.merge(environment) { _, new in new }
            try FileManager.default.createDirectory(atPath: box.path(".io"), withIntermediateDirectories: true)
            errPath = box.path(".io/serve-\(UUID().uuidString).err")
            _ = FileManager.default.createFile(atPath: errPath, contents: nil)
            let out = Pipe()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["serve", "--port", "0"] + (globals ?? box.globals) + extra
            process.environment = env
            process.standardOutput = out
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
            try process.run()
            // The first line, read with a deadline so a server that never starts fails the test.
            let reader = out.fileHandleForReading
            var line = Data()
            let deadline = Date().addingTimeInterval(20)
            while !line.contains(0x0A), Date() < deadline {
                var poller = pollfd(fd: reader.fileDescriptor, events: Int16(POLLIN), revents: 0)
                if poll(&poller, 1, 200) > 0 {
                    let chunk = reader.availableData
                    if chunk.isEmpty { break }
                    line.append(chunk)
                }
            }
            url = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            port = url.split(separator: ":").last.flatMap { UInt16($0.trimmingCharacters(in: CharacterSet(charactersIn: "/"))) } ?? 0
        }

        var log: String { String(decoding: FileManager.default.contents(atPath: errPath) ?? Data(), as: UTF8.self) }

        /// SIGTERM, then the exit status (nil if it did not exit within `seconds`).
        func terminate(within seconds: Double = 15) -> Int32? {
            kill(process.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(seconds)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                return nil
            }
            return process.terminationStatus
        }
    }

    struct Reply {
        var status: Int
        var head: String
        var body: [UInt8]
    }

    /// One request on its own connection (Connection: close), with timeouts on every step.
    static func get(_ port: UInt16, _ target: String, headers: [String] = []) throws -> Reply {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket failed") }
        defer { close(fd) }
        var tv = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw HarnessError("connect failed: \(String(cString: strerror(errno)))") }
        let request = (["GET \(target) HTTP/1.1", "Host: 127.0.0.1", "Connection: close"] + headers).joined(separator: "\r\n") + "\r\n\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { break }
            data.append(contentsOf: buf[0..<n])
        }
        guard let end = data.indices.first(where: { i in i + 3 < data.count && data[i..<(i + 4)].elementsEqual([13, 10, 13, 10]) }) else {
            throw HarnessError("no complete response")
        }
        let head = String(decoding: data[0..<end], as: UTF8.self)
        let status = Int(head.split(separator: " ")[1]) ?? 0
        return Reply(status: status, head: head, body: Array(data[(end + 4)...]))
    }

    @Test("the URL comes first on stdout; FRONTEND_ORIGIN drives CORS; one log line per request; SIGTERM exits 0")
    func operatorView() async throws {
        let box = try Sandbox(name: "serve")
        defer { box.remove() }
        let records = try await box.library(["ok-faststart.mp4"])
        let id = try #require(records["ok-faststart.mp4"]?.id)
        let server = try Server(box, environment: ["FRONTEND_ORIGIN": "http://app.example"])
        #expect(server.url.hasPrefix("http://127.0.0.1:") && server.url.hasSuffix("/"), "first stdout line: \(server.url)")
        #expect(server.port > 0)

        let health = try Self.get(server.port, "/healthz")
        #expect(health.status == 200)
        #expect(String(decoding: health.body, as: UTF8.self).contains("\"status\":\"ok\""))

        let ranged = try Self.get(server.port, "/api/media/videos/\(id)/", headers: ["Range: bytes=-100", "Origin: http://app.example"])
        #expect(ranged.status == 206)
        let file = [UInt8](box.contents("media/ok-faststart.mp4") ?? Data())
        #expect(ranged.body == Array(file.suffix(100)))
        #expect(ranged.head.contains("Access-Control-Allow-Origin: http://app.example"))
        #expect(ranged.head.contains("Access-Control-Allow-Credentials: true"))

        let other = try Self.get(server.port, "/api/media/videos/\(id)/", headers: ["Origin: http://evil.example"])
        #expect(other.status == 200)
        #expect(!other.head.contains("Access-Control-Allow-Origin"))

        #expect(server.terminate() == 0)
        #expect(server.log.contains("\"GET /healthz HTTP/1.1\" 200"), "access log: \(server.log)")
        #expect(server.log.contains("\"GET /api/media/videos/\(id)/ HTTP/1.1\" 206 100"), "access log: \(server.log)")
    }

    @Test("serve keeps answering while cleanup --apply deletes from the same catalog")
    func servesDuringCleanup() async throws {
        let box = try Sandbox(name: "serve-cleanup")
        defer { box.remove() }
        try box.place(["ok-faststart.mp4"])
        for i in 0..<150 {
            try FileManager.default.copyItem(atPath: Paths.fixture("three-frames.mp4"), toPath: box.path("media/short-\(i).mp4"))
            backdate(box.path("media/short-\(i).mp4"))
        }
        let imported = try await box.run(["import", box.media] + box.globals)
        #expect(imported.status == 0)
        let records = try await box.listed()
        let valid = try #require(records["ok-faststart.mp4"]?.id)
        let doomed = try #require(records["short-7.mp4"]?.id)
        let server = try Server(box, extra: ["--no-access-log"])
        defer { _ = server.terminate() }
        #expect(try Self.get(server.port, "/api/media/videos/\(doomed)/").status == 200)

        // Hammer the server from another thread while the apply runs.
        let hammer = Hammer(port: server.port, target: "/api/media/videos/\(valid)/")
        hammer.start()
        let apply = try await box.run(["cleanup", "--apply", "--max-delete", "100%", "--journal", box.path("j.jsonl")] + box.globals)
        let seen = hammer.stop()

        #expect(apply.status == 0, "\(apply)")
        #expect(!seen.isEmpty)
        #expect(seen.allSatisfy { $0 == 206 }, "statuses during the apply: \(Set(seen))")
        // The deletion is seen at once: the catalog is read per request.
        #expect(try Self.get(server.port, "/api/media/videos/\(doomed)/").status == 404)
        #expect(try Self.get(server.port, "/api/media/videos/\(valid)/").status == 200)
    }
}

/// Requests one URL in a loop on its own thread until stopped; collects the statuses.
final class Hammer: @unchecked Sendable {
    private let lock = NSLock()
    private var statuses: [Int] = []
    private var done = false
    private let finished = DispatchSemaphore(value: 0)
    let port: UInt16
    let target: String

    init(port: UInt16, target: String) {
        self.port = port
        self.target = target
    }

    func start() {
        Thread.detachNewThread {
            while !self.locked({ self.done }) {
                let status = (try? ServeEndToEndTests.get(self.port, self.target, headers: ["Range: bytes=0-1"]).status) ?? -1
                self.locked { self.statuses.append(status) }
            }
            self.finished.signal()
        }
    }

    func stop() -> [Int] {
        locked { done = true }
        finished.wait()
        return locked { statuses }
    }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }
}
