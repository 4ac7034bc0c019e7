import ArgumentParser
import Foundation
import MediaProbe

struct Probe: ParsableCommand, GlobalCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print what one libavformat open learns about files (no catalog needed).",
        discussion: "One JSON object per file and line: container, codec, dimensions, duration, header frame count, counted packets, truncation, faststart. Exit 1 when a file cannot be probed.")

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Also decode every video frame and count decode errors.")
    var deep = false

    @Argument(help: ArgumentHelp("Video files.", valueName: "file"))
    var files: [String]

    func validate() throws {
        if files.isEmpty { throw ValidationError("name at least one file") }
    }

    struct Line: Encodable {
        var path: String
        var frames: Int?
        var result: ProbeResult?
        var error: String?
        var message: String?
    }

    func run() throws {
        let prober = Prober(options: ProbeOptions(counting: .always, decode: deep))
        let encoder = Console.jsonEncoder(pretty: false)
        var failed = false
        for file in files {
            let line: Line
            switch prober.probe(path: file) {
            case .success(let r): line = Line(path: file, frames: r.frameCount, result: r)
            case .failure(let e):
                failed = true
                line = Line(path: file, error: e.code, message: e.message)
            }
            print(String(decoding: try encoder.encode(line), as: UTF8.self))
        }
        if failed { throw Exit.problems }
    }
}
