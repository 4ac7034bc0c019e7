import ArgumentParser
import Foundation
import Maintenance
import MediaCatalog
import MediaCatalogPostgres
import MediaFiles

/// A subcommand that takes the global options.
protocol GlobalCommand {
    var global: GlobalOptions { get }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// Options every subcommand takes, before or after its name.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Catalog: a SQLite file (or a postgres:// URL).", discussion: "Default: $MEDIALIB_DB, else ./medialib.sqlite.", valueName: "path"))
    var db: String?

    @Option(name: .long, help: ArgumentHelp("How the catalog's tables map to records: auto, medialib or endoreg-db.", valueName: "schema"))
    var schema: String?

    @Option(name: .customLong("schema-file"), help: ArgumentHelp("A schema profile (JSON) for another application's video table.", valueName: "file"))
    var schemaFile: String?

    @Option(name: .long, help: ArgumentHelp("medialib's state (settings, probe cache) for a catalog it does not own.", discussion: "Default: $XDG_STATE_HOME/medialib/, else ~/.local/state/medialib/.", valueName: "path"))
    var state: String?

    @Option(name: .customLong("media-root"), help: ArgumentHelp("Folder that relative paths in the catalog resolve against.", discussion: "Default: $MEDIALIB_MEDIA_ROOT, else the catalog's setting, else the current folder.", valueName: "dir"))
    var mediaRoot: String?

    @Option(name: .customLong("db-pool"), help: ArgumentHelp("Connections to a PostgreSQL catalog this process may hold at once (default: \(CatalogOptions.defaultPoolSize)).", valueName: "n"))
    var dbPool: Int?

    @Flag(name: .long, help: "Let libav log its warnings to stderr.")
    var verbose = false

    var catalogLocation: String {
        if let db, !db.isEmpty { return db }
        if let env = ProcessInfo.processInfo.environment["MEDIALIB_DB"], !env.isEmpty { return env }
        return "medialib.sqlite"
    }

    func validate() throws {
        if let schema, !["auto", "medialib", "endoreg-db"].contains(schema) {
            throw ValidationError("--schema must be auto, medialib or endoreg-db")
        }
        if schema != nil && schemaFile != nil { throw ValidationError("--schema and --schema-file exclude each other") }
        if let dbPool, dbPool < 1 || dbPool > 512 { throw ValidationError("--db-pool must be between 1 and 512") }
    }

    func schemaChoice() throws -> SchemaChoice {
        if let schemaFile {
            let path = RawArguments.path(schemaFile)
            switch FileSystem.read(path, limit: 1 << 20) {
            case .failure(let e): throw Failure.usage("cannot read the schema file \(path.displayed): \(e)")
            case .success(let bytes): return .profile(try SchemaProfile.decode(bytes))
            }
        }
        switch schema {
        case nil, "auto"?: return .auto
        case let name?: return .named(name)
        }
    }

    /// Opens the catalog; what the user should know about how it was opened goes to stderr.
    func open(_ access: CatalogAccess) throws -> OpenCatalog {
        var options = CatalogOptions(location: catalogLocation, schema: try schemaChoice(), statePath: state.map(RawArguments.path), access: access)
        options.backends = [PostgresBackend()]
        if let dbPool { options.poolSize = dbPool }
        let catalog = try CatalogOpener.open(options)
        for note in catalog.notes { Console.error(note) }
        return catalog
    }

    /// The options that name this catalog again in a later command (the undo line cleanup
    /// prints): the catalog as opened (a URL without its password), how its tables map, where
    /// medialib's state for it lives.
    func catalogArguments(_ catalog: OpenCatalog) -> [String] {
        var out = ["--db", catalog.records.identity.description]
        if let schemaFile { out += ["--schema-file", schemaFile] } else if let schema { out += ["--schema", schema] }
        if let state { out += ["--state", state] }
        return out
    }

    /// The explicitly chosen media root (flag, then environment), if any.
    var explicitMediaRoot: RawPath? {
        if let mediaRoot, !mediaRoot.isEmpty { return RawArguments.path(mediaRoot) }
        if let env = ProcessInfo.processInfo.environment["MEDIALIB_MEDIA_ROOT"], !env.isEmpty { return RawPath(env) }
        return nil
    }

    func resolveMediaRoot(_ catalog: OpenCatalog) throws -> MediaRoot {
        try MediaRootChoice.resolve(explicit: explicitMediaRoot, state: catalog.state)
    }

    /// For commands that need the files: a missing root would make every file look missing.
    func requireExistingMediaRoot(_ catalog: OpenCatalog) throws -> MediaRoot {
        let root = try resolveMediaRoot(catalog)
        guard root.exists else {
            throw Failure.cannotRun("the media root \(root.path.displayed) does not exist or is not a folder (set --media-root or MEDIALIB_MEDIA_ROOT)")
        }
        return root
    }
}
