import ArgumentParser
import Maintenance
import MediaFiles

struct Import: ParsableCommand, GlobalCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Register every video file under a folder that the catalog does not know yet.",
        discussion: "Video files: \(Registration.videoExtensions.sorted().map { "." + $0 }.joined(separator: " ")). Every video file not registered is named with the reason, except those already registered under the same path.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Folder to scan recursively.", valueName: "dir"))
    var dir: String

    func run() throws {
        let folder = RawArguments.path(dir)
        guard FileSystem.isDirectory(folder) else { throw Failure.usage("\(folder.displayed) is not a folder") }
        let catalog = try global.open(.create)
        let summary = try Registration(catalog: catalog, explicitRoot: global.explicitMediaRoot).importFolder(folder) { event in
            switch event {
            case .added(let record): Console.out.line("added #\(record.id) \(record.files.first?.path.displayed ?? "")")
            case .skipped(let path, let why): Console.out.line("skipped \(path.displayed): \(why)")
            }
        }
        let others = summary.skipped > 0 ? ", \(summary.skipped) skipped (named above)" : ""
        Console.out.line("Imported \(summary.added) new, skipped \(summary.known) already known\(others).")
    }
}
