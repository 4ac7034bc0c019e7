import Foundation
import MediaCatalog
import MediaFiles
import MediaProbe

/// How deep a probe goes.
public enum ProbeDepth: String, Sendable {
    /// Demux every packet (frame counts, truncation).
    case standard
    /// Also decode every frame (`--deep`: decode_error).
    case deep
}

public struct InspectionSettings: Sendable {
    public var mediaRoot: MediaRoot
    public var minFrames: Int
    /// Files modified less than this many seconds ago are not judged (0: judge everything).
    public var minAge: Double
    public var depth: ProbeDepth
    /// Ignore the probe cache (but refresh it).
    public var full: Bool
    public var jobs: Int
    /// Also ask a running server (verify --via).
    public var http: HTTPStreamCheck?
    public var batchSize = 256
    /// Part of the cache key: medialib's version, the facts format and libav's versions.
    public var toolVersion: String
    public var now: Date

    public init(mediaRoot: MediaRoot, minFrames: Int = 10, minAge: Double = 0, depth: ProbeDepth = .standard,
                full: Bool = false, jobs: Int = WorkerPool.defaultWorkers, http: HTTPStreamCheck? = nil,
                toolVersion: String = Inspector.toolVersion, now: Date = Date()) {
        self.mediaRoot = mediaRoot
        self.minFrames = minFrames
        self.minAge = minAge
        self.depth = depth
        self.full = full
        self.jobs = jobs
        self.http = http
        self.toolVersion = toolVersion
        self.now = now
    }
}

/// What the inspection learned about one file a record names.
public struct FileInspection: Sendable, Equatable {
    public enum Source: String, Sendable { case probed, cached, none }

    public var kind: FileKind
    public var role: Finding.Role
    public var stored: RawPath
    public var resolved: RawPath
    /// What stat(2) said, when the file exists.
    public var identity: FileIdentity?
    public var facts: FileFacts?
    public var source: Source
    public var findings: [Finding]
}

/// One record and everything found about it: the one model cleanup and verify both judge.
public struct RecordInspection: Sendable, Equatable {
    public var record: VideoRecord
    public var files: [FileInspection]
    /// Every finding, record-level first, then file by file.
    public var findings: [Finding]

    public func file(_ kind: FileKind, role: Finding.Role = .original) -> FileInspection? {
        files.first { $0.kind == kind && $0.role == role }
    }

    public var worstSeverity: Finding.Severity? { findings.map(\.severity).max() }
}

public struct InspectionStats: Sendable, Equatable {
    public var records = 0
    public var files = 0
    public var probed = 0
    public var cached = 0
    /// Files whose content was judged (probed or cached) and those libav could not make sense of.
    public var contentJudged = 0
    public var wrongContent = 0
    /// The cache could not be written (read-only, or another writer held the lock).
    public var cacheSkipped: String?
}

/// The inspection pipeline: records in batches → files under the media root → probe cache →
/// probes in a bounded worker pool → facts and typed findings, visited in id order.
public final class Inspector: @unchecked Sendable {
    public static var toolVersion: String { "medialib \(MedialibVersion.current) \(FactsCodec.version) \(Prober.libraryVersion)" }

    let records: any RecordStore
    let state: any StateStore
    let settings: InspectionSettings

    public init(records: any RecordStore, state: any StateStore, settings: InspectionSettings) {
        self.records = records
        self.state = state
        self.settings = settings
    }

