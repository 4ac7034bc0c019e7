import Foundation
import Testing
import MediaFiles
@testable import MediaProbe

@Suite("hostile media files")
struct HostileInputTests {
    /// Box sizes come from the file: one near Int64.max must not trap the offset arithmetic.
    @Test("an MP4 box whose 64-bit size overflows the offset: no crash, no faststart verdict")
    func overflowingBoxSize() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(UUID().uuidString).mp4").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var bytes: [UInt8] = [0, 0, 0, 16] + Array("ftyp".utf8) + [0, 0, 0, 0, 0, 0, 0, 0]
        // A second box: size 1 (64-bit size follows), type "free", size Int64.max - 8.
        bytes += [0, 0, 0, 1] + Array("free".utf8) + [0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xF7]
        bytes += [UInt8](repeating: 0, count: 32)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(MP4Boxes.moovBeforeMdat(path: RawPath(path)) == nil)
        // And the whole probe classifies it without trapping.
        if case .success = Prober().probe(path: path) { Issue.record("a box header with no media must not probe as video") }
    }
}
