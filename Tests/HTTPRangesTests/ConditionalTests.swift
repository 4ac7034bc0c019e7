import Testing
@testable import HTTPRanges

/// Resource: strong ETag "abc", Last-Modified = Sun, 06 Nov 1994 08:49:37 GMT.
private let lastModified: Int64 = 784_111_777
private let validators = ResourceValidators(etag: EntityTag(opaque: "abc"), lastModified: lastModified)
private let now = "Sun, 06 Nov 1994 08:49:37 GMT"          // == Last-Modified
private let before = "Sun, 06 Nov 1994 08:49:36 GMT"       // 1 s earlier
private let after = "Sun, 06 Nov 1994 08:49:38 GMT"        // 1 s later
private let nowRFC850 = "Sunday, 06-Nov-94 08:49:37 GMT"
private let nowAsctime = "Sun Nov  6 08:49:37 1994"

struct ConditionalCase: Sendable, CustomTestStringConvertible {
    let name: String
    let conditions: RequestConditions
    let expected: ConditionalOutcome
    var testDescription: String { name }
    init(_ name: String, _ conditions: RequestConditions, _ expected: ConditionalOutcome) {
        self.name = name
        self.conditions = conditions
        self.expected = expected
    }
}

private let ok = ConditionalOutcome.proceed(honourRange: false)
private let ranged = ConditionalOutcome.proceed(honourRange: true)

