// Per-test media library and in-process server. Nothing here is shared between tests: every
// test makes its own temporary folder, catalog and server on an ephemeral 127.0.0.1 port.

import Foundation
import HTTPRanges
import MediaCatalog
import MediaFiles
import MediaServer
import Testing
import TestSupport

/// The committed fixtures (TestSupport finds them).
let fixturesDirectory = Repository.fixturesDirectory

/// The origin the test servers allow for CORS; any other origin must get no CORS headers.
let allowedOrigin = "https://app.example.org"
let otherOrigin = "https://evil.example.com"

/// Size of the pseudo-random `big.mp4`.
let bigSize = 1 << 20

/// Log lines the server hands to its `log` closure.
final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    func append(_ line: String) {
        lock.lock()
        lines.append(line)
        lock.unlock()
    }

    var all: [String] {
        lock.lock()
        defer { lock.unlock() }
        return lines
    }
}

/// A temporary folder holding a media root, a file outside it, and a SQLite catalog.
/// Unchecked Sendable: a test hands it to its `io` blocks one at a time, never concurrently.
final class TestLibrary: @unchecked Sendable {
    let directory: String
    let mediaRoot: String
    let outside: String
    let catalogPath: String
    /// The writer's handle; the server gets its own read-only handle, as `serve` does.
    let catalog: OpenCatalog
    private(set) var records: [String: VideoRecord] = [:]

