import Foundation
import Testing
import TestSupport
import Maintenance
import MediaCatalog
import MediaProbe
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The committed fixtures and the built CLI (TestSupport finds them).
enum Fixtures {
    /// libav's warnings about the broken fixtures would only clutter the test log.
    private static let quietLibav: Void = Prober.setLibavLogging(verbose: false)

    static func path(_ name: String) -> String {
        quietLibav
        return Repository.fixture(name)
    }

    static func bytes(_ name: String) throws -> [UInt8] { try Repository.fixtureBytes(name) }

    static let medialib = Repository.medialib
}

/// Warnings never fail a run unless --strict; every other code is an error.
let warningCodes: Set<String> = ["not_faststart", "codec_not_browser_safe"]

/// A fresh folder per test: `media/` is the media root, `cat.sqlite` the catalog.
struct Scratch: Sendable {
    let root: String

    init() throws {
        root = FileManager.default.temporaryDirectory
            .appendingPathComponent("medialib-verify-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/media", withIntermediateDirectories: true)
    }

    var media: String { root + "/media" }
    var db: String { root + "/cat.sqlite" }
    var mediaRoot: MediaRoot { MediaRoot(media) }

    /// Absolute path of a stored (media-root-relative) path.
    func inMedia(_ relative: String) -> String { media + "/" + relative }

    func remove() { removeTestFolder(root) }

    /// Copies a fixture to `media/<relative>`, creating folders; returns `relative` (the stored form).
    @discardableResult
    func place(_ fixture: String, at relative: String? = nil) throws -> String {
        let rel = relative ?? fixture
        let dest = inMedia(rel)
        try FileManager.default.createDirectory(atPath: (dest as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Fixtures.path(fixture), toPath: dest)
        return rel
    }

    func catalog() throws -> SQLiteCatalog {
        try SQLiteCatalog(path: db, access: .create)
    }

    /// Creates the catalog (when needed) and inserts one record per pair, in order; returns them.
    @discardableResult
    func insert(_ pairs: [(raw: String?, processed: String?)]) throws -> [VideoRecord] {
        let catalog = try catalog()
        return try pairs.map { try catalog.insert(rawFile: $0.raw, processedFile: $0.processed, uuid: nil) }
    }

    @discardableResult
    func insert(raw: String?, processed: String? = nil) throws -> VideoRecord {
        try insert([(raw, processed)])[0]
    }
}

// MARK: - Running the library verifier off the cooperative pool

final class Box<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock(); defer { lock.unlock() }
        return try body(&value)
    }
    var current: Value { withLock { $0 } }
}

struct TimedOut: Error, CustomStringConvertible {
    var seconds: Double
    var description: String { "did not finish within \(seconds) s" }
}

/// Runs blocking work on a Dispatch thread so tests never tie up Swift's cooperative pool;
/// throws `TimedOut` (leaving the work behind) instead of hanging.
func offload<T: Sendable>(timeout: Double = 30, _ body: @escaping @Sendable () throws -> T) async throws -> T {
    let resumed = Box(false)
    return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        @Sendable func finish(_ result: Result<T, any Error>) {
            let first = resumed.withLock { done -> Bool in
                defer { done = true }
                return !done
            }
            if first { continuation.resume(with: result) }
        }
        DispatchQueue.global().async { finish(Result { try body() }) }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { finish(.failure(TimedOut(seconds: timeout))) }
    }
}

struct LibraryRun: Sendable {
    var results: [RecordVerification]
    var counters: Verifier.Counters

    func record(_ id: Int64) -> RecordVerification? { results.first { $0.record.id == id } }
    func codes(_ id: Int64) -> [String] { record(id)?.issues.map(\.code) ?? [] }
}

/// `Verifier.run` on the scratch catalog, as the CLI would call it.
func verifyLibrary(_ scratch: Scratch, minFrames: Int = 10, workers: Int = 2, depth: Verifier.Depth = .standard,
                   full: Bool = false, http: HTTPStreamCheck? = nil, cacheWritable: Bool = true,
                   toolVersion: String = "verify-tests 1", batchSize: Int? = nil,
                   timeout: Double = 30) async throws -> LibraryRun {
    try await offload(timeout: timeout) {
        let catalog = try SQLiteCatalog(path: scratch.db, access: .write)
        var verifier = Verifier(mediaRoot: scratch.mediaRoot, minFrames: minFrames, workers: workers, depth: depth,
                                full: full, toolVersion: toolVersion, http: http)
        if let batchSize { verifier.batchSize = batchSize }
        var results: [RecordVerification] = []
        let counters = try verifier.run(catalog, cacheWritable: cacheWritable) { results.append($0) }
        return LibraryRun(results: results, counters: counters)
    }
}

