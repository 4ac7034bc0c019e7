/// The catalog as cleanup, verify and serve see it. SQLite implements it today; an
/// endoreg-db (Django) reader and PostgreSQL are meant to plug in behind the same seam.
public protocol Catalog: Sendable {
    /// Where the catalog lives, for messages.
    var location: String { get }

    /// Visits every record in id order without holding them all in memory.
    func forEachRecord(_ body: (VideoRecord) throws -> Void) throws
    func recordCount() throws -> Int
    func record(id: Int64) throws -> VideoRecord?
    func record(uuid: String) throws -> VideoRecord?
    /// The records naming this stored path as raw or processed file.
    func records(namingPath path: String) throws -> [VideoRecord]

    func insert(rawFile: String?, processedFile: String?, uuid: String?) throws -> VideoRecord
    /// Many records in one transaction (import): all or none.
    func insert(_ records: [NewRecord]) throws -> [VideoRecord]

    /// Deletes the records in one transaction, as they were judged: a record that vanished or
    /// whose uuid or files changed since makes the whole deletion refuse. `journal` receives
    /// every column of every row before anything is deleted and must make it durable; if it
    /// throws, nothing is deleted.
    func delete(_ judged: [VideoRecord], journal: ([CatalogRow]) throws -> Void) throws

    /// Ids and uuids among `rows` already taken in the catalog, described for a message.
    func restoreConflicts(rows: [CatalogRow]) throws -> [String]

    /// Puts journaled rows back in one transaction, refusing if any id or uuid is taken.
    func restore(rows: [CatalogRow]) throws

    func setting(_ key: String) throws -> String?
    func setSetting(_ key: String, _ value: String) throws

    func cachedVerification(path: String, depth: String) throws -> VerificationCacheEntry?
    /// One query for a batch of paths; paths without an entry are absent from the result.
    func cachedVerifications(paths: [String], depth: String) throws -> [String: VerificationCacheEntry]
    func storeVerifications(_ entries: [VerificationCacheEntry]) throws
}

public enum CatalogSettingKey {
    public static let mediaRoot = "media_root"
}

/// A record to insert; a nil uuid gets a fresh one.
public struct NewRecord: Sendable, Equatable {
    public var rawFile: String?
    public var processedFile: String?
    public var uuid: String?

    public init(rawFile: String?, processedFile: String? = nil, uuid: String? = nil) {
        self.rawFile = rawFile
        self.processedFile = processedFile
        self.uuid = uuid
    }
}

extension Catalog {
    /// Deletes by id whatever the rows hold now (for callers that did not judge them).
    public func delete(ids: [Int64], journal: ([CatalogRow]) throws -> Void) throws {
        let current = try ids.map { id -> VideoRecord in
            guard let r = try record(id: id) else {
                throw CatalogError.conflict("record \(id) vanished before deletion; nothing was deleted")
            }
            return r
        }
        try delete(current, journal: journal)
    }
}
