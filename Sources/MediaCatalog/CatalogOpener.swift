import Foundation
import MediaFiles
#if canImport(Glibc)
import Glibc
#endif

/// Which profile maps the catalog's tables to records.
public enum SchemaChoice: Sendable, Equatable {
    /// medialib's tables → medialib; an endoreg-db video table → endoreg-db.
    case auto
    case named(String)
    case profile(SchemaProfile)
}

public enum CatalogAccess: Sendable, Equatable {
    /// Read only; the catalog must exist and is left byte for byte as it is.
    case read
    /// Read and write; the catalog must exist and be writable.
    case write
    /// Read and write; an empty medialib catalog is created when none exists.
    case create
}

public struct CatalogOptions: Sendable {
    /// A path (SQLite) or a URL.
    public var location: String
    public var schema: SchemaChoice
    /// Where medialib's state lives for a catalog it does not own (nil: the default place).
    public var statePath: RawPath?
    public var access: CatalogAccess
    /// Catalogs on database servers, by URL scheme: the caller brings them (the CLI brings
    /// PostgreSQL); MediaCatalog itself opens SQLite files.
    public var backends: [any CatalogBackend] = []
    /// Connections a server backend may hold at once (`--db-pool`).
    public var poolSize: Int = CatalogOptions.defaultPoolSize
    public static let defaultPoolSize = 8

    public init(location: String, schema: SchemaChoice = .auto, statePath: RawPath? = nil, access: CatalogAccess) {
        self.location = location
        self.schema = schema
        self.statePath = statePath
        self.access = access
    }
}

/// An opened catalog: its records and medialib's state for it.
public struct OpenCatalog: Sendable {
    public let records: any RecordStore
    public let state: any StateStore
    /// Things the user should know about how it was opened (printed on stderr).
    public let notes: [String]
    /// Where cleanup journals go by default: beside medialib's own catalog; for another
    /// app's database, beside medialib's state for it (never in the app's folder).
    public let journalFolder: RawPath

    public init(records: any RecordStore, state: any StateStore, notes: [String], journalFolder: RawPath) {
        self.records = records
        self.state = state
        self.notes = notes
        self.journalFolder = journalFolder
    }
}

/// A catalog on a database server, opened by URL.
public protocol CatalogBackend: Sendable {
    /// The URL schemes it opens ("postgres", "postgresql").
    var schemes: Set<String> { get }
    func open(_ options: CatalogOptions) throws -> OpenCatalog
}

public enum CatalogOpener {
    public static func open(_ options: CatalogOptions) throws -> OpenCatalog {
        let location = options.location
        if let scheme = urlScheme(location) {
            if let backend = options.backends.first(where: { $0.schemes.contains(scheme) }) {
                return try backend.open(options)
            }
            throw CatalogError.unsupported("unknown catalog URL scheme \(scheme)://; use a file path (SQLite) or postgres://")
        }
        return try openSQLite(path: MediaRoot(RawPath(location)).path, given: location, options: options)
    }

    /// medialib's state for a catalog on a server (or any catalog it keeps no state inside):
    /// a SQLite file at `--state`, else in the state folder under the catalog's identity;
    /// journals go beside it.
    public static func separateState(for identity: CatalogIdentity, options: CatalogOptions) -> (state: any StateStore, journalFolder: RawPath) {
        let statePath = options.statePath ?? defaultStateFolder().appending(identity.stateKey + ".sqlite")
        let exists = FileSystem.occupied(statePath)
        let canWrite = exists ? writable(statePath, mode: fileMode(statePath)) : true
        return (SQLiteStateStore(path: statePath, writable: canWrite, createOnWrite: true), statePath.parent.appending("journals"))
    }

