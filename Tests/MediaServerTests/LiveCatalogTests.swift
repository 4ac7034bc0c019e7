// `serve` reads the catalog and the file system per request: changes made while it runs are
// seen by the very next request. The changes go through a second catalog handle, as another
// `medialib` process would make them.

import Foundation
import Maintenance
import MediaCatalog
import MediaFiles
import MediaProbe
import Testing
import TestSupport

func records(in response: HTTPResponse) throws -> [[String: Any]] {
    let doc = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    return try #require(doc["records"] as? [[String: Any]])
}

/// A record's file of one kind in the listing.
func listedFile(_ record: [String: Any]?, _ kind: String) -> [String: Any]? {
    (record?["files"] as? [[String: Any]])?.first { $0["kind"] as? String == kind && $0["role"] as? String == "original" }
}

private func recordCount(in response: HTTPResponse) -> Int? {
    (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])?["records"] as? Int
}

@Suite("Live catalog")
struct LiveCatalogTests {
    @Test("a record deleted between two requests is 404 at once")
    func recordDeleted() async throws {
        let (lib, server) = try await startServer()
        defer { server.stop() }
        let id = lib.id("big")
        let c = try server.connect()
        defer { c.close() }
        let (before, healthBefore) = try await io {
            (try c.exchange("GET", videoPath(id), headers: [("Range", "bytes=0-0")]), try c.exchange("GET", "/healthz"))
        }
        try lib.delete("big")
        let (gone, healthAfter) = try await io { (try c.exchange("GET", videoPath(id)), try c.exchange("GET", "/healthz")) }

        #expect(before.status == 206)
        #expect(gone.status == 404)
        expectJSONError(gone)
        #expect(recordCount(in: healthBefore).map { $0 - 1 } == recordCount(in: healthAfter))
        #expect(FileManager.default.fileExists(atPath: lib.path("big.mp4")), "only the record went, not the file")
    }

    @Test("the file removed between two requests is 404 at once")
    func fileRemoved() async throws {
        let (lib, server) = try await startServer()
        defer { server.stop() }
        let target = videoPath(lib.id("both"), "?type=raw")
        let c = try server.connect()
        defer { c.close() }
        let before = try await io { try c.exchange("GET", target) }
        try FileManager.default.removeItem(atPath: lib.path("raw/three-frames.mp4"))
        let (after, processed, list) = try await io {
            (try c.exchange("GET", target), try c.exchange("GET", videoPath(lib.id("both"))),
             try c.exchange("GET", "/api/media/videos/"))
        }
        #expect(before.status == 200)
        #expect(after.status == 404)
        expectJSONError(after)
        #expect(processed.status == 200, "the record's processed file is still served")
        let entry = try #require(try records(in: list).first { ($0["id"] as? Int).map(Int64.init) == lib.id("both") })
        #expect(listedFile(entry, "raw")?["exists"] as? Bool == false)
    }

    @Test("a record added while the server runs is served at once")
    func recordAdded() async throws {
        let (lib, server) = try await startServer()
        defer { server.stop() }
        let uuid = "11111111-2222-4333-8444-555555555555"
        let c = try server.connect()
        defer { c.close() }
        let before = try await io { try c.exchange("GET", "/api/media/videos/\(uuid)/") }

        try lib.copyFixture("ok.webm", to: "new/fresh.webm")
        let record = try lib.add("fresh", raw: "new/fresh.webm", uuid: uuid)
        let targets = ["/api/media/videos/\(uuid)/", videoPath(record.id)]
        let (responses, list) = try await io {
            (try targets.map { try c.exchange("GET", $0) }, try c.exchange("GET", "/api/media/videos/?limit=1000"))
        }

        #expect(before.status == 404)
        let expected = try lib.contents("new/fresh.webm")
        for (target, r) in zip(targets, responses) {
            #expect(r.status == 200, "\(target)")
            #expect(r.header("Content-Type") == "video/webm")
            expectSameBytes(r.body, expected, target)
        }
        #expect(try records(in: list).contains { $0["uuid"] as? String == uuid })
    }

    @Test("a file replaced on disk: new bytes, new validators, old ETag no longer matches")
    func fileReplaced() async throws {
        let (lib, server) = try await startServer()
        defer { server.stop() }
        let target = videoPath(lib.id("big"))
        let first = try await io { try server.get(target) }
        let oldETag = try #require(first.header("ETag"))

        let replacement = pseudoRandomBytes(count: 300_000, seed: 42)
        try Data(replacement).write(to: URL(fileURLWithPath: lib.path("big.mp4.tmp")))
        #expect(rename(lib.path("big.mp4.tmp"), lib.path("big.mp4")) == 0)

        let (second, stale, fresh) = try await io {
            (try server.get(target, headers: [("If-None-Match", oldETag)]),
             try server.get(target, headers: [("If-Range", oldETag), ("Range", "bytes=0-9")]),
             try server.get(target, headers: [("Range", "bytes=0-9")]))
        }
        #expect(second.status == 200)
        #expect(second.header("ETag") != oldETag)
        expectSameBytes(second.body, replacement, "replacement")
        #expect(stale.status == 200, "If-Range with a stale ETag must send the whole new file")
        expectSameBytes(stale.body, replacement, "stale If-Range")
        #expect(fresh.header("Content-Range") == "bytes 0-9/300000")
    }

