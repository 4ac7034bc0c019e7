import Foundation
import Testing
import TestSupport
import Maintenance
import MediaCatalog
import MediaFiles
import MediaProbe

enum Fixtures {
    /// libav's warnings about the broken fixtures would only clutter the test log.
    private static let quietLibav: Void = Prober.setLibavLogging(verbose: false)

    static func path(_ name: String) -> String {
        quietLibav
        return Repository.fixture(name)
    }

    static func bytes(_ name: String) throws -> [UInt8] { try Repository.fixtureBytes(name) }
    static let videos = Repository.videoFixtures
    static let medialib = Repository.medialib
}

func sampleRecord(_ id: Int64 = 1, raw: String? = "raw.mp4", processed: String? = nil) -> VideoRecord {
    var files: [RecordFile] = []
    if let raw { files.append(RecordFile(kind: .raw, path: RawPath(raw), column: "raw_file")) }
    if let processed { files.append(RecordFile(kind: .processed, path: RawPath(processed), column: "processed_file")) }
    return VideoRecord(id: id, uuid: String(format: "00000000-0000-4000-8000-%012d", id), files: files,
                       createdAt: "2024-01-01T00:00:00.000Z")
}

func probe(frames header: Int?, counted: Int? = nil, pastEnd: Bool = false) -> ProbeResult {
    ProbeResult(container: "mov,mp4,m4a,3gp,3g2,mj2", videoCodec: "h264", width: 64, height: 48, duration: 2,
                headerFrameCount: header, countedPackets: counted, indexPastEnd: pastEnd, moovBeforeMdat: true,
                fileSize: 5000)
}
