#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file's identity as stat(2) reports it: the probe cache, ETags, "still used by another
/// record" and the journal's record of a moved file all key on it.
public struct FileIdentity: Sendable, Equatable, Hashable, Codable {
    public var device: UInt64
    public var inode: UInt64
    public var size: Int64
    public var mtimeSeconds: Int64
    public var mtimeNanoseconds: Int64

    public init(device: UInt64, inode: UInt64, size: Int64, mtimeSeconds: Int64, mtimeNanoseconds: Int64) {
        self.device = device
        self.inode = inode
        self.size = size
        self.mtimeSeconds = mtimeSeconds
        self.mtimeNanoseconds = mtimeNanoseconds
    }

    /// The mtime as one number of nanoseconds (saturating: a hostile timestamp must not trap).
    public var mtimeSinceEpochNanoseconds: Int64 {
        let (scaled, o1) = mtimeSeconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (sum, o2) = scaled.addingReportingOverflow(mtimeNanoseconds)
        return o1 || o2 ? (mtimeSeconds < 0 ? Int64.min : Int64.max) : sum
    }

    /// The same file: device and inode (names differ, the file is one).
    public struct Key: Hashable, Sendable { public var device: UInt64; public var inode: UInt64 }
    public var key: Key { Key(device: device, inode: inode) }
}

/// What one stat(2) or lstat(2) reports, in the terms medialib uses.
public struct FileStatus: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case regular, directory, symlink, other }
    public var kind: Kind
    public var identity: FileIdentity
    public var mode: UInt32
    public var owner: UInt32
    public var group: UInt32
    public var accessSeconds: Int64
    public var accessNanoseconds: Int64

    public init(_ st: stat) {
        let type = UInt32(st.st_mode) & UInt32(S_IFMT)
        switch type {
        case UInt32(S_IFREG): kind = .regular
        case UInt32(S_IFDIR): kind = .directory
        case UInt32(S_IFLNK): kind = .symlink
        default: kind = .other
        }
        #if canImport(Darwin)
        identity = FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int64(st.st_size),
                                mtimeSeconds: Int64(st.st_mtimespec.tv_sec), mtimeNanoseconds: Int64(st.st_mtimespec.tv_nsec))
        accessSeconds = Int64(st.st_atimespec.tv_sec)
        accessNanoseconds = Int64(st.st_atimespec.tv_nsec)
        #else
        identity = FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int64(st.st_size),
                                mtimeSeconds: Int64(st.st_mtim.tv_sec), mtimeNanoseconds: Int64(st.st_mtim.tv_nsec))
        accessSeconds = Int64(st.st_atim.tv_sec)
        accessNanoseconds = Int64(st.st_atim.tv_nsec)
        #endif
        mode = UInt32(st.st_mode) & 0o7777
        owner = UInt32(st.st_uid)
        group = UInt32(st.st_gid)
    }
}

/// An errno with its text.
public struct SystemError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: Int32
    public init(_ code: Int32) { self.code = code }
    public static var current: SystemError { SystemError(errno) }
    public var description: String { code == EINVAL ? "invalid path (it contains a NUL byte)" : String(cString: strerror(code)) }
    public var isNotFound: Bool { code == ENOENT || code == ENOTDIR }
}

/// System calls on byte paths. A path holding a NUL byte fails with EINVAL instead of
/// silently naming the file its first bytes spell.
public enum FileSystem {
    public static func status(_ path: RawPath, followingSymlinks: Bool = true) -> Result<FileStatus, SystemError> {
        var st = stat()
        let rc = path.withCString { followingSymlinks ? stat($0, &st) : lstat($0, &st) }
        switch rc {
        case nil: return .failure(SystemError(EINVAL))
        case 0?: return .success(FileStatus(st))
        default: return .failure(.current)
        }
    }

    /// Whether anything, even a dangling symlink, occupies the path.
    public static func occupied(_ path: RawPath) -> Bool {
        if case .success = status(path, followingSymlinks: false) { return true }
        return false
    }

    public static func isDirectory(_ path: RawPath) -> Bool {
        if case .success(let st) = status(path), st.kind == .directory { return true }
        return false
    }

    public static func realPath(_ path: RawPath) -> RawPath? {
        guard let resolved = path.withCString({ realpath($0, nil) }), let resolved else { return nil }
        defer { free(resolved) }
        return RawPath(bytes: UnsafeRawBufferPointer(start: resolved, count: strlen(resolved)))
    }

    public static func access(_ path: RawPath, _ mode: Int32) -> Bool {
        path.withCString { Glibc.access($0, mode) == 0 } ?? false
    }

    public static func open(_ path: RawPath, _ flags: Int32, _ mode: mode_t = 0) -> Result<Int32, SystemError> {
        guard let fd = path.withCString({ Glibc.open($0, flags, mode) }) else { return .failure(SystemError(EINVAL)) }
        return fd >= 0 ? .success(fd) : .failure(.current)
    }