let conditionalCases: [ConditionalCase] = [
    // No conditions
    .init("plain GET", .init(), ok),
    .init("GET with Range", .init(hasRange: true), ranged),
    .init("HEAD with Range", .init(method: "HEAD", hasRange: true), ranged),
    .init("POST with Range: Range only for GET", .init(method: "POST", hasRange: true), ok),
    // Step 1: If-Match
    .init("If-Match strong match", .init(ifMatch: "\"abc\""), ok),
    .init("If-Match mismatch", .init(ifMatch: "\"xyz\""), .preconditionFailed),
    .init("If-Match star", .init(ifMatch: "*"), ok),
    .init("If-Match weak tag never strong-matches", .init(ifMatch: "W/\"abc\""), .preconditionFailed),
    .init("If-Match list with match", .init(ifMatch: "\"xyz\", \"abc\""), ok),
    .init("If-Match invalid fails closed", .init(ifMatch: "abc"), .preconditionFailed),
    .init("If-Match empty list", .init(ifMatch: ""), .preconditionFailed),
    .init("If-Match star on POST", .init(method: "POST", ifMatch: "*"), ok),
    .init("If-Match keeps Range", .init(hasRange: true, ifMatch: "\"abc\""), ranged),
    // Step 2: If-Unmodified-Since
    .init("IUS equal", .init(ifUnmodifiedSince: now), ok),
    .init("IUS before modification", .init(ifUnmodifiedSince: before), .preconditionFailed),
    .init("IUS after modification", .init(ifUnmodifiedSince: after), ok),
    .init("IUS invalid date ignored", .init(ifUnmodifiedSince: "yesterday"), ok),
    .init("IUS ignored when If-Match present", .init(ifMatch: "\"abc\"", ifUnmodifiedSince: before), ok),
    // Step order 1 before 3, 2 before 3
    .init("If-Match fails before INM", .init(ifMatch: "\"xyz\"", ifNoneMatch: "\"abc\""), .preconditionFailed),
    .init("IUS fails before INM", .init(ifNoneMatch: "\"abc\"", ifUnmodifiedSince: before), .preconditionFailed),
    .init("If-Match passes then INM matches", .init(ifMatch: "\"abc\"", ifNoneMatch: "\"abc\""), .notModified),
    // Step 3: If-None-Match
    .init("INM match GET", .init(ifNoneMatch: "\"abc\""), .notModified),
    .init("INM weak comparison", .init(ifNoneMatch: "W/\"abc\""), .notModified),
    .init("INM match HEAD", .init(method: "HEAD", ifNoneMatch: "\"abc\""), .notModified),
    .init("INM match POST", .init(method: "POST", ifNoneMatch: "\"abc\""), .preconditionFailed),
    .init("INM star GET", .init(ifNoneMatch: "*"), .notModified),
    .init("INM star PUT", .init(method: "PUT", ifNoneMatch: "*"), .preconditionFailed),
    .init("INM list with match", .init(ifNoneMatch: "\"x\", W/\"abc\""), .notModified),
    .init("INM mismatch", .init(ifNoneMatch: "\"xyz\""), ok),
    .init("INM present: IMS ignored", .init(ifNoneMatch: "\"xyz\"", ifModifiedSince: now), ok),
    .init("INM invalid: ignored, IMS applies", .init(ifNoneMatch: "garbage", ifModifiedSince: now), .notModified),
    .init("INM invalid alone", .init(ifNoneMatch: "garbage"), ok),
    .init("methods are case-sensitive", .init(method: "get", ifNoneMatch: "\"abc\""), .preconditionFailed),
    // Step 4: If-Modified-Since
    .init("IMS equal", .init(ifModifiedSince: now), .notModified),
    .init("IMS later", .init(ifModifiedSince: after), .notModified),
    .init("IMS earlier", .init(ifModifiedSince: before), ok),
    .init("IMS RFC 850 form", .init(ifModifiedSince: nowRFC850), .notModified),
    .init("IMS asctime form", .init(ifModifiedSince: nowAsctime), .notModified),
    .init("IMS HEAD", .init(method: "HEAD", ifModifiedSince: now), .notModified),
    .init("IMS ignored for POST", .init(method: "POST", ifModifiedSince: now), ok),
    .init("IMS invalid ignored", .init(ifModifiedSince: "not a date"), ok),
    .init("IMS earlier keeps Range", .init(hasRange: true, ifModifiedSince: before), ranged),
    // Step 5: If-Range
    .init("If-Range strong match", .init(hasRange: true, ifRange: "\"abc\""), ranged),
    .init("If-Range with OWS", .init(hasRange: true, ifRange: " \"abc\" "), ranged),
    .init("If-Range weak tag never matches", .init(hasRange: true, ifRange: "W/\"abc\""), ok),
    .init("If-Range tag mismatch", .init(hasRange: true, ifRange: "\"xyz\""), ok),
    .init("If-Range list is invalid", .init(hasRange: true, ifRange: "\"abc\", \"xyz\""), ok),
    .init("If-Range date equal", .init(hasRange: true, ifRange: now), ranged),
    .init("If-Range date later", .init(hasRange: true, ifRange: after), ok),
    .init("If-Range date earlier", .init(hasRange: true, ifRange: before), ok),
    .init("If-Range garbage", .init(hasRange: true, ifRange: "garbage"), ok),
    .init("If-Range without Range", .init(ifRange: "\"abc\""), ok),
    .init("If-Range on HEAD", .init(method: "HEAD", hasRange: true, ifRange: "\"abc\""), ranged),
    .init("If-Range on POST", .init(method: "POST", hasRange: true, ifRange: "\"abc\""), ok),
    .init("INM mismatch then If-Range match", .init(hasRange: true, ifNoneMatch: "\"xyz\"", ifRange: "\"abc\""), ranged),
    .init("INM match beats If-Range", .init(hasRange: true, ifNoneMatch: "\"abc\"", ifRange: "\"abc\""), .notModified),
    .init("If-Match passes, If-Range fails", .init(hasRange: true, ifMatch: "*", ifRange: "\"xyz\""), ok),
]

@Test(arguments: conditionalCases)
func evaluateConditionsTable(_ c: ConditionalCase) {
    #expect(evaluateConditions(c.conditions, validators) == c.expected)
}

@Test func conditionalTableIsLargeEnough() {
    #expect(conditionalCases.count >= 25)
}
