import Foundation
import MediaCatalog
import MediaFiles
import MediaProbe

/// The library's health as the probe cache knows it, for serve's listing and page: files are
/// stat'ed, never probed; a file without cached facts is "not checked yet".
public struct LibraryHealth: Sendable {
    public enum Status: String, Sendable, CaseIterable { case ok, warning, error, unchecked }

    public struct FileHealth: Sendable {
        public var kind: FileKind
        public var role: Finding.Role
        public var stored: RawPath
        public var exists: Bool
        public var size: Int64?
        /// Facts from the cache (nil: not checked yet, or the file is not there).
        public var facts: FileFacts?
        public var checked: Bool
        public var findings: [Finding]
    }

    public struct RecordHealth: Sendable {
        public var record: VideoRecord
        public var status: Status
        public var files: [FileHealth]
        /// Every finding, record-level first.
        public var findings: [Finding]
        public var codes: [String] {
            var seen = Set<String>()
            return findings.map(\.code.rawValue).filter { seen.insert($0).inserted }
        }
    }

    public struct Filter: Sendable {
        public var status: Status?
        public var code: String?
        /// A substring of a stored path, compared case-insensitively on its displayed form.
        public var query: String?

        public init(status: Status? = nil, code: String? = nil, query: String? = nil) {
            self.status = status
            self.code = code
            self.query = query?.lowercased()
        }

        func matches(_ h: RecordHealth) -> Bool {
            if let status, h.status != status { return false }
            if let code, !h.findings.contains(where: { $0.code.rawValue == code }) { return false }
            if let query, !query.isEmpty,
               !h.record.files.contains(where: { f in
                   f.path.displayed.lowercased().contains(query) || (f.streamable?.displayed.lowercased().contains(query) ?? false)
               }) { return false }
            return true
        }
    }

    let records: any RecordStore
    let state: any StateStore
    let root: MediaRoot
    let minFrames: Int
    let toolVersion: String

    public init(records: any RecordStore, state: any StateStore, root: MediaRoot, minFrames: Int = 10,
                toolVersion: String = Inspector.toolVersion) {
        self.records = records
        self.state = state
        self.root = root
        self.minFrames = minFrames
        self.toolVersion = toolVersion
    }

    /// One page: records with an id above `after` that match, at most `limit`. Scans at most
    /// `scanLimit` records per call, so a filter that matches little cannot make one request
    /// read the whole catalog; `next` continues where the scan stopped (nil: the end).
    public func page(after: Int64, limit: Int, filter: Filter, scanLimit: Int = 20_000) throws -> (items: [RecordHealth], next: Int64?) {
        var out: [RecordHealth] = []
        var cursor = after
        var scanned = 0
        let unfiltered = filter.status == nil && filter.code == nil && (filter.query ?? "").isEmpty
        let pageSize = unfiltered ? max(1, limit) : 500
        while scanned < scanLimit {
            let batch = try records.records(after: cursor, limit: pageSize)
            let atEnd = batch.count < pageSize
            for (n, h) in try assess(batch).enumerated() {
                cursor = h.record.id
                scanned += 1
                guard filter.matches(h) else { continue }
                out.append(h)
                if out.count == limit {
                    return (out, atEnd && n == batch.count - 1 ? nil : cursor)
                }
            }
            if atEnd { return (out, nil) }
        }
        return (out, cursor)
    }

    public struct Summary: Sendable {
        public var records = 0
        public var status: [Status: Int] = [:]
        public var codes: [String: Int] = [:]
    }

    public func summary() throws -> Summary {
        var s = Summary()
        for st in Status.allCases { s.status[st] = 0 }
        try records.forEachPage(of: 500) { batch in
            for h in try assess(batch) {
                s.records += 1
                s.status[h.status, default: 0] += 1
                for c in h.codes { s.codes[c, default: 0] += 1 }
            }
        }
        return s
    }

    /// Health of a batch of records: stat, then the cache (one query per batch).
    public func assess(_ batch: [VideoRecord]) throws -> [RecordHealth] {
        let plans = batch.map { FilePlan.files(of: $0, root: root) }
        let paths = plans.flatMap { $0.map(\.resolved) }
        let standard = (try? state.cachedFacts(for: paths, depth: ProbeDepth.standard.rawValue)) ?? [:]
        let deep = (try? state.cachedFacts(for: paths, depth: ProbeDepth.deep.rawValue)) ?? [:]
        // Real paths of the batch's folders, once each, for the media-root check verify makes.
        var folders: [RawPath: RawPath?] = [:]
        for p in paths where folders[p.parent] == nil { folders[p.parent] = .some(FileSystem.realPath(p.parent)) }
        return zip(batch, plans).map { record, plan in
            var files: [FileHealth] = []
            var findings: [Finding] = []
            if plan.isEmpty { findings.append(Finding(.noFiles, file: nil, "the record names no file")) }
            var unchecked = false
            for p in plan {
                var f = FileHealth(kind: p.kind, role: p.role, stored: p.stored, exists: false, size: nil, facts: nil,
                                   checked: false, findings: [])
                switch FileCheck.regularFile(at: p.resolved) {
                case .failure(let e):
                    f.findings = [Finding(e.findingCode, file: p.kind, role: p.role, e.message)]
                    if case .success(let st) = FileSystem.status(p.resolved), st.kind == .regular {
                        f.exists = true
                        f.size = st.identity.size
                    }
                    f.checked = true
                case .success(let id):
                    f.exists = true
                    f.size = id.size
                    if !root.contains(p.resolved, realFolder: folders[p.resolved.parent] ?? nil) {
                        let real = FileSystem.realPath(p.resolved) ?? p.resolved
                        f.findings = [Finding(.outsideMediaRoot, file: p.kind, role: p.role,
                                              "the file's real path \(real.displayed) lies outside the media root")]
                        f.checked = true
                    } else if record.encrypted && p.role == .original {
                        f.findings = Rules.findingsForEncrypted(size: id.size, appFrameCount: record.appFrameCount,
                                                                kind: p.kind, minFrames: minFrames)
                        f.checked = true
                    } else if let facts = cached(deep[p.resolved], id) ?? cached(standard[p.resolved], id) {
                        f.facts = facts
                        f.checked = true
                        f.findings = Rules.findings(for: facts, kind: p.kind, role: p.role, path: p.resolved, minFrames: minFrames)
                    } else {
                        unchecked = true
                    }
                }
                findings += f.findings
                files.append(f)
            }
            let worst = findings.map(\.severity).max()
            let status: Status = worst == .error ? .error : (unchecked ? .unchecked : (worst == .warning ? .warning : .ok))
            return RecordHealth(record: record, status: status, files: files, findings: findings)
        }
    }

    func cached(_ entry: CachedFacts?, _ id: FileIdentity) -> FileFacts? {
        guard let entry, entry.identity.size == id.size, entry.identity.inode == id.inode, entry.identity.device == id.device,
              entry.identity.mtimeSinceEpochNanoseconds == id.mtimeSinceEpochNanoseconds,
              entry.toolVersion == toolVersion else { return nil }
        return FactsCodec.decode(entry.facts)
    }
}
