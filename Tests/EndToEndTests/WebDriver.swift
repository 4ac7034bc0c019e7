// A small client of chromedriver's W3C WebDriver HTTP API: enough to load a page, run
// scripts in it, click, type, read the browser's console and take a screenshot.

import Foundation
import TestSupport

/// chromedriver on a free port, stopped by pid when done.
final class ChromeDriver: @unchecked Sendable {
    let process = Process()
    let port: Int
    let logPath: String

    init(logTo logPath: String) throws {
        guard let driver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw HarnessError("chromedriver is not installed: run `make deps` (Debian packages chromium and chromium-driver)")
        }
        port = try freePort()
        self.logPath = logPath
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: driver)
        process.arguments = ["--port=\(port)", "--log-path=\(logPath)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let last = Box<String>("")
        let ready = waitUntil(seconds: 20) { [port] in
            do {
                try WebDriver.call("GET", "http://127.0.0.1:\(port)/status", nil, timeout: 2)
                return true
            } catch {
                last.withLock { $0 = "\(error)" }
                return false
            }
        }
        guard ready != nil else {
            stop()
            throw HarnessError("chromedriver did not answer on port \(port): \(last.withLock { $0 })")
        }
    }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        if waitUntil(seconds: 5, { !process.isRunning }) == nil {
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
    }

    deinit { stop() }
}

/// A port nothing listens on right now (bind to 0, read it, close).
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket failed") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
    }
    guard bound else { throw HarnessError("bind failed") }
    return Int(UInt16(bigEndian: addr.sin_port))
}

struct WebDriverError: Error, CustomStringConvertible {
    var description: String
}

/// One browser session.
final class WebDriver {
    static let elementKey = "element-6066-11e4-a52e-4f735466cecf"
    let base: String
    let session: String

    /// Headless Chromium as root: no sandbox (it refuses root otherwise), no GPU, /tmp instead
    /// of a small /dev/shm, autoplay allowed so a test can play without a user gesture.
    init(driver: ChromeDriver, width: Int = 1400, height: Int = 1000) throws {
        base = "http://127.0.0.1:\(driver.port)"
        let caps: [String: Any] = ["capabilities": ["alwaysMatch": [
            "browserName": "chrome",
            "goog:loggingPrefs": ["browser": "ALL"],
            "goog:chromeOptions": ["args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                            "--window-size=\(width),\(height)", "--autoplay-policy=no-user-gesture-required",
                                            "--mute-audio", "--no-first-run"]],
        ] as [String: Any]]]
        let value = try Self.call("POST", base + "/session", caps, timeout: 60)
        guard let id = (value as? [String: Any])?["sessionId"] as? String else { throw WebDriverError(description: "no session: \(String(describing: value))") }
        session = base + "/session/" + id
    }

    func quit() { _ = try? Self.call("DELETE", session, nil, timeout: 20) }

    @discardableResult
    static func call(_ method: String, _ url: String, _ body: Any?, timeout: Double = 30) throws -> Any? {
        let payload = try body.map { try JSONSerialization.data(withJSONObject: $0) }
        let (status, data) = try LocalHTTP.request(method, url, body: payload, timeout: timeout)
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        guard status == 200 else {
            throw WebDriverError(description: "\(method) \(url): HTTP \(status) \(String(decoding: data.prefix(600), as: UTF8.self))")
        }
        return object?["value"] ?? NSNull()
    }

    @discardableResult
    func command(_ method: String, _ path: String, _ body: Any? = nil, timeout: Double = 30) throws -> Any? {
        try Self.call(method, session + path, body, timeout: timeout)
    }

    func open(_ url: String) throws { try command("POST", "/url", ["url": url], timeout: 60) }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its value.
    @discardableResult
    func run(_ script: String, _ args: [Any] = []) throws -> Any? {
        try command("POST", "/execute/sync", ["script": script, "args": args])
    }

    /// Polls `script` until it returns something truthy; nil after `seconds`.
    func wait(_ script: String, seconds: Double = 15) throws -> Any? {
        let deadline = Date().addingTimeInterval(seconds)
        repeat {
            let v = try run(script)
            if let b = v as? Bool { if b { return b } } else if let v, !(v is NSNull) { return v }
            Thread.sleep(forTimeInterval: 0.05)
        } while Date() < deadline
        return nil
    }

    func element(_ css: String) throws -> String {
        let v = try command("POST", "/element", ["using": "css selector", "value": css])
        guard let id = (v as? [String: Any])?[Self.elementKey] as? String else { throw WebDriverError(description: "no element \(css): \(String(describing: v))") }
        return id
    }

    func click(_ css: String) throws { try command("POST", "/element/\(try element(css))/click", [String: Any]()) }

    func type(_ text: String, into css: String) throws {
        try command("POST", "/element/\(try element(css))/value", ["text": text])
    }

    /// The browser console since the last call (level, message).
    func consoleLog() throws -> [(level: String, message: String)] {
        let entries = try command("POST", "/se/log", ["type": "browser"]) as? [[String: Any]] ?? []
        return entries.map { ($0["level"] as? String ?? "", $0["message"] as? String ?? "") }
    }

    /// The text of an open alert, or nil when none is open.
    func alertText() -> String? { (try? command("GET", "/alert/text")) as? String }

    func screenshot() throws -> Data {
        guard let text = try command("GET", "/screenshot", nil, timeout: 60) as? String, let png = Data(base64Encoded: text) else {
            throw WebDriverError(description: "no screenshot")
        }
        return png
    }
}

