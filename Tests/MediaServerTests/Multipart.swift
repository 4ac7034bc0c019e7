// A strict reader of multipart/byteranges bodies (RFC 9110 §14.6, RFC 2046 §5.1.1),
// independent of the server's own framing code.

struct ByteRangePart: Equatable {
    var contentType: String?
    var contentRange: String?
    var data: [UInt8]
}

enum MultipartError: Error, CustomStringConvertible {
    case noBoundary(String)
    case framing(String)
    var description: String {
        switch self {
        case .noBoundary(let t): "no boundary in Content-Type \(t)"
        case .framing(let why): "bad multipart framing: \(why)"
        }
    }
}

/// The boundary parameter of a `multipart/byteranges` Content-Type.
func multipartBoundary(_ contentType: String) throws -> String {
    let pieces = contentType.split(separator: ";").map { $0.trimmingOWS() }
    guard pieces.first?.lowercased() == "multipart/byteranges" else { throw MultipartError.noBoundary(contentType) }
    for p in pieces.dropFirst() where p.lowercased().hasPrefix("boundary=") {
        var b = String(p.dropFirst("boundary=".count))
        if b.hasPrefix("\""), b.hasSuffix("\""), b.count >= 2 { b = String(b.dropFirst().dropLast()) }
        if !b.isEmpty && b.utf8.count <= 70 { return b }
    }
    throw MultipartError.noBoundary(contentType)
}

private func indexOf(_ needle: [UInt8], in hay: [UInt8], from: Int) -> Int? {
    guard !needle.isEmpty, hay.count >= needle.count, from <= hay.count - needle.count else { return nil }
    var i = from
    outer: while i <= hay.count - needle.count {
        for j in 0..<needle.count where hay[i + j] != needle[j] {
            i += 1
            continue outer
        }
        return i
    }
    return nil
}

/// Splits a body into its parts. Requires: every delimiter at a line start, part headers
/// ended by an empty line, a close delimiter, and nothing but CRLF (or nothing) after it.
func parseMultipartByteranges(_ body: [UInt8], boundary: String) throws -> [ByteRangePart] {
    // The first delimiter may open the body without a preceding CRLF.
    let data = body.starts(with: Array("--\(boundary)".utf8)) ? [13, 10] + body : body
    let delimiter = Array("\r\n--\(boundary)".utf8)
    guard var at = indexOf(delimiter, in: data, from: 0) else { throw MultipartError.framing("no delimiter") }
    if at != 0 {
        // A preamble is legal but the server has no reason to send one.
        throw MultipartError.framing("\(at) bytes of preamble")
    }
    var parts: [ByteRangePart] = []
    while true {
        let afterDelimiter = at + delimiter.count
        if data.count >= afterDelimiter + 2, data[afterDelimiter] == 45, data[afterDelimiter + 1] == 45 {
            let epilogue = Array(data[(afterDelimiter + 2)...])
            guard epilogue.isEmpty || epilogue == [13, 10] else {
                throw MultipartError.framing("\(epilogue.count) bytes after the close delimiter")
            }
            return parts
        }
        guard data.count >= afterDelimiter + 2, data[afterDelimiter] == 13, data[afterDelimiter + 1] == 10 else {
            throw MultipartError.framing("delimiter not followed by CRLF at \(afterDelimiter)")
        }
        let headersStart = afterDelimiter + 2
        guard let headersEnd = indexOf([13, 10, 13, 10], in: data, from: headersStart) else {
            throw MultipartError.framing("part headers never end")
        }
        var part = ByteRangePart(contentType: nil, contentRange: nil, data: [])
        let headerText = String(decoding: data[headersStart..<headersEnd], as: UTF8.self)
        for line in headerText.split(separator: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { throw MultipartError.framing("part header \(line)") }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingOWS()
            if name == "content-type" { part.contentType = value }
            if name == "content-range" { part.contentRange = value }
        }
        let dataStart = headersEnd + 4
        guard let next = indexOf(delimiter, in: data, from: dataStart) else {
            throw MultipartError.framing("no delimiter after part \(parts.count + 1)")
        }
        part.data = Array(data[dataStart..<next])
        parts.append(part)
        at = next
    }
}
