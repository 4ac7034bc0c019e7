import Foundation
import Testing
import TestSupport
import MediaProbe
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The committed fixtures (TestSupport finds them).
enum Fixtures {
    /// libav's warnings about the broken fixtures would only clutter the test log.
    private static let quietLibav: Void = Prober.setLibavLogging(verbose: false)

    static func path(_ name: String) -> String {
        quietLibav
        return Repository.fixture(name)
    }
}

/// A fresh folder per test; removed by `remove()`.
struct Scratch {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("medialib-probe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// Runs `body` on a background thread and waits at most `seconds`; nil when it did not finish.
func withDeadline<T: Sendable>(seconds: Double, _ body: @escaping @Sendable () -> T) -> T? {
    let box = Mutex<T?>(nil)
    let done = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
        let v = body()
        box.withLock { $0 = v }
        done.signal()
    }
    guard done.wait(timeout: .now() + seconds) == .success else { return nil }
    return box.withLock { $0 }
}

/// A small lock-protected box (Synchronization's Mutex needs newer OSes on Darwin).
final class Mutex<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) -> R) -> R {
        lock.lock(); defer { lock.unlock() }
        return body(&value)
    }
}

import MediaFiles

/// The tests name files by String; the API takes bytes.
extension Prober {
    func probe(path: String) -> Result<ProbeResult, ProbeError> { probe(path: RawPath(path)) }
}

extension FileCheck {
    static func regularFile(at path: String) -> Result<FileIdentity, ProbeError> { regularFile(at: RawPath(path)) }
    static func identity(at path: String) -> FileIdentity? { identity(at: RawPath(path)) }
}

extension FileIdentity {
    init(_ st: stat) { self = FileStatus(st).identity }
}