/// HTTP/1.1 to 127.0.0.1 over a plain socket, one request per connection. (FoundationNetworking's
/// URLSession fails on chromedriver's answers with "Failed writing header".)
enum LocalHTTP {
    static func request(_ method: String, _ url: String, body: Data?, timeout: Double) throws -> (Int, Data) {
        guard let u = URL(string: url), u.host == "127.0.0.1", let port = u.port else { throw WebDriverError(description: "not a local URL: \(url)") }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw WebDriverError(description: "socket failed") }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { throw WebDriverError(description: "connect to \(port): \(String(cString: strerror(errno)))") }
        let target = u.path.isEmpty ? "/" : u.path
        var request = Array("\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: \(body?.count ?? 0)\r\n\r\n".utf8)
        request += body ?? Data()
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw WebDriverError(description: "send failed: \(String(cString: strerror(errno)))") }
            sent += n
        }
        // Read until the body is complete: by Content-Length, else to the end of the stream
        // (chromedriver keeps the connection open after a Content-Length answer).
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        func complete() -> Bool {
            guard let end = data.firstRange(of: [13, 10, 13, 10]) else { return false }
            let head = String(decoding: data[..<end.lowerBound], as: UTF8.self).lowercased()
            guard let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
                  let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) else { return false }
            return data.count - end.upperBound >= length
        }
        while !complete() {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { break }
            guard n > 0 else { throw WebDriverError(description: "\(method) \(url): no answer within \(timeout) s") }
            data += buffer[0..<n]
        }
        guard let end = data.firstRange(of: [13, 10, 13, 10]) else { throw WebDriverError(description: "\(method) \(url): no HTTP head") }
        let head = String(decoding: data[..<end.lowerBound], as: UTF8.self).lowercased()
        let status = head.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        var payload = Array(data[end.upperBound...])
        if head.contains("transfer-encoding: chunked") { payload = dechunk(payload) }
        return (status, Data(payload))
    }

    static func dechunk(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while let lineEnd = bytes[i...].firstRange(of: [13, 10]) {
            let size = Int(String(decoding: bytes[i..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? "", radix: 16) ?? 0
            i = lineEnd.upperBound
            guard size > 0, i + size <= bytes.count else { break }
            out += bytes[i..<(i + size)]
            i += size + 2
        }
        return out
    }
}
