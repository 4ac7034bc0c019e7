import Foundation
import MediaCatalog

/// Runs a function over a batch with at most `workers` threads at once, keeping input order.
/// Callers feed it batches streamed from the catalog, so memory stays flat in the library's size.
public struct WorkerPool: Sendable {
    public let workers: Int

    public init(workers: Int) {
        self.workers = max(1, workers)
    }

    public static var defaultWorkers: Int { ProcessInfo.processInfo.activeProcessorCount }

    public func map<T: Sendable, R: Sendable>(_ items: [T], _ transform: @escaping @Sendable (T) -> R) -> [R] {
        if items.count <= 1 || workers == 1 { return items.map(transform) }
        let results = ResultSlots<R>(count: items.count)
        let next = Counter()
        // Real threads, not concurrentPerform: that caps at the core count, and --jobs above
        // it matters when workers wait on a network (verify --via).
        let done = DispatchGroup()
        for _ in 0..<min(workers, items.count) {
            done.enter()
            Thread.detachNewThread {
                while true {
                    let i = next.take()
                    guard i < items.count else { break }
                    results.set(i, transform(items[i]))
                }
                done.leave()
            }
        }
        done.wait()
        return results.values()
    }
}

private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func take() -> Int {
        lock.lock(); defer { lock.unlock() }
        value += 1
        return value - 1
    }
}

/// Each index is written by exactly one worker, then read after all have joined.
private final class ResultSlots<R>: @unchecked Sendable {
    private var slots: [R?]
    private let lock = NSLock()
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: R) {
        lock.lock(); slots[i] = value; lock.unlock()
    }
    func values() -> [R] { slots.map { $0! } }
}
