import ArgumentParser
import Foundation
import MediaCatalog

struct Add: ParsableCommand, GlobalCommand {
    static let configuration = CommandConfiguration(
        abstract: "Register one video and print its id.",
        usage: "medialib add RAW [--processed FILE] [--uuid UUID]\nmedialib add --processed FILE")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The raw video file.", valueName: "raw"))
    var raw: String?

    @Option(help: ArgumentHelp("The processed video file.", valueName: "file"))
    var processed: String?

    @Option(help: "Use this uuid instead of a new one.")
    var uuid: String?

    func validate() throws {
        if raw == nil && processed == nil { throw ValidationError("name a raw file, a --processed file, or both") }
        if let uuid, UUID(uuidString: uuid) == nil { throw ValidationError("'\(uuid)' is not a uuid") }
    }

    func run() throws {
        let catalog = try global.openCatalog(.create)
        let root = try Registration.mediaRoot(global, catalog)
        let rawStored = try raw.map { try Registration.storedPath($0, root: root) }
        let processedStored = try processed.map { try Registration.storedPath($0, root: root) }
        for path in [rawStored, processedStored].compactMap({ $0 }) where path.hasPrefix("/") {
            Console.error("warning: \(path) lies outside the media root \(root.path); it is stored absolute, and serve and verify refuse files outside the root (set --media-root)")
        }
        for path in [rawStored, processedStored].compactMap({ $0 }) {
            if let known = try catalog.records(namingPath: path).first {
                throw Failure(code: Exit.cannotRun, message: "error: \(path) is already registered as record \(known.id)")
            }
        }
        do {
            let record = try catalog.insert(rawFile: rawStored, processedFile: processedStored, uuid: uuid)
            print(record.id)
        } catch let error as CatalogError {
            throw Failure(code: Exit.cannotRun, message: "error: \(error.description)")
        }
    }
}

enum Registration {
    /// The root new paths are stored against; the first registration records it in the
    /// catalog so later runs from another folder resolve the same files.
    static func mediaRoot(_ global: GlobalOptions, _ catalog: SQLiteCatalog, fallback: String? = nil) throws -> MediaRoot {
        var root = try global.resolveMediaRoot(catalog)
        if global.explicitMediaRoot == nil, try catalog.setting(CatalogSettingKey.mediaRoot) == nil, let fallback {
            root = MediaRoot(fallback)
        }
        if try catalog.setting(CatalogSettingKey.mediaRoot) == nil {
            try catalog.setSetting(CatalogSettingKey.mediaRoot, root.path)
        }
        return root
    }

    /// The file must exist and be a regular file; it is stored relative to the root when inside it.
    static func storedPath(_ given: String, root: MediaRoot) throws -> String {
        let absolute = MediaRoot.absolute(given)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: absolute, isDirectory: &isDir) else {
            throw Failure(code: Exit.usage, message: "error: no such file: \(given)")
        }
        if isDir.boolValue { throw Failure(code: Exit.usage, message: "error: \(given) is a directory, not a video file") }
        return root.storedForm(ofAbsolute: absolute)
    }
}
