import Foundation
import Testing
import MediaCatalog
import TestSupport
import MediaProbe
@testable import Maintenance

@Suite("worker pool and cache encoding")
struct ScaleTests {
    /// --jobs above the core count matters when workers wait (verify --via): all must run at once.
    @Test("WorkerPool runs as many workers at once as asked, beyond the core count")
    func poolConcurrency() {
        final class Gauge: @unchecked Sendable {
            let lock = NSLock()
            var active = 0
            var peak = 0
            func enter() { lock.lock(); active += 1; peak = max(peak, active); lock.unlock() }
            func leave() { lock.lock(); active -= 1; lock.unlock() }
        }
        let gauge = Gauge()
        let workers = ProcessInfo.processInfo.activeProcessorCount * 4
        let out = WorkerPool(workers: workers).map(Array(0..<workers)) { i -> Int in
            gauge.enter()
            Thread.sleep(forTimeInterval: 0.2)
            gauge.leave()
            return i * 2
        }
        #expect(out == (0..<workers).map { $0 * 2 })
        #expect(gauge.peak == workers, "peak concurrency \(gauge.peak) of \(workers)")
    }

    static let facts: [FileFacts] = [
        FileFacts(.success(ProbeResult(container: "mov,mp4,m4a,3gp,3g2,mj2", videoCodec: "h264", width: 64, height: 48,
                                       duration: 2, headerFrameCount: 60, countedPackets: 60, indexPastEnd: false,
                                       moovBeforeMdat: true, fileSize: 5114))),
        FileFacts(.success(ProbeResult(container: "matroska,webm", videoCodec: "vp9", width: 64, height: 48,
                                       duration: nil, headerFrameCount: nil, countedPackets: 30, indexPastEnd: false,
                                       moovBeforeMdat: nil, decodeErrors: 2, fileSize: 6595))),
        FileFacts(.success(ProbeResult(container: "mov,mp4,m4a,3gp,3g2,mj2", videoCodec: "h264", width: 64, height: 48,
                                       duration: 0.3333, headerFrameCount: 60, countedPackets: 9, indexPastEnd: true,
                                       moovBeforeMdat: false, fileSize: 2557))),
        FileFacts(.failure(.notMedia("Invalid data\tfound"))),
        FileFacts(.failure(.noVideoStream)),
    ]

    @Test("the cache line round-trips every fact the rules read", arguments: facts)
    func cacheLineRoundTrip(_ facts: FileFacts) throws {
        let line = FactsCodec.encode(facts)
        let back = try #require(FactsCodec.decode(line))
        #expect(back.frames == facts.frames)
        #expect(back.probe == facts.probe)
        #expect(back.error?.code == facts.error?.code)
        #expect(!line.contains("\n"))
    }

    @Test("old or foreign cache text is a miss, not a crash", arguments: ["", "{\"frames\":42}", "p1\t1\t2", "e1", "e2\tbogus\tx",
                                                                          "p2\tx\ta\tb\t1\t2\t-\t-\t-\t0\t-\t-\t9",
                                                                          "p1\t60\tmov\th264\t64\t48\t2.0\t60\t60\t0\t1\t-\t5114"])
    func foreignCacheText(_ text: String) {
        #expect(FactsCodec.decode(text) == nil)
    }
}
