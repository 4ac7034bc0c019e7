import ArgumentParser
import Foundation
import MediaCatalog

struct List: ParsableCommand, GlobalCommand {
    static let configuration = CommandConfiguration(abstract: "List the catalog's records.")

    @OptionGroup var global: GlobalOptions

    @Option(help: "text or json.")
    var format: OutputFormat = .text

    struct Item: Encodable {
        var id: Int64
        var uuid: String
        var raw_file: String?
        var processed_file: String?
        var created_at: String
    }

    func run() throws {
        let catalog = try global.openCatalog(.read)
        let encoder = Console.jsonEncoder(pretty: false)
        var first = true
        if format == .json { print("[", terminator: "") }
        try catalog.forEachRecord { r in
            switch format {
            case .text:
                print("#\(r.id)\t\(r.uuid)\traw=\(r.rawFile ?? "-")\tprocessed=\(r.processedFile ?? "-")")
            case .json:
                let item = Item(id: r.id, uuid: r.uuid, raw_file: r.rawFile, processed_file: r.processedFile, created_at: r.createdAt)
                let line = String(decoding: try encoder.encode(item), as: UTF8.self)
                print((first ? "\n  " : ",\n  ") + line, terminator: "")
                first = false
            }
        }
        if format == .json { print(first ? "]" : "\n]") }
    }
}