// MARK: - Running the CLI

struct CLIResult: Sendable, CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String
    var seconds: Double

    var lines: [String] { stdout.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }
    var description: String { "exit \(status) after \(String(format: "%.2f", seconds)) s\nstdout:\n\(stdout)\nstderr:\n\(stderr)" }
}

struct CLIMissing: Error, CustomStringConvertible {
    var description: String { "the medialib executable is not built: run `swift build` first" }
}

final class ProcessBox: @unchecked Sendable {
    let process = Process()
}

/// Runs the built `medialib` with its output in files (no pipe can fill up) and kills it
/// with SIGKILL when it has not finished after `timeout` seconds.
func runCLI(_ arguments: [String], in scratch: Scratch, environment extra: [String: String] = [:],
            timeout: Double = 60) async throws -> CLIResult {
    guard let binary = Fixtures.medialib else { throw CLIMissing() }
    let tag = UUID().uuidString
    let outPath = scratch.root + "/stdout-\(tag)"
    let errPath = scratch.root + "/stderr-\(tag)"
    guard FileManager.default.createFile(atPath: outPath, contents: nil),
          FileManager.default.createFile(atPath: errPath, contents: nil) else {
        throw SystemCallFailed(call: "create \(outPath)", code: EIO)
    }
    let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    defer {
        try? out.close()
        try? err.close()
    }
    let box = ProcessBox()
    let p = box.process
    p.executableURL = URL(fileURLWithPath: binary)
    p.arguments = arguments
    p.currentDirectoryURL = URL(fileURLWithPath: scratch.root)
    var env = ProcessInfo.processInfo.environment
    for key in ["MEDIALIB_DB", "MEDIALIB_MEDIA_ROOT", "FRONTEND_ORIGIN"] { env[key] = nil }
    env.merge(extra) { $1 }
    p.environment = env
    p.standardInput = FileHandle.nullDevice
    p.standardOutput = out
    p.standardError = err
    let started = Date()
    let finished = Box(false)
    let killed = Box(false)
    let status: Int32 = try await withCheckedThrowingContinuation { continuation in
        p.terminationHandler = { proc in
            finished.withLock { $0 = true }
            continuation.resume(returning: proc.terminationStatus)
        }
        do {
            try p.run()
        } catch {
            continuation.resume(throwing: error)
            return
        }
        let pid = p.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
            // Only a child that has not been reaped yet: its pid cannot have been reused.
            finished.withLock { done in
                if !done {
                    killed.withLock { $0 = true }
                    kill(pid, SIGKILL)
                }
            }
        }
    }
    let result = CLIResult(
        status: status,
        stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "",
        seconds: Date().timeIntervalSince(started))
    if killed.current { Issue.record("medialib \(arguments.joined(separator: " ")) was killed after \(timeout) s") }
    return result
}

/// `medialib verify --db <scratch> --media-root <scratch>/media <more>`.
func runVerify(_ scratch: Scratch, _ more: [String], timeout: Double = 60) async throws -> CLIResult {
    try await runCLI(["verify", "--db", scratch.db, "--media-root", scratch.media] + more, in: scratch, timeout: timeout)
}

// MARK: - The JSON contract

struct JSONIssue: Decodable, Sendable, Equatable {
    var code: String
    var severity: String
    var file: String?
    var message: String
}

struct JSONFile: Decodable, Sendable, Equatable {
    var kind: String
    var path: String
    var cached: Bool
    var frames: Int?
    var codec: String?
    var container: String?
    var error: String?
}

struct JSONRecord: Decodable, Sendable, Equatable {
    var id: Int64
    var uuid: String
    var status: String
    var issues: [JSONIssue]
    var files: [JSONFile]
    var codes: [String] { issues.map(\.code) }
}

struct JSONSummary: Decodable, Sendable, Equatable {
    var records: Int
    var ok: Int
    var warnings: Int
    var errors: Int
    var files: Int
    var probed: Int
    var cached: Int
    var elapsed_seconds: Double
    var passed: Bool
}

struct JSONReport: Decodable, Sendable {
    var records: [JSONRecord]
    var summary: JSONSummary

    func record(_ id: Int64) -> JSONRecord? { records.first { $0.id == id } }
}

struct JSONLSummaryLine: Decodable { var summary: JSONSummary }

