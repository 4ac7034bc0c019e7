import Foundation
import MediaFiles

/// medialib's settings and probe cache in SQLite: inside medialib's own catalog file, or in a
/// file of its own beside a catalog medialib does not own (created on the first write, so a
/// command that only reads creates nothing until it has something to remember).
public final class SQLiteStateStore: StateStore, @unchecked Sendable {
    public let location: String
    public let isWritable: Bool
    private let path: RawPath
    private let createOnWrite: Bool
    private let lock = NSLock()
    private var connection: SQLiteConnection?

    /// `writable`: whether this process may write the state (the file, or its folder for a new one).
    init(path: RawPath, writable: Bool, createOnWrite: Bool) {
        self.path = path
        self.location = path.displayed
        self.isWritable = writable
        self.createOnWrite = createOnWrite
    }

    private func withConnection<T>(writing: Bool, _ body: (SQLiteConnection) throws -> T) throws -> T? {
        lock.lock()
        defer { lock.unlock() }
        if connection == nil {
            let exists = FileSystem.occupied(path)
            if !exists && !(writing && createOnWrite) { return nil }
            if !exists, case .failure(let e) = FileSystem.makeDirectories(path.parent) {
                throw CatalogError.failed("cannot create the state folder \(path.parent.displayed): \(e)")
            }
            let c = try SQLiteRecordStore.map {
                try SQLiteConnection(path: path, mode: isWritable ? (exists ? .readWrite : .create) : .readOnly, busyTimeoutMilliseconds: 2_000)
            }
            if isWritable {
                // Inside medialib's own catalog the state tables come with its migrations (an
                // old catalog gets all of them, never a probe cache beside a stale schema).
                try SQLiteRecordStore.map { try createOnWrite ? Self.createTables(c) : OwnedSchema.migrate(c) }
            }
            connection = c
        }
        guard let c = connection else { return nil }
        return try SQLiteRecordStore.map { try body(c) }
    }

    static func createTables(_ c: SQLiteConnection) throws {
        if try c.query("SELECT 1 FROM sqlite_master WHERE name = 'probe_cache'").isEmpty
            || c.query("SELECT 1 FROM sqlite_master WHERE name = 'settings'").isEmpty {
            try c.execute(stateSchema)
        }
    }

    static let stateSchema = """
        CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS probe_cache (
            path BLOB NOT NULL,
            depth TEXT NOT NULL,
            device INTEGER NOT NULL,
            inode INTEGER NOT NULL,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            tool_version TEXT NOT NULL,
            facts TEXT NOT NULL,
            checked_at TEXT NOT NULL,
            PRIMARY KEY (path, depth)
        );
        """

    private func hasTable(_ c: SQLiteConnection, _ name: String) throws -> Bool {
        try !c.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [.text(name)]).isEmpty
    }

    public func setting(_ key: String) throws -> String? {
        try withConnection(writing: false) { c -> String? in
            guard try hasTable(c, "settings") else { return nil }
            return try c.query("SELECT value FROM settings WHERE key = ?", [.text(key)]).first?.first?.bytes
                .map { String(decoding: $0, as: UTF8.self) }
        } ?? nil
    }

    public func setSetting(_ key: String, _ value: String) throws {
        guard isWritable else { throw CatalogError.readOnly(location, "medialib's state cannot be written") }
        _ = try withConnection(writing: true) { c in
            try c.run("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                      [.text(key), .text(value)])
        }
    }

    public func cachedFacts(for paths: [RawPath], depth: String) throws -> [RawPath: CachedFacts] {
        guard !paths.isEmpty else { return [:] }
        return try withConnection(writing: false) { c -> [RawPath: CachedFacts] in
            guard try hasTable(c, "probe_cache") else { return [:] }
            var out: [RawPath: CachedFacts] = [:]
            for start in stride(from: 0, to: paths.count, by: 500) {
                let chunk = paths[start..<min(start + 500, paths.count)]
                let marks = chunk.map { _ in "?" }.joined(separator: ",")
                let rows = try c.query("""
                    SELECT path, depth, device, inode, size, mtime_ns, tool_version, facts, checked_at
                    FROM probe_cache WHERE depth = ? AND path IN (\(marks))
                    """, [.text(depth)] + chunk.map { .blob($0.bytes) })
                for r in rows {
                    guard r.count == 9, let p = r[0].bytes, let device = r[2].integer, let inode = r[3].integer,
                          let size = r[4].integer, let mtime = r[5].integer, let tool = r[6].string, let facts = r[7].string
                    else { continue }
                    let identity = FileIdentity(device: UInt64(bitPattern: device), inode: UInt64(bitPattern: inode), size: size,
                                                mtimeSeconds: mtime / 1_000_000_000, mtimeNanoseconds: mtime % 1_000_000_000)
                    let path = RawPath(bytes: p)
                    out[path] = CachedFacts(path: path, depth: depth, identity: identity, toolVersion: tool, facts: facts,
                                            checkedAt: r[8].string ?? "")
                }
            }
            return out
        } ?? [:]
    }

    public func storeFacts(_ entries: [CachedFacts]) throws {
        guard !entries.isEmpty, isWritable else { return }
        _ = try withConnection(writing: true) { c in
            try c.transaction(immediate: true) {
                let s = try c.prepare("""
                    INSERT OR REPLACE INTO probe_cache (path, depth, device, inode, size, mtime_ns, tool_version, facts, checked_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
                for e in entries {
                    s.reset()
                    try s.bind([.blob(e.path.bytes), .text(e.depth), .integer(Int64(bitPattern: e.identity.device)),
                                .integer(Int64(bitPattern: e.identity.inode)), .integer(e.identity.size),
                                .integer(e.identity.mtimeSinceEpochNanoseconds), .text(e.toolVersion), .text(e.facts),
                                .text(e.checkedAt)])
                    while try s.step() {}
                }
            }
        }
    }
}
