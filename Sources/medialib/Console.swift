import ArgumentParser
import Foundation
import Maintenance
import MediaCatalog
import Dispatch

enum Console {
    static func error(_ message: String) {
        let text = message.hasSuffix("\n") ? message : message + "\n"
        FileHandle.standardError.write(Data(text.utf8))
    }

    static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }

    static func jsonEncoder(pretty: Bool = true) -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return e
    }

    static func printJSON<T: Encodable>(_ value: T, pretty: Bool = true) throws {
        let data = try jsonEncoder(pretty: pretty).encode(value)
        print(String(decoding: data, as: UTF8.self))
    }

    static func shortUUID(_ uuid: String) -> String { String(uuid.prefix(8)) }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}
