import Foundation
import MediaCatalog
import MediaProbe

/// Verifies every record: stat, then the cache, then (only for changed files) one probe.
public struct Verifier: Sendable {
    public enum Depth: String, Sendable { case standard, deep }

    public var mediaRoot: MediaRoot
    public var minFrames: Int
    public var workers: Int
    public var depth: Depth
    /// Ignore the cache (but refresh it).
    public var full: Bool
    /// Invalidates cached results when medialib or its checks change.
    public var toolVersion: String
    public var http: HTTPStreamCheck?
    public var batchSize = 256

    public init(mediaRoot: MediaRoot, minFrames: Int, workers: Int, depth: Depth, full: Bool,
                toolVersion: String, http: HTTPStreamCheck? = nil) {
        self.mediaRoot = mediaRoot
        self.minFrames = minFrames
        self.workers = workers
        self.depth = depth
        self.full = full
        self.toolVersion = toolVersion
        self.http = http
    }

    public struct Counters: Sendable, Equatable {
        public var records = 0
        public var ok = 0
        public var warnings = 0
        public var errors = 0
        public var files = 0
        public var probed = 0
        public var cached = 0
    }

    /// Streams records from the catalog in batches; `visit` sees each result in id order.
    /// `cacheWritable` false skips storing results (a read-only catalog).
    public func run(_ catalog: any Catalog, cacheWritable: Bool,
                    visit: (RecordVerification) throws -> Void) throws -> Counters {
        var counters = Counters()
        let pool = WorkerPool(workers: workers)
        let me = self
        let checkedAt = ISO8601DateFormatter().string(from: Date())
        try catalog.forEachBatch(of: batchSize) { batch in
            let paths = batch.flatMap { $0.files.map { me.mediaRoot.resolve($0.path) } }
            // One cache query per batch instead of one per file.
            let cache = me.full ? [:] : (try? catalog.cachedVerifications(paths: paths, depth: me.depth.rawValue)) ?? [:]
            // Real paths of the batch's folders, resolved once each (not once per file).
            var folders: [String: String?] = [:]
            for path in paths {
                let dir = MediaRoot.split(path).folder
                if folders[dir] == nil { folders[dir] = .some(MediaRoot.realPath(dir)) }
            }
            let realFolders = folders
            let results = pool.map(batch) { record in
                me.verify(record, cache: cache, realFolders: realFolders, checkedAt: checkedAt)
            }
            var fresh: [VerificationCacheEntry] = []
            for (result, newEntries) in results {
                counters.records += 1
                if result.hasErrors { counters.errors += 1 } else if result.hasWarnings { counters.warnings += 1 } else { counters.ok += 1 }
                for f in result.files {
                    counters.files += 1
                    if f.cached { counters.cached += 1 } else if f.probed { counters.probed += 1 }
                }
                fresh.append(contentsOf: newEntries)
                try visit(result)
            }
            if cacheWritable { try catalog.storeVerifications(fresh) }
        }
        return counters
    }

    /// One record; returns cache entries to store for files that were probed.
    func verify(_ record: VideoRecord, cache: [String: VerificationCacheEntry],
                realFolders: [String: String?] = [:], checkedAt: String = "") -> (RecordVerification, [VerificationCacheEntry]) {
        var issues: [VerifyIssue] = []
        var files: [FileVerification] = []
        var entries: [VerificationCacheEntry] = []
        if record.files.isEmpty {
            issues.append(VerifyIssue("no_files", .error, file: nil, "the record names no file"))
        }
        for (kind, stored) in record.files {
            let resolved = mediaRoot.resolve(stored)
            var file = FileVerification(kind: kind, storedPath: stored, resolvedPath: resolved, facts: nil, cached: false)
            switch FileCheck.regularFile(at: resolved) {
            case .failure(let error):
                file.facts = FileFacts(.failure(error))
            case .success(let identity):
                let folder = realFolders[MediaRoot.split(resolved).folder] ?? nil
                if !mediaRoot.contains(resolved, realFolder: folder) {
                    issues.append(VerifyIssue("outside_media_root", .error, file: kind,
                                              "the file's real path \(MediaRoot.realPath(resolved) ?? resolved) lies outside the media root"))
                    files.append(file)
                    continue
                }
                if !full, let hit = cachedFacts(cache[resolved], identity) {
                    file.facts = hit
                    file.cached = true
                } else {
                    let facts = FileFacts(probe(resolved))
                    file.facts = facts
                    file.probed = true
                    // A read error may pass (a flaky mount): only verdicts the bytes decide are cached.
                    if facts.errorCode != "unreadable" {
                        entries.append(VerificationCacheEntry(
                            path: resolved, size: identity.size,
                            mtimeNanoseconds: identity.mtimeSinceEpochNanoseconds,
                            inode: Int64(bitPattern: identity.inode), depth: depth.rawValue, toolVersion: toolVersion,
                            resultJSON: facts.cacheLine, checkedAt: checkedAt))
                    }
                }
            }
            if let facts = file.facts {
                issues += StreamabilityRules.issues(for: facts, kind: kind, path: resolved, minFrames: minFrames)
                if let http, facts.errorCode == nil {
                    issues += http.check(record: record, kind: kind, localPath: resolved)
                }
            }
            files.append(file)
        }
        return (RecordVerification(record: record, files: files, issues: issues), entries)
    }

    func probe(_ path: String) -> Result<ProbeResult, ProbeError> {
        Prober(options: ProbeOptions(counting: .always, decode: depth == .deep)).probe(path: path)
    }

    /// A hit needs the same size, mtime (ns), inode, depth and tool version: anything else re-probes.
    func cachedFacts(_ entry: VerificationCacheEntry?, _ id: FileIdentity) -> FileFacts? {
        guard let entry, entry.size == id.size,
              entry.mtimeNanoseconds == id.mtimeSinceEpochNanoseconds,
              entry.inode == Int64(bitPattern: id.inode),
              entry.toolVersion == toolVersion else { return nil }
        return FileFacts(cacheLine: entry.resultJSON)
    }
}
