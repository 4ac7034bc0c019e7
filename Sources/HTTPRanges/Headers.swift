// Small response-header helpers: Content-Disposition (RFC 6266 + RFC 8187)
// and the video media types the server knows.

/// `inline; filename="name.mp4"`, plus `; filename*=UTF-8''…` when the plain
/// form had to lose information.
///
/// The quoted form replaces `"`, `\`, control characters and non-ASCII with
/// `_` so it is safe for every user agent. The star form (RFC 8187) carries
/// the exact name; it is added when the name has non-ASCII characters, or
/// when the sanitising above changed it (so e.g. a `"` survives too).
/// RFC 6266 §4.3: agents that understand `filename*` prefer it.
public func contentDisposition(filename: String, asAttachment: Bool = false) -> String {
    let plain = asciiFallbackFilename(filename)
    var value = (asAttachment ? "attachment" : "inline") + "; filename=\"" + plain + "\""
    if plain != filename {
        value += "; filename*=UTF-8''" + percentEncodeAttrChars(filename)
    }
    return value
}

/// One `_` per character (grapheme) that cannot appear as-is in a quoted-string.
func asciiFallbackFilename(_ name: String) -> String {
    String(name.map { ch -> Character in
        guard ch.isASCII, let b = ch.asciiValue, b >= 0x20, b != 0x7F, b != ASCII.quote, b != 0x5C else { return "_" }
        return ch
    })
}

/// RFC 8187 §3.2.1 value-chars: attr-char stays, every other UTF-8 byte is %HH.
func percentEncodeAttrChars(_ s: String) -> String {
    let hexDigits = Array("0123456789ABCDEF".utf8)
    var out: [UInt8] = []
    for b in s.utf8 {
        if isAttrChar(b) {
            out.append(b)
        } else {
            out += [UInt8(ascii: "%"), hexDigits[Int(b >> 4)], hexDigits[Int(b & 0xF)]]
        }
    }
    return String(decoding: out, as: UTF8.self)
}

/// attr-char = ALPHA / DIGIT / "!" / "#" / "$" / "&" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~"
func isAttrChar(_ b: UInt8) -> Bool {
    switch b {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
        return true
    default:
        return "!#$&+-.^_`|~".utf8.contains(b)
    }
}

/// Media type for a video file extension (with or without the leading dot),
/// case-insensitive; unknown types are `application/octet-stream`.
public func videoContentType(forExtension ext: String) -> String {
    let e = ext.hasPrefix(".") ? String(ext.dropFirst()) : ext
    switch e.lowercased() {
    case "mp4", "m4v": return "video/mp4"
    case "webm": return "video/webm"
    case "mkv": return "video/x-matroska"
    case "mov": return "video/quicktime"
    default: return "application/octet-stream"
    }
}
