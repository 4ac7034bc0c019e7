import HTTPRanges
import NIOCore

/// What the server answers, decided before any byte is written. Unchecked Sendable: only
/// bytes cross threads (listings made on the pool); a response holding a `ServedFile` is made
/// and written on the event loop that owns the file's cache.
struct Response: @unchecked Sendable {
    enum Body {
        case none
        case bytes(ByteBuffer)
        /// One range (or the whole file) of an opened file: read inline when small, else sendfile.
        case file(ServedFile, ByteRange)
        case multipart(ServedFile, MultipartByteranges)
    }

    var status: Int
    /// Header lines already encoded ("Name: value\r\n"…): a served file's validators and its
    /// representation headers are encoded once per file, not once per request.
    var validators: ByteBuffer?
    var representation: ByteBuffer?
    var headers: [(String, String)]
    var body: Body
    /// For a served file over HTTP/1.1: its status line and fixed headers, encoded once per
    /// file (then `validators`, `representation` and `headers` are already in it).
    var prefix: ByteBuffer?
    /// "Content-Range: bytes first-last/fileSize", written per request.
    var contentRange: ByteRange?
    var fileSize: Int64 = 0
    /// Close the connection after this response (a protocol error, say).
    var closes = false

    init(status: Int, headers: [(String, String)] = [], validators: ByteBuffer? = nil, representation: ByteBuffer? = nil,
         body: Body = .none) {
        self.status = status
        self.headers = headers
        self.validators = validators
        self.representation = representation
        self.body = body
    }

    /// Bytes of body a GET sends; HEAD announces the same length and sends none.
    var contentLength: Int64 {
        switch body {
        case .none: 0
        case .bytes(let b): Int64(b.readableBytes)
        case .file(_, let r): r.length
        case .multipart(_, let m): m.contentLength
        }
    }

    /// 204 and 304 carry no Content-Length (RFC 9110 §8.6).
    var hasContentLength: Bool { status != 204 && status != 304 }

    static func json(_ status: Int, _ text: String, headers: [(String, String)] = []) -> Response {
        Response(status: status, headers: headers + [("Content-Type", "application/json")],
                 body: .bytes(ByteBuffer(string: text)))
    }

    static func error(_ status: Int, _ message: String, headers: [(String, String)] = []) -> Response {
        json(status, "{\"error\":\(JSON.string(message))}", headers: headers)
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 204: "No Content"
        case 206: "Partial Content"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 412: "Precondition Failed"
        case 413: "Content Too Large"
        case 416: "Range Not Satisfiable"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        default: "Status \(status)"
        }
    }
}

/// A response now, or one computed off the event loop (listings, lookups that must wait).
enum ResponseSource {
    case now(Response)
    case later(EventLoopFuture<Response>)
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
}
