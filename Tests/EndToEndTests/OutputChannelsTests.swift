import Foundation
import Testing
import TestSupport

/// What reaches stderr: libav's own logging only with --verbose, verify's progress line only
/// on a terminal (cron mail and pipes get none).
@Suite("stderr: libav logging and the progress line")
struct OutputChannelsTests {
    @Test("libav says nothing about a broken file unless --verbose")
    func libavLogging() async throws {
        let box = try Sandbox(name: "libav-log")
        defer { box.remove() }
        let quiet = try await box.run(["probe", Paths.fixture("truncated.mp4"), Paths.fixture("text.mp4")])
        #expect(quiet.stderr.isEmpty, "\(quiet)")
        let verbose = try await box.run(["probe", "--verbose", Paths.fixture("truncated.mp4")])
        #expect(verbose.stderr.contains("partial file") || verbose.stderr.contains("corrupt"), "\(verbose)")
        try await box.library(["truncated.mp4", "text.mp4"])
        let cleanup = try await box.run(["cleanup"] + box.globals)
        #expect(cleanup.status == 1)
        #expect(cleanup.stderr.isEmpty, "\(cleanup)")
    }

    @Test("verify's progress line goes to a terminal only")
    func progressOnTerminalOnly() async throws {
        let box = try Sandbox(name: "progress")
        defer { box.remove() }
        try await box.library(["ok-faststart.mp4", "ok.webm"])
        let piped = try await box.run(["verify"] + box.globals)
        #expect(piped.status == 0)
        #expect(!piped.stderr.contains("verified"), "\(piped)")

        // script(1) (util-linux, essential on Debian) gives the command a terminal.
        guard let binary = Paths.binary, FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else {
            Issue.record("needs the built CLI and /usr/bin/script")
            return
        }
        let command = ([binary, "verify"] + box.globals).map { "'\($0)'" }.joined(separator: " ")
        let onTerminal = try await box.runTool("/usr/bin/script", ["-qec", command, "/dev/null"])
        #expect(onTerminal.status == 0, "\(onTerminal)")
        #expect(onTerminal.stdout.contains("verified 1 records") || onTerminal.stdout.contains("verified 2 records"),
                "\(onTerminal)")
    }
}

extension Sandbox {
    /// Runs another program (not medialib) with a deadline, capturing its output.
    func runTool(_ tool: String, _ arguments: [String], timeout: Double = 60) async throws -> CLIResult {
        try await Task.detached {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = arguments
            process.currentDirectoryURL = URL(fileURLWithPath: self.path)
            let out = Pipe(), err = Pipe()
            process.standardOutput = out
            process.standardError = err
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            let timedOut = process.isRunning
            if timedOut { process.terminate(); process.waitUntilExit() }
            return CLIResult(status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal,
                             timedOut: timedOut,
                             stdoutBytes: [UInt8](out.fileHandleForReading.readDataToEndOfFile()),
                             stderr: String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
        }.value
    }
}
