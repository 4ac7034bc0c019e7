import ArgumentParser
import Foundation
import MediaFiles
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

    func run() throws {
        do { try Prober.loadLibrary() } catch { throw Failure.cannotRun("cannot probe videos: \(error)") }
        let prober = Prober(options: ProbeOptions(counting: .always, decode: deep))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var failed = false
        for file in files {
            let path = RawArguments.path(file)
            var o = JSONObject()
            switch prober.probe(path: path) {
            case .success(let r):
                o.int("frames", r.frameCount)
                o.path("path", path)
                o.raw("result", String(decoding: try encoder.encode(r), as: UTF8.self))
            case .failure(let e):
                failed = true
                o.string("error", e.code)
                o.string("message", e.message)
                o.path("path", path)
            }
            Console.out.line(o.text)
        }
        if failed { throw Exit.problems }
    }
}
