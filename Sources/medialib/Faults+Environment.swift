import Foundation
import Maintenance

extension Faults {
    /// MEDIALIB_FAULT=POINT[@N][:ACTION]: at the Nth time (default first) cleanup or restore
    /// reaches POINT, die by SIGKILL (the default), abort(), fail with ENOSPC, or pause for eight
    /// seconds (for a test to restart the database server meanwhile). The seam the
    /// crash-consistency tests own; unset, nothing happens.
    static func fromEnvironment() throws -> Faults {
        guard let spec = ProcessInfo.processInfo.environment["MEDIALIB_FAULT"], !spec.isEmpty else { return .none }
        let (target, action) = spec.split(separator: ":", maxSplits: 1).map(String.init).pairs
        let parts = target.split(separator: "@", maxSplits: 1).map(String.init)
        guard let point = FaultPoint(rawValue: parts[0]) else {
            throw Failure.usage("MEDIALIB_FAULT names no fault point \(parts[0]) (\(FaultPoint.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard let nth = parts.count > 1 ? Int(parts[1]) : 1, nth >= 1 else { throw Failure.usage("MEDIALIB_FAULT: @N must be 1 or more") }
        guard ["kill", "abort", "enospc", "pause"].contains(action) else {
            throw Failure.usage("MEDIALIB_FAULT: the action is kill, abort, enospc or pause")
        }
        let counter = FaultCounter()
        return Faults { reached in
            guard reached == point, counter.next() == nth else { return }
            switch action {
            case "abort": abort()
            case "enospc": throw InjectedFault(point: reached, errno: ENOSPC)
            case "pause": Thread.sleep(forTimeInterval: 8)
            default: kill(getpid(), SIGKILL)
            }
        }
    }
}

private extension Array where Element == String {
    var pairs: (String, String) { (self.first ?? "", count > 1 ? self[1] : "kill") }
}

private final class FaultCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        count += 1
        return count
    }
}
