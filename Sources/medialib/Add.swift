import ArgumentParser
import Foundation
import Maintenance
import MediaFiles

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
        let catalog = try global.open(.create)
        let added = try Registration(catalog: catalog, explicitRoot: global.explicitMediaRoot)
            .add(raw: raw.map(RawArguments.path), processed: processed.map(RawArguments.path), uuid: uuid)
        for w in added.warnings { Console.error(w) }
        Console.out.line(String(added.record.id))
    }
}
