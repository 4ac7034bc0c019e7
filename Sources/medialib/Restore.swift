import ArgumentParser
import Foundation
import Maintenance
import MediaCatalog

struct Restore: ParsableCommand, GlobalCommand {
    static let configuration = CommandConfiguration(abstract: "Undo an applied cleanup from its journal.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The journal `cleanup --apply` wrote.", valueName: "journal"))
    var journal: String

    @Flag(help: "Restore into a catalog other than the one the journal was written for.")
    var force = false

    func run() throws {
        let loaded: Journal
        guard FileManager.default.fileExists(atPath: journal) else {
            throw Failure(code: Exit.usage, message: "error: no such journal: \(journal)")
        }
        do { loaded = try Restorer.load(journal) } catch {
            throw Failure(code: Exit.cannotRun, message: "error: \(error)")
        }
        let sameCatalog = (MediaRoot.realPath(loaded.header.catalog) ?? loaded.header.catalog)
            == (MediaRoot.realPath(global.catalogPath) ?? global.catalogPath)
        if !sameCatalog && !force {
            throw Failure(code: Exit.cannotRun, message: "error: the journal was written for the catalog \(loaded.header.catalog), not \(global.catalogPath); pass --db \(loaded.header.catalog), or --force to restore into this one. Nothing was changed.")
        }
        let catalog = try global.openCatalog(.write)
        do {
            let outcome = try Restorer().restore(loaded, into: catalog)
            let ids = loaded.entries.compactMap { e -> String? in
                if case .integer(let i)? = e.row["id"] { return "#\(i)" }
                return nil
            }
            print("Restored \(outcome.restored) records (\(ids.joined(separator: ", "))); moved \(outcome.filesMovedBack) files back from the trash.")
        } catch {
            throw Failure(code: Exit.cannotRun, message: "error: \(error)")
        }
    }
}
