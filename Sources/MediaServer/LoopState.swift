import HTTPRanges
import MediaCatalog
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// What one event loop keeps between requests: no lock, since only that loop touches it.
final class LoopState: @unchecked Sendable {
    let files: FileCache
    let records: RecordCache
    private var dateSecond: Int64 = -1
    private(set) var dateLine = ByteBuffer()

    init(fileCacheCapacity: Int, monitor: (any ChangeMonitor)?) {
        files = FileCache(capacity: fileCacheCapacity)
        records = RecordCache(monitor: monitor)
    }

    /// "Date: …\r\n", formatted once a second.
    func date() -> ByteBuffer {
        let now = Int64(time(nil))
        if now != dateSecond {
            dateSecond = now
            var b = ByteBuffer()
            b.writeString("Date: \(HTTPDate.format(now))\r\n")
            dateLine = b
        }
        return dateLine
    }
}

/// Records by id and uuid, valid while the catalog's change monitor reports no change: a
/// deletion by another process is seen at the very next request. Without a monitor nothing
/// is cached.
final class RecordCache {
    private let monitor: (any ChangeMonitor)?
    private var version: UInt64 = 0
    private var entries: [RecordKey: VideoRecord?] = [:]
    static let capacity = 100_000

    init(monitor: (any ChangeMonitor)?) { self.monitor = monitor }

    /// A cached lookup; throws `CatalogError.busy` when the catalog is locked (the caller
    /// retries off the event loop).
    func lookup(_ key: RecordKey, in store: any RecordStore) throws -> VideoRecord? {
        guard let monitor else { return try store.lookup(key, wait: 0) }
        let current = monitor.version()
        if current != version {
            entries.removeAll(keepingCapacity: true)
            version = current
        }
        if let hit = entries[key] { return hit }
        let found = try store.lookup(key, wait: 0)
        if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
        entries[key] = .some(found)
        return found
    }
}
