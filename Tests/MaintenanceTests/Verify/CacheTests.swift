import Foundation
import Testing
import Maintenance
import MediaCatalog
import MediaFiles
import TestSupport
import MediaProbe
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

private let garbage = Array("This is not a video any more, only text where the H.264 used to be. ".utf8)

/// A library of files that are all probed (regular and non-empty), so probed + cached == files.
@discardableResult
private func probeableLibrary(_ scratch: Scratch) throws -> [VideoRecord] {
    for f in ["ok-faststart.mp4", "ok-moov-end.mp4", "ok.webm", "hevc.mp4", "three-frames.mp4", "truncated.mp4", "text.mp4"] {
        try scratch.place(f)
    }
    return try scratch.insert([("ok-faststart.mp4", "ok.webm"), ("ok-moov-end.mp4", nil), ("hevc.mp4", nil),
                               ("three-frames.mp4", nil), ("truncated.mp4", nil), ("text.mp4", nil)])
}

@Suite("verify: the cache keyed on size, mtime (ns), inode, depth and tool version")
struct CacheTests {
    @Test("the library: a second run probes nothing and gives the same results")
    func secondRunFromCache() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try probeableLibrary(scratch)
        let first = try await verifyLibrary(scratch)
        #expect(first.counters.files == 7)
        #expect(first.counters.probed == 7)
        #expect(first.counters.cached == 0)
        let second = try await verifyLibrary(scratch)
        #expect(second.counters.probed == 0)
        #expect(second.counters.cached == second.counters.files)
        #expect(second.results.flatMap(\.files).allSatisfy { $0.cached && !$0.probed })
        #expect(second.results.map(\.issues) == first.results.map(\.issues))
        #expect(second.results.map { $0.files.map(\.facts) } == first.results.map { $0.files.map(\.facts) })
        // The entry is keyed on the resolved path and the depth.
        let entry = try #require(try scratch.cacheEntry(scratch.inMedia("ok-faststart.mp4")))
        let id = try statIdentity(scratch.inMedia("ok-faststart.mp4"))
        #expect(entry.identity.size == id.size)
        #expect(entry.identity.inode == id.inode)
        #expect(entry.identity.device == id.device)
        #expect(entry.identity.mtimeSinceEpochNanoseconds == Int64(id.mtimeSeconds) * 1_000_000_000 + Int64(id.mtimeNanoseconds))
        #expect(entry.toolVersion == "verify-tests 1")
        #expect(!entry.checkedAt.isEmpty)
    }

    @Test("the CLI: second run probed 0, cached == files; a file changed behind the same identity stays cached until --full")
    func cacheDoesNotOpenFiles() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let records = try probeableLibrary(scratch)
        let (run1, first) = try await verifyJSON(scratch)
        #expect(run1.status == 1)
        #expect(first.summary.probed == 7)
        #expect(first.summary.cached == 0)
        let (_, second) = try await verifyJSON(scratch)
        #expect(second.summary.probed == 0)
        #expect(second.summary.cached == second.summary.files)
        #expect(second.summary.files == 7)
        #expect(second.records.flatMap(\.files).allSatisfy { $0.cached })
        #expect(second.records == first.records.map { r in
            var r = r
            r.files = r.files.map { f in var f = f; f.cached = true; return f }
            return r
        })

        // Garbage in place of ok-faststart.mp4's bytes: same size, inode and mtime to the nanosecond.
        let victim = scratch.inMedia("ok-faststart.mp4")
        let before = try statIdentity(victim)
        try overwriteKeepingIdentity(victim) { garbage[$0 % garbage.count] }
        let after = try statIdentity(victim)
        try #require(after == before, "the identity must really be unchanged: \(before) vs \(after)")
        #expect(try Fixtures.bytes("ok-faststart.mp4") != [UInt8](Data(contentsOf: URL(fileURLWithPath: victim))))

        // Not opened: still the cached verdict.
        let (run3, third) = try await verifyJSON(scratch)
        #expect(third.summary.probed == 0)
        #expect(third.summary.cached == 7)
        let cachedView = try #require(third.record(records[0].id))
        #expect(cachedView.codes == [])
        #expect(cachedView.files.first?.cached == true)
        #expect(cachedView.files.first?.codec == "h264")
        #expect(run3.status == 1, "three-frames, truncated and text are still errors")

        // --full opens every file again and sees the garbage.
        let (run4, full) = try await verifyJSON(scratch, ["--full"])
        #expect(run4.status == 1)
        #expect(full.summary.probed == 7)
        #expect(full.summary.cached == 0)
        #expect(full.record(records[0].id)?.codes == ["not_media"])
        #expect(full.record(records[0].id)?.files.first?.cached == false)

        // --full refreshed the cache: the next plain run answers not_media without opening anything.
        let (_, fifth) = try await verifyJSON(scratch)
        #expect(fifth.summary.probed == 0)
        #expect(fifth.record(records[0].id)?.codes == ["not_media"])
    }

    @Test("a changed mtime (even by one nanosecond), size or inode invalidates only that file's entry",
          arguments: ["mtime-ns", "mtime-s", "size", "inode"])
    func identityChangeInvalidates(_ change: String) async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try probeableLibrary(scratch)
        _ = try await verifyLibrary(scratch)
        let path = scratch.inMedia("ok-moov-end.mp4")
        let id = try statIdentity(path)
        switch change {
        case "mtime-ns":
            try setTimes(path, atime: id.atime, mtime: timespec(tv_sec: id.mtimeSeconds, tv_nsec: (id.mtimeNanoseconds + 1) % 1_000_000_000))
        case "mtime-s":
            try setTimes(path, atime: id.atime, mtime: timespec(tv_sec: id.mtimeSeconds - 3600, tv_nsec: id.mtimeNanoseconds))
        case "size":
            // Appending keeps the mtime when it is put back: only the size tells.
            let h = try FileHandle(forUpdating: URL(fileURLWithPath: path))
            try h.seekToEnd()
            try h.write(contentsOf: Data([0, 0, 0, 8, 0x66, 0x72, 0x65, 0x65]))  // an 8-byte "free" box
            try h.close()
            try setTimes(path, atime: id.atime, mtime: id.mtime)
        default:
            // A new inode with the same bytes and mtime (a copy moved over the original).
            let copy = scratch.inMedia("copy.tmp")
            try FileManager.default.copyItem(atPath: path, toPath: copy)
            try setTimes(copy, atime: id.atime, mtime: id.mtime)
            #expect(rename(copy, path) == 0)
        }
        let now = try statIdentity(path)
        #expect(now != id, "the change must show in stat: \(now)")
        let again = try await verifyLibrary(scratch)
        #expect(again.counters.probed == 1)
        #expect(again.counters.cached == 6)
        let moovEnd = try #require(again.results.first { $0.record.path(for: .raw) == "ok-moov-end.mp4" })
        #expect(moovEnd.files.first?.probed == true)
        #expect(moovEnd.files.first?.cached == false)
        #expect(moovEnd.issues.map(\.code) == ["not_faststart"])
    }

    @Test("cached facts are judged again: a new --min-frames applies without probing")
    func minFramesAppliesToCachedFacts() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try probeableLibrary(scratch)
        let (_, first) = try await verifyJSON(scratch)
        #expect(first.record(4)?.codes == ["too_few_frames"])
        let (run, second) = try await verifyJSON(scratch, ["--min-frames", "61"])
        #expect(run.status == 1)
        #expect(second.summary.probed == 0)
        #expect(second.record(1)?.codes == ["too_few_frames", "too_few_frames"], "60 and 30 frames < 61, from the cached counts")
        #expect(second.record(1)?.issues.map(\.file) == ["raw", "processed"])
        let (_, third) = try await verifyJSON(scratch, ["--min-frames", "3"])
        #expect(third.summary.probed == 0)
        #expect(third.record(4)?.codes == [])
    }

    @Test("--deep keeps its own cache entries")
    func deepHasItsOwnEntries() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try probeableLibrary(scratch)
        let standard = try await verifyLibrary(scratch)
        #expect(standard.counters.probed == 7)
        let deep = try await verifyLibrary(scratch, depth: .deep)
        #expect(deep.counters.probed == 7, "a standard result must not answer a deep run")
        #expect(deep.counters.cached == 0)
        #expect(deep.results.flatMap(\.files).allSatisfy { $0.facts?.errorCode != nil || $0.facts?.probe?.decodeErrors != nil })
        let deepAgain = try await verifyLibrary(scratch, depth: .deep)
        #expect(deepAgain.counters.probed == 0)
        #expect(deepAgain.counters.cached == 7)
        #expect(deepAgain.results.map(\.issues) == deep.results.map(\.issues))
        let standardAgain = try await verifyLibrary(scratch)
        #expect(standardAgain.counters.probed == 0, "the deep run must not have replaced the standard entries")
        #expect(standardAgain.results.flatMap(\.files).allSatisfy { $0.facts?.probe?.decodeErrors == nil })
        let path = scratch.inMedia("ok-faststart.mp4")
        #expect(try scratch.cacheEntry(path, depth: "standard") != nil)
        #expect(try scratch.cacheEntry(path, depth: "deep") != nil)
    }

    @Test("--deep through the CLI: its own entries too")
    func deepThroughTheCLI() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try probeableLibrary(scratch)
        let (_, a) = try await verifyJSON(scratch)
        let (_, b) = try await verifyJSON(scratch, ["--deep"])
        let (_, c) = try await verifyJSON(scratch, ["--deep"])
        let (_, d) = try await verifyJSON(scratch)
        #expect([a.summary.probed, b.summary.probed, c.summary.probed, d.summary.probed] == [7, 7, 0, 0] as [Int])
        #expect([a.summary.cached, b.summary.cached, c.summary.cached, d.summary.cached] == [0, 0, 7, 7] as [Int])
    }

    @Test("a new tool version re-probes everything")
    func toolVersionInvalidates() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try probeableLibrary(scratch)
        _ = try await verifyLibrary(scratch, toolVersion: "checks 1")
        let other = try await verifyLibrary(scratch, toolVersion: "checks 2")
        #expect(other.counters.probed == 7)
        #expect(other.counters.cached == 0)
    }

    @Test("--full ignores but refreshes the cache")
    func fullRefreshes() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try probeableLibrary(scratch)
        _ = try await verifyLibrary(scratch)
        let full = try await verifyLibrary(scratch, full: true)
        #expect(full.counters.probed == 7)
        #expect(full.counters.cached == 0)
        let after = try await verifyLibrary(scratch)
        #expect(after.counters.cached == 7)
    }

    @Test("a state that cannot be written stores nothing")
    func notWritableStoresNothing() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try probeableLibrary(scratch)
        _ = try await verifyLibrary(scratch, cacheWritable: false)
        let second = try await verifyLibrary(scratch, cacheWritable: false)
        #expect(second.counters.probed == 7)
        #expect(second.counters.cached == 0)
    }

    @Test("the CLI verifies a read-only catalog (mode 0444) without caching, and says so")
    func readOnlyCatalog() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try scratch.place("ok-faststart.mp4")
        try scratch.insert(raw: "ok-faststart.mp4")
        #expect(chmod(scratch.db, 0o444) == 0)
        let (run1, first) = try await verifyJSON(scratch)
        #expect(run1.status == 0, "\(run1)")
        #expect(run1.stderr.contains("read-only"))
        #expect(first.summary.probed == 1)
        let (_, second) = try await verifyJSON(scratch)
        #expect(second.summary.probed == 1)
        #expect(second.summary.cached == 0)
    }

    @Test("files that fail before a probe (missing, empty, directory) are neither probed nor cached")
    func statFailuresAreNotCached() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try scratch.place("empty.mp4")
        try FileManager.default.createDirectory(atPath: scratch.inMedia("dir.mp4"), withIntermediateDirectories: false)
        try scratch.insert([("empty.mp4", nil), ("dir.mp4", nil), ("gone.mp4", nil)])
        _ = try await verifyLibrary(scratch)
        let second = try await verifyLibrary(scratch)
        #expect(second.counters.files == 3)
        #expect(second.counters.probed == 0)
        #expect(second.counters.cached == 0)
        #expect(second.results.map { $0.issues.map(\.code) } == [["empty_file"], ["not_regular_file"], ["missing_file"]])
        // A file appearing where one was missing is seen at once: nothing stale was remembered.
        try scratch.place("ok-faststart.mp4", at: "gone.mp4")
        let third = try await verifyLibrary(scratch)
        #expect(third.results[2].issues.isEmpty)
        #expect(third.counters.probed == 1)
    }
}
