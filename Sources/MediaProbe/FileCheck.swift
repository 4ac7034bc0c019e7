#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The file's identity as stat(2) reports it; the verification cache and ETags key on it.
public struct FileIdentity: Sendable, Equatable, Hashable, Codable {
    public var size: Int64
    public var mtimeSeconds: Int64
    public var mtimeNanoseconds: Int64
    public var inode: UInt64
    public var device: UInt64

    public init(size: Int64, mtimeSeconds: Int64, mtimeNanoseconds: Int64, inode: UInt64, device: UInt64) {
        self.size = size
        self.mtimeSeconds = mtimeSeconds
        self.mtimeNanoseconds = mtimeNanoseconds
        self.inode = inode
        self.device = device
    }

    /// The mtime as one number, as the verification cache keys on it.
    public var mtimeSinceEpochNanoseconds: Int64 { mtimeSeconds &* 1_000_000_000 &+ mtimeNanoseconds }

    public init(_ st: stat) {
        #if canImport(Darwin)
        self.init(size: Int64(st.st_size), mtimeSeconds: Int64(st.st_mtimespec.tv_sec),
                  mtimeNanoseconds: Int64(st.st_mtimespec.tv_nsec), inode: UInt64(st.st_ino), device: UInt64(st.st_dev))
        #else
        self.init(size: Int64(st.st_size), mtimeSeconds: Int64(st.st_mtim.tv_sec),
                  mtimeNanoseconds: Int64(st.st_mtim.tv_nsec), inode: UInt64(st.st_ino), device: UInt64(st.st_dev))
        #endif
    }
}

/// Checks that come before libavformat sees a path: a FIFO or a device would block its open,
/// and a missing or empty file deserves its own answer rather than libav's generic error.
public enum FileCheck {
    /// stat(2) through symlinks; the file must be a readable, non-empty regular file.
    public static func regularFile(at path: String) -> Result<FileIdentity, ProbeError> {
        var st = stat()
        if stat(path, &st) != 0 {
            let err = errno
            if err == ENOENT || err == ENOTDIR { return .failure(.missing) }
            return .failure(.unreadable(String(cString: strerror(err))))
        }
        if (st.st_mode & S_IFMT) != S_IFREG { return .failure(.notRegularFile) }
        if access(path, R_OK) != 0 {
            return .failure(.unreadable(String(cString: strerror(errno))))
        }
        let identity = FileIdentity(st)
        if identity.size == 0 { return .failure(.empty) }
        return .success(identity)
    }

    /// Like `regularFile` but also accepts empty files (the server serves them).
    public static func identity(at path: String) -> FileIdentity? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return FileIdentity(st)
    }
}