    /// "postgres" for "postgres://…"; nil for a path.
    static func urlScheme(_ location: String) -> String? {
        guard let r = location.range(of: "://") else { return nil }
        let scheme = location[..<r.lowerBound]
        guard !scheme.isEmpty, scheme.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == "." }),
              scheme.first?.isLetter == true else { return nil }
        return scheme.lowercased()
    }

    // MARK: SQLite

    static func openSQLite(path: RawPath, given: String, options: CatalogOptions) throws -> OpenCatalog {
        let shown = path.displayed
        var notes: [String] = []
        var isNew = false
        switch FileSystem.status(path) {
        case .failure(let e) where e.isNotFound:
            guard options.access == .create else { throw CatalogError.notFound(shown) }
            let folder = path.parent
            guard FileSystem.isDirectory(folder) else {
                throw CatalogError.cannotOpen(shown, "its folder \(folder.displayed) does not exist")
            }
            guard writable(folder) else { throw CatalogError.readOnly(shown, "its folder \(folder.displayed) is not writable") }
            isNew = true
        case .failure(let e):
            throw CatalogError.cannotOpen(shown, e.description)
        case .success(let st):
            switch st.kind {
            case .directory: throw CatalogError.notAFile(shown, "a directory")
            case .regular: break
            default: throw CatalogError.notAFile(shown, "not a regular file (a FIFO, socket or device)")
            }
            if st.identity.size == 0 {
                if options.access == .create { isNew = true } else { throw CatalogError.notADatabase(shown, "the file is empty") }
            } else {
                try checkHeader(path, shown: shown)
            }
            if options.access != .read {
                if !writable(path, mode: st.mode) { throw CatalogError.readOnly(shown, "the file is not writable") }
                if !writable(path.parent) { throw CatalogError.readOnly(shown, "its folder \(path.parent.displayed) is not writable") }
            }
        }

        let real = FileSystem.realPath(path) ?? path
        if isNew {
            guard options.schema == .auto || options.schema == .named("medialib") else {
                throw CatalogError.unknownSchema(shown, "no such database; medialib creates only catalogs of its own schema")
            }
            let c = try SQLiteRecordStore.map { try SQLiteConnection(path: path, mode: .create) }
            try SQLiteRecordStore.map { try OwnedSchema.create(c) }
            return try finish(path: path, real: FileSystem.realPath(path) ?? path, profile: .medialib, owned: true,
                              readMode: .readOnly, options: options, notes: notes)
        }

        // Look at the tables through a read-only connection: nothing is written to a database
        // before it is known to be medialib's own.
        var readMode = SQLiteConnection.Mode.readOnly
        var tables: Set<String>
        do {
            tables = try listTables(path, mode: readMode)
        } catch let e as SQLiteError where e.primary == 14 /* SQLITE_CANTOPEN */ && !writable(path.parent) {
            // A WAL catalog in a folder this process cannot write (or on read-only media):
            // SQLite cannot make its lock files, but an immutable open can still read it.
            readMode = .immutable
            tables = try SQLiteRecordStore.map { try listTables(path, mode: readMode) }
            notes.append("note: \(shown) is in a folder this process cannot write; it is read as immutable (changes other processes make while this runs are not seen)")
        } catch let e as SQLiteError {
            if e.isNotADatabase { throw CatalogError.notADatabase(shown, e.message) }
            throw CatalogError.cannotOpen(shown, e.message)
        }
        if readMode == .immutable && options.access != .read {
            throw CatalogError.readOnly(shown, "its folder \(path.parent.displayed) is not writable")
        }

        let profile: SchemaProfile
        let owned: Bool
        switch options.schema {
        case .auto:
            if OwnedSchema.isOwned(tables) {
                (profile, owned) = (.medialib, true)
            } else if let p = SchemaProfile.endoregDB, tables.contains(p.video.table) {
                (profile, owned) = (p, false)
            } else {
                throw CatalogError.unknownSchema(shown, "neither medialib's tables nor an endoreg-db video table (endoreg_db_videofile) are in it; pass --schema medialib|endoreg-db or --schema-file FILE")
            }
        case .named(let name):
            guard let p = SchemaProfile.builtIn(name) else {
                throw CatalogError.unknownSchema(shown, "no built-in schema named \(name) (medialib, endoreg-db)")
            }
            (profile, owned) = (p, name == "medialib")
            if owned && !OwnedSchema.isOwned(tables) {
                throw CatalogError.notADatabase(shown, "it has no videos and settings tables (is it another application's database?)")
            }
        case .profile(let p):
            (profile, owned) = (p, false)
        }
        if !tables.contains(profile.video.table) {
            throw CatalogError.unknownSchema(shown, "it has no \(profile.video.table) table, which the \(profile.name) profile names")
        }
        if owned && options.access != .read {
            let c = try SQLiteRecordStore.map { try SQLiteConnection(path: path, mode: .readWrite) }
            do { try OwnedSchema.migrate(c) } catch let e as SQLiteError where e.isBusy {
                throw CatalogError.busy("another process is writing to the catalog \(shown); try again when it is done")
            } catch let e as SQLiteError {
                throw CatalogError.failed("cannot update the catalog \(shown): \(e.message)")
            }
        }
        return try finish(path: path, real: real, profile: profile, owned: owned, readMode: readMode, options: options, notes: notes)
    }

    private static func finish(path: RawPath, real: RawPath, profile: SchemaProfile, owned: Bool,
                               readMode: SQLiteConnection.Mode, options: CatalogOptions, notes: [String]) throws -> OpenCatalog {
        let identity = CatalogIdentity(kind: "sqlite", location: real.displayed, schema: profile.name)
        let available = try SQLiteRecordStore.map {
            try Set(SQLiteRowSource(connection: SQLiteConnection(path: path, mode: readMode)).columns(of: profile.video.table) ?? [])
        }
        let mapping = try RecordMapping(profile: profile, available: available)
        let store = SQLiteRecordStore(path: path, identity: identity, profile: profile, owned: owned, readMode: readMode,
                                      writable: options.access != .read, mapping: mapping)
        let state: SQLiteStateStore
        let journalFolder: RawPath
        var notes = notes
        if owned {
            journalFolder = path.parent.appending("medialib-journals")
            let canWrite = readMode != .immutable && writable(path, mode: fileMode(path)) && writable(path.parent)
            state = SQLiteStateStore(path: path, writable: canWrite, createOnWrite: false)
            if !canWrite && options.access == .read {
                notes.append("note: the catalog is read-only; results are not cached")
            }
        } else {
            let statePath = options.statePath ?? defaultStateFolder().appending(identity.stateKey + ".sqlite")
            journalFolder = statePath.parent.appending("journals")
            let exists = FileSystem.occupied(statePath)
            let canWrite = exists ? writable(statePath, mode: fileMode(statePath)) : true
            state = SQLiteStateStore(path: statePath, writable: canWrite, createOnWrite: true)
        }
        return OpenCatalog(records: store, state: state, notes: notes, journalFolder: journalFolder)
    }

    static func listTables(_ path: RawPath, mode: SQLiteConnection.Mode) throws -> Set<String> {
        let c = try SQLiteConnection(path: path, mode: mode)
        return Set(try c.query("SELECT name FROM sqlite_master WHERE type = 'table'").compactMap { $0.first?.string })
    }

    /// $XDG_STATE_HOME/medialib, else ~/.local/state/medialib.
    public static func defaultStateFolder() -> RawPath {
        let env = ProcessInfo.processInfo.environment
        if let xdg = env["XDG_STATE_HOME"], xdg.hasPrefix("/") { return RawPath(xdg).appending("medialib") }
        var home = env["HOME"] ?? ""
        if home.isEmpty, let pw = getpwuid(getuid()), let dir = pw.pointee.pw_dir { home = String(cString: dir) }
        if home.isEmpty { home = "/tmp" }
        return RawPath(home).appending(".local/state/medialib")
    }

    private static func checkHeader(_ path: RawPath, shown: String) throws {
        let fd: Int32
        switch FileSystem.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC) {
        case .failure(let e): throw CatalogError.cannotOpen(shown, e.description)
        case .success(let d): fd = d
        }
        defer { close(fd) }
        var head = [UInt8](repeating: 0, count: 16)
        let n = head.withUnsafeMutableBytes { read(fd, $0.baseAddress, 16) }
        if n < 0 { throw CatalogError.cannotOpen(shown, SystemError.current.description) }
        if n < 16 || head != Array("SQLite format 3\0".utf8) {
            throw CatalogError.notADatabase(shown, "the file does not start with the SQLite header")
        }
    }

    static func fileMode(_ path: RawPath) -> UInt32 {
        if case .success(let st) = FileSystem.status(path) { return st.mode }
        return 0
    }

    /// Writable for this process and, since root passes access(2) regardless, by the mode too.
    static func writable(_ path: RawPath, mode: UInt32) -> Bool {
        FileSystem.access(path, W_OK) && mode & 0o222 != 0
    }

    static func writable(_ folder: RawPath) -> Bool {
        FileSystem.access(folder, W_OK | X_OK)
    }
}

