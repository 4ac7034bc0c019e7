import Foundation
import Testing
import TestSupport
import MediaFiles
import MediaCatalog

/// A 1 KiB SQLite database (page size 512) holding only Django's `endoreg_db_videofile` table:
/// a real SQLite file that is not a medialib catalog. Stored as its non-zero runs.
private let foreignDatabase: [UInt8] = {
    let runs: [(Int, String)] = [
        (0, "53514c69746520666f726d61742033"), (16, "02"), (18, "0101"), (21, "402020"), (27, "01"), (31, "02"),
        (43, "01"), (47, "04"), (59, "01"), (95, "01"), (97, "2e63010d"), (104, "010180"), (108, "0180"),
        (384, "7e010717353501811f7461626c65656e646f7265675f64625f766964656f66696c65656e646f7265675f64625f7669"
            + "64656f66696c6502435245415445205441424c4520656e646f7265675f64625f766964656f66696c652028696420696e"
            + "7465676572207072696d617279206b65792c207261775f66696c652074657874290d"),
        (517, "02"),
    ]
    var bytes = [UInt8](repeating: 0, count: 1024)
    for (offset, hex) in runs {
        var i = hex.startIndex
        var o = offset
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            bytes[o] = UInt8(hex[i..<j], radix: 16)!
            o += 1
            i = j
        }
    }
    return bytes
}()

@Suite("verify: a foreign database and a trickling server (bugs found by these tests, now fixed)")
struct KnownIssueTests {
    /// Verify opens the catalog with `.write`, and SQLiteCatalog runs its migrations on any SQLite
    /// database for `.write`: a foreign database (here Django's) or a zero-byte file becomes a
    /// medialib catalog, and cron hears "Verified 0 records", exit 0, instead of exit 3.
    @Test("a SQLite file that is not a medialib catalog: exit 3 and left untouched",
          arguments: ["foreign SQLite database", "zero-byte file"])
    func foreignSQLiteDatabase(_ kind: String) async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let db = scratch.root + "/django.sqlite3"
        let original = kind == "zero-byte file" ? [] : foreignDatabase
        try Data(original).write(to: URL(fileURLWithPath: db))
        let run = try await runCLI(["verify", "--db", db, "--media-root", scratch.media], in: scratch)
        let after = [UInt8]((try? Data(contentsOf: URL(fileURLWithPath: db))) ?? Data())
        let untouched = after == original
        #expect(run.status == 3, "\(run)")
        #expect(untouched, "verify must not add medialib's tables to someone else's database (\(original.count) bytes became \(after.count))")
    }

    /// MiniHTTP sets SO_RCVTIMEO, which bounds each recv, not the request: a server that sends
    /// one byte every 250 ms holds verify for as long as it likes, whatever --via-timeout says.
    @Test("--via-timeout bounds the whole request, not each recv")
    func tricklingServer() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try scratch.place("ok-faststart.mp4")
        try scratch.insert(raw: "ok-faststart.mp4")
        let server = try TestHTTPServer(.trickle, body: [])
        defer { server.stop() }
        let run = try await runVerify(scratch, ["--format", "json", "--via", server.base, "--via-timeout", "1"], timeout: 40)
        #expect(run.status == 1)
        #expect(try decodeReport(run.stdout).records.first?.codes == ["http_error"])
        #expect(run.seconds < 15, "took \(String(format: "%.1f", run.seconds)) s with --via-timeout 1")
    }
}
