import ArgumentParser
import Maintenance
import MediaCatalog
import MediaFiles

struct Restore: ParsableCommand, GlobalCommand {
    static let configuration = CommandConfiguration(
        abstract: "Undo an applied cleanup from its journal.",
        discussion: "Files go back from the trash only if they are the very files cleanup moved, and only to the paths of the rows restored; every row goes back in one transaction. Anything else refuses, changing nothing.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The journal `cleanup --apply` wrote.", valueName: "journal"))
    var journal: String

    @Flag(help: "Restore into a catalog other than the one the journal was written for.")
    var force = false

    func run() throws {
        let path = RawArguments.path(journal)
        guard FileSystem.occupied(path) else { throw Failure.usage("no such journal: \(path.displayed)") }
        let loaded = try Journal.load(path)
        let catalog = try global.open(.write)
        if !RestoreJob.sameCatalog(loaded, catalog.records.identity) && !force {
            throw Failure.cannotRun("the journal was written for the catalog \(loaded.header.catalog), not \(catalog.records.identity); pass --db \(loaded.header.catalog.location), or --force to restore into this one. Nothing was changed.")
        }
        let outcome = try RestoreJob(journal: loaded, records: catalog.records, faults: try Faults.fromEnvironment()).run()
        for note in outcome.notes { Console.error("note: \(note)") }
        if outcome.alreadyPresent {
            Console.out.line("Nothing to restore: records \(Console.idList(outcome.records)) are in the catalog already.")
            return
        }
        let rows = outcome.rows > outcome.records.count ? " (\(outcome.rows) rows)" : ""
        Console.out.line("Restored \(outcome.records.count) records\(rows) (\(Console.idList(outcome.records))); moved \(outcome.filesMovedBack) files back from the trash.")
    }
}