    /// An empty library; add files and records yourself.
    init() throws {
        directory = NSTemporaryDirectory() + "medialib-server-tests-" + UUID().uuidString
        mediaRoot = directory + "/media"
        outside = directory + "/outside"
        catalogPath = directory + "/catalog.sqlite"
        try FileManager.default.createDirectory(atPath: mediaRoot, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        catalog = try CatalogOpener.open(CatalogOptions(location: catalogPath, access: .create))
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// The standard library every table row runs against.
    static func standard() throws -> TestLibrary {
        let lib = try TestLibrary()
        try lib.copyFixture("ok-faststart.mp4", to: "processed/ok.mp4")
        try lib.copyFixture("three-frames.mp4", to: "raw/three-frames.mp4")
        try lib.copyFixture("hevc.mp4", to: "processed/only.mp4")
        try lib.copyFixture("empty.mp4", to: "empty.mp4")
        try lib.copyFixture("text.mp4", to: "tiny.mp4")
        try lib.copyFixture("ok-moov-end.mp4", to: "vidéo ü.mp4")
        try lib.copyFixture("ok.webm", to: "clip.webm")
        try lib.copyFixture("ok.webm", to: "clip.mkv")
        try lib.copyFixture("ok-faststart.mp4", to: "clip.mov")
        try lib.write(pseudoRandomBytes(count: bigSize, seed: 0x5EED), to: "big.mp4")
        try lib.copyFixture("ok-faststart.mp4", toAbsolute: lib.outside + "/secret.mp4")
        try FileManager.default.createSymbolicLink(atPath: lib.mediaRoot + "/escape.mp4",
                                                   withDestinationPath: lib.outside + "/secret.mp4")
        try FileManager.default.createSymbolicLink(atPath: lib.mediaRoot + "/inside-link.mp4",
                                                   withDestinationPath: "big.mp4")

        try FileManager.default.createDirectory(atPath: lib.path("a-directory.mp4"), withIntermediateDirectories: true)
        guard mkfifo(lib.path("pipe.mp4"), 0o644) == 0 else { throw CocoaError(.fileWriteUnknown) }
        try lib.copyFixture("three-frames.mp4", to: "say \"hi\".mp4")

        try lib.add("both", raw: "raw/three-frames.mp4", processed: "processed/ok.mp4",
                    uuid: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")
        try lib.add("big", raw: "big.mp4")
        try lib.add("processedOnly", processed: "processed/only.mp4")
        try lib.add("empty", raw: "empty.mp4")
        try lib.add("tiny", raw: "tiny.mp4")
        try lib.add("nonascii", raw: "vidéo ü.mp4")
        try lib.add("webm", raw: "clip.webm")
        try lib.add("mkv", raw: "clip.mkv")
        try lib.add("mov", raw: "clip.mov")
        try lib.add("missing", raw: "gone.mp4")
        try lib.add("escape", raw: "escape.mp4")
        try lib.add("insideLink", raw: "inside-link.mp4")
        try lib.add("outsideAbsolute", raw: lib.outside + "/secret.mp4")
        try lib.add("dotdot", raw: "../outside/secret.mp4")
        try lib.add("absoluteInside", raw: lib.mediaRoot + "/big.mp4")
        try lib.add("directory", raw: "a-directory.mp4")
        try lib.add("fifo", raw: "pipe.mp4")
        try lib.add("quote", raw: "say \"hi\".mp4")
        return lib
    }

    // MARK: files

    func path(_ relative: String) -> String { mediaRoot + "/" + relative }

    func copyFixture(_ name: String, to relative: String) throws {
        try copyFixture(name, toAbsolute: path(relative))
    }

    func copyFixture(_ name: String, toAbsolute target: String) throws {
        try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: fixturesDirectory + "/" + name, toPath: target)
    }

    func write(_ bytes: [UInt8], to relative: String) throws {
        let target = path(relative)
        try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: target, contents: Data(bytes)) else {
            throw CocoaError(.fileWriteUnknown)
        }
    }

    /// A large file of `megabytes` MiB: one pseudo-random MiB repeated, each copy stamped with
    /// its index in its first 8 bytes so that misplaced data never compares equal.
    func writeLarge(megabytes: Int, to relative: String) throws {
        let block = pseudoRandomBytes(count: 1 << 20, seed: 0xB16)
        guard FileManager.default.createFile(atPath: path(relative), contents: nil),
              let handle = FileHandle(forWritingAtPath: path(relative)) else { throw CocoaError(.fileWriteUnknown) }
        defer { try? handle.close() }
        for i in 0..<megabytes {
            var copy = block
            withUnsafeBytes(of: UInt64(i).littleEndian) { stamp in
                for j in 0..<8 { copy[j] = stamp[j] }
            }
            try handle.write(contentsOf: copy)
        }
    }

    /// The bytes of a file as they are on disk now (relative paths are under the media root).
    func contents(_ file: String) throws -> [UInt8] {
        let p = file.hasPrefix("/") ? file : path(file)
        return Array(try Data(contentsOf: URL(fileURLWithPath: p)))
    }

    func size(_ file: String) throws -> Int {
        let attrs = try FileManager.default.attributesOfItem(atPath: file.hasPrefix("/") ? file : path(file))
        return (attrs[.size] as? NSNumber)?.intValue ?? -1
    }

    // MARK: records

    @discardableResult
    func add(_ name: String, raw: String? = nil, processed: String? = nil, uuid: String? = nil) throws -> VideoRecord {
        let record = try catalog.records.insert([NewRecord(rawFile: raw.map { RawPath($0) }, processedFile: processed.map { RawPath($0) }, uuid: uuid)])[0]
        records[name] = record
        return record
    }

    func record(_ name: String) -> VideoRecord {
        guard let r = records[name] else { fatalError("no record named \(name) in the test library") }
        return r
    }

    func id(_ name: String) -> Int64 { record(name).id }
    func uuid(_ name: String) -> String { record(name).uuid }

    func delete(_ name: String) throws {
        _ = try catalog.records.delete(DeletionRequest(records: [record(name)], cascade: false), journal: NoJournal())
        records[name] = nil
    }

    // MARK: server

    func startServer(_ configure: @Sendable (inout ServerConfiguration) -> Void = { _ in }) throws -> TestServer {
        var config = ServerConfiguration()
        config.host = "127.0.0.1"
        config.port = 0
        config.accessLog = false
        config.eventLoopThreads = 1
        config.corsOrigins = [allowedOrigin]
        config.shutdownGrace = .seconds(3)
        configure(&config)
        let readOnly = try CatalogOpener.open(CatalogOptions(location: catalogPath, access: .read))
        return try TestServer(configuration: config, catalog: readOnly, mediaRoot: MediaRoot(mediaRoot), library: self)
    }
}

/// A running `MediaHTTPServer`; `stop()` it at the end of the test.
final class TestServer: Sendable {
    let server: MediaHTTPServer
    let port: Int
    let log = LogLines()
    /// The library stays (its folder is removed on deinit) for as long as a server uses it,
    /// even when a test keeps only the server.
    let library: TestLibrary

    init(configuration: ServerConfiguration, catalog: OpenCatalog, mediaRoot: MediaRoot, library: TestLibrary) throws {
        self.library = library
        let log = self.log
        server = MediaHTTPServer(configuration: configuration, catalog: catalog, mediaRoot: mediaRoot) { log.append($0) }
        let address = try server.start()
        guard let port = address.port else { throw ClientError.malformed("server bound no port") }
        self.port = port
    }

