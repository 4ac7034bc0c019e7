import ArgumentParser
import Foundation
import MediaCatalog

struct Import: ParsableCommand, GlobalCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Register every video file under a folder that the catalog does not know yet.")

    static let extensions: Set<String> = ["mp4", "m4v", "mov", "webm", "mkv"]

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Folder to scan recursively.", valueName: "dir"))
    var dir: String

    func run() throws {
        let folder = MediaRoot.absolute(dir)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
            throw Failure(code: Exit.usage, message: "error: \(dir) is not a folder")
        }
        let catalog = try global.openCatalog(.create)
        // A first import with no root known makes the imported folder the root.
        let root = try Registration.mediaRoot(global, catalog, fallback: folder)
        var known = 0
        var fresh: [NewRecord] = []
        for file in Self.videoFiles(under: folder) {
            let stored = root.storedForm(ofAbsolute: file)
            if try !catalog.records(namingPath: stored).isEmpty {
                known += 1
            } else {
                fresh.append(NewRecord(rawFile: stored))
            }
        }
        // One transaction: an import is all or nothing, and fast for large folders.
        let added = try catalog.insert(fresh)
        for record in added { print("added #\(record.id) \(record.rawFile ?? "")") }
        print("Imported \(added.count) new, skipped \(known) already known.")
    }

    /// Sorted, so imports are repeatable; symlinked folders are not followed.
    static func videoFiles(under folder: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: folder) else { return [] }
        var found: [String] = []
        while let rel = walker.nextObject() as? String {
            let ext = (rel as NSString).pathExtension.lowercased()
            guard extensions.contains(ext) else { continue }
            let full = (folder as NSString).appendingPathComponent(rel)
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: full, isDirectory: &isDir), !isDir.boolValue {
                found.append(full)
            }
        }
        return found.sorted()
    }
}
