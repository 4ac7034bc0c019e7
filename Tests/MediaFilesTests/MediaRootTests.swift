import Foundation
import Testing
import MediaFiles
import TestSupport

struct ResolveCase: Sendable, CustomTestStringConvertible {
    var root: String
    var stored: String
    var resolved: String
    var testDescription: String { "\(root) + \(stored)" }
}

struct StoredCase: Sendable, CustomTestStringConvertible {
    var root: String
    var absolute: String
    var stored: String
    var testDescription: String { "\(absolute) under \(root)" }
}

@Suite("MediaRoot")
struct MediaRootTests {
    @Test(arguments: [
        ("/srv/media", "/", "/srv/media"),
        ("/srv/media/", "/", "/srv/media"),
        ("/srv/./media//uploads/../", "/", "/srv/media"),
        ("media", "/home/u", "/home/u/media"),
        ("../media", "/home/u/app", "/home/u/media"),
        ("./a b/ü:c", "/x", "/x/a b/ü:c"),
        ("/../../etc", "/", "/etc"),
        ("/", "/x", "/"),
    ])
    func rootIsAbsoluteAndStandardized(given: String, base: String, expected: String) {
        #expect(MediaRoot(RawPath(given), relativeTo: RawPath(base)).path == RawPath(expected))
    }

    @Test(arguments: [
        ResolveCase(root: "/srv/media", stored: "uploads/a.mp4", resolved: "/srv/media/uploads/a.mp4"),
        ResolveCase(root: "/srv/media", stored: "./uploads/./a.mp4", resolved: "/srv/media/uploads/a.mp4"),
        ResolveCase(root: "/srv/media", stored: "uploads/../b.mp4", resolved: "/srv/media/b.mp4"),
        ResolveCase(root: "/srv/media", stored: "../elsewhere/c.mp4", resolved: "/srv/elsewhere/c.mp4"),
        ResolveCase(root: "/srv/media", stored: "../../../../d.mp4", resolved: "/d.mp4"),
        ResolveCase(root: "/srv/media", stored: "/abs/e.mp4", resolved: "/abs/e.mp4"),
        ResolveCase(root: "/srv/media", stored: "/abs/../f.mp4", resolved: "/f.mp4"),
        ResolveCase(root: "/srv/media", stored: "a b/ü:c.mp4", resolved: "/srv/media/a b/ü:c.mp4"),
        ResolveCase(root: "/", stored: "g.mp4", resolved: "/g.mp4"),
    ])
    func resolve(_ c: ResolveCase) {
        #expect(MediaRoot(c.root).resolve(RawPath(c.stored)) == RawPath(c.resolved))
    }

    @Test(arguments: [
        StoredCase(root: "/srv/media", absolute: "/srv/media/uploads/a.mp4", stored: "uploads/a.mp4"),
        StoredCase(root: "/srv/media", absolute: "/srv/media/x/../uploads/./a.mp4", stored: "uploads/a.mp4"),
        StoredCase(root: "/srv/media", absolute: "/srv/media/../outside.mp4", stored: "/srv/outside.mp4"),
        StoredCase(root: "/srv/media", absolute: "/srv/media2/b.mp4", stored: "/srv/media2/b.mp4"),
        StoredCase(root: "/srv/media", absolute: "/srv/mediab.mp4", stored: "/srv/mediab.mp4"),
        StoredCase(root: "/srv/media", absolute: "/etc/passwd", stored: "/etc/passwd"),
        StoredCase(root: "/srv/media", absolute: "/srv/media/a b/ü:c.mp4", stored: "a b/ü:c.mp4"),
        StoredCase(root: "/", absolute: "/srv/x.mp4", stored: "srv/x.mp4"),
    ])
    func storedForm(_ c: StoredCase) {
        let root = MediaRoot(c.root)
        #expect(root.storedForm(ofPhysical: RawPath(c.absolute)) == RawPath(c.stored))
        // Whatever is stored resolves back to the same file.
        #expect(root.resolve(RawPath(c.stored)) == RawPath(c.absolute).standardized())
    }

    @Test func existsAndEmptiness() throws {
        let s = try Scratch()
        defer { s.remove() }
        let root = MediaRoot(s.media)
        #expect(root.exists)
        #expect(root.isEmptyDirectory)
        #expect(FileManager.default.createFile(atPath: s.inMedia("a.mp4"), contents: Data([1])))
        #expect(!root.isEmptyDirectory)
        #expect(!MediaRoot(s.path("missing")).exists)
        #expect(!MediaRoot(s.inMedia("a.mp4")).exists, "a file is not a media root")
    }

