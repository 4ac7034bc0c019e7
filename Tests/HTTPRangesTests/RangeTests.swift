import Testing
@testable import HTTPRanges

private func r(_ first: Int64, _ last: Int64) -> ByteRange { ByteRange(first: first, last: last) }

/// `n` disjoint single-byte specs: "0-0,2-2,4-4,…".
private func disjointSpecs(_ n: Int) -> String {
    "bytes=" + (0..<n).map { "\($0 * 2)-\($0 * 2)" }.joined(separator: ",")
}

struct RangeCase: Sendable, CustomTestStringConvertible {
    let header: String?
    let size: Int64
    let expected: RangeRequest
    var testDescription: String { "\(header.map { "\"\($0.prefix(60))\"" } ?? "nil") size=\(size)" }
    init(_ header: String?, _ size: Int64, _ expected: RangeRequest) {
        self.header = header
        self.size = size
        self.expected = expected
    }
}

private let huge = "99999999999999999999999"

let rangeCases: [RangeCase] = [
    // No header / wrong unit / empty
    .init(nil, 100, .ignored),
    .init("", 100, .ignored),
    .init("bytes", 100, .ignored),
    .init("items=0-1", 100, .ignored),
    .init("x-bytes=0-1", 100, .ignored),
    .init("bytes=", 100, .ignored),
    .init("bytes=,", 100, .ignored),
    .init("bytes= , ,", 100, .ignored),
    // Basic int-range / open range / suffix
    .init("bytes=0-0", 100, .ranges([r(0, 0)])),
    .init("bytes=0-99", 100, .ranges([r(0, 99)])),
    .init("bytes=0-", 100, .ranges([r(0, 99)])),
    .init("bytes=50-", 100, .ranges([r(50, 99)])),
    .init("bytes=99-", 100, .ranges([r(99, 99)])),
    .init("bytes=10-19", 100, .ranges([r(10, 19)])),
    .init("bytes=000-001", 100, .ranges([r(0, 1)])),
    .init("bytes=0-1000", 100, .ranges([r(0, 99)])),
    .init("bytes=-1", 100, .ranges([r(99, 99)])),
    .init("bytes=-100", 50, .ranges([r(0, 49)])),
    .init("bytes=-50", 50, .ranges([r(0, 49)])),
    .init("bytes=-10", 50, .ranges([r(40, 49)])),
    // Unit case and whitespace
    .init("BYTES=0-1", 100, .ranges([r(0, 1)])),
    .init("Bytes=0-1", 100, .ranges([r(0, 1)])),
    .init(" bytes=0-1 ", 100, .ranges([r(0, 1)])),
    .init("\tbytes=0-1", 100, .ranges([r(0, 1)])),
    .init("bytes = 0-1", 100, .ignored),
    .init("bytes =0-1", 100, .ignored),
    .init("bytes= 0-1", 100, .ranges([r(0, 1)])),
    .init("bytes=0-1 , 5-6", 100, .ranges([r(0, 1), r(5, 6)])),
    .init("bytes=0-1\t,\t5-6", 100, .ranges([r(0, 1), r(5, 6)])),
    // Empty list elements
    .init("bytes=0-1,,2-3", 100, .ranges([r(0, 3)])),
    .init("bytes=,0-1", 100, .ranges([r(0, 1)])),
    .init("bytes=0-1,", 100, .ranges([r(0, 1)])),
    // Unsatisfiable
    .init("bytes=100-", 100, .unsatisfiable),
    .init("bytes=100-200", 100, .unsatisfiable),
    .init("bytes=-0", 100, .unsatisfiable),
    .init("bytes=200-300,-0", 100, .unsatisfiable),
    .init("bytes=1-", 1, .unsatisfiable),
    // Unsatisfiable specs dropped when another is satisfiable
    .init("bytes=-0,0-0", 100, .ranges([r(0, 0)])),
    .init("bytes=200-300,0-1", 100, .ranges([r(0, 1)])),
    // Numbers beyond Int64
    .init("bytes=\(huge)-", 100, .unsatisfiable),
    .init("bytes=0-\(huge)", 100, .ranges([r(0, 99)])),
    .init("bytes=-\(huge)", 100, .ranges([r(0, 99)])),
    .init("bytes=\(huge)-\(huge)9", 100, .unsatisfiable),
    .init("bytes=\(huge)9-\(huge)", 100, .ignored),
    .init("bytes=9223372036854775807-", 100, .unsatisfiable),
    .init("bytes=9223372036854775808-", 100, .unsatisfiable),
    .init("bytes=0-", Int64.max, .ranges([r(0, Int64.max - 1)])),
    .init("bytes=\(huge),0-1", 100, .ignored),
    // Invalid syntax: the whole field is ignored
    .init("bytes=+1-2", 100, .ignored),
    .init("bytes=1-+2", 100, .ignored),
    .init("bytes=-1-2", 100, .ignored),
    .init("bytes=1-0", 100, .ignored),
    .init("bytes=5-4,0-1", 100, .ignored),
    .init("bytes=0-1,x", 100, .ignored),
    .init("bytes=-", 100, .ignored),
    .init("bytes=1", 100, .ignored),
    .init("bytes=1 - 2", 100, .ignored),
    .init("bytes=1 2-3", 100, .ignored),
    .init("bytes=0-1 2-3", 100, .ignored),
    .init("bytes=0x1-2", 100, .ignored),
    .init("bytes=1.5-2", 100, .ignored),
    .init("bytes=0-1;q=1", 100, .ignored),
    .init("bytes=0-\u{0663}", 100, .ignored),
    .init("bytes=\u{FF11}-2", 100, .ignored),
    .init("bytes=1-2-3", 100, .ignored),
    // Merging and sorting
    .init("bytes=0-1,2-3", 100, .ranges([r(0, 3)])),
    .init("bytes=0-1,5-6", 100, .ranges([r(0, 1), r(5, 6)])),
    .init("bytes=0-10,5-20", 100, .ranges([r(0, 20)])),
    .init("bytes=5-20,0-10", 100, .ranges([r(0, 20)])),
    .init("bytes=0-50,10-20", 100, .ranges([r(0, 50)])),
    .init("bytes=5-6,0-1", 100, .ranges([r(0, 1), r(5, 6)])),
    .init("bytes=50-60,0-10,20-30", 100, .ranges([r(0, 10), r(20, 30), r(50, 60)])),
    .init("bytes=10-20,21-30", 100, .ranges([r(10, 30)])),
    .init("bytes=10-20,22-30", 100, .ranges([r(10, 20), r(22, 30)])),
    .init("bytes=0-0,0-0", 100, .ranges([r(0, 0)])),
    .init("bytes=0-,-10", 100, .ranges([r(0, 99)])),
    .init("bytes=-10,0-9", 100, .ranges([r(0, 9), r(90, 99)])),
    .init("bytes=-10,85-89", 100, .ranges([r(85, 99)])),
    // Size 0: always 200
    .init("bytes=0-1", 0, .ignored),
    .init("bytes=0-", 0, .ignored),
    .init("bytes=-1", 0, .ignored),
    .init("bytes=-0", 0, .ignored),
    .init("bytes=garbage", 0, .ignored),
    // Abuse limits
    .init(disjointSpecs(64), 1000, .ranges((0..<64).map { r(Int64($0) * 2, Int64($0) * 2) })),
    .init(disjointSpecs(65), 1000, .ignored),
    .init("bytes=" + Array(repeating: "0-99", count: 200).joined(separator: ","), 1000, .ignored),
    .init("bytes=" + String(repeating: ",", count: 10_000) + "0-1", 100, .ranges([r(0, 1)])),
]

