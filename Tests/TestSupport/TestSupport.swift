// What every test target needs: the package, its fixtures and the built CLI; scratch
// folders; running the CLI; a seeded RNG; running blocking work off the cooperative pool.
// One copy for all test targets.

import Foundation
import MediaFiles
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum Repository {
    /// The folder holding Package.swift, found from this file's path (no working-directory assumptions).
    public static let root: URL = {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while dir.path != "/" {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) { return dir }
            dir = dir.deletingLastPathComponent()
        }
        fatalError("no Package.swift above \(#filePath)")
    }()

    public static var fixturesDirectory: String { root.appendingPathComponent("Fixtures").path }

    public static func fixture(_ name: String) -> String {
        root.appendingPathComponent("Fixtures").appendingPathComponent(name).path
    }

    public static func fixtureBytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture(name))))
    }

    /// Every committed video fixture.
    public static let videoFixtures = ["audio-only.mp4", "empty.mp4", "hevc.mp4", "ok-faststart.mp4", "ok-moov-end.mp4",
                                       "ok.webm", "text.mp4", "three-frames.mp4", "truncated.mp4"]
    /// The fixtures every check passes (hevc.mp4 only warns).
    public static let goodFixtures = ["hevc.mp4", "ok-faststart.mp4", "ok-moov-end.mp4", "ok.webm"]

    /// The built CLI: $MEDIALIB_BIN, else `swift build`'s .build/debug/medialib, else the one
    /// `swift test` builds beside the test bundle.
    public static let medialib: String? = {
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["MEDIALIB_BIN"] { candidates.append(env) }
        candidates.append(root.appendingPathComponent(".build/debug/medialib").path)
        if let argv0 = CommandLine.arguments.first {
            candidates.append(URL(fileURLWithPath: argv0).resolvingSymlinksInPath()
                .deletingLastPathComponent().appendingPathComponent("medialib").path)
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()
}

/// Removes a test's folder, first making what a test left read-only writable again.
/// Never chmods through a symlink: that would follow it to a fixture outside the folder.
public func removeTestFolder(_ path: String) {
    if let walker = FileManager.default.enumerator(atPath: path) {
        while let rel = walker.nextObject() as? String {
            let entry = path + "/" + rel
            var st = stat()
            guard lstat(entry, &st) == 0, (st.st_mode & S_IFMT) != S_IFLNK else { continue }
            chmod(entry, 0o755)
        }
    }
    try? FileManager.default.removeItem(atPath: path)
}

/// Sets a file's times an hour back: cleanup does not judge files younger than --min-age
/// (an upload in progress), and a fixture copied a moment ago is such a file.
public func backdate(_ path: String, seconds: Double = 3600) {
    let when = Date().timeIntervalSince1970 - seconds
    var times = [timespec(tv_sec: Int(when), tv_nsec: 0), timespec(tv_sec: Int(when), tv_nsec: 0)]
    _ = utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW)
}

/// A fresh folder per test: `media/` is the media root, `cat.sqlite` the catalog.
public struct Scratch: Sendable {
    public let root: String

