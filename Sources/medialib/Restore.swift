import ArgumentParser
import Foundation
import Maintenance
import MediaCatalog

struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Undo an applied cleanup from its journal.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The journal `cleanup --apply` wrote.", valueName: "journal"))
    var journal: String

    func run() throws {
        let loaded: Journal
        do { loaded = try Restorer.load(journal) } catch {
            throw Failure(code: Exit.cannotRun, message: "error: \(Console.describe(error))")
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
            throw Failure(code: Exit.cannotRun, message: "error: \(Console.describe(error))")
        }
    }
}