    /// Streams every record through the pipeline; `visit` sees each in id order.
    @discardableResult
    public func run(_ visit: (RecordInspection) throws -> Void) throws -> InspectionStats {
        var stats = InspectionStats()
        let pool = WorkerPool(workers: settings.jobs)
        let checkedAt = ISO8601DateFormatter().string(from: settings.now)
        var cacheWritable = state.isWritable
        if !cacheWritable { stats.cacheSkipped = "medialib's state (\(state.location)) is read-only" }
        try records.forEachPage(of: settings.batchSize) { batch in
            let plan = batch.map { FilePlan.files(of: $0, root: settings.mediaRoot) }
            let paths = plan.flatMap { $0.map(\.resolved) }
            let cache = settings.full ? [:] : ((try? state.cachedFacts(for: paths, depth: settings.depth.rawValue)) ?? [:])
            // Real paths of the batch's folders, resolved once each (not once per file).
            var folders: [RawPath: RawPath?] = [:]
            for p in paths where folders[p.parent] == nil { folders[p.parent] = .some(FileSystem.realPath(p.parent)) }
            let context = Context(settings: settings, cache: cache, realFolders: folders, checkedAt: checkedAt)
            let items = Array(zip(batch, plan))
            let results = pool.map(items) { record, files in context.inspect(record, files) }
            var fresh: [CachedFacts] = []
            for (inspection, entries) in results {
                stats.records += 1
                for f in inspection.files {
                    stats.files += 1
                    if f.source == .cached { stats.cached += 1 } else if f.source == .probed { stats.probed += 1 }
                    if f.source != .none || f.findings.contains(where: { $0.code == .unreadable }) {
                        stats.contentJudged += 1
                        if f.findings.contains(where: { $0.code.looksLikeWrongContent }) { stats.wrongContent += 1 }
                    }
                }
                fresh += entries
                try visit(inspection)
            }
            if cacheWritable && !fresh.isEmpty {
                do {
                    try state.storeFacts(fresh)
                } catch {
                    // Another writer holds the lock, or the disk is full: go on without caching.
                    cacheWritable = false
                    stats.cacheSkipped = "results could not be cached (\(error))"
                }
            }
        }
        return stats
    }

    /// Everything a worker needs, immutable and shared.
    struct Context: Sendable {
        let settings: InspectionSettings
        let cache: [RawPath: CachedFacts]
        let realFolders: [RawPath: RawPath?]
        let checkedAt: String

        func inspect(_ record: VideoRecord, _ plan: [FilePlan]) -> (RecordInspection, [CachedFacts]) {
            var files: [FileInspection] = []
            var entries: [CachedFacts] = []
            var findings: [Finding] = []
            if plan.isEmpty { findings.append(Finding(.noFiles, file: nil, "the record names no file")) }
            for p in plan {
                let (file, entry) = inspectFile(p, record: record)
                if let entry { entries.append(entry) }
                files.append(file)
            }
            // Ask a server only about what it serves: the playable file of each kind.
            if let http = settings.http {
                for i in files.indices {
                    let f = files[i]
                    let playable = f.role == .streamable || record.file(f.kind)?.streamable == nil
                    guard playable, f.findings.allSatisfy({ $0.severity != .error }), f.identity != nil else { continue }
                    files[i].findings += http.check(record: record, kind: f.kind, stored: f.stored, localPath: f.resolved)
                }
            }
            findings += files.flatMap(\.findings)
            return (RecordInspection(record: record, files: files, findings: findings), entries)
        }