    public init(_ name: String = "") throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("medialib-\(name)\(name.isEmpty ? "" : "-")\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/media", withIntermediateDirectories: true)
    }

    public var path: String { root }
    public var media: String { root + "/media" }
    public var db: String { root + "/cat.sqlite" }
    public func path(_ relative: String) -> String { root + "/" + relative }
    /// Absolute path of a stored (media-root-relative) path.
    public func inMedia(_ relative: String) -> String { media + "/" + relative }
    public func remove() { removeTestFolder(root) }

    public func exists(_ relative: String) -> Bool { FileManager.default.fileExists(atPath: path(relative)) }
    public func contents(_ relative: String) -> Data? { FileManager.default.contents(atPath: path(relative)) }

    /// Copies a fixture to `media/<relative>` (folders made, times an hour back); returns `relative`.
    @discardableResult
    public func place(_ fixture: String, at relative: String? = nil) throws -> String {
        let rel = relative ?? fixture
        let dest = inMedia(rel)
        try FileManager.default.createDirectory(atPath: (dest as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Repository.fixture(fixture), toPath: dest)
        backdate(dest)
        return rel
    }

    /// Writes bytes to `media/<relative>` (times an hour back).
    public func write(_ bytes: [UInt8], at relative: String) throws {
        let dest = inMedia(relative)
        try FileManager.default.createDirectory(atPath: (dest as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: dest, contents: Data(bytes)) else { throw CocoaError(.fileWriteUnknown) }
        backdate(dest)
    }

    /// Runs the CLI with a clean environment (no MEDIALIB_* from outside) plus `environment`.
    public func run(_ arguments: [String], environment: [String: String] = [:], cwd: String? = nil,
                    timeout: Double = 60, stdout: String? = nil) async throws -> CLIResult {
        try await CLI.run(bytes: arguments.map { Array($0.utf8) }, environment: environment, cwd: cwd ?? root,
                          scratch: root + "/.io", timeout: timeout, stdout: stdout)
    }

    /// The CLI with raw byte arguments (file names that are not UTF-8).
    public func run(bytes arguments: [[UInt8]], environment: [String: String] = [:], timeout: Double = 60) async throws -> CLIResult {
        try await CLI.run(bytes: arguments, environment: environment, cwd: root, scratch: root + "/.io", timeout: timeout)
    }
}

/// What one run of the CLI did.
public struct CLIResult: Sendable, CustomStringConvertible {
    public var status: Int32
    /// Died of a signal (then `status` is the signal number).
    public var signaled: Bool
    public var timedOut: Bool
    public var stdoutBytes: [UInt8]
    public var stderr: String
    /// Wall-clock seconds the run took.
    public var seconds: Double = 0
    /// The process's peak resident memory, in KiB (getrusage).
    public var peakRSSKilobytes: Int = 0

    public var stdout: String { String(decoding: stdoutBytes, as: UTF8.self) }
    public var lines: [String] {
        let l = stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        return l.last == "" ? Array(l.dropLast()) : l
    }
    public var description: String { "exit \(status)\(signaled ? " (signal)" : "")\nstdout:\n\(stdout)\nstderr:\n\(stderr)" }

    public init(status: Int32, signaled: Bool, timedOut: Bool, stdoutBytes: [UInt8], stderr: String, seconds: Double = 0,
                peakRSSKilobytes: Int = 0) {
        self.status = status
        self.signaled = signaled
        self.timedOut = timedOut
        self.stdoutBytes = stdoutBytes
        self.stderr = stderr
        self.seconds = seconds
        self.peakRSSKilobytes = peakRSSKilobytes
    }

    public func json() throws -> Any { try JSONSerialization.jsonObject(with: Data(stdoutBytes)) }
}

public struct HarnessError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

public enum CLI {
    /// Runs a tool (looked up in PATH) to completion; stdout and stderr go to `stdout`.
    public static func shell(_ arguments: [String], stdout: String) -> Int32 {
        // posix_spawn and waitpid, not Foundation's Process: its waitUntilExit never returned
        // here once a grandchild (the PostgreSQL server) outlived the child.
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // SwiftNIO's sockets are not close-on-exec: a child would inherit every listening
        // socket the tests hold at that moment and keep it accepting after its server closed
        // it (a PostgreSQL server started here lives for the whole run). bash closes them
        // first (dash cannot name a descriptor above 9).
        let closer = "for fd in $(ls /proc/$$/fd); do [ \"$fd\" -gt 2 ] && eval \"exec $fd>&-\" 2>/dev/null; done; exec \"$@\""
        var argv: [UnsafeMutablePointer<CChar>?] = (["bash", "-c", closer, "bash"] + arguments).map { strdup($0) }
        argv.append(nil)
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, "/bin/bash", &actions, nil, argv, environ) == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        return (status & 0x7F) != 0 ? 128 + (status & 0x7F) : (status >> 8) & 0xFF
    }

    public static func run(_ arguments: [String], environment: [String: String] = [:], cwd: String,
                           scratch: String, timeout: Double = 60) async throws -> CLIResult {
        try await run(bytes: arguments.map { Array($0.utf8) }, environment: environment, cwd: cwd, scratch: scratch, timeout: timeout)
    }

    /// Spawns the CLI with posix_spawn (arguments as bytes), output to files, and waits off
    /// the cooperative pool; a run over `timeout` is killed and reported as timed out.
    public static func run(bytes arguments: [[UInt8]], environment: [String: String] = [:], cwd: String,
                           scratch: String, timeout: Double = 60, stdout: String? = nil) async throws -> CLIResult {
        guard let binary = Repository.medialib else {
            throw HarnessError("no medialib binary: run `swift build` first (or set MEDIALIB_BIN)")
        }
        var env = ProcessInfo.processInfo.environment
        for key in env.keys where key.hasPrefix("MEDIALIB_") || key == "FRONTEND_ORIGIN" { env[key] = nil }
        if let bin = ProcessInfo.processInfo.environment["MEDIALIB_BIN"] { env["MEDIALIB_BIN"] = bin }
        env["SWIFT_BACKTRACE"] = "enable=no"
        // medialib's own state for foreign catalogs stays inside the test's folder.
        env["XDG_STATE_HOME"] = scratch + "/state"
        env.merge(environment) { _, new in new }
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let io = UUID().uuidString
        let outPath = scratch + "/\(io).out", errPath = scratch + "/\(io).err"
        let environment = env
        return try await offload(timeout: timeout + 30) {
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, stdout ?? outPath, stdout == nil ? O_WRONLY | O_CREAT | O_TRUNC : O_WRONLY, 0o644)
            posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            // env(1) changes the working folder and execs the CLI with the very argument bytes.
            var argv: [UnsafeMutablePointer<CChar>?] = [strdup("/usr/bin/env"), strdup("-C"), strdup(cwd), strdup(binary)]
            for a in arguments {
                let p = UnsafeMutablePointer<CChar>.allocate(capacity: a.count + 1)
                for (i, b) in a.enumerated() { p[i] = CChar(bitPattern: b) }
                p[a.count] = 0
                argv.append(p)
            }
            argv.append(nil)
            var envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") }
            envp.append(nil)
            defer {
                for p in argv { free(p) }
                for p in envp { free(p) }
            }
            var pid: pid_t = 0
            let started = Date()
            let rc = posix_spawn(&pid, "/usr/bin/env", &actions, nil, argv, envp)
            guard rc == 0 else { throw HarnessError("cannot start \(binary): \(String(cString: strerror(rc)))") }
            var status: Int32 = 0
            var usage = rusage()
            let deadline = Date().addingTimeInterval(timeout)
            var timedOut = false
            // getrusage's ru_maxrss would count the test process's own memory (posix_spawn
            // shares it until exec); the child's VmHWM, read while it runs, is its own.
            var peak = 0
            while true {
                peak = max(peak, highWaterKilobytes(pid))
                let r = wait4(pid, &status, WNOHANG, &usage)
                if r == pid { break }
                if r < 0 && errno != EINTR { break }
                if Date() > deadline {
                    kill(pid, SIGKILL)
                    timedOut = true
                    _ = wait4(pid, &status, 0, &usage)
                    break
                }
                usleep(2_000)
            }
            let signaled = (status & 0x7F) != 0
            let code = signaled ? (status & 0x7F) : (status >> 8) & 0xFF
            let out = FileManager.default.contents(atPath: outPath) ?? Data()
            let err = FileManager.default.contents(atPath: errPath) ?? Data()
            try? FileManager.default.removeItem(atPath: outPath)
            try? FileManager.default.removeItem(atPath: errPath)
            return CLIResult(status: code, signaled: signaled, timedOut: timedOut, stdoutBytes: [UInt8](out),
                             stderr: String(decoding: err, as: UTF8.self), seconds: Date().timeIntervalSince(started),
                             peakRSSKilobytes: peak)
        }
    }
}

