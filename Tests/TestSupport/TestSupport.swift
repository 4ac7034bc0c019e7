// What every test target needs to find: the package, its fixtures and the built CLI, and a
// way to remove a test's folder whatever it left behind. One copy for all test targets.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum Repository {
    /// The folder holding Package.swift, found from this file's path (no working-directory assumptions).
    public static let root: URL = {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while dir.path != "/" {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) { return dir }
            dir = dir.deletingLastPathComponent()
        }
        fatalError("no Package.swift above \(#filePath)")
    }()

    public static var fixturesDirectory: String { root.appendingPathComponent("Fixtures").path }

    public static func fixture(_ name: String) -> String {
        root.appendingPathComponent("Fixtures").appendingPathComponent(name).path
    }

    public static func fixtureBytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture(name))))
    }

    /// Every committed video fixture.
    public static let videoFixtures = ["audio-only.mp4", "empty.mp4", "hevc.mp4", "ok-faststart.mp4", "ok-moov-end.mp4",
                                       "ok.webm", "text.mp4", "three-frames.mp4", "truncated.mp4"]

    /// The built CLI: $MEDIALIB_BIN, else `swift build`'s .build/debug/medialib, else the one
    /// `swift test` builds beside the test bundle.
    public static let medialib: String? = {
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["MEDIALIB_BIN"] { candidates.append(env) }
        candidates.append(root.appendingPathComponent(".build/debug/medialib").path)
        if let argv0 = CommandLine.arguments.first {
            candidates.append(URL(fileURLWithPath: argv0).resolvingSymlinksInPath()
                .deletingLastPathComponent().appendingPathComponent("medialib").path)
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()
}

/// Removes a test's folder, first making what a test left read-only writable again.
/// Never chmods through a symlink: that would follow it to a fixture outside the folder.
public func removeTestFolder(_ path: String) {
    if let walker = FileManager.default.enumerator(atPath: path) {
        while let rel = walker.nextObject() as? String {
            let entry = path + "/" + rel
            var st = stat()
            guard lstat(entry, &st) == 0, (st.st_mode & S_IFMT) != S_IFLNK else { continue }
            chmod(entry, 0o755)
        }
    }
    try? FileManager.default.removeItem(atPath: path)
}
