import Foundation
import Testing
import TestSupport
import MediaCatalog
import MediaProbe

enum Fixtures {
    private static let quietLibav: Void = Prober.setLibavLogging(verbose: false)

    static func path(_ name: String) -> String {
        quietLibav
        return Repository.fixture(name)
    }

    static let videos = Repository.videoFixtures
}

/// A fresh folder per test; removed by `remove()`.
struct Scratch {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("medialib-maint-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    var path: String { url.path }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    func remove() { try? FileManager.default.removeItem(at: url) }

    /// Copies a fixture to `media/<relative>`, creating folders.
    @discardableResult
    func place(_ fixture: String, at relative: String) throws -> String {
        let dest = path("media/" + relative)
        try FileManager.default.createDirectory(atPath: (dest as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Fixtures.path(fixture), toPath: dest)
        return dest
    }

    func exists(_ relative: String) -> Bool { FileManager.default.fileExists(atPath: path(relative)) }

    func contents(_ relative: String) -> Data? { FileManager.default.contents(atPath: path(relative)) }
}

func sampleRecord(_ id: Int64 = 1, raw: String? = "raw.mp4", processed: String? = nil) -> VideoRecord {
    VideoRecord(id: id, uuid: String(format: "00000000-0000-4000-8000-%012d", id), rawFile: raw,
                processedFile: processed, createdAt: "2024-01-01T00:00:00.000Z")
}

func probe(frames header: Int?, counted: Int? = nil, pastEnd: Bool = false) -> ProbeResult {
    ProbeResult(container: "mov,mp4,m4a,3gp,3g2,mj2", videoCodec: "h264", width: 64, height: 48, duration: 2,
                headerFrameCount: header, countedPackets: counted, indexPastEnd: pastEnd, moovBeforeMdat: true,
                fileSize: 5000)
}
