import Foundation
import GRDBSQLite

/// The per-request lookups of `serve`, on plain read-only SQLite connections with prepared
/// statements. GRDB's pool hops through dispatch queues on every read, which profiled at a
/// third of serve's CPU; one autocommit SELECT needs none of that to stay consistent (WAL
/// gives each statement a snapshot of committed data, so deletions are seen at once).
final class RecordReader: @unchecked Sendable {
    private let path: String
    private let lock = NSLock()
    private var idle: [Connection] = []

    init(path: String) {
        self.path = path
    }

    func record(id: Int64) throws -> VideoRecord? {
        try withConnection { c in
            sqlite3_bind_int64(c.byID, 1, id)
            return try c.step(c.byID)
        }
    }

    func record(uuid: String) throws -> VideoRecord? {
        try withConnection { c in
            sqlite3_bind_text(c.byUUID, 1, uuid.lowercased(), -1, Connection.transient)
            return try c.step(c.byUUID)
        }
    }

    /// Borrows an idle connection (or opens one); a connection that failed is dropped.
    private func withConnection<T>(_ body: (Connection) throws -> T) throws -> T {
        lock.lock()
        let reused = idle.popLast()
        lock.unlock()
        let connection = try reused ?? Connection(path: path)
        let result = try body(connection)
        lock.lock()
        if idle.count < 64 { idle.append(connection) }
        lock.unlock()
        return result
    }

    final class Connection {
        static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        static let columns = "SELECT id, uuid, raw_file, processed_file, created_at FROM videos WHERE "

        let db: OpaquePointer
        let byID: OpaquePointer
        let byUUID: OpaquePointer

        init(path: String) throws {
            var handle: OpaquePointer?
            guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK,
                  let handle else {
                let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
                sqlite3_close(handle)
                throw CatalogError.cannotOpen(path: path, detail: message)
            }
            sqlite3_busy_timeout(handle, 10_000)
            func prepare(_ sql: String) throws -> OpaquePointer {
                var statement: OpaquePointer?
                guard sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil) == SQLITE_OK,
                      let statement else {
                    let message = String(cString: sqlite3_errmsg(handle))
                    sqlite3_close(handle)
                    throw CatalogError.failed("cannot read the catalog \(path): \(message)")
                }
                return statement
            }
            db = handle
            byID = try prepare(Self.columns + "id = ?")
            byUUID = try prepare(Self.columns + "uuid = ?")
        }

        deinit {
            sqlite3_finalize(byID)
            sqlite3_finalize(byUUID)
            sqlite3_close(db)
        }

        func step(_ statement: OpaquePointer) throws -> VideoRecord? {
            defer {
                sqlite3_reset(statement)
                sqlite3_clear_bindings(statement)
            }
            switch sqlite3_step(statement) {
            case SQLITE_ROW:
                return VideoRecord(id: sqlite3_column_int64(statement, 0),
                                   uuid: text(statement, 1) ?? "",
                                   rawFile: text(statement, 2),
                                   processedFile: text(statement, 3),
                                   createdAt: text(statement, 4) ?? "")
            case SQLITE_DONE:
                return nil
            default:
                throw CatalogError.failed("catalog read failed: \(String(cString: sqlite3_errmsg(db)))")
            }
        }

        private func text(_ statement: OpaquePointer, _ column: Int32) -> String? {
            guard sqlite3_column_type(statement, column) != SQLITE_NULL,
                  let bytes = sqlite3_column_text(statement, column) else { return nil }
            return String(cString: bytes)
        }
    }
}
