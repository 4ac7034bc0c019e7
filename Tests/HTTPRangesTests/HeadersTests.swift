import Testing
@testable import HTTPRanges

@Test(arguments: [
    ("movie.mp4", "inline; filename=\"movie.mp4\""),
    ("my movie (2020) [1080p].mkv", "inline; filename=\"my movie (2020) [1080p].mkv\""),
    ("Am\u{E9}lie.mp4", "inline; filename=\"Am_lie.mp4\"; filename*=UTF-8''Am%C3%A9lie.mp4"),
    ("Ame\u{301}lie.mp4", "inline; filename=\"Am_lie.mp4\"; filename*=UTF-8''Ame%CC%81lie.mp4"),
    ("\u{65E5}\u{672C}.webm", "inline; filename=\"__.webm\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.webm"),
    ("a\"b\\c.mkv", "inline; filename=\"a_b_c.mkv\"; filename*=UTF-8''a%22b%5Cc.mkv"),
    ("tab\tline\r\nend.mov", "inline; filename=\"tab_line_end.mov\"; filename*=UTF-8''tab%09line%0D%0Aend.mov"),
    ("del\u{7F}.mp4", "inline; filename=\"del_.mp4\"; filename*=UTF-8''del%7F.mp4"),
    ("\u{1F3AC} clip.mp4", "inline; filename=\"_ clip.mp4\"; filename*=UTF-8''%F0%9F%8E%AC%20clip.mp4"),
    ("100% #1 a&b+c~d.mp4", "inline; filename=\"100% #1 a&b+c~d.mp4\""),
    ("caf\u{E9} 100%.mp4", "inline; filename=\"caf_ 100%.mp4\"; filename*=UTF-8''caf%C3%A9%20100%25.mp4"),
    ("x!#$&+-.^_`|~y", "inline; filename=\"x!#$&+-.^_`|~y\""),
    ("", "inline; filename=\"\""),
])
func contentDispositionTable(_ name: String, _ expected: String) {
    #expect(contentDisposition(filename: name) == expected)
}

@Test func contentDispositionAttachment() {
    #expect(contentDisposition(filename: "a.mp4", asAttachment: true) == "attachment; filename=\"a.mp4\"")
}

@Test func starFormKeepsAttrCharsVerbatim() {
    #expect(percentEncodeAttrChars("x!#$&+-.^_`|~y") == "x!#$&+-.^_`|~y")
    #expect(percentEncodeAttrChars("a b/c;d=e'f\"g") == "a%20b%2Fc%3Bd%3De%27f%22g")
}

@Test(arguments: [
    ("mp4", "video/mp4"),
    ("MP4", "video/mp4"),
    (".mp4", "video/mp4"),
    ("m4v", "video/mp4"),
    ("M4V", "video/mp4"),
    ("webm", "video/webm"),
    ("WebM", "video/webm"),
    ("mkv", "video/x-matroska"),
    ("mov", "video/quicktime"),
    ("MOV", "video/quicktime"),
    ("avi", "application/octet-stream"),
    ("", "application/octet-stream"),
    ("mp4.bak", "application/octet-stream"),
])
func videoContentTypeTable(_ ext: String, _ expected: String) {
    #expect(videoContentType(forExtension: ext) == expected)
}
