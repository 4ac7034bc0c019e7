import Foundation
import Testing
import TestSupport
@testable import MediaCatalog
import MediaFiles
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum Paths {
    static var packageRoot: URL { Repository.root }
    static func fixture(_ name: String) -> String { Repository.fixture(name) }
    static var binary: String? { Repository.medialib }
    static let allFixtures = Repository.videoFixtures
    static let goodFixtures = Repository.goodFixtures
}

/// One temporary folder per test: the catalog, the media root and everything the CLI writes.
struct Sandbox: Sendable {
    let scratch: Scratch

    init(name: String = "") throws { scratch = try Scratch("e2e-\(name)") }

    var path: String { scratch.root }
    var media: String { scratch.media }
    var db: String { scratch.db }
    var root: URL { URL(fileURLWithPath: scratch.root) }
    func path(_ relative: String) -> String { scratch.path(relative) }
    func remove() { scratch.remove() }
    var globals: [String] { ["--db", db, "--media-root", media] }
    func exists(_ relative: String) -> Bool { scratch.exists(relative) }
    func contents(_ relative: String) -> Data? { scratch.contents(relative) }

    /// Copies fixtures into media/ (optionally into a subfolder), an hour old.
    func place(_ fixtures: [String], under folder: String = "") throws {
        for f in fixtures { try scratch.place(f, at: folder.isEmpty ? f : folder + "/" + f) }
    }

    /// Copies the fixtures into media/ and imports them; returns the records by stored path.
    @discardableResult
    func library(_ fixtures: [String] = Paths.allFixtures) async throws -> [String: ListedRecord] {
        try place(fixtures)
        let imported = try await run(["import", media] + globals)
        guard imported.status == 0, !imported.signaled else { throw HarnessError("import failed: \(imported)") }
        return try await listed()
    }

    /// `list --format json`, parsed, keyed by raw (else processed) file.
    func listed() async throws -> [String: ListedRecord] {
        let list = try await run(["list", "--format", "json"] + globals)
        guard list.status == 0 else { throw HarnessError("list failed: \(list)") }
        guard let items = try list.json() as? [[String: Any]] else { throw HarnessError("list is not an array: \(list)") }
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
        guard list.status == 0 else { throw HarnessError("list failed: \(list)") }
        return list.stdout
    }

    func run(_ arguments: [String], environment: [String: String] = [:], cwd: String? = nil,
             timeout: Double = 60, stdout: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) async throws -> CLIResult {
        let r = try await scratch.run(arguments, environment: environment, cwd: cwd, timeout: timeout, stdout: stdout)
        if r.timedOut {
            Issue.record("medialib \(arguments.joined(separator: " ")) did not finish within \(Int(timeout)) s; killed",
                         sourceLocation: sourceLocation)
        }
        return r
    }

    func run(bytes arguments: [[UInt8]], environment: [String: String] = [:]) async throws -> CLIResult {
        try await scratch.run(bytes: arguments, environment: environment)
    }

    /// Every row of the catalog's video table, read directly (not through the CLI).
    func rows() throws -> [CatalogRow] { try Self.rows(of: db) }

    static func rows(of db: String, table: String? = nil) throws -> [CatalogRow] {
        let catalog = try CatalogOpener.open(CatalogOptions(location: db, access: .read))
        guard let store = catalog.records as? SQLiteRecordStore else { throw HarnessError("not a SQLite store") }
        return try store.allRows(of: table)
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

func sha256OfFile(_ path: String) -> String? {
    guard let data = FileManager.default.contents(atPath: path) else { return nil }
    // A fast, dependency-free digest is enough to tell "byte for byte unchanged".
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    var h2: UInt64 = 0x8422_2325_cbf2_9ce4
    for b in data { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3; h2 = (h2 &+ UInt64(b)) &* 0x9E37_79B9_7F4A_7C15 }
    return String(h, radix: 16) + String(h2, radix: 16) + "-\(data.count)"
}

/// Runs SQL on a catalog file as another program would (Python's sqlite3, the sqlite3 shell).
func sql(_ db: String, _ statement: String, _ bindings: [ColumnValue] = []) throws {
    let c = try SQLiteConnection(path: RawPath(db), mode: .readWrite)
    try c.run(statement, bindings)
}

/// A connection the test holds open (a lock another process keeps).
func openConnection(_ db: String) throws -> SQLiteConnection {
    try SQLiteConnection(path: RawPath(db), mode: .readWrite)
}
