import ArgumentParser
import Foundation
import MediaProbe

struct MediaLib: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "medialib",
        abstract: "Keep a video library healthy: clean up broken records, verify streamability, serve byte ranges.",
        discussion: """
            Exit codes: 0 all well; 1 problems found; 2 usage error; 3 could not do the job.
            Environment: MEDIALIB_DB (catalog path), MEDIALIB_MEDIA_ROOT (media root), FRONTEND_ORIGIN (CORS origin for serve).
            """,
        version: version,
        subcommands: [Add.self, Import.self, List.self, Cleanup.self, Restore.self, Verify.self, Serve.self, Probe.self])
}

/// Exit codes of the contract in DESIGN.md.
enum Exit {
    static let problems = ExitCode(1)
    static let usage = ExitCode(2)
    static let cannotRun = ExitCode(3)
}

/// An error already explained to the user; carries only the exit code.
struct Failure: Error {
    var code: ExitCode
    var message: String
}

@main
enum Main {
    static func main() {
        do {
            var command = try MediaLib.parseAsRoot()
            // libav logs to stderr unless told otherwise; once, for every subcommand.
            Prober.setLibavLogging(verbose: (command as? any GlobalCommand)?.global.verbose ?? false)
            try command.run()
        } catch let failure as Failure {
            Console.error(failure.message)
            exit(failure.code.rawValue)
        } catch let code as ExitCode {
            exit(code.rawValue)
        } catch {
            let code = MediaLib.exitCode(for: error)
            if code == .success {
                print(MediaLib.fullMessage(for: error))
                exit(0)
            }
            if code == .validationFailure {
                Console.error(MediaLib.fullMessage(for: error))
                exit(Exit.usage.rawValue)
            }
            Console.error("error: \(error)")
            exit(Exit.cannotRun.rawValue)
        }
    }
}
