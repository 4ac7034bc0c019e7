import Foundation
import MediaFiles
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Watches a SQLite catalog's folder with inotify. Every commit writes the database, its WAL
/// or its rollback journal, and the kernel queues the event inside that write: a poll made
/// after another process's commit returned always sees it, so a reader may cache records
/// and stay exact at one non-blocking read(2) per request. A new file under the catalog's
/// name (replaced by a rename) also makes the store reopen its connections.
final class SQLiteChangeMonitor: ChangeMonitor, @unchecked Sendable {
    let names: Set<[UInt8]>
    let databaseName: [UInt8]
    let onReplaced: @Sendable () -> Void
    private let counter = Atomic<UInt64>(1)
    private let stopped = Atomic<Bool>(false)
    private let watch: Int32

    init?(path: RawPath, onReplaced: @escaping @Sendable () -> Void) {
        let folder = path.parent
        let name = path.lastComponent.bytes
        databaseName = name
        names = [name, name + Array("-wal".utf8), name + Array("-journal".utf8)]
        self.onReplaced = onReplaced
        guard let wd = InotifyHub.shared.watch(folder) else { return nil }
        watch = wd
        InotifyHub.shared.register(self, on: wd)
    }

    deinit { stop() }

    func stop() {
        guard stopped.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent).exchanged else { return }
        InotifyHub.shared.unregister(self, from: watch)
    }

    func version() -> UInt64 {
        if stopped.load(ordering: .relaxed) { return counter.wrappingAdd(1, ordering: .sequentiallyConsistent).newValue }
        InotifyHub.shared.drain()
        return counter.load(ordering: .sequentiallyConsistent)
    }

    /// One event on the watched folder (called by the hub).
    func event(mask: UInt32, name: [UInt8]) {
        if mask & UInt32(IN_Q_OVERFLOW | IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED) != 0 {
            counter.wrappingAdd(1, ordering: .sequentiallyConsistent)
            onReplaced()
        } else if names.contains(name) {
            counter.wrappingAdd(1, ordering: .sequentiallyConsistent)
            if name == databaseName && mask & UInt32(IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM) != 0 {
                onReplaced()
            }
        }
    }
}

/// One inotify instance for the whole process (the kernel allows few per user), its
/// watches shared by every monitor of the same folder. Any monitor's poll drains the queue
/// and hands each event to the monitors of its folder.
final class InotifyHub: @unchecked Sendable {
    static let shared = InotifyHub()

    private let lock = NSLock()
    private var fd: Int32 = -1
    private var monitors: [Int32: [ObjectIdentifier: Weak]] = [:]

    private struct Weak { weak var monitor: SQLiteChangeMonitor? }

    func watch(_ folder: RawPath) -> Int32? {
        lock.lock()
        defer { lock.unlock() }
        if fd < 0 {
            fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
            if fd < 0 { return nil }
        }
        let mask = UInt32(IN_MODIFY | IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_ATTRIB | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF)
        guard let wd = folder.withCString({ inotify_add_watch(fd, $0, mask) }), wd >= 0 else { return nil }
        return wd
    }

    func register(_ m: SQLiteChangeMonitor, on wd: Int32) {
        lock.lock()
        monitors[wd, default: [:]][ObjectIdentifier(m)] = Weak(monitor: m)
        lock.unlock()
    }

    func unregister(_ m: SQLiteChangeMonitor, from wd: Int32) {
        lock.lock()
        defer { lock.unlock() }
        monitors[wd]?[ObjectIdentifier(m)] = nil
        if monitors[wd]?.isEmpty ?? false {
            monitors[wd] = nil
            inotify_rm_watch(fd, wd)
        }
    }

    /// Reads every queued event (usually none: one read(2) that says EAGAIN) and dispatches it.
    func drain() {
        lock.lock()
        defer { lock.unlock() }
        guard fd >= 0 else { return }
        withUnsafeTemporaryAllocation(byteCount: 8192, alignment: 8) { buffer in
            while true {
                let n = read(fd, buffer.baseAddress, buffer.count)
                if n <= 0 { break }
                var offset = 0
                while offset + 16 <= n {
                    let wd = buffer.loadUnaligned(fromByteOffset: offset, as: Int32.self)
                    let mask = buffer.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
                    let length = Int(buffer.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                    let end = min(n, offset + 16 + length)
                    var name = Array(UnsafeRawBufferPointer(rebasing: buffer[(offset + 16)..<end]))
                    while name.last == 0 { name.removeLast() }
                    if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                        for list in monitors.values { for w in list.values { w.monitor?.event(mask: mask, name: name) } }
                    } else {
                        for w in (monitors[wd] ?? [:]).values { w.monitor?.event(mask: mask, name: name) }
                    }
                    offset += 16 + length
                }
            }
        }
    }
}
