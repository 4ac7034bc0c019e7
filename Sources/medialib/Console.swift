import Foundation
import MediaFiles

/// Standard output through one buffer whose every write is checked: `list > /dev/full`
/// must fail (exit 3), not claim success.
final class Output: @unchecked Sendable {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var failure: SystemError?

    init(fd: Int32) { self.fd = fd }

    func write(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 16 { drain() }
    }

    func line(_ text: String) { write(text + "\n") }

    /// Writes what is buffered now (progress others may be waiting for, like serve's URL).
    func flush() { drain() }

    private func drain() {
        var off = 0
        while off < buffer.count && failure == nil {
            let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                failure = .current
            } else {
                off += n
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes, then reports the first failed write.
    func finish() throws {
        drain()
        if let failure { throw OutputError(underlying: failure) }
    }
}

struct OutputError: Error, CustomStringConvertible {
    var underlying: SystemError
    var description: String { "cannot write the output: \(underlying)" }
}

enum Console {
    static let out = Output(fd: STDOUT_FILENO)

    static func error(_ message: String) {
        let text = message.hasSuffix("\n") ? message : message + "\n"
        var bytes = Array(text.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(STDERR_FILENO, $0.baseAddress! + off, $0.count - off) }
            if n <= 0 { if errno == EINTR { continue }; return }
            off += n
        }
    }

    static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }

    /// A command line a user can paste into a POSIX shell.
    static func shellCommand(_ words: [String]) -> String {
        words.map { word in
            let safe = !word.isEmpty && word.unicodeScalars.allSatisfy {
                CharacterSet.alphanumerics.contains($0) || "-_./:=@%+,".unicodeScalars.contains($0)
            }
            return safe ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }.joined(separator: " ")
    }

    /// "#12 4be74d55": the id and the uuid's first eight digits; just "#12" when the catalog
    /// has no uuids (endoreg-db 0.8.9 has none).
    static func label(id: Int64, uuid: String) -> String {
        uuid.isEmpty ? "#\(id)" : "#\(id) \(uuid.prefix(8))"
    }

    /// More than this many ids are summarised ("#1, #2, … and 4,998 more").
    static func idList(_ ids: [Int64], max: Int = 20) -> String {
        let shown = ids.prefix(max).map { "#\($0)" }.joined(separator: ", ")
        return ids.count > max ? "\(shown), … and \(ids.count - max) more" : shown
    }
}

/// A JSON object written key by key (output streams: memory stays flat in the record count).
struct JSONObject {
    private var fields: [String] = []
    /// Leave out keys whose value is nil (instead of writing null).
    var omitNil = false

    init(omitNil: Bool = false) { self.omitNil = omitNil }

    mutating func string(_ key: String, _ value: String?) { optional(key, value.map(JSONText.string)) }
    mutating func int<T: BinaryInteger>(_ key: String, _ value: T?) { optional(key, value.map { "\($0)" }) }
    mutating func double(_ key: String, _ value: Double?) { optional(key, value.map { $0.isFinite ? "\($0)" : "null" }) }
    mutating func bool(_ key: String, _ value: Bool?) { optional(key, value.map { $0 ? "true" : "false" }) }
    mutating func raw(_ key: String, _ json: String) { fields.append("\(JSONText.string(key)):\(json)") }

    private mutating func optional(_ key: String, _ json: String?) {
        if let json { raw(key, json) } else if !omitNil { raw(key, "null") }
    }

    /// A path: its text, or its escaped form plus `<key>_base64` with the exact bytes.
    mutating func path(_ key: String, _ value: RawPath?) {
        guard let value else { return optional(key, nil) }
        // JSON carries any valid UTF-8 exactly (a tab is \t, not a backslash and a t); bytes
        // that are not UTF-8 get the escaped display form plus the exact bytes in base64.
        if let text = value.string {
            string(key, text)
        } else {
            string(key, value.displayed)
            string(key + "_base64", Data(value.bytes).base64EncodedString())
        }
    }

    var text: String { "{" + fields.joined(separator: ",") + "}" }
}

enum JSONText {
    static func string(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    static func array(_ items: [String]) -> String { "[" + items.joined(separator: ",") + "]" }
}
