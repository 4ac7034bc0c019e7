import ArgumentParser
import Foundation
import Maintenance
import MediaCatalog
import MediaFiles
import MediaProbe

struct MediaLib: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "medialib",
        abstract: "Keep a video library healthy: clean up broken records, verify streamability, serve byte ranges.",
        discussion: """
            Exit codes: 0 all well; 1 problems found; 2 usage error; 3 could not do the job.
            Global options (--db, --schema, --schema-file, --state, --media-root, --verbose) go before or after the subcommand.
            Environment: MEDIALIB_DB (catalog), MEDIALIB_MEDIA_ROOT (media root), FRONTEND_ORIGIN (CORS origin for serve).
            """,
        version: MedialibVersion.current,
        subcommands: [Add.self, Import.self, List.self, Cleanup.self, Restore.self, Verify.self, Serve.self, Probe.self])
}

/// Exit codes of the contract in DESIGN.md.
enum Exit {
    static let problems = ExitCode(1)
    static let usage = ExitCode(2)
    static let cannotRun = ExitCode(3)
}

/// An error already worded for the user, with its exit code.
struct Failure: Error {
    var code: ExitCode
    var message: String

    static func usage(_ message: String) -> Failure { Failure(code: Exit.usage, message: "error: " + message) }
    static func cannotRun(_ message: String) -> Failure { Failure(code: Exit.cannotRun, message: "error: " + message) }
}

@main
enum Main {
    static func main() {
        let arguments = RawArguments.hoistingGlobalOptions(RawArguments.current())
        do {
            var command = try MediaLib.parseAsRoot(arguments)
            // libav logs to stderr unless told otherwise; once, for every subcommand.
            Prober.setLibavLogging(verbose: (command as? any GlobalCommand)?.global.verbose ?? false)
            try command.run()
            try Console.out.finish()
        } catch {
            // Whatever was written so far goes out before the error is told.
            try? Console.out.finish()
            let (code, message) = describe(error)
            if let message { Console.error(message) }
            exit(code)
        }
        exit(0)
    }

    /// The one place where errors become messages and exit codes.
    static func describe(_ error: Error) -> (Int32, String?) {
        switch error {
        case let f as Failure: return (f.code.rawValue, f.message)
        case let code as ExitCode: return (code.rawValue, nil)
        case let e as CatalogError:
            if case .badLocation = e { return (Exit.usage.rawValue, "error: \(e.description)") }
            return (Exit.cannotRun.rawValue, "error: \(e.description)")
        case let e as ProfileError: return (Exit.usage.rawValue, "error: \(e.description)")
        case let e as RegistrationError:
            switch e {
            case .badArgument(let m): return (Exit.usage.rawValue, "error: \(m)")
            case .alreadyRegistered(let m): return (Exit.cannotRun.rawValue, "error: \(m)")
            }
        case let e as MaintenanceError: return (Exit.cannotRun.rawValue, e.description.hasPrefix("refused") ? e.description : "error: \(e.description)")
        case let e as JournalError: return (Exit.cannotRun.rawValue, "error: \(e.description)")
        case let e as OutputError: return (Exit.cannotRun.rawValue, "error: \(e.description)")
        case let e as InjectedFault: return (Exit.cannotRun.rawValue, "error: \(e.description)")
        default:
            let code = MediaLib.exitCode(for: error)
            if code == .success {
                print(MediaLib.fullMessage(for: error))
                return (0, nil)
            }
            if code == .validationFailure { return (Exit.usage.rawValue, MediaLib.fullMessage(for: error)) }
            return (Exit.cannotRun.rawValue, "error: \(error)")
        }
    }
}

/// The command line as bytes. Swift decodes argv as UTF-8 and would replace the bytes of a
/// file name that is not; such an argument is passed to the parser as a placeholder and
/// turned back into its exact bytes where a path is expected (`RawArguments.path`).
enum RawArguments {
    static let marker: Character = "\u{E000}"
    nonisolated(unsafe) private static var originals: [String: [UInt8]] = [:]

    static func current() -> [String] {
        var out: [String] = []
        let argc = Int(CommandLine.argc)
        for i in 1..<max(1, argc) {
            guard let c = CommandLine.unsafeArgv[i] else { continue }
            let bytes = Array(UnsafeBufferPointer(start: UnsafeRawPointer(c).assumingMemoryBound(to: UInt8.self), count: strlen(c)))
            if let text = String(validating: bytes, as: UTF8.self) {
                out.append(text)
            } else {
                let token = "\(marker)arg\(i)\(marker)"
                originals[token] = bytes
                out.append(token)
            }
        }
        return out
    }

    /// A path argument, with the exact bytes it was given.
    static func path(_ argument: String) -> RawPath {
        originals[argument].map { RawPath(bytes: $0) } ?? RawPath(argument)
    }

    static let globalOptionsWithValue: Set<String> = ["--db", "--db-pool", "--media-root", "--schema", "--schema-file", "--state"]
    static let globalFlags: Set<String> = ["--verbose"]

    /// `medialib --db X list` as `medialib list --db X`: git, docker and kubectl users type
    /// global options before the subcommand; ArgumentParser takes them after it.
    static func hoistingGlobalOptions(_ args: [String]) -> [String] {
        let subcommands = Set(MediaLib.configuration.subcommands.map { $0._commandName })
        var hoisted: [String] = []
        var i = 0
        while i < args.count {
            let a = args[i]
            if subcommands.contains(a) {
                return [a] + hoisted + Array(args[(i + 1)...])
            }
            let name = a.split(separator: "=", maxSplits: 1).first.map(String.init) ?? a
            if globalOptionsWithValue.contains(name) {
                hoisted.append(a)
                if !a.contains("="), i + 1 < args.count { hoisted.append(args[i + 1]); i += 1 }
            } else if globalFlags.contains(a) {
                hoisted.append(a)
            } else {
                return args // --help, --version, or something the parser will explain
            }
            i += 1
        }
        return args
    }
}
