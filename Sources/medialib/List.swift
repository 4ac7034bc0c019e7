import ArgumentParser
import MediaCatalog

struct List: ParsableCommand, GlobalCommand {
    static let configuration = CommandConfiguration(abstract: "List the catalog's records.")

    @OptionGroup var global: GlobalOptions

    @Option(help: "text or json.")
    var format: OutputFormat = .text

    func run() throws {
        let catalog = try global.open(.read)
        var first = true
        if format == .json { Console.out.write("[") }
        try catalog.records.forEachPage { page in
            for r in page {
                switch format {
                case .text:
                    let raw = r.path(for: .raw)?.displayed ?? "-"
                    let processed = r.path(for: .processed)?.displayed ?? "-"
                    Console.out.line("#\(r.id)\t\(r.uuid)\traw=\(raw)\tprocessed=\(processed)")
                case .json:
                    var o = JSONObject()
                    o.string("created_at", r.createdAt)
                    o.int("id", r.id)
                    if let p = r.path(for: .processed) { o.path("processed_file", p) }
                    if let p = r.path(for: .raw) { o.path("raw_file", p) }
                    o.string("uuid", r.uuid)
                    Console.out.write((first ? "\n  " : ",\n  ") + o.text)
                    first = false
                }
            }
        }
        if format == .json { Console.out.line(first ? "]" : "\n]") }
    }
}