    @Test("a refused file outside the media root is logged, and its path is not disclosed")
    func refusalLogged() async throws {
        let (lib, server) = try await startServer()
        defer { server.stop() }
        let r = try await io { try server.get(videoPath(lib.id("escape"))) }
        #expect(r.status == 404)
        #expect(!r.bodyText.contains("secret") && !r.bodyText.contains(lib.outside),
                "the error body should not reveal the real path: \(r.bodyText)")
        #expect(server.log.all.contains { $0.contains("outside the media root") && $0.contains("secret.mp4") },
                "log: \(server.log.all)")
    }

    @Test("a file outside the media root is an error on the page, as verify says, not 'not checked yet'")
    func outsideRootListed() async throws {
        let (lib, server) = try await startServer()
        defer { server.stop() }
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("outside-\(UUID().uuidString).mp4").path
        try Data(try lib.contents("big.mp4")).write(to: URL(fileURLWithPath: outside))
        defer { try? FileManager.default.removeItem(atPath: outside) }
        try FileManager.default.createSymbolicLink(atPath: lib.path("link-out.mp4"), withDestinationPath: outside)
        let id = try lib.add("link-out", raw: "link-out.mp4").id
        let list = try records(in: try await io { try server.get("/api/media/videos/?limit=1000") })
        let item = list.first { ($0["id"] as? Int).map(Int64.init) == id }
        #expect(item?["status"] as? String == "error", "\(item ?? [:])")
        #expect((item?["codes"] as? [String]) == ["outside_media_root"])
        let summary = try await io { try server.get("/api/media/summary") }
        let doc = try JSONSerialization.jsonObject(with: Data(summary.body)) as? [String: Any]
        // The summary counts what the list shows (the standard library has more such records).
        let listed = list.filter { ($0["codes"] as? [String])?.contains("outside_media_root") == true }.count
        #expect(listed >= 1)
        #expect(((doc?["codes"] as? [String: Any])?["outside_media_root"] as? Int) == listed, "\(doc ?? [:])")
        #expect(((doc?["status"] as? [String: Any])?["unchecked"] as? Int) == list.filter { $0["status"] as? String == "unchecked" }.count)
    }

    @Test("the list reports facts from the probe cache, only while the file is unchanged; others are not checked yet")
    func listFramesFromCache() async throws {
        let (lib, server) = try await startServer()
        defer { server.stop() }
        let probe = ProbeResult(container: "mov,mp4,m4a,3gp,3g2,mj2", videoCodec: "h264", width: 64, height: 48, duration: 1.4,
                                headerFrameCount: 42, countedPackets: 42, indexPastEnd: false, moovBeforeMdat: true, fileSize: Int64(bigSize))
        func entry(_ path: String, sizeDelta: Int64 = 0) throws -> CachedFacts {
            var st = stat()
            #expect(stat(path, &st) == 0)
            var identity = FileStatus(st).identity
            identity.size += sizeDelta
            return CachedFacts(path: RawPath(path), depth: "standard", identity: identity, toolVersion: Inspector.toolVersion,
                               facts: FactsCodec.encode(FileFacts(.success(probe))), checkedAt: "2024-01-01T00:00:00Z")
        }
        try lib.catalog.state.storeFacts([try entry(lib.path("big.mp4")), try entry(lib.path("raw/three-frames.mp4"), sizeDelta: 1)])
        let list = try records(in: try await io { try server.get("/api/media/videos/?limit=1000") })
        func raw(_ name: String) -> [String: Any]? {
            listedFile(list.first { ($0["id"] as? Int).map(Int64.init) == lib.id(name) }, "raw")
        }
        #expect(raw("big")?["frames"] as? Int == 42)
        #expect(raw("big")?["checked"] as? Bool == true)
        #expect(raw("both")?["frames"] is NSNull, "an entry for another size must not be reported")
        #expect(raw("both")?["checked"] as? Bool == false)
        #expect(raw("webm")?["frames"] is NSNull)
        let webm = list.first { ($0["id"] as? Int).map(Int64.init) == lib.id("webm") }
        #expect(webm?["status"] as? String == "unchecked")
        let missing = list.first { ($0["id"] as? Int).map(Int64.init) == lib.id("missing") }
        #expect(missing?["status"] as? String == "error", "a missing file needs no probe to be an error")
        #expect((missing?["codes"] as? [String]) == ["missing_file"])
    }
}
