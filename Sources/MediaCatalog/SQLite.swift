import CSQLite
import MediaFiles
#if canImport(Glibc)
import Glibc
#endif

/// A thin layer over the SQLite C API. Every value comes back as the storage class and bytes
/// SQLite holds (a TEXT that is not UTF-8 stays bytes, a BLOB where a path was expected stays
/// a BLOB), so no row written by another program can make a read trap.
struct SQLiteError: Error, Sendable, CustomStringConvertible {
    var code: Int32
    var message: String

    /// The primary result code (SQLITE_BUSY for SQLITE_BUSY_SNAPSHOT and the like).
    var primary: Int32 { code & 0xFF }
    var isBusy: Bool { primary == SQLITE_BUSY || primary == SQLITE_LOCKED }
    var isReadOnly: Bool { primary == SQLITE_READONLY }
    var isConstraint: Bool { primary == SQLITE_CONSTRAINT }
    var isNotADatabase: Bool { primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT }
    var description: String { message }
}

/// One connection, used by one thread at a time (callers serialise access).
final class SQLiteConnection: @unchecked Sendable {
    let handle: OpaquePointer
    let path: RawPath
    private var statements: [String: OpaquePointer] = [:]

    enum Mode {
        case readOnly
        /// Read-only and without locking: for a file on read-only media, where SQLite cannot
        /// create the lock files it would otherwise need. Only safe when nobody writes.
        case immutable
        case readWrite
        case create
    }

    init(path: RawPath, mode: Mode, busyTimeoutMilliseconds: Int32 = 5_000) throws {
        self.path = path
        var flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI
        switch mode {
        case .readOnly, .immutable: flags |= SQLITE_OPEN_READONLY
        case .readWrite: flags |= SQLITE_OPEN_READWRITE
        case .create: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
        }
        // A URI, so that no character of the name (a "?" or "#") is read as a URI part.
        var uri = Array("file:".utf8) + Self.percentEncoded(path.bytes)
        if mode == .immutable { uri += Array("?immutable=1".utf8) }
        var db: OpaquePointer?
        let rc = RawPath(bytes: uri).withCString { sqlite3_open_v2($0, &db, flags, nil) } ?? SQLITE_CANTOPEN
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(db)
            throw SQLiteError(code: rc, message: message)
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        busyTimeout = busyTimeoutMilliseconds
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
    }

    deinit {
        for s in statements.values { sqlite3_finalize(s) }
        sqlite3_close_v2(handle)
    }

    static func percentEncoded(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        let hex = Array("0123456789ABCDEF".utf8)
        for b in bytes {
            if b == UInt8(ascii: "%") || b == UInt8(ascii: "?") || b == UInt8(ascii: "#") || b < 0x21 || b >= 0x7F {
                out += [UInt8(ascii: "%"), hex[Int(b >> 4)], hex[Int(b & 0xF)]]
            } else {
                out.append(b)
            }
        }
        return out
    }

    private(set) var busyTimeout: Int32 = 0

    func setBusyTimeout(milliseconds: Int32) {
        busyTimeout = milliseconds
        sqlite3_busy_timeout(handle, milliseconds)
    }

    var lastError: SQLiteError {
        SQLiteError(code: sqlite3_extended_errcode(handle), message: String(cString: sqlite3_errmsg(handle)))
    }

    /// A statement compiled once per connection and reused.
    func cached(_ sql: String) throws -> Statement {
        if let s = statements[sql] { return Statement(connection: self, raw: s, owned: false) }
        let s = try compile(sql, persistent: true)
        statements[sql] = s
        return Statement(connection: self, raw: s, owned: false)
    }

    func prepare(_ sql: String) throws -> Statement {
        Statement(connection: self, raw: try compile(sql, persistent: false), owned: true)
    }

    private func compile(_ sql: String, persistent: Bool) throws -> OpaquePointer {
        var statement: OpaquePointer?
        let flags = persistent ? UInt32(SQLITE_PREPARE_PERSISTENT) : 0
        let rc = sqlite3_prepare_v3(handle, sql, -1, flags, &statement, nil)
        guard rc == SQLITE_OK, let statement else {
            sqlite3_finalize(statement)
            throw lastError
        }
        return statement
    }