func decodeReport(_ text: String) throws -> JSONReport {
    try JSONDecoder().decode(JSONReport.self, from: Data(text.utf8))
}

/// `verify --format json` on the scratch catalog.
func verifyJSON(_ scratch: Scratch, _ more: [String] = []) async throws -> (CLIResult, JSONReport) {
    let run = try await runVerify(scratch, ["--format", "json"] + more)
    do {
        return (run, try decodeReport(run.stdout))
    } catch {
        Issue.record("not the JSON report: \(error)\n\(run)")
        throw error
    }
}

// MARK: - File identity

struct StatIdentity: Equatable, CustomStringConvertible {
    var size: Int64
    var inode: UInt64
    var device: UInt64
    var mtimeSeconds: Int
    var mtimeNanoseconds: Int
    var atime: timespec

    static func == (a: StatIdentity, b: StatIdentity) -> Bool {
        a.size == b.size && a.inode == b.inode && a.device == b.device
            && a.mtimeSeconds == b.mtimeSeconds && a.mtimeNanoseconds == b.mtimeNanoseconds
    }

    var mtime: timespec { timespec(tv_sec: mtimeSeconds, tv_nsec: mtimeNanoseconds) }
    var description: String { "size \(size) inode \(inode) dev \(device) mtime \(mtimeSeconds).\(mtimeNanoseconds)" }
}

struct SystemCallFailed: Error, CustomStringConvertible {
    var call: String
    var code: Int32
    var description: String { "\(call): \(String(cString: strerror(code)))" }
}

func statIdentity(_ path: String) throws -> StatIdentity {
    var st = stat()
    guard stat(path, &st) == 0 else { throw SystemCallFailed(call: "stat \(path)", code: errno) }
    return StatIdentity(size: Int64(st.st_size), inode: UInt64(st.st_ino), device: UInt64(st.st_dev),
                        mtimeSeconds: st.st_mtim.tv_sec, mtimeNanoseconds: st.st_mtim.tv_nsec, atime: st.st_atim)
}

/// Sets atime and mtime with nanosecond precision (utimensat), as `touch -d` would.
func setTimes(_ path: String, atime: timespec, mtime: timespec) throws {
    var times = [atime, mtime]
    guard utimensat(AT_FDCWD, path, &times, 0) == 0 else { throw SystemCallFailed(call: "utimensat \(path)", code: errno) }
}

/// Overwrites the file's bytes in place from offset 0 (no truncation, same inode), then puts its
/// mtime back: to stat(2) the file is unchanged.
func overwriteKeepingIdentity(_ path: String, with byte: (Int) -> UInt8) throws {
    let before = try statIdentity(path)
    let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
    try handle.seek(toOffset: 0)
    try handle.write(contentsOf: Data((0..<Int(before.size)).map(byte)))
    try handle.synchronize()
    try handle.close()
    try setTimes(path, atime: before.atime, mtime: before.mtime)
}

/// A copy of ok-faststart.mp4 whose mdat payload has garbage in its middle; the size, the index
/// and the container stay valid, so only decoding can tell.
func makeCorruptCopy(at path: String) throws {
    var bytes = try Fixtures.bytes("ok-faststart.mp4")
    var offset = 0
    var mdat: Range<Int>? = nil
    while offset + 8 <= bytes.count {
        let size = Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
        let type = String(decoding: bytes[(offset + 4)..<(offset + 8)], as: UTF8.self)
        if type == "mdat" { mdat = (offset + 8)..<min(bytes.count, offset + size); break }
        guard size >= 8 else { break }
        offset += size
    }
    guard let payload = mdat, payload.count > 1000 else {
        throw SystemCallFailed(call: "no mdat payload in ok-faststart.mp4", code: EINVAL)
    }
    let middle = payload.lowerBound + payload.count / 4 ..< payload.upperBound - payload.count / 4
    for i in middle { bytes[i] = UInt8(truncatingIfNeeded: i &* 37 &+ 11) }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// Leaves a UNIX-domain socket file at `path` (the descriptor is closed; the file stays).
func makeUnixSocket(at path: String) throws {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw SystemCallFailed(call: "socket", code: errno) }
    defer { close(fd) }
    var addr = sockaddr_un()
    addr.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { throw SystemCallFailed(call: "socket path", code: ENAMETOOLONG) }
    withUnsafeMutableBytes(of: &addr.sun_path) { buf in
        for (i, b) in bytes.enumerated() { buf[i] = b }
    }
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard rc == 0 else { throw SystemCallFailed(call: "bind \(path)", code: errno) }
}
