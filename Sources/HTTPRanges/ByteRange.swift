// Range requests: RFC 9110 §14.1 (syntax), §14.1.2 (satisfiability), §14.2.

/// A satisfiable, inclusive byte range of a representation (RFC 9110 §14.1.2).
public struct ByteRange: Equatable, Hashable, Sendable, CustomStringConvertible {
    public let first: Int64
    /// Inclusive, like the `last-pos` of the wire syntax.
    public let last: Int64

    public init(first: Int64, last: Int64) {
        // last < Int64.max keeps `length` from overflowing; real sizes never get there.
        precondition(first >= 0 && first <= last && last < Int64.max, "invalid ByteRange \(first)-\(last)")
        self.first = first
        self.last = last
    }

    public var length: Int64 { last - first + 1 }
    public var description: String { "\(first)-\(last)" }
}

/// Abuse limits for the `Range` header.
public struct RangeLimits: Sendable {
    /// More range-specs than this (before merging) and the header is ignored,
    /// which serves a plain 200. Defends against CVE-2011-3192 ("Apache
    /// Killer"), where thousands of overlapping specs amplified the response.
    public var maxRanges: Int

    public init(maxRanges: Int = 64) {
        self.maxRanges = maxRanges
    }

    public static let `default` = RangeLimits()
}

/// What the server should do with a `Range` header.
public enum RangeRequest: Equatable, Sendable {
    /// No header, another range unit, invalid syntax, too many specs, or an
    /// empty representation: answer 200 with the whole file.
    case ignored
    /// Valid syntax but no satisfiable spec: answer 416 with
    /// `Content-Range: bytes */SIZE`.
    case unsatisfiable
    /// Sorted, with overlapping and adjacent ranges merged; never empty.
    case ranges([ByteRange])
}

/// Evaluates a `Range` field value against a representation of `size` bytes.
///
/// Decisions beyond the letter of the RFC, all in the "serve 200" direction:
/// - Leading/trailing OWS of the whole field value is stripped (RFC 9110 §5.5
///   says it is not part of the value), but there is no OWS around `=`:
///   `bytes = 0-1` is invalid and ignored, as the grammar has none there.
///   OWS around list elements is allowed: `bytes= 0-1 , 2-3`.
/// - `size == 0`: every header is ignored. Nothing is satisfiable, yet a 416
///   for an empty file only confuses players probing with `bytes=0-`; a 200
///   with an empty body is the useful answer.
/// - Numbers beyond Int64 never trap: a huge first-pos is unsatisfiable, a
///   huge last-pos or suffix-length is clamped to the representation.
public func evaluateRange(_ header: String?, size: Int64, limits: RangeLimits = .default) -> RangeRequest {
    guard let header, let specs = parseRangesSpecifier(bytes(header), limits: limits) else { return .ignored }
    guard size > 0 else { return .ignored }
    // One range (a player's usual request): nothing to merge.
    if specs.count == 1 {
        guard let only = satisfiableRange(specs[0], size: size) else { return .unsatisfiable }
        return .ranges([only])
    }
    let satisfiable = specs.compactMap { satisfiableRange($0, size: size) }
    guard !satisfiable.isEmpty else { return .unsatisfiable }
    return .ranges(coalesce(satisfiable))
}

/// `Content-Range` for a 206 part: `bytes 0-99/1000` (RFC 9110 §14.4).
public func contentRange(_ r: ByteRange, size: Int64) -> String {
    "bytes \(r.first)-\(r.last)/\(size)"
}

/// `Content-Range` for a 416: `bytes */1000` (RFC 9110 §14.4).
public func unsatisfiedContentRange(size: Int64) -> String {
    "bytes */\(size)"
}

// MARK: - Steps

/// One range-spec as written, before it meets the representation size.
/// Positions beyond Int64 are saturated to Int64.max.
enum RangeSpec: Equatable {
    case span(first: Int64, last: Int64?)  // int-range: first-pos "-" [ last-pos ]
    case suffix(length: Int64)             // suffix-range: "-" suffix-length
}