/// medialib's own catalog schema and its migrations. Catalogs made by the first release
/// (GRDB's migrator, user_version 0) hold videos, settings and verification_cache.
enum OwnedSchema {
    static let version: Int64 = 2

    static func isOwned(_ tables: Set<String>) -> Bool {
        tables.contains("videos") && tables.contains("settings")
    }

    static func create(_ c: SQLiteConnection) throws {
        try c.execute("PRAGMA journal_mode = WAL")
        try c.transaction(immediate: true) {
            // AUTOINCREMENT: ids are never reused, so a restore cannot collide with newer records.
            try c.execute("""
                CREATE TABLE IF NOT EXISTS videos (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    uuid TEXT NOT NULL UNIQUE,
                    raw_file TEXT,
                    processed_file TEXT,
                    created_at TEXT NOT NULL
                );
                CREATE INDEX IF NOT EXISTS videos_raw_file ON videos(raw_file);
                CREATE INDEX IF NOT EXISTS videos_processed_file ON videos(processed_file);
                """)
            try c.execute(SQLiteStateStore.stateSchema)
            try c.execute("PRAGMA user_version = \(version)")
        }
    }

    /// Brings an existing catalog to the current version, in one transaction.
    static func migrate(_ c: SQLiteConnection) throws {
        let current = try c.query("PRAGMA user_version").first?.first?.integer ?? 0
        guard current < version else { return }
        try c.execute("PRAGMA journal_mode = WAL")
        try c.transaction(immediate: true) {
            // v1 → v2: the probe cache is keyed by path bytes and file identity; the v1 cache
            // (text paths, a tab line) is dropped: it is only a cache, the next run refills it.
            try c.execute(SQLiteStateStore.stateSchema)
            try c.execute("DROP TABLE IF EXISTS verification_cache")
            try c.execute("PRAGMA user_version = \(version)")
        }
    }
}
