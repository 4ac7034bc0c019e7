import HTTPRanges
import NIOCore
import NIOHTTP1

/// What the server answers, decided before any byte is written.
struct Response {
    enum Body {
        case none
        case bytes([UInt8])
        /// One range (or the whole file) straight from the descriptor with sendfile.
        case file(OpenedFile, ByteRange)
        case multipart(OpenedFile, MultipartByteranges)
    }

    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: Body

    /// Bytes of body a GET sends; HEAD announces the same length and sends none.
    var contentLength: Int64 {
        switch body {
        case .none: 0
        case .bytes(let b): Int64(b.count)
        case .file(_, let r): r.length
        case .multipart(_, let m): m.contentLength
        }
    }

    static func json(_ status: HTTPResponseStatus, _ text: String, headers: HTTPHeaders = HTTPHeaders()) -> Response {
        var h = headers
        h.replaceOrAdd(name: "Content-Type", value: "application/json")
        return Response(status: status, headers: h, body: .bytes(Array(text.utf8)))
    }

    static func error(_ status: HTTPResponseStatus, _ message: String, headers: HTTPHeaders = HTTPHeaders()) -> Response {
        json(status, "{\"error\":\(JSON.string(message))}", headers: headers)
    }
}

enum JSON {
    /// A JSON string literal, escaped per RFC 8259.
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
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
