import Foundation
import MediaCatalog
import MediaFiles

/// Moves files without ever replacing anything: link(2) fails atomically when the
/// destination exists (even as a dangling symlink), where a check-then-rename would race.
/// Across file systems it copies into a new file, keeps mode, owner, group and times, and
/// only then removes the original.
enum FileMover {
    struct Result {
        /// What now sits at the destination.
        var identity: FileIdentity
        /// Crossed file systems: the destination is a copy (a new inode).
        var copied: Bool
    }

    static func move(from: RawPath, to: RawPath, faults: Faults) throws -> Result {
        if case .failure(let e) = FileSystem.makeDirectories(to.parent) {
            throw MaintenanceError.failed("cannot create \(to.parent.displayed): \(e)")
        }
        switch FileSystem.link(from, to) {
        case .success:
            try faults.reach(.afterLink)
            if case .failure(let e) = FileSystem.unlink(from) {
                _ = FileSystem.unlink(to)
                throw MaintenanceError.failed("cannot remove \(from.displayed) after linking it to \(to.displayed): \(e)")
            }
            guard case .success(let st) = FileSystem.status(to, followingSymlinks: false) else {
                throw MaintenanceError.failed("\(to.displayed) vanished right after the move")
            }
            return Result(identity: st.identity, copied: false)
        case .failure(let e) where e.code == EEXIST:
            throw MaintenanceError.failed("\(to.displayed) already exists; refusing to overwrite it")
        case .failure(let e) where e.code == EXDEV || e.code == EPERM:
            let identity = try copyKeepingAttributes(from: from, to: to)
            try faults.reach(.afterCopy)
            if case .failure(let e) = FileSystem.unlink(from) {
                _ = FileSystem.unlink(to)
                throw MaintenanceError.failed("cannot remove \(from.displayed) after copying it to \(to.displayed): \(e)")
            }
            return Result(identity: identity, copied: true)
        case .failure(let e):
            throw MaintenanceError.failed("cannot move \(from.displayed) to \(to.displayed): \(e)")
        }
    }

    /// Copies into a temporary name beside the destination, then links it into place (so a
    /// crash never leaves a partial file under the final name). Returns the copy's identity.
    static func copyKeepingAttributes(from: RawPath, to: RawPath) throws -> FileIdentity {
        let src: Int32
        switch FileSystem.open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) {
        case .failure(let e): throw MaintenanceError.failed("cannot read \(from.displayed): \(e)")
        case .success(let d): src = d
        }
        defer { close(src) }
        var st = stat()
        guard fstat(src, &st) == 0, (UInt32(st.st_mode) & UInt32(S_IFMT)) == UInt32(S_IFREG) else {
            throw MaintenanceError.failed("\(from.displayed) is not a regular file")
        }
        let partial = to.parent.appending(RawPath(bytes: Array(".medialib-partial-\(getpid())-".utf8) + to.lastComponent.bytes))
        let dst: Int32
        switch FileSystem.open(partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600) {
        case .failure(let e): throw MaintenanceError.failed("cannot create \(partial.displayed): \(e)")
        case .success(let d): dst = d
        }
        var ok = true
        var why = ""
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        copying: while true {
            let n = buffer.withUnsafeMutableBytes { read(src, $0.baseAddress, $0.count) }
            if n == 0 { break }
            if n < 0 { if errno == EINTR { continue }; ok = false; why = SystemError.current.description; break }
            var off = 0
            while off < n {
                let w = buffer.withUnsafeBytes { write(dst, $0.baseAddress! + off, n - off) }
                if w <= 0 { if errno == EINTR { continue }; ok = false; why = SystemError.current.description; break copying }
                off += w
            }
        }
        // Owner first: chown clears the set-id bits a chmod would have set.
        if ok && fchown(dst, st.st_uid, st.st_gid) != 0 && geteuid() == 0 { ok = false; why = "cannot keep the owner: \(SystemError.current)" }
        if ok && fchmod(dst, st.st_mode & 0o7777) != 0 { ok = false; why = "cannot keep the mode: \(SystemError.current)" }
        var times = [st.st_atim, st.st_mtim]
        if ok && futimens(dst, &times) != 0 { ok = false; why = "cannot keep the times: \(SystemError.current)" }
        if ok && fsync(dst) != 0 { ok = false; why = SystemError.current.description }
        var copied = stat()
        if ok && fstat(dst, &copied) != 0 { ok = false; why = SystemError.current.description }
        close(dst)
        if ok, case .failure(let e) = FileSystem.link(partial, to) {
            ok = false
            why = e.code == EEXIST ? "\(to.displayed) already exists; refusing to overwrite it" : e.description
        }
        _ = FileSystem.unlink(partial)
        guard ok else { throw MaintenanceError.failed("copying \(from.displayed) to \(to.displayed) failed: \(why)") }
        FileSystem.syncDirectory(to.parent)
        return FileStatus(copied).identity
    }
}

/// The trash folder a cleanup moves files into, checked before anything is deleted.
struct Trash {
    let root: RawPath
    static let marker = ".medialib-trash"

    /// Creates it, marks it (so `import` never registers what it holds) and proves this
    /// process can write there. Throws a refusal that changes nothing.
    static func prepare(_ root: RawPath) throws -> Trash {
        if case .failure(let e) = FileSystem.makeDirectories(root) {
            throw MaintenanceError.refused("the trash \(root.displayed) cannot be created (\(e)); nothing was deleted")
        }
        let probe = root.appending(".medialib-probe-\(getpid())")
        switch FileSystem.open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600) {
        case .failure(let e):
            throw MaintenanceError.refused("the trash \(root.displayed) is not writable (\(e)); nothing was deleted")
        case .success(let fd):
            close(fd)
            _ = FileSystem.unlink(probe)
        }
        let marker = root.appending(Self.marker)
        if !FileSystem.occupied(marker), case .success(let fd) = FileSystem.open(marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644) {
            let text = Array("medialib keeps files deleted records named here; `medialib restore JOURNAL` moves them back.\n".utf8)
            _ = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
        }
        return Trash(root: root)
    }

    /// Where a file under the media root goes: the same relative path under the trash.
    func destination(for relative: RawPath) -> RawPath { root.appending(relative) }

    /// Refuses when the files that must be copied (another file system) do not fit.
    func checkRoom(for moves: [(from: RawPath, size: Int64)]) throws {
        guard case .success(let trashStatus) = FileSystem.status(root) else { return }
        var needed: Int64 = 0
        for m in moves {
            guard case .success(let st) = FileSystem.status(m.from, followingSymlinks: false),
                  st.identity.device != trashStatus.identity.device else { continue }
            needed = needed.addingReportingOverflow(m.size).partialValue
        }
        guard needed > 0, let free = FileSystem.availableBytes(at: root) else { return }
        if needed > free {
            throw MaintenanceError.refused("the trash \(root.displayed) is on another file system with \(free) bytes free; the files to move need \(needed); nothing was deleted")
        }
    }
}

public enum MaintenanceError: Error, Sendable, CustomStringConvertible {
    /// A safety guard refused; nothing changed.
    case refused(String)
    /// The job could not be done; nothing changed unless the message says otherwise.
    case failed(String)

    public var description: String {
        switch self {
        case .refused(let m): m
        case .failed(let m): m
        }
    }
}