    /// Runs statements that return no rows.
    func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &message)
        if rc != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_free(message)
            throw SQLiteError(code: sqlite3_extended_errcode(handle), message: text)
        }
    }

    /// All rows of one query.
    func query(_ sql: String, _ bindings: [ColumnValue] = []) throws -> [[ColumnValue]] {
        let s = try prepare(sql)
        try s.bind(bindings)
        var rows: [[ColumnValue]] = []
        while try s.step() { rows.append(s.row()) }
        return rows
    }

    func run(_ sql: String, _ bindings: [ColumnValue] = []) throws {
        let s = try prepare(sql)
        try s.bind(bindings)
        while try s.step() {}
    }

    var changes: Int { Int(sqlite3_changes(handle)) }
    var lastInsertedRowID: Int64 { sqlite3_last_insert_rowid(handle) }
    var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// Changes whenever another connection commits (PRAGMA data_version).
    func dataVersion() throws -> Int64 {
        let s = try cached("PRAGMA data_version")
        defer { s.reset() }
        guard try s.step(), case .integer(let v) = s.column(0) else { return 0 }
        return v
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    func transaction<T>(immediate: Bool, _ body: () throws -> T) throws -> T {
        try execute(immediate ? "BEGIN IMMEDIATE" : "BEGIN")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            if isInTransaction { try? execute("ROLLBACK") }
            throw error
        }
    }

    final class Statement {
        let connection: SQLiteConnection
        let raw: OpaquePointer
        let owned: Bool

        init(connection: SQLiteConnection, raw: OpaquePointer, owned: Bool) {
            self.connection = connection
            self.raw = raw
            self.owned = owned
        }

        deinit {
            if owned { sqlite3_finalize(raw) } else { reset() }
        }

        func reset() {
            sqlite3_reset(raw)
            sqlite3_clear_bindings(raw)
        }

        func bind(_ values: [ColumnValue]) throws {
            for (i, v) in values.enumerated() { try bind(v, at: Int32(i + 1)) }
        }

        func bind(_ value: ColumnValue, at index: Int32) throws {
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(raw, index)
            case .integer(let i): rc = sqlite3_bind_int64(raw, index, i)
            case .real(let d): rc = sqlite3_bind_double(raw, index, d)
            case .text(let bytes):
                // Bound with its length: SQLite keeps the bytes, NULs and invalid UTF-8 included.
                var copy = bytes
                copy.append(0)
                rc = copy.withUnsafeBytes { sqlite3_bind_text(raw, index, $0.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(clamping: bytes.count), medialib_sqlite_transient()) }
            case .blob(let bytes):
                rc = bytes.withUnsafeBytes { buffer -> Int32 in
                    if buffer.isEmpty { return sqlite3_bind_zeroblob(raw, index, 0) }
                    return sqlite3_bind_blob(raw, index, buffer.baseAddress, Int32(clamping: buffer.count), medialib_sqlite_transient())
                }
            }
            if rc != SQLITE_OK { throw connection.lastError }
        }

        /// True for a row, false when done.
        func step() throws -> Bool {
            switch sqlite3_step(raw) {
            case SQLITE_ROW: return true
            case SQLITE_DONE: return false
            default:
                let error = connection.lastError
                sqlite3_reset(raw)
                throw error
            }
        }

        var columnCount: Int32 { sqlite3_column_count(raw) }

        func columnName(_ i: Int32) -> String {
            sqlite3_column_name(raw, i).map { String(cString: $0) } ?? ""
        }

        /// A column exactly as stored: its storage class and bytes.
        func column(_ i: Int32) -> ColumnValue {
            switch sqlite3_column_type(raw, i) {
            case SQLITE_INTEGER: return .integer(sqlite3_column_int64(raw, i))
            case SQLITE_FLOAT: return .real(sqlite3_column_double(raw, i))
            case SQLITE_TEXT:
                let count = Int(sqlite3_column_bytes(raw, i))
                guard count > 0, let p = sqlite3_column_text(raw, i) else { return .text([]) }
                return .text(Array(UnsafeBufferPointer(start: p, count: count)))
            case SQLITE_BLOB:
                let count = Int(sqlite3_column_bytes(raw, i))
                guard count > 0, let p = sqlite3_column_blob(raw, i) else { return .blob([]) }
                return .blob(Array(UnsafeRawBufferPointer(start: p, count: count)))
            default: return .null
            }
        }

        func row() -> [ColumnValue] {
            (0..<columnCount).map(column)
        }
    }
}