@Test(arguments: rangeCases)
func evaluateRangeTable(_ c: RangeCase) {
    #expect(evaluateRange(c.header, size: c.size) == c.expected)
}

@Test func rangeTableIsLargeEnough() {
    #expect(rangeCases.count >= 60)
}

@Test func customRangeLimit() {
    let limits = RangeLimits(maxRanges: 2)
    #expect(evaluateRange("bytes=0-1,5-6", size: 100, limits: limits) == .ranges([r(0, 1), r(5, 6)]))
    #expect(evaluateRange("bytes=0-1,5-6,9-9", size: 100, limits: limits) == .ignored)
    // Empty elements do not count.
    #expect(evaluateRange("bytes=0-1,,,5-6,", size: 100, limits: limits) == .ranges([r(0, 1), r(5, 6)]))
    #expect(RangeLimits.default.maxRanges == 64)
}

@Test(arguments: [
    (r(0, 99), 1000, "bytes 0-99/1000"),
    (r(0, 0), 1, "bytes 0-0/1"),
    (r(999, 999), 1000, "bytes 999-999/1000"),
] as [(ByteRange, Int64, String)])
func contentRangeHeader(_ range: ByteRange, _ size: Int64, _ expected: String) {
    #expect(contentRange(range, size: size) == expected)
}

@Test func unsatisfiedContentRangeHeader() {
    #expect(unsatisfiedContentRange(size: 1000) == "bytes */1000")
    #expect(r(10, 19).length == 10)
    #expect(r(0, 0).length == 1)
}

/// Deterministic generator so failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random junk must never trap, and any `.ranges` must be sorted, disjoint,
/// non-adjacent and inside the file.
@Test func randomHeadersKeepInvariants() {
    var rng = SplitMix64(state: 42)
    let alphabet = Array("0123456789-,= bytesBYTES\t+x".map { String($0) })
    for _ in 0..<5_000 {
        let size = Int64.random(in: 0...200, using: &rng)
        let n = Int.random(in: 0...24, using: &rng)
        let header = (Bool.random(using: &rng) ? "bytes=" : "") + (0..<n).map { _ in alphabet.randomElement(using: &rng)! }.joined()
        guard case let .ranges(ranges) = evaluateRange(header, size: size) else { continue }
        #expect(!ranges.isEmpty)
        for (i, range) in ranges.enumerated() {
            #expect(range.first >= 0 && range.last < size)
            if i > 0 { #expect(ranges[i - 1].last + 1 < range.first) }
        }
        #expect(ranges.reduce(0) { $0 + $1.length } <= size)
    }
}
