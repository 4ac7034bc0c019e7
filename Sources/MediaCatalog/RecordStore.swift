import MediaFiles

/// The records of a catalog, whatever the database behind it: medialib's own SQLite file,
/// an application's own tables read through a schema profile, or PostgreSQL. Everything
/// above this module talks to this protocol only.
public protocol RecordStore: AnyObject, Sendable {
    var identity: CatalogIdentity { get }
    var profile: SchemaProfile { get }
    /// medialib's own catalog: records may be added. A foreign catalog belongs to its app.
    var isOwned: Bool { get }

    func count() throws -> Int
    /// Records with an id above `id`, in id order, at most `limit`: how every walk pages.
    func records(after id: Int64, limit: Int) throws -> [VideoRecord]
    func record(id: Int64) throws -> VideoRecord?
    /// By uuid, in any spelling the catalog may hold (dashed or 32 hex digits, any case).
    func record(uuid: String) throws -> VideoRecord?

    /// Many records in one transaction (all or none). Only for medialib's own catalog.
    func insert(_ records: [NewRecord]) throws -> [VideoRecord]

    /// What deleting each record would take with it (the application's on_delete rules).
    func dependents(of records: [VideoRecord]) throws -> [Int64: Dependents]

    /// Deletes the records as judged, in one transaction: each must still hold exactly the
    /// values it was judged on. Every row deleted and every value nulled goes to `journal`
    /// first; `journal.sealBeforeCommit()` runs before the commit and may still abort it.
    func delete(_ request: DeletionRequest, journal: any DeletionJournal) throws -> DeletionOutcome

    /// Whether journaled changes can be put back: all rows absent (restorable), all there
    /// exactly as journaled (nothing to do), or conflicts.
    func restoreState(of changes: [RowChange]) throws -> RestoreState
    /// Puts journaled changes back in one transaction, refusing on any conflict.
    func restore(_ changes: [RowChange]) throws

    /// A lookup that waits at most `wait` seconds for another process's lock, then throws
    /// `CatalogError.busy`: 0 on a server's event loop (it retries off the loop, briefly).
    func lookup(_ key: RecordKey, wait: Double) throws -> VideoRecord?

    /// Something that tells, cheaply and exactly, whether the catalog may have changed since
    /// the last poll (nil when the store cannot tell: then nothing may be cached).
    func makeChangeMonitor() -> (any ChangeMonitor)?
}

public enum RecordKey: Sendable, Hashable {
    case id(Int64)
    case uuid(String)
}

public protocol ChangeMonitor: AnyObject, Sendable {
    /// A number that grows whenever the catalog may have changed: a cache stamped with it is
    /// valid while a later call returns the same number. Safe from any thread.
    func version() -> UInt64
    /// Releases what the monitor holds (a server that stops); `version` then always changes.
    func stop()
}

/// What a record's deletion takes with it, per the profile's relations.
public struct Dependents: Sendable, Equatable {
    /// Rows deleted with it, by table (the record's own row not counted).
    public var deletions: [String: Int] = [:]
    /// Values set to NULL, by "table.column".
    public var nullings: [String: Int] = [:]
    /// Relations that forbid the deletion ("table.column (protect): N rows").
    public var protectedBy: [String] = []
    public init() {}

    public var isProtected: Bool { !protectedBy.isEmpty }
    public var hasDependents: Bool { !deletions.isEmpty || !nullings.isEmpty }
}

public struct DeletionRequest: Sendable {
    /// The records as they were judged.
    public var records: [VideoRecord]
    /// Dependent rows may be deleted (and columns nulled) too.
    public var cascade: Bool

    public init(records: [VideoRecord], cascade: Bool) {
        self.records = records
        self.cascade = cascade
    }
}

public struct DeletionOutcome: Sendable, Equatable {
    public var records: Int
    /// Rows deleted by table, the video table included.
    public var rows: [String: Int]
    public var nulled: Int

    public init(records: Int, rows: [String: Int], nulled: Int) {
        self.records = records
        self.rows = rows
        self.nulled = nulled
    }
}

/// One change a cleanup made to one row, as the journal holds it.
public enum RowChange: Sendable, Equatable {
    /// A row deleted; `row` holds every column.
    case deleted(table: String, key: CatalogRow, row: CatalogRow, record: Int64)
    /// A column set to NULL (on_delete SET_NULL); `old` is the value before.
    case nulled(table: String, key: CatalogRow, column: String, old: ColumnValue, record: Int64)

    public var table: String {
        switch self {
        case .deleted(let t, _, _, _), .nulled(let t, _, _, _, _): t
        }
    }

    public var record: Int64 {
        switch self {
        case .deleted(_, _, _, let r), .nulled(_, _, _, _, let r): r
        }
    }
}

/// Receives a deletion's changes before they are made.
public protocol DeletionJournal: AnyObject {
    func write(_ change: RowChange) throws
    /// Everything is journaled and the transaction is still open: make the journal durable
    /// and re-check what must not have changed. Throwing rolls the deletion back.
    func sealBeforeCommit() throws
}

public enum RestoreState: Sendable, Equatable {
    case restorable
    /// Every row is there exactly as journaled (already restored, or never deleted).
    case present
    case conflicts([String])
}

/// medialib's own settings and the probe cache, kept apart from the records: in medialib's
/// own catalog file, or in a file of medialib's beside a catalog it does not own.
public protocol StateStore: AnyObject, Sendable {
    /// Where the state lives, for messages.
    var location: String { get }
    /// False when the state cannot be written (a read-only catalog file): results are not cached.
    var isWritable: Bool { get }
    func setting(_ key: String) throws -> String?
    func setSetting(_ key: String, _ value: String) throws
    /// One lookup for many files; files without an entry are absent from the result.
    func cachedFacts(for paths: [RawPath], depth: String) throws -> [RawPath: CachedFacts]
    func storeFacts(_ entries: [CachedFacts]) throws
}

public enum SettingKey {
    public static let mediaRoot = "media_root"
}

/// What the probe cache remembers of one file. `facts` is Maintenance's encoding; the state
/// store keeps it opaque.
public struct CachedFacts: Sendable, Equatable {
    public var path: RawPath
    public var depth: String
    public var identity: FileIdentity
    public var toolVersion: String
    public var facts: String
    public var checkedAt: String

    public init(path: RawPath, depth: String, identity: FileIdentity, toolVersion: String, facts: String, checkedAt: String) {
        self.path = path
        self.depth = depth
        self.identity = identity
        self.toolVersion = toolVersion
        self.facts = facts
        self.checkedAt = checkedAt
    }
}

extension RecordStore {
    /// Every record in id order, a page at a time: memory stays flat in the catalog's size.
    public func forEachPage(of size: Int = 500, _ body: ([VideoRecord]) throws -> Void) throws {
        var after = Int64.min
        while true {
            let page = try records(after: after, limit: size)
            if page.isEmpty { return }
            try body(page)
            guard let last = page.last, page.count == size else { return }
            after = last.id
        }
    }
}