        func inspectFile(_ p: FilePlan, record: VideoRecord) -> (FileInspection, CachedFacts?) {
            var file = FileInspection(kind: p.kind, role: p.role, stored: p.stored, resolved: p.resolved,
                                      identity: nil, facts: nil, source: .none, findings: [])
            let identity: FileIdentity
            switch FileCheck.regularFile(at: p.resolved) {
            case .failure(let error):
                file.findings = [Finding(error.findingCode, file: p.kind, role: p.role, error.message)]
                if case .success(let st) = FileSystem.status(p.resolved) { file.identity = st.identity }
                return (file, nil)
            case .success(let id):
                identity = id
                file.identity = id
            }
            let folder = realFolders[p.resolved.parent] ?? nil
            if !settings.mediaRoot.contains(p.resolved, realFolder: folder) {
                let real = FileSystem.realPath(p.resolved) ?? p.resolved
                file.findings = [Finding(.outsideMediaRoot, file: p.kind, role: p.role,
                                         "the file's real path \(real.displayed) lies outside the media root")]
                return (file, nil)
            }
            if settings.minAge > 0 {
                let age = settings.now.timeIntervalSince1970 - (Double(identity.mtimeSeconds) + Double(identity.mtimeNanoseconds) / 1e9)
                if age < settings.minAge {
                    file.findings = [Finding(.recentlyModified, file: p.kind, role: p.role,
                                             "modified \(DurationText.describe(max(0, age))) ago (within --min-age \(DurationText.describe(settings.minAge))); not judged")]
                    return (file, nil)
                }
            }
            if record.encrypted && p.role == .original {
                file.findings = Rules.findingsForEncrypted(size: identity.size, appFrameCount: record.appFrameCount,
                                                           kind: p.kind, minFrames: settings.minFrames)
                return (file, nil)
            }
            var entry: CachedFacts?
            if !settings.full, let hit = cachedFacts(cache[p.resolved], identity) {
                file.facts = hit
                file.source = .cached
            } else {
                let options = ProbeOptions(counting: .always, decode: settings.depth == .deep)
                let facts = FileFacts(Prober(options: options).probe(path: p.resolved))
                file.facts = facts
                file.source = .probed
                if facts.error?.findingCode.isCacheable ?? true {
                    entry = CachedFacts(path: p.resolved, depth: settings.depth.rawValue, identity: identity,
                                        toolVersion: settings.toolVersion, facts: FactsCodec.encode(facts), checkedAt: checkedAt)
                }
            }
            if let facts = file.facts {
                file.findings = Rules.findings(for: facts, kind: p.kind, role: p.role, path: p.resolved, minFrames: settings.minFrames)
            }
            return (file, entry)
        }

        /// A hit needs the same device, inode, size, mtime (ns) and tool version.
        func cachedFacts(_ entry: CachedFacts?, _ id: FileIdentity) -> FileFacts? {
            guard let entry, entry.identity.size == id.size, entry.identity.inode == id.inode,
                  entry.identity.device == id.device,
                  entry.identity.mtimeSinceEpochNanoseconds == id.mtimeSinceEpochNanoseconds,
                  entry.toolVersion == settings.toolVersion else { return nil }
            return FactsCodec.decode(entry.facts)
        }
    }
}

/// The files of a record as paths: each stored file, then its playable copy when it has one.
struct FilePlan: Sendable {
    var kind: FileKind
    var role: Finding.Role
    var stored: RawPath
    var resolved: RawPath

    static func files(of record: VideoRecord, root: MediaRoot) -> [FilePlan] {
        var out: [FilePlan] = []
        for f in record.files {
            out.append(FilePlan(kind: f.kind, role: .original, stored: f.path, resolved: root.resolve(f.path)))
            if let copy = f.streamable {
                out.append(FilePlan(kind: f.kind, role: .streamable, stored: copy, resolved: root.resolve(copy)))
            }
        }
        return out
    }
}

/// medialib's version, in one place (the CLI's --version and the cache key).
public enum MedialibVersion {
    public static let current = "0.2.0"
}

/// Durations as people write them: "90s", "5m", "2h", "1d"; plain numbers are seconds.
public enum DurationText {
    /// Ten years: longer is surely a typo, and every duration stays printable as an Int.
    public static let longest: Double = 10 * 365 * 86400

    public static func parse(_ text: String) -> Double? {
        guard let seconds = parseUnbounded(text), seconds <= longest else { return nil }
        return seconds
    }

    private static func parseUnbounded(_ text: String) -> Double? {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard !t.isEmpty else { return nil }
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        for (suffix, factor) in units where t.hasSuffix(suffix) {
            guard let n = Double(t.dropLast(suffix.count)), n.isFinite, n >= 0 else { return nil }
            return n * factor
        }
        guard let n = Double(t), n.isFinite, n >= 0 else { return nil }
        return n
    }

    public static func describe(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        if seconds > longest * 10 { return "over 100 years" }
        if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
        if seconds < 120 { return "\(Int(seconds.rounded()))s" }
        if seconds < 7200 { return "\(Int((seconds / 60).rounded()))m" }
        if seconds < 172_800 { return "\(Int((seconds / 3600).rounded()))h" }
        return "\(Int((seconds / 86400).rounded()))d"
    }
}
