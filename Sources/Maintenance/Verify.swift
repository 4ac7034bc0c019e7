import Foundation
import MediaCatalog

/// verify's policy over the inspection: pure. A record is as bad as its worst finding;
/// informational findings (encrypted, recently_modified) do not count.
public enum VerifyPolicy {
    public enum Status: String, Sendable { case ok, warning, error }

    public static func status(_ i: RecordInspection) -> Status {
        switch i.worstSeverity {
        case .error?: .error
        case .warning?: .warning
        default: .ok
        }
    }

    /// The findings verify reports (info ones are facts, shown only in JSON).
    public static func reported(_ i: RecordInspection) -> [Finding] {
        i.findings.filter { $0.severity != .info }
    }
}

public struct VerifyCounters: Sendable, Equatable {
    public var records = 0
    public var ok = 0
    public var warnings = 0
    public var errors = 0
    public var stats = InspectionStats()

    public func passed(strict: Bool) -> Bool { errors == 0 && !(strict && warnings > 0) }
}

/// A stable subset of records by id, so N machines' cron jobs cover a catalog exactly once.
public struct Shard: Sendable, Equatable {
    public var index: Int
    public var count: Int

    /// "K/N" with 1 ≤ K ≤ N.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]), n >= 1, n <= 1_000_000, k >= 1, k <= n else { return nil }
        index = k
        count = n
    }

    /// A record's shard depends on its id alone: adding records never moves another one.
    public func contains(_ id: Int64) -> Bool {
        var x = UInt64(bitPattern: id) &+ 0x9E37_79B9_7F4A_7C15
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        x ^= x >> 31
        return Int(x % UInt64(count)) == index - 1
    }
}

/// `medialib verify`: every record (or a shard of them) through the inspection, judged for streaming.
public final class VerifyJob {
    let catalog: OpenCatalog
    let settings: InspectionSettings
    let shard: Shard?

    public init(catalog: OpenCatalog, settings: InspectionSettings, shard: Shard? = nil) {
        self.catalog = catalog
        self.settings = settings
        self.shard = shard
    }

    public func run(_ visit: (RecordInspection, VerifyPolicy.Status) throws -> Void) throws -> VerifyCounters {
        var counters = VerifyCounters()
        let records: any RecordStore = shard.map { ShardedStore(base: catalog.records, shard: $0) } ?? catalog.records
        counters.stats = try Inspector(records: records, state: catalog.state, settings: settings).run { i in
            let status = VerifyPolicy.status(i)
            counters.records += 1
            switch status {
            case .ok: counters.ok += 1
            case .warning: counters.warnings += 1
            case .error: counters.errors += 1
            }
            try visit(i, status)
        }
        return counters
    }
}

/// A record store seen through a shard: the pages hold only the shard's records.
final class ShardedStore: RecordStore, @unchecked Sendable {
    let base: any RecordStore
    let shard: Shard

    init(base: any RecordStore, shard: Shard) {
        self.base = base
        self.shard = shard
    }

    var identity: CatalogIdentity { base.identity }
    var profile: SchemaProfile { base.profile }
    var isOwned: Bool { base.isOwned }
    func count() throws -> Int { try base.count() }

    func records(after id: Int64, limit: Int) throws -> [VideoRecord] {
        var out: [VideoRecord] = []
        var after = id
        while out.count < limit {
            let page = try base.records(after: after, limit: limit)
            out += page.filter { shard.contains($0.id) }
            guard let last = page.last, page.count == limit else { break }
            after = last.id
        }
        // Never more than asked: the caller pages on from the last id it got.
        return Array(out.prefix(limit))
    }

    func record(id: Int64) throws -> VideoRecord? { try base.record(id: id).flatMap { shard.contains($0.id) ? $0 : nil } }
    func record(uuid: String) throws -> VideoRecord? { try base.record(uuid: uuid).flatMap { shard.contains($0.id) ? $0 : nil } }
    func insert(_ records: [NewRecord]) throws -> [VideoRecord] { try base.insert(records) }
    func dependents(of records: [VideoRecord]) throws -> [Int64: Dependents] { try base.dependents(of: records) }
    func delete(_ request: DeletionRequest, journal: any DeletionJournal) throws -> DeletionOutcome { try base.delete(request, journal: journal) }
    func restoreState(of changes: [RowChange]) throws -> RestoreState { try base.restoreState(of: changes) }
    func restore(_ changes: [RowChange]) throws { try base.restore(changes) }
    func lookup(_ key: RecordKey, wait: Double) throws -> VideoRecord? { try base.lookup(key, wait: wait) }
    func makeChangeMonitor() -> (any ChangeMonitor)? { base.makeChangeMonitor() }
}
