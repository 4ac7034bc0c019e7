import Testing
@testable import HTTPRanges

private func strong(_ s: String) -> EntityTag { EntityTag(opaque: s, isWeak: false) }
private func weak(_ s: String) -> EntityTag { EntityTag(opaque: s, isWeak: true) }

@Test(arguments: [
    ("\"a\", W/\"b\"", EntityTagList.tags([strong("a"), weak("b")])),
    ("*", .any),
    (" * ", .any),
    ("\"a\"", .tags([strong("a")])),
    ("W/\"a\"", .tags([weak("a")])),
    ("\"\"", .tags([strong("")])),
    ("\"a\",,\"b\"", .tags([strong("a"), strong("b")])),
    (", \"a\" ,", .tags([strong("a")])),
    ("\"a\"\t,\t\"b\"", .tags([strong("a"), strong("b")])),
    ("\"3e8-17979cfe362a007b-2a\"", .tags([strong("3e8-17979cfe362a007b-2a")])),
    ("\"x,y\"", .tags([strong("x,y")])),
    ("\"x,y\", W/\"z\"", .tags([strong("x,y"), weak("z")])),
    ("\"a\" , , W/\"b\" ,", .tags([strong("a"), weak("b")])),
    ("\"caf\u{E9}\"", .tags([strong("caf\u{E9}")])),
    ("", .tags([])),
] as [(String, EntityTagList)])
func parseValidTagLists(_ text: String, _ expected: EntityTagList) {
    #expect(EntityTagList.parse(text) == expected)
}

@Test(arguments: [
    "garbage",
    "\"a",
    "a\"",
    "w/\"a\"",
    "W/ \"a\"",
    "W/a",
    "\"a\" \"b\"",
    "\"a\"x",
    "*, \"a\"",
    "**",
    "\"a\", b",
    "\"a\" ; \"b\"",
    "\"a b\"",
    "\"a\tb\"",
])
func rejectInvalidTagLists(_ text: String) {
    #expect(EntityTagList.parse(text) == nil)
}

/// RFC 9110 §8.8.3.2 comparison table.
@Test(arguments: [
    (weak("1"), weak("1"), false, true),
    (weak("1"), weak("2"), false, false),
    (weak("1"), strong("1"), false, true),
    (strong("1"), strong("1"), true, true),
    (strong("1"), strong("2"), false, false),
] as [(EntityTag, EntityTag, Bool, Bool)])
func comparisonFunctions(_ a: EntityTag, _ b: EntityTag, _ isStrong: Bool, _ isWeak: Bool) {
    #expect(a.strongMatch(b) == isStrong)
    #expect(b.strongMatch(a) == isStrong)
    #expect(a.weakMatch(b) == isWeak)
    #expect(b.weakMatch(a) == isWeak)
}

@Test func headerValueAndSingleParse() {
    #expect(strong("abc").headerValue == "\"abc\"")
    #expect(weak("abc").headerValue == "W/\"abc\"")
    #expect(EntityTag.parse(" W/\"abc\" ") == weak("abc"))
    #expect(EntityTag.parse("\"abc\"") == strong("abc"))
    #expect(EntityTag.parse("\"a\", \"b\"") == nil)
    #expect(EntityTag.parse("abc") == nil)
    #expect(EntityTag.parse("") == nil)
}

@Test func fileTagIsStrongAndSensitiveToEveryField() {
    let tag = EntityTag.forFile(size: 1000, mtimeSeconds: 1_700_000_000, mtimeNanoseconds: 123, inode: 42)
    #expect(tag == strong("3e8-17979cfe362a007b-2a"))
    #expect(tag.headerValue == "\"3e8-17979cfe362a007b-2a\"")
    #expect(EntityTag.parse(tag.headerValue) == tag)
    let variants = [
        EntityTag.forFile(size: 1001, mtimeSeconds: 1_700_000_000, mtimeNanoseconds: 123, inode: 42),
        EntityTag.forFile(size: 1000, mtimeSeconds: 1_700_000_001, mtimeNanoseconds: 123, inode: 42),
        EntityTag.forFile(size: 1000, mtimeSeconds: 1_700_000_000, mtimeNanoseconds: 124, inode: 42),
        EntityTag.forFile(size: 1000, mtimeSeconds: 1_700_000_000, mtimeNanoseconds: 123, inode: 43),
    ]
    for v in variants { #expect(!v.strongMatch(tag)) }
    // Absurd inputs do not trap.
    _ = EntityTag.forFile(size: .min, mtimeSeconds: .max, mtimeNanoseconds: .max, inode: .max)
}
