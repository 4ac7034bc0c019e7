import Foundation
import Testing
import TestSupport

@Suite("global options")
struct GlobalOptionsTests {
    @Test("global options before the subcommand, --db-pool included, mean what they mean after it")
    func beforeTheSubcommand() async throws {
        let box = try Sandbox(name: "globals-first")
        defer { box.remove() }
        try await box.library(["ok-faststart.mp4", "three-frames.mp4"])
        let after = try await box.run(["list"] + box.globals + ["--db-pool", "2"])
        let before = try await box.run(["--db", box.db, "--db-pool", "2", "--media-root", box.media, "list"])
        #expect(after.status == 0, "\(after)")
        #expect(before.status == 0, "\(before)")
        #expect(before.stdout == after.stdout)
        #expect(before.lines.count == 2)
        let split = try await box.run(["--db", box.db, "cleanup", "--media-root", box.media, "--format", "json"])
        #expect(split.status == 1, "\(split)")
    }

    @Test("--min-age beyond ten years is a usage error, not a trap")
    func hugeMinAge() async throws {
        let box = try Sandbox(name: "min-age")
        defer { box.remove() }
        try await box.library(["ok-faststart.mp4"])
        for value in ["1e300", "1e300d", "3651d"] {
            let run = try await box.run(["cleanup", "--min-age", value] + box.globals)
            #expect(run.status == 2, "\(value): \(run)")
            #expect(!run.signaled)
            #expect(run.stderr.contains("--min-age"), "\(run.stderr)")
        }
        let ok = try await box.run(["cleanup", "--min-age", "3650d"] + box.globals)
        #expect(ok.status <= 1 && !ok.signaled, "\(ok)")
        #expect(ok.stdout.contains("kept"), "a file an hour old is within ten years: \(ok.stdout)")
    }
}