    public static func link(_ from: RawPath, _ to: RawPath) -> Result<Void, SystemError> {
        let rc = from.withCString { f in to.withCString { t in Glibc.link(f, t) } ?? -2 } ?? -2
        if rc == -2 { return .failure(SystemError(EINVAL)) }
        return rc == 0 ? .success(()) : .failure(.current)
    }

    public static func unlink(_ path: RawPath) -> Result<Void, SystemError> {
        guard let rc = path.withCString({ Glibc.unlink($0) }) else { return .failure(SystemError(EINVAL)) }
        return rc == 0 ? .success(()) : .failure(.current)
    }

    public static func rename(_ from: RawPath, _ to: RawPath) -> Result<Void, SystemError> {
        let rc = from.withCString { f in to.withCString { t in Glibc.rename(f, t) } ?? -2 } ?? -2
        if rc == -2 { return .failure(SystemError(EINVAL)) }
        return rc == 0 ? .success(()) : .failure(.current)
    }

    /// mkdir -p; mode 0755 for the folders it makes.
    public static func makeDirectories(_ path: RawPath) -> Result<Void, SystemError> {
        if isDirectory(path) { return .success(()) }
        let parent = path.parent
        if !parent.isEmpty && parent != path {
            if case .failure(let e) = makeDirectories(parent) { return .failure(e) }
        }
        guard let rc = path.withCString({ mkdir($0, 0o755) }) else { return .failure(SystemError(EINVAL)) }
        if rc == 0 || (errno == EEXIST && isDirectory(path)) { return .success(()) }
        return .failure(.current)
    }

    /// fsync of a folder, so a new entry in it survives a crash.
    public static func syncDirectory(_ path: RawPath) {
        if case .success(let fd) = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) {
            fsync(fd)
            close(fd)
        }
    }

    public struct Entry: Sendable {
        public var name: RawPath
        /// From the directory itself; `.other` when the file system does not say (then stat it).
        public var kind: FileStatus.Kind
        public var isUnknown: Bool
    }

    /// The entries of a folder (without "." and ".."), names as bytes.
    public static func entries(of folder: RawPath) -> Result<[Entry], SystemError> {
        guard let dir = folder.withCString({ opendir($0) }) else { return .failure(SystemError(EINVAL)) }
        guard let dir else { return .failure(.current) }
        defer { closedir(dir) }
        var out: [Entry] = []
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                if errno != 0 { return .failure(.current) }
                break
            }
            let name: [UInt8] = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                let length = raw.firstIndex(of: 0) ?? raw.count
                return Array(raw[..<length])
            }
            if name == [RawPath.dot] || name == [RawPath.dot, RawPath.dot] { continue }
            let type = entry.pointee.d_type
            let kind: FileStatus.Kind
            switch Int32(type) {
            case Int32(DT_REG): kind = .regular
            case Int32(DT_DIR): kind = .directory
            case Int32(DT_LNK): kind = .symlink
            default: kind = .other
            }
            out.append(Entry(name: RawPath(bytes: name), kind: kind, isUnknown: Int32(type) == Int32(DT_UNKNOWN)))
        }
        return .success(out)
    }

    /// The current directory as bytes.
    public static var currentDirectory: RawPath {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "/" }
        let length = buffer.firstIndex(of: 0) ?? buffer.count
        return RawPath(bytes: buffer[..<length].map { UInt8(bitPattern: $0) })
    }

    /// Free bytes for an unprivileged writer on the file system holding `path`.
    public static func availableBytes(at path: RawPath) -> Int64? {
        var info = statvfs()
        guard path.withCString({ statvfs($0, &info) }) == 0 else { return nil }
        let (bytes, overflow) = Int64(clamping: info.f_bavail).multipliedReportingOverflow(by: Int64(clamping: info.f_frsize))
        return overflow ? Int64.max : bytes
    }

    /// Reads a whole small file (journals, profiles): at most `limit` bytes.
    public static func read(_ path: RawPath, limit: Int) -> Result<[UInt8], SystemError> {
        let fd: Int32
        switch open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK) {
        case .failure(let e): return .failure(e)
        case .success(let d): fd = d
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return .failure(.current) }
        guard (UInt32(st.st_mode) & UInt32(S_IFMT)) == UInt32(S_IFREG) else { return .failure(SystemError(EISDIR)) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while out.count <= limit {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return .failure(.current) }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        if out.count > limit { return .failure(SystemError(EFBIG)) }
        return .success(out)
    }
}

/// An owned descriptor, closed exactly once.
public final class FileDescriptor: @unchecked Sendable {
    public let raw: Int32
    private var closed = false

    public init(taking raw: Int32) { self.raw = raw }

    public func close() {
        guard !closed else { return }
        closed = true
        _ = Glibc.close(raw)
    }

    deinit { close() }

    public func status() -> FileStatus? {
        var st = stat()
        return fstat(raw, &st) == 0 ? FileStatus(st) : nil
    }
}
