// Byte-level helpers for the RFC 9110 §5.6 grammar. Parsing works on UTF-8
// bytes because every token we care about is ASCII; anything else is simply
// "not a match", never a crash.

typealias Bytes = ArraySlice<UInt8>

enum ASCII {
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09
    static let quote: UInt8 = 0x22
    static let comma: UInt8 = 0x2C
    static let dash: UInt8 = 0x2D
    static let slash: UInt8 = 0x2F
    static let colon: UInt8 = 0x3A
    static let equals: UInt8 = 0x3D
    static let star: UInt8 = 0x2A
    static let zero: UInt8 = 0x30
    static let nine: UInt8 = 0x39
    static let upperW: UInt8 = 0x57
}

/// OWS = *( SP / HTAB )  (RFC 9110 §5.6.3)
@inline(__always)
func isOWS(_ b: UInt8) -> Bool { b == ASCII.space || b == ASCII.tab }

@inline(__always)
func isDigit(_ b: UInt8) -> Bool { b >= ASCII.zero && b <= ASCII.nine }

/// Strips leading and trailing OWS; field values and list elements both allow it.
func trimOWS(_ s: Bytes) -> Bytes {
    var lo = s.startIndex
    var hi = s.endIndex
    while lo < hi, isOWS(s[lo]) { lo += 1 }
    while hi > lo, isOWS(s[hi - 1]) { hi -= 1 }
    return s[lo..<hi]
}

func bytes(_ s: String) -> Bytes { Array(s.utf8)[...] }

/// ASCII case-insensitive equality; `other` must already be lower case.
func equalsIgnoringASCIICase(_ s: Bytes, _ lowercased: String) -> Bool {
    let other = Array(lowercased.utf8)
    guard s.count == other.count else { return false }
    for (a, b) in zip(s, other) {
        let folded = (a >= 0x41 && a <= 0x5A) ? a | 0x20 : a
        if folded != b { return false }
    }
    return true
}

/// Splits a `#rule` list on commas, trimming OWS and dropping empty elements
/// (RFC 9110 §5.6.1.2: recipients MUST accept empty list elements). Returns
/// nil as soon as `body` rejects an element or `limit` elements are exceeded,
/// so a hostile header is never fully materialised.
func forEachListElement(_ s: Bytes, limit: Int = .max, _ body: (Bytes) -> Bool) -> Bool {
    var count = 0
    var start = s.startIndex
    while start <= s.endIndex {
        let end = s[start...].firstIndex(of: ASCII.comma) ?? s.endIndex
        let element = trimOWS(s[start..<end])
        if !element.isEmpty {
            count += 1
            if count > limit || !body(element) { return false }
        }
        start = end + 1
    }
    return true
}
