import ArgumentParser
import Foundation
import MediaCatalog
import MediaProbe

/// A subcommand that takes the global options.
protocol GlobalCommand {
    var global: GlobalOptions { get }
}

/// Options every subcommand takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Catalog file.", discussion: "Default: $MEDIALIB_DB, else ./medialib.sqlite.", valueName: "path"))
    var db: String?

    @Option(name: .customLong("media-root"), help: ArgumentHelp("Folder that relative paths in the catalog resolve against.", discussion: "Default: $MEDIALIB_MEDIA_ROOT, else the catalog's setting, else the current folder.", valueName: "dir"))
    var mediaRoot: String?

    @Flag(name: .long, help: "Let libav log its warnings to stderr.")
    var verbose = false

    /// Absolute and lexically normalised, so our checks and SQLite see the same file.
    var catalogPath: String {
        if let db, !db.isEmpty { return MediaRoot.absolute(db) }
        if let env = ProcessInfo.processInfo.environment["MEDIALIB_DB"], !env.isEmpty { return MediaRoot.absolute(env) }
        return MediaRoot.absolute("medialib.sqlite")
    }

    /// The explicitly chosen media root (flag, then environment), if any.
    var explicitMediaRoot: String? {
        if let mediaRoot, !mediaRoot.isEmpty { return mediaRoot }
        if let env = ProcessInfo.processInfo.environment["MEDIALIB_MEDIA_ROOT"], !env.isEmpty { return env }
        return nil
    }

    func openCatalog(_ access: SQLiteCatalog.Access) throws -> SQLiteCatalog {
        do {
            return try SQLiteCatalog(path: catalogPath, access: access)
        } catch let error as CatalogError {
            throw Failure(code: Exit.cannotRun, message: "error: \(error.description)")
        }
    }

    /// Flag, environment, the catalog's own setting, then the current folder.
    func resolveMediaRoot(_ catalog: any Catalog) throws -> MediaRoot {
        if let explicit = explicitMediaRoot { return MediaRoot(explicit) }
        if let stored = try catalog.setting(CatalogSettingKey.mediaRoot) { return MediaRoot(stored) }
        return MediaRoot(FileManager.default.currentDirectoryPath)
    }

    /// For commands that need the files: a missing root would make every file look missing.
    func requireExistingMediaRoot(_ catalog: any Catalog) throws -> MediaRoot {
        let root = try resolveMediaRoot(catalog)
        guard root.exists else {
            throw Failure(code: Exit.cannotRun, message: "error: the media root \(root.path) does not exist or is not a folder (set --media-root or MEDIALIB_MEDIA_ROOT)")
        }
        return root
    }
}