    @Test("containsRealPath follows symlinks")
    func containsRealPath() throws {
        let s = try Scratch()
        defer { s.remove() }
        let fm = FileManager.default
        try fm.createDirectory(atPath: s.path("media/sub"), withIntermediateDirectories: true)
        try fm.createDirectory(atPath: s.path("media2"), withIntermediateDirectories: true)
        try fm.createDirectory(atPath: s.path("outside"), withIntermediateDirectories: true)
        for f in ["media/sub/in.mp4", "media2/neighbour.mp4", "outside/secret.mp4"] {
            #expect(fm.createFile(atPath: s.path(f), contents: Data([0])))
        }
        try fm.createSymbolicLink(atPath: s.path("media/escape.mp4"), withDestinationPath: s.path("outside/secret.mp4"))
        try fm.createSymbolicLink(atPath: s.path("media/escape-dir"), withDestinationPath: s.path("outside"))
        try fm.createSymbolicLink(atPath: s.path("media/inner-link.mp4"), withDestinationPath: "sub/in.mp4")
        try fm.createSymbolicLink(atPath: s.path("outside/into-media.mp4"), withDestinationPath: s.path("media/sub/in.mp4"))
        try fm.createSymbolicLink(atPath: s.path("media-link"), withDestinationPath: s.path("media"))

        let root = MediaRoot(s.path("media"))
        #expect(root.containsRealPath(of: RawPath(s.path("media/sub/in.mp4"))))
        #expect(root.containsRealPath(of: RawPath(s.path("media/inner-link.mp4"))))
        #expect(root.containsRealPath(of: RawPath(s.path("outside/into-media.mp4"))), "judged by where the file really is")
        #expect(!root.containsRealPath(of: RawPath(s.path("media/escape.mp4"))))
        #expect(!root.containsRealPath(of: RawPath(s.path("media/escape-dir/secret.mp4"))))
        #expect(!root.containsRealPath(of: RawPath(s.path("media/../outside/secret.mp4"))))
        #expect(!root.containsRealPath(of: RawPath(s.path("media2/neighbour.mp4"))), "a sibling sharing the prefix is outside")
        #expect(!root.containsRealPath(of: RawPath(s.path("media/missing.mp4"))), "a missing file is never inside")
        #expect(!root.containsRealPath(of: RawPath(s.path("media"))), "the root itself is not a file inside it")

        // A root reached through a symlink contains the same files.
        let linked = MediaRoot(s.path("media-link"))
        #expect(linked.containsRealPath(of: RawPath(s.path("media/sub/in.mp4"))))
        #expect(linked.containsRealPath(of: RawPath(s.path("media-link/sub/in.mp4"))))
        #expect(!linked.containsRealPath(of: RawPath(s.path("media-link/escape.mp4"))))
    }

    @Test func realPath() throws {
        let s = try Scratch()
        defer { s.remove() }
        #expect(FileSystem.realPath(RawPath(s.path("missing"))) == nil)
        let real = try #require(FileSystem.realPath(RawPath(s.path)))
        #expect(FileSystem.realPath(RawPath(s.path + "/./")) == real)
    }

    @Test("a path is resolved as the kernel does: `lnk/../x` follows the symlink lnk")
    func physicalPath() throws {
        let s = try Scratch()
        defer { s.remove() }
        let fm = FileManager.default
        try fm.createDirectory(atPath: s.path("media/uploads"), withIntermediateDirectories: true)
        try fm.createDirectory(atPath: s.path("elsewhere/deep"), withIntermediateDirectories: true)
        try fm.createDirectory(atPath: s.path("elsewhere/uploads"), withIntermediateDirectories: true)
        try fm.createSymbolicLink(atPath: s.path("media/lnk"), withDestinationPath: s.path("elsewhere/deep"))
        let real = try #require(FileSystem.realPath(RawPath(s.path)))
        // Textually media/lnk/../uploads/a.webm is media/uploads/a.webm; the kernel says elsewhere/uploads/a.webm.
        #expect(MediaRoot.physicalPath(of: RawPath(s.path("media/lnk/../uploads/a.webm"))) == real.appending("elsewhere/uploads/a.webm"))
        #expect(MediaRoot.physicalPath(of: "media/uploads/a.webm", base: RawPath(s.path)) == real.appending("media/uploads/a.webm"))
        #expect(MediaRoot.physicalPath(of: RawPath(s.path("nowhere/a.webm"))) == nil, "a folder that does not exist")
    }
}
