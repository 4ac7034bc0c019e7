import Foundation
import Testing
import TestSupport

/// A disk that fails mid-file (EIO) must read as `unreadable`: never as a short or truncated
/// video that cleanup would delete, and never cached by verify.
@Suite("read errors mid-file")
struct ReadErrorTests {
    /// Builds the LD_PRELOAD helper with the system C compiler; nil where there is none.
    static func preloadLibrary(in box: Sandbox) throws -> String? {
        let source = Paths.packageRoot.path + "/Tests/EndToEndTests/Resources/eio_after.c"
        let output = box.path("eio_after.so")
        for cc in ["/usr/bin/cc", "/usr/bin/gcc", "/usr/bin/clang"] where FileManager.default.isExecutableFile(atPath: cc) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: cc)
            p.arguments = ["-shared", "-fPIC", "-O1", "-o", output, source, "-ldl"]
            try p.run()
            p.waitUntilExit()
            if p.terminationStatus == 0 { return output }
        }
        return nil
    }

    @Test("EIO past byte 3000: cleanup says unreadable (not too few frames); verify reports and does not cache it")
    func eioMidFile() async throws {
        let box = try Sandbox(name: "eio")
        defer { box.remove() }
        guard let preload = try Self.preloadLibrary(in: box) else {
            Issue.record("no C compiler to build the EIO helper")
            return
        }
        // verify counts every packet of both; cleanup trusts the MP4's consistent header and
        // must count the WebM's packets (Matroska has no frame count), reading into the bad part.
        try FileManager.default.copyItem(atPath: Paths.fixture("ok-faststart.mp4"), toPath: box.path("media/flaky.mp4"))
        try FileManager.default.copyItem(atPath: Paths.fixture("ok.webm"), toPath: box.path("media/flaky.webm"))
        backdate(box.path("media/flaky.mp4"))
        backdate(box.path("media/flaky.webm"))
        let imported = try await box.run(["import", box.media] + box.globals)
        #expect(imported.status == 0)
        let failing = ["LD_PRELOAD": preload]

        let cleanup = try await box.run(["cleanup", "--format", "json"] + box.globals, environment: failing)
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(cleanup.stdout.utf8)) as? [String: Any])
        let records = try #require(doc["records"] as? [[String: Any]])
        let webm = try #require(records.first { (($0["files"] as? [[String: Any]])?.first?["path"] as? String) == "flaky.webm" })
        let codes = (webm["reasons"] as? [[String: Any]])?.compactMap { $0["code"] as? String }
        #expect(codes == ["unreadable"], "\(cleanup)")

        let sick = try await box.run(["verify", "--format", "jsonl"] + box.globals, environment: failing)
        #expect(sick.status == 1)
        #expect(sick.stdout.contains("\"code\":\"unreadable\""), "\(sick)")
        #expect(!sick.stdout.contains("truncated"), "\(sick)")

        // The disk recovers: the file is probed again (nothing was cached) and is fine.
        let healthy = try await box.run(["verify", "--format", "jsonl"] + box.globals)
        #expect(healthy.status == 0, "\(healthy)")
        #expect(healthy.stdout.contains("\"probed\":2"), "\(healthy)")
    }
}