// MARK: - Off the cooperative pool

public final class Box<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    public init(_ value: Value) { self.value = value }
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock(); defer { lock.unlock() }
        return try body(&value)
    }
    public var current: Value { withLock { $0 } }
}

public struct TimedOut: Error, CustomStringConvertible {
    public var seconds: Double
    public var description: String { "did not finish within \(seconds) s" }
}

/// Runs blocking work on a thread of its own so tests never tie up Swift's cooperative pool;
/// throws `TimedOut` (leaving the work behind) instead of hanging.
public func offload<T: Sendable>(timeout: Double = 60, _ body: @escaping @Sendable () throws -> T) async throws -> T {
    let resumed = Box(false)
    return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        @Sendable func finish(_ result: Result<T, any Error>) {
            let first = resumed.withLock { done -> Bool in
                defer { done = true }
                return !done
            }
            if first { continuation.resume(with: result) }
        }
        Thread.detachNewThread { finish(Result { try body() }) }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { finish(.failure(TimedOut(seconds: timeout))) }
    }
}

// MARK: - Seeded randomness

/// Deterministic, fast pseudo-random numbers (SplitMix64).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(state: UInt64) { self.state = state }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

public func pseudoRandomBytes(count: Int, seed: UInt64) -> [UInt8] {
    var rng = SplitMix64(state: seed)
    var out = [UInt8](repeating: 0, count: count)
    for i in stride(from: 0, to: count, by: 8) {
        var word = rng.next()
        for j in i..<min(i + 8, count) {
            out[j] = UInt8(truncatingIfNeeded: word)
            word >>= 8
        }
    }
    return out
}

