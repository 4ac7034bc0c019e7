import Testing
@testable import HTTPRanges

@Test(arguments: [
    (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
    (-1, "Wed, 31 Dec 1969 23:59:59 GMT"),
    (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"),
    (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
    (1_709_164_800, "Thu, 29 Feb 2024 00:00:00 GMT"),
    (4_107_542_400, "Mon, 01 Mar 2100 00:00:00 GMT"),
    (253_402_300_799, "Fri, 31 Dec 9999 23:59:59 GMT"),
    (-62_135_596_800, "Mon, 01 Jan 0001 00:00:00 GMT"),
] as [(Int64, String)])
func formatAndParseIMFFixdate(_ epoch: Int64, _ text: String) {
    #expect(HTTPDate.format(epoch) == text)
    #expect(HTTPDate.parse(text) == epoch)
}

@Test(arguments: [
    // The RFC 9110 §5.6.7 examples, all the same instant.
    ("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_777),
    ("Sunday, 06-Nov-94 08:49:37 GMT", 784_111_777),
    ("Sun Nov  6 08:49:37 1994", 784_111_777),
    ("Sun Nov 06 08:49:37 1994", 784_111_777),
    ("  Sun, 06 Nov 1994 08:49:37 GMT ", 784_111_777),
    // RFC 850 two-digit year pivot.
    ("Thursday, 01-Jan-70 00:00:00 GMT", 0),
    ("Tuesday, 01-Jan-69 00:00:00 GMT", 3_124_224_000),
    ("Saturday, 29-Feb-00 00:00:00 GMT", 951_782_400),
    // Leap second folds into the next second.
    ("Sun, 06 Nov 1994 08:49:60 GMT", 784_111_800),
    ("Thu, 29 Feb 2024 00:00:00 GMT", 1_709_164_800),
    ("Fri, 31 Dec 9999 23:59:59 GMT", 253_402_300_799),
] as [(String, Int64)])
func parseAllFormats(_ text: String, _ epoch: Int64) {
    #expect(HTTPDate.parse(text) == epoch)
}

@Test(arguments: [
    "",
    "784111777",
    "Sun, 06 Nov 1994 08:49:37 UTC",
    "Sun, 06 Nov 1994 08:49:37 gmt",
    "sun, 06 nov 1994 08:49:37 GMT",
    "Sun, 6 Nov 1994 08:49:37 GMT",
    "Sun, 06 Nov 94 08:49:37 GMT",
    "Sun, 06 Nov 1994 08:49:37 GMT junk",
    "Sun, 06 Nov 1994 8:49:37 GMT",
    "Sun, 06 Nov 1994 24:00:00 GMT",
    "Sun, 06 Nov 1994 08:60:00 GMT",
    "Sun, 06 Nov 1994 08:49:61 GMT",
    "Sun, 31 Feb 1994 08:49:37 GMT",
    "Sun, 00 Nov 1994 08:49:37 GMT",
    "Thu, 29 Feb 1900 00:00:00 GMT",
    "Xyz, 06 Nov 1994 08:49:37 GMT",
    "Sun, 06 Foo 1994 08:49:37 GMT",
    "Sun, 06 Nov 1994 08-49-37 GMT",
    "Sun, 06 Nov +994 08:49:37 GMT",
    "Sunday, 06-Nov-1994 08:49:37 GMT",
    "Sun, 06-Nov-94 08:49:37 GMT",
    "Sun Nov  6 08:49:37 94",
    "Sun Nov 6 08:49:37 1994",
    "Sun Nov  6 08:49:37 1994 GMT",
    "1994-11-06T08:49:37Z",
])
func rejectInvalidDates(_ text: String) {
    #expect(HTTPDate.parse(text) == nil)
}

@Test func roundTripManyInstants() {
    var rng = SplitMix64(state: 1994)
    for _ in 0..<20_000 {
        let t = Int64.random(in: -62_135_596_800...253_402_300_799, using: &rng)
        #expect(HTTPDate.parse(HTTPDate.format(t)) == t)
    }
    // Every day boundary across a leap-year cycle, to exercise month edges.
    for day in Int64(10_000)..<Int64(10_000 + 1461) {
        let t = day * 86_400
        #expect(HTTPDate.parse(HTTPDate.format(t)) == t)
        #expect(HTTPDate.parse(HTTPDate.format(t - 1)) == t - 1)
    }
}

@Test func formatClampsExtremes() {
    #expect(HTTPDate.format(.min) == "Mon, 01 Jan 0001 00:00:00 GMT")
    #expect(HTTPDate.format(.max) == "Fri, 31 Dec 9999 23:59:59 GMT")
}