    func connect(timeout: Double = 5, receiveBuffer: Int? = nil) throws -> RawConnection {
        try RawConnection(port: port, timeout: timeout, receiveBuffer: receiveBuffer)
    }

    /// One request on a fresh connection (blocking: call it inside `io`).
    func request(_ method: String, _ target: String, headers: [(String, String)] = []) throws -> HTTPResponse {
        let c = try connect()
        defer { c.close() }
        return try c.exchange(method, target, headers: headers)
    }

    func get(_ target: String, headers: [(String, String)] = []) throws -> HTTPResponse {
        try request("GET", target, headers: headers)
    }

    /// Shuts down on a thread of its own: the test (run from a `defer`) need not wait. The thread
    /// holds only the server, so the library folder still goes when the test lets go of it
    /// (a process that exits right after its last test leaves nothing behind in /tmp).
    /// `MediaHTTPServer.shutdown` is idempotent.
    func stop() {
        let server = self.server
        Thread.detachNewThread { server.shutdown() }
    }
}

/// Runs blocking socket work on a thread of its own and awaits it. Swift Testing runs tests on
/// the small cooperative pool; blocking it would delay every other suite's continuations (and
/// their timing assertions), and an `await` of ours could resume late and skew our own timing.
/// So: blocking and timing-sensitive sequences go in here; `#expect` stays outside, in the test's task.
func io<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}

/// A fresh library (the standard one unless `empty`) and a server over it.
func startServer(empty: Bool = false, _ configure: @escaping @Sendable (inout ServerConfiguration) -> Void = { _ in })
    async throws -> (TestLibrary, TestServer) {
    try await io {
        let lib = empty ? try TestLibrary() : try TestLibrary.standard()
        return (lib, try lib.startServer(configure))
    }
}

func videoPath(_ id: Int64, _ query: String = "") -> String { "/api/media/videos/\(id)/" + query }

// MARK: - checks shared by many tests

/// A Date header is present, is an IMF-fixdate, and is close to now.
func expectValidDate(_ r: HTTPResponse, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let date = r.header("Date") else {
        Issue.record("no Date header in \(r)", sourceLocation: sourceLocation)
        return
    }
    guard let seconds = HTTPDate.parse(date) else {
        Issue.record("unparseable Date \(date)", sourceLocation: sourceLocation)
        return
    }
    #expect(abs(Double(seconds) - Date().timeIntervalSince1970) < 120, "Date \(date) is not now",
            sourceLocation: sourceLocation)
}

/// Content-Length is present and equals the body received.
func expectLengthMatchesBody(_ r: HTTPResponse, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(r.header("Transfer-Encoding") == nil, "unexpected Transfer-Encoding", sourceLocation: sourceLocation)
    #expect(r.header("Content-Length") == String(r.body.count),
            "Content-Length \(r.header("Content-Length") ?? "nil") for \(r.body.count) body bytes",
            sourceLocation: sourceLocation)
}

/// A JSON object body with a string "error" member, served as application/json.
func expectJSONError(_ r: HTTPResponse, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(r.header("Content-Type") == "application/json", sourceLocation: sourceLocation)
    let object = try? JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any]
    #expect(object?["error"] is String, "not a JSON error body: \(r.bodyText)", sourceLocation: sourceLocation)
}

/// Compares two byte arrays without dumping megabytes into the failure message.
func expectSameBytes(_ got: [UInt8], _ expected: [UInt8], _ what: String,
                     sourceLocation: SourceLocation = #_sourceLocation) {
    guard got != expected else { return }
    let firstDiff = zip(got, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(got.count, expected.count)
    Issue.record("\(what): \(got.count) bytes received, \(expected.count) expected; first difference at \(firstDiff)",
                 sourceLocation: sourceLocation)
}

/// Descriptors of this process open on files under `directory` (from /proc/self/fd).
func openDescriptors(under directory: String) -> [String] {
    guard let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return [] }
    return fds.compactMap { fd in
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + fd) else { return nil }
        return target.hasPrefix(directory + "/") ? target : nil
    }
}

/// Deletions the tests make to stage a situation need no journal.
final class NoJournal: DeletionJournal {
    func write(_ change: RowChange) throws {}
    func sealBeforeCommit() throws {}
}