/// Polls `condition` until it holds or `seconds` pass; returns the elapsed seconds, or nil on timeout.
public func waitUntil(seconds: Double, _ condition: () -> Bool) -> Double? {
    let start = Date()
    while Date().timeIntervalSince(start) < seconds {
        if condition() { return Date().timeIntervalSince(start) }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return condition() ? Date().timeIntervalSince(start) : nil
}

/// Lines of a JSON Lines file, parsed.
public func jsonLines(_ path: String) throws -> [[String: Any]] {
    guard let data = FileManager.default.contents(atPath: path) else { throw HarnessError("no file at \(path)") }
    return try data.split(separator: 0x0A).map { line in
        guard let o = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else { throw HarnessError("not an object: \(line)") }
        return o
    }
}

/// VmHWM of a running process, in KiB (0 when it is gone).
public func highWaterKilobytes(_ pid: Int32) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return 0 }
    return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
}


/// One heavy test at a time (hundreds of connections, 100,000 records, a browser): on two
/// cores, two of them at once starve each other and the timing-sensitive tests around them.
/// The rest of the suite still runs alongside.
public actor HeavyGate {
    public static let shared = HeavyGate()
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func acquire() async {
        if !busy {
            busy = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
    }
}

/// Runs `body` as the only heavy test running.
public func heavy<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
    await HeavyGate.shared.acquire()
    do {
        let result = try await body()
        await HeavyGate.shared.release()
        return result
    } catch {
        await HeavyGate.shared.release()
        throw error
    }
}

/// A throwaway PostgreSQL cluster (scripts/pg-test-cluster.sh): started by the first test
/// that asks for it, listening on a Unix socket in a temporary folder, stopped by pid when
/// the test process exits, whatever the tests' outcome.
public final class PostgresTestCluster: Sendable {
    public let directory: String
    public let user: String
    public let password: String
    let script: String

    public static let shared: Result<PostgresTestCluster, HarnessError> = {
        let result = Result { try start() }.mapError { $0 as? HarnessError ?? HarnessError("\($0)") }
        if case .success(let cluster) = result {
            startedCluster.withLock { $0 = cluster.directory }
            atexit { stopStartedCluster() }
        }
        return result
    }()

