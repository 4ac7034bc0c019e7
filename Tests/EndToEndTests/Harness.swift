import Foundation
import Testing
import TestSupport
import MediaCatalog
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum Paths {
    static var packageRoot: URL { Repository.root }
    static func fixture(_ name: String) -> String { Repository.fixture(name) }
    /// The built CLI ($MEDIALIB_BIN, else .build/debug/medialib).
    static var binary: String? { Repository.medialib }
    static let allFixtures = Repository.videoFixtures
    static let goodFixtures = ["hevc.mp4", "ok-faststart.mp4", "ok-moov-end.mp4", "ok.webm"]
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
}

/// What one run of the CLI did.
struct CLIResult: CustomStringConvertible {
    var status: Int32
    /// Died of a signal (then `status` is the signal number).
    var signaled: Bool
    var timedOut: Bool
    var stdout: String
    var stderr: String

    var lines: [String] { stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).dropLastIfEmpty() }
    var description: String { "exit \(status)\(signaled ? " (signal)" : "")\nstdout:\n\(stdout)\nstderr:\n\(stderr)" }

    func json() throws -> Any {
        try JSONSerialization.jsonObject(with: Data(stdout.utf8))
    }
}

extension Array where Element == String {
    func dropLastIfEmpty() -> [String] { last == "" ? Array(dropLast()) : self }
}

/// One temporary folder per test: the catalog, the media root and everything the CLI writes.
struct Sandbox {
    let root: URL
    var path: String { root.path }
    var media: String { path("media") }
    var db: String { path("cat.sqlite") }

    init(name: String = "") throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("medialib-e2e-\(name)\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("media"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: root.appendingPathComponent(".io"), withIntermediateDirectories: true)
    }

    func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    func remove() { removeTestFolder(path) }

    var globals: [String] { ["--db", db, "--media-root", media] }

    func exists(_ relative: String) -> Bool { FileManager.default.fileExists(atPath: path(relative)) }
    func contents(_ relative: String) -> Data? { FileManager.default.contents(atPath: path(relative)) }

    /// Copies fixtures into media/ (optionally into a subfolder).
    func place(_ fixtures: [String], under folder: String = "") throws {
        let dir = folder.isEmpty ? media : (media as NSString).appendingPathComponent(folder)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for f in fixtures {
            try FileManager.default.copyItem(atPath: Paths.fixture(f), toPath: (dir as NSString).appendingPathComponent(f))
        }
    }

    /// Copies the fixtures into media/ and imports them; returns the records by stored path.
    @discardableResult
    func library(_ fixtures: [String] = Paths.allFixtures) async throws -> [String: ListedRecord] {
        try place(fixtures)
        let imported = try await run(["import", media] + globals)
        guard imported.status == 0, !imported.signaled else { throw HarnessError(description: "import failed: \(imported)") }
        return try await listed()
    }

    /// `list --format json`, parsed, keyed by raw (else processed) file.
    func listed() async throws -> [String: ListedRecord] {
        let list = try await run(["list", "--format", "json"] + globals)
        guard list.status == 0 else { throw HarnessError(description: "list failed: \(list)") }
        let items = try #require(try list.json() as? [[String: Any]])
        var out: [String: ListedRecord] = [:]
        for item in items {
            let r = ListedRecord(item)
            out[r.raw ?? r.processed ?? ""] = r
        }
        return out
    }

    /// The raw `list --format json` text, for before/after comparisons.
    func listJSON() async throws -> String {
        let list = try await run(["list", "--format", "json"] + globals)
        guard list.status == 0 else { throw HarnessError(description: "list failed: \(list)") }
        return list.stdout
    }

    /// Runs the CLI with a clean environment (no MEDIALIB_* from outside) plus `environment`.
    func run(_ arguments: [String], environment: [String: String] = [:], cwd: String? = nil,
             timeout: Double = 60, sourceLocation: SourceLocation = #_sourceLocation) async throws -> CLIResult {
        guard let binary = Paths.binary else {
            throw HarnessError(description: "no medialib binary: run `swift build` first (or set MEDIALIB_BIN)")
        }
        var env = ProcessInfo.processInfo.environment
        for key in env.keys where key.hasPrefix("MEDIALIB_") || key == "FRONTEND_ORIGIN" { env[key] = nil }
        env["SWIFT_BACKTRACE"] = "enable=no"
        env.merge(environment) { _, new in new }

        let io = UUID().uuidString
        let outPath = path(".io/\(io).out"), errPath = path(".io/\(io).err")
        guard FileManager.default.createFile(atPath: outPath, contents: nil),
              FileManager.default.createFile(atPath: errPath, contents: nil) else {
            throw HarnessError(description: "cannot create output files in \(path(".io"))")
        }
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))

        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.environment = env
        process.currentDirectoryURL = URL(fileURLWithPath: cwd ?? path)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        try process.run()
        try? out.close()
        try? err.close()
        let pid = process.processIdentifier
        let inTime = await withCheckedContinuation { (done: CheckedContinuation<Bool, Never>) in
            DispatchQueue.global().async {
                done.resume(returning: finished.wait(timeout: .now() + timeout) == .success)
            }
        }
        if !inTime {
            kill(pid, SIGKILL)
            process.waitUntilExit()
            Issue.record("medialib \(arguments.joined(separator: " ")) did not finish within \(Int(timeout)) s; killed",
                         sourceLocation: sourceLocation)
        }
        let result = CLIResult(
            status: process.terminationStatus,
            signaled: process.terminationReason == .uncaughtSignal,
            timedOut: !inTime,
            stdout: String(decoding: FileManager.default.contents(atPath: outPath) ?? Data(), as: UTF8.self),
            stderr: String(decoding: FileManager.default.contents(atPath: errPath) ?? Data(), as: UTF8.self))
        try? FileManager.default.removeItem(atPath: outPath)
        try? FileManager.default.removeItem(atPath: errPath)
        return result
    }

    /// Every row of the catalog, read directly (not through the CLI).
    func rows() throws -> [CatalogRow] {
        try SQLiteCatalog(path: db, access: .read).allRows()
    }
}

struct ListedRecord: Equatable {
    var id: Int
    var uuid: String
    var raw: String?
    var processed: String?
    var createdAt: String

    init(_ item: [String: Any]) {
        id = item["id"] as? Int ?? -1
        uuid = item["uuid"] as? String ?? ""
        raw = item["raw_file"] as? String
        processed = item["processed_file"] as? String
        createdAt = item["created_at"] as? String ?? ""
    }

    var short: String { String(uuid.prefix(8)) }
}

/// Lines of a JSON Lines file, parsed.
func jsonLines(_ path: String) throws -> [[String: Any]] {
    let data = try #require(FileManager.default.contents(atPath: path), "no file at \(path)")
    return try data.split(separator: 0x0A).map { line in
        try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
    }
}
