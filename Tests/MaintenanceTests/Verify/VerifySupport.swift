import Foundation
import Testing
import TestSupport
import Maintenance
import MediaCatalog
import MediaFiles
import MediaProbe
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Warnings never fail a run unless --strict; every other code is an error.
let warningCodes: Set<String> = ["not_faststart", "codec_not_browser_safe", "zero_duration"]

/// verify's view of one record, in the terms these tests were written in.
struct VerifiedRecord: Sendable, Equatable {
    struct Issue: Sendable, Equatable {
        var code: String
        var severity: String
        var file: FileKind?
        var message: String
    }
    struct File: Sendable, Equatable {
        var kind: FileKind
        var storedPath: String
        var resolvedPath: String
        var facts: FileFacts?
        var cached: Bool
        var probed: Bool
        /// What stat(2) or libav said about the file itself.
        var errorCode: String?
    }
    var record: VideoRecord
    var issues: [Issue]
    var files: [File]
    var status: String

    init(_ i: RecordInspection, _ status: VerifyPolicy.Status) {
        record = i.record
        issues = VerifyPolicy.reported(i).map { Issue(code: $0.code.rawValue, severity: $0.severity.rawValue, file: $0.file, message: $0.message) }
        files = i.files.map { f in
            File(kind: f.kind, storedPath: f.stored.displayed, resolvedPath: f.resolved.displayed, facts: f.facts,
                 cached: f.source == .cached, probed: f.source == .probed,
                 errorCode: f.findings.first { [.missingFile, .notRegularFile, .unreadable, .emptyFile, .notMedia, .noVideoStream].contains($0.code) }?.code.rawValue)
        }
        self.status = status.rawValue
    }
}

struct LibraryRun: Sendable {
    struct Counters: Sendable, Equatable {
        var records = 0, ok = 0, warnings = 0, errors = 0, files = 0, probed = 0, cached = 0
    }
    var results: [VerifiedRecord]
    var counters: Counters

    func record(_ id: Int64) -> VerifiedRecord? { results.first { $0.record.id == id } }
    func codes(_ id: Int64) -> [String] { record(id)?.issues.map(\.code) ?? [] }
}

extension FileFacts {
    var errorCode: String? { error?.code }
}

extension Scratch {
    var mediaRoot: MediaRoot { MediaRoot(media) }

    func catalog(_ access: CatalogAccess = .create) throws -> OpenCatalog {
        try CatalogOpener.open(CatalogOptions(location: db, access: access))
    }

    /// Creates the catalog (when needed) and inserts one record per pair, in order; returns them.
    @discardableResult
    func insert(_ pairs: [(raw: String?, processed: String?)]) throws -> [VideoRecord] {
        let new = pairs.map { pair -> NewRecord in
            NewRecord(rawFile: pair.raw.map { RawPath($0) }, processedFile: pair.processed.map { RawPath($0) })
        }
        return try catalog().records.insert(new)
    }

    @discardableResult
    func insert(raw: String?, processed: String? = nil) throws -> VideoRecord {
        try insert([(raw, processed)])[0]
    }

    /// The probe cache's entry for a file, as the state store holds it.
    func cacheEntry(_ path: String, depth: String = "standard") throws -> CachedFacts? {
        try catalog(.read).state.cachedFacts(for: [RawPath(path)], depth: depth)[RawPath(path)]
    }
}

/// The verify job on the scratch catalog, as the CLI would run it.
func verifyLibrary(_ scratch: Scratch, minFrames: Int = 10, workers: Int = 2, depth: ProbeDepth = .standard,
                   full: Bool = false, http: HTTPStreamCheck? = nil, cacheWritable: Bool = true,
                   toolVersion: String = "verify-tests 1", batchSize: Int? = nil,
                   timeout: Double = 30) async throws -> LibraryRun {
    try await offload(timeout: timeout) {
        // A catalog file without write bits: the state in it cannot be written either.
        if !cacheWritable { chmod(scratch.db, 0o444) }
        defer { if !cacheWritable { chmod(scratch.db, 0o644) } }
        let catalog = try CatalogOpener.open(CatalogOptions(location: scratch.db, access: .read))
        var settings = InspectionSettings(mediaRoot: scratch.mediaRoot, minFrames: minFrames, depth: depth, full: full,
                                          jobs: workers, http: http, toolVersion: toolVersion)
        if let batchSize { settings.batchSize = batchSize }
        var results: [VerifiedRecord] = []
        let c = try VerifyJob(catalog: catalog, settings: settings).run { results.append(VerifiedRecord($0, $1)) }
        let counters = LibraryRun.Counters(records: c.records, ok: c.ok, warnings: c.warnings, errors: c.errors,
                                           files: c.stats.files, probed: c.stats.probed, cached: c.stats.cached)
        return LibraryRun(results: results, counters: counters)
    }
}

// MARK: - Running the CLI

/// The built CLI in the scratch folder.
func runCLI(_ arguments: [String], in scratch: Scratch, environment extra: [String: String] = [:],
            timeout: Double = 60) async throws -> CLIResult {
    let r = try await scratch.run(arguments, environment: extra, timeout: timeout)
    if r.timedOut { Issue.record("medialib \(arguments.joined(separator: " ")) was killed after \(timeout) s") }
    return r
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
    var bytes = try Repository.fixtureBytes("ok-faststart.mp4")
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