    /// A cluster of its own, for a test that restarts the server (the shared one serves the
    /// other tests meanwhile); the test stops it with `stop()`, the watchdog if it does not.
    public static func start() throws -> PostgresTestCluster {
        let script = Repository.root.appendingPathComponent("scripts/pg-test-cluster.sh").path
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("pg-cluster-\(getpid())-\(UUID().uuidString.prefix(6)).out").path
        // The script's watchdog stops the server once this process is gone, also when it crashed.
        let result = CLI.shell(["env", "PGTEST_OWNER_PID=\(getpid())", "sh", script, "start"], stdout: out)
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: out)
        var env: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("export ") {
            let body = line.dropFirst(7)
            guard let eq = body.firstIndex(of: "=") else { continue }
            env[String(body[..<eq])] = String(body[body.index(after: eq)...]).trimmingCharacters(in: CharacterSet(charactersIn: "'"))
        }
        guard result == 0, let dir = env["PGTEST_DIR"], let user = env["PGTEST_APP_USER"], let password = env["PGTEST_APP_PASSWORD"] else {
            throw HarnessError("could not start a PostgreSQL test cluster (run `make deps`, which installs postgresql): exit \(result) \(text.suffix(600))")
        }
        return PostgresTestCluster(directory: dir, user: user, password: password, script: script)
    }

    /// Stops the server by pid and removes its folder.
    public func stop() {
        _ = CLI.shell(["sh", script, "stop", directory], stdout: "/dev/null")
    }

    init(directory: String, user: String, password: String, script: String) {
        self.directory = directory
        self.user = user
        self.password = password
        self.script = script
    }

    /// The cluster, or a failure a test reports (a test that needs PostgreSQL fails without it).
    public static func get() throws -> PostgresTestCluster { try shared.get() }

    /// A new, empty database owned by the application role.
    public func createDatabase(_ prefix: String = "t") throws -> String {
        let name = "\(prefix)_\(UUID().uuidString.prefix(8).lowercased())"
        try psql("CREATE DATABASE \"\(name)\" OWNER \"\(user)\"")
        return name
    }

    /// The catalog URL of `database` for the application role.
    public func url(_ database: String, user: String? = nil, password: String? = nil) -> String {
        "postgres://\(user ?? self.user):\(password ?? self.password)@/\(database)?host=\(directory)"
    }

    /// SQL as the superuser (postgres, trust over the socket); throws when psql fails.
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres", file: String? = nil) throws -> String {
        try psql(sql, database: database, file: file, asApplication: false)
    }

    /// Loads a SQL dump into `database` as the application role (no superuser rights).
    public func load(_ file: String, into database: String) throws {
        _ = try psql("", database: database, file: file, asApplication: true)
    }

    /// One psql run, as the superuser (trust) or as the application role (its password).
    private func psql(_ sql: String, database: String, file: String?, asApplication: Bool) throws -> String {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("psql-\(UUID().uuidString).out").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        var args = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", directory, "-d", database]
        args += asApplication ? ["-U", user] : ["-U", "postgres"]
        if let file { args += ["-f", file] } else { args += ["-c", sql] }
        if asApplication { args = ["env", "PGPASSWORD=\(password)"] + args }
        let status = CLI.shell(args, stdout: out)
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        guard status == 0 else { throw HarnessError("psql failed (exit \(status)): \(file ?? String(sql.prefix(200))) \(text.prefix(800))") }
        return text
    }

    /// SQL text run as the application role (its tables belong to it, as an app's would).
    public func load(sql: String, into database: String) throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("load-\(UUID().uuidString).sql").path
        try sql.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        try load(file, into: database)
    }

    /// A fast restart: every open connection is cut.
    public func restart() throws {
        let status = CLI.shell(["sh", script, "restart", directory], stdout: "/dev/null")
        guard status == 0 else { throw HarnessError("pg_ctl restart failed (exit \(status))") }
    }
}

private let startedCluster = Box<String?>(nil)

private func stopStartedCluster() {
    guard let dir = startedCluster.withLock({ $0 }) else { return }
    let script = Repository.root.appendingPathComponent("scripts/pg-test-cluster.sh").path
    _ = CLI.shell(["sh", script, "stop", dir], stdout: "/dev/null")
}