/// ranges-specifier = range-unit "=" range-set  (RFC 9110 §14.1.1).
/// nil means "ignore the header": wrong unit, bad syntax, or too many specs.
func parseRangesSpecifier(_ value: Bytes, limits: RangeLimits) -> [RangeSpec]? {
    let value = trimOWS(value)
    guard let eq = value.firstIndex(of: ASCII.equals) else { return nil }
    // Only "bytes" is defined; units are case-insensitive (§14.1).
    guard equalsIgnoringASCIICase(value[..<eq], "bytes") else { return nil }
    var specs: [RangeSpec] = []
    let ok = forEachListElement(value[(eq + 1)...], limit: limits.maxRanges) { element in
        guard let spec = parseRangeSpec(element) else { return false }
        specs.append(spec)
        return true
    }
    // range-set = 1#range-spec: at least one non-empty element.
    guard ok, !specs.isEmpty else { return nil }
    return specs
}

/// range-spec = int-range / suffix-range  (RFC 9110 §14.1.1).
/// Any invalid spec invalidates the whole field, hence nil.
func parseRangeSpec(_ s: Bytes) -> RangeSpec? {
    guard let dash = s.firstIndex(of: ASCII.dash) else { return nil }
    let firstDigits = s[..<dash]
    let lastDigits = s[(dash + 1)...]
    guard isDigits(lastDigits) || lastDigits.isEmpty, isDigits(firstDigits) || firstDigits.isEmpty else { return nil }
    switch (firstDigits.isEmpty, lastDigits.isEmpty) {
    case (true, true):
        return nil  // "-" alone
    case (true, false):
        return .suffix(length: saturatingInt64(lastDigits))
    case (false, true):
        return .span(first: saturatingInt64(firstDigits), last: nil)
    case (false, false):
        // "If the last-pos value is present, it MUST be greater than or equal
        // to the first-pos" (§14.1.1). Compared as decimals so that two
        // saturated giants still order correctly.
        guard compareDecimal(lastDigits, firstDigits) >= 0 else { return nil }
        return .span(first: saturatingInt64(firstDigits), last: saturatingInt64(lastDigits))
    }
}

/// Applies §14.1.2 satisfiability and clamps to the representation.
/// nil means this spec is unsatisfiable.
func satisfiableRange(_ spec: RangeSpec, size: Int64) -> ByteRange? {
    switch spec {
    case let .span(first, last):
        // An int-range is satisfiable if first-pos < size; last-pos is clamped.
        guard first < size else { return nil }
        return ByteRange(first: first, last: min(last ?? .max, size - 1))
    case let .suffix(length):
        // A suffix-range is satisfiable if suffix-length > 0; longer than the
        // representation means the whole of it.
        guard length > 0 else { return nil }
        return ByteRange(first: size - min(length, size), last: size - 1)
    }
}

/// Sorts and merges overlapping or adjacent ranges. RFC 9110 §14.3 lets the
/// server coalesce; doing so caps the total at `size`, which is the other
/// half of the Apache Killer defence.
func coalesce(_ ranges: [ByteRange]) -> [ByteRange] {
    let sorted = ranges.sorted { ($0.first, $0.last) < ($1.first, $1.last) }
    var merged: [ByteRange] = []
    merged.reserveCapacity(sorted.count)
    for r in sorted {
        // last < size <= Int64.max, so last + 1 cannot overflow.
        if let top = merged.last, r.first <= top.last + 1 {
            merged[merged.count - 1] = ByteRange(first: top.first, last: max(top.last, r.last))
        } else {
            merged.append(r)
        }
    }
    return merged
}

// MARK: - Numbers

func isDigits(_ s: Bytes) -> Bool {
    !s.isEmpty && s.allSatisfy(isDigit)
}

/// Decimal digits to Int64, saturating at Int64.max instead of trapping.
func saturatingInt64(_ digits: Bytes) -> Int64 {
    var value: Int64 = 0
    for d in digits {
        let (shifted, o1) = value.multipliedReportingOverflow(by: 10)
        let (sum, o2) = shifted.addingReportingOverflow(Int64(d - ASCII.zero))
        if o1 || o2 { return .max }
        value = sum
    }
    return value
}

/// Compares two digit strings by numeric value, whatever their length.
func compareDecimal(_ a: Bytes, _ b: Bytes) -> Int {
    let a = a.drop { $0 == ASCII.zero }
    let b = b.drop { $0 == ASCII.zero }
    if a.count != b.count { return a.count < b.count ? -1 : 1 }
    for (x, y) in zip(a, b) where x != y { return x < y ? -1 : 1 }
    return 0
}
