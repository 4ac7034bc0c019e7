import Foundation
import Testing
import TestSupport
import MediaFiles

@Suite("RawPath: paths as bytes")
struct RawPathTests {
    @Test("shown to people escaped, never lossy", arguments: [
        (Array("uploads/a.mp4".utf8), "uploads/a.mp4"),
        (Array("vidéo ü 视频.mp4".utf8), "vidéo ü 视频.mp4"),
        (Array("caf".utf8) + [0xE9] + Array(".mp4".utf8), "caf\\xE9.mp4"),
        (Array("a\nb\tc\r.mp4".utf8), "a\\nb\\tc\\r.mp4"),
        (Array("back\\slash".utf8), "back\\\\slash"),
        ([0x01, 0x7F, 0xFF, 0xC3], "\\x01\\x7F\\xFF\\xC3"),
        ([0xC3, 0xA9, 0xE9], "é\\xE9"),
    ])
    func displayed(_ bytes: [UInt8], _ shown: String) {
        #expect(RawPath(bytes: bytes).displayed == shown)
        #expect(RawPath(bytes: bytes).string == String(validating: bytes, as: UTF8.self))
    }

    @Test("lexical standardisation", arguments: [
        ("/a/./b//c/", "/a/b/c"), ("/a/b/../c", "/a/c"), ("/../../x", "/x"), ("/", "/"), ("/a/..", "/"),
        ("/a/b.", "/a/b."), ("/a/...", "/a/..."), ("/a/..b", "/a/..b"),
    ])
    func standardized(_ given: String, _ expected: String) {
        #expect(RawPath(given).standardized() == RawPath(expected))
        #expect(RawPath(expected).isStandard)
    }

    @Test func components() {
        let p = RawPath(bytes: Array("/srv/media/caf".utf8) + [0xE9] + Array(".MP4".utf8))
        #expect(p.lastComponent.bytes == Array("caf".utf8) + [0xE9] + Array(".MP4".utf8))
        #expect(p.parent == "/srv/media")
        #expect(p.pathExtension == "mp4")
        #expect(RawPath("/x").parent == "/")
        #expect(RawPath("name").parent == ".")
        #expect(RawPath(".hidden").pathExtension == "")
        #expect(RawPath("/srv/media").appending("a/b.mp4") == "/srv/media/a/b.mp4")
        #expect(RawPath("/srv/media").appending("/abs.mp4") == "/abs.mp4", "an absolute stored path wins, as os.path.join does")
    }

    @Test("inside a folder: component-wise, never by string prefix")
    func inside() {
        #expect(RawPath("/srv/media/a.mp4").isInside("/srv/media"))
        #expect(!RawPath("/srv/media2/a.mp4").isInside("/srv/media"))
        #expect(RawPath("/srv/media").isInside("/srv/media"))
        #expect(RawPath("/x").isInside("/"))
        #expect(RawPath("/srv/media/a/b").relative(to: "/srv/media") == "a/b")
        #expect(RawPath("/srv/media").relative(to: "/srv/media") == nil)
        #expect(RawPath("/x/y").relative(to: "/") == "x/y")
    }

    @Test("a NUL byte never reaches a system call: it would name another file")
    func nul() throws {
        let s = try Scratch()
        defer { s.remove() }
        try s.write([1], at: "a")
        let sneaky = RawPath(bytes: Array(s.inMedia("a").utf8) + [0] + Array(".mp4".utf8))
        #expect(sneaky.containsNUL)
        #expect(sneaky.withCString { _ in true } == nil)
        guard case .failure = FileSystem.status(sneaky) else {
            Issue.record("stat of a path with a NUL must fail, not find \(s.inMedia("a"))")
            return
        }
    }

    @Test("folder listings keep names that are not UTF-8")
    func entries() throws {
        let s = try Scratch()
        defer { s.remove() }
        let name: [UInt8] = Array("caf".utf8) + [0xE9] + Array(".mp4".utf8)
        let path = RawPath(s.media).appending(RawPath(bytes: name))
        let fd = try #require(try? FileSystem.open(path, O_WRONLY | O_CREAT | O_EXCL, 0o644).get())
        close(fd)
        let listed = try FileSystem.entries(of: RawPath(s.media)).get()
        #expect(listed.map(\.name) == [RawPath(bytes: name)])
        if case .success(let st) = FileSystem.status(path) { #expect(st.kind == .regular) } else { Issue.record("stat failed") }
    }
}
