import HTTPRanges
import MediaCatalog
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// An opened file ready to serve, with validators from the descriptor itself (fstat after open),
/// so what is described is exactly what will be sent.
struct OpenedFile {
    let descriptor: CInt
    let size: Int64
    let etag: EntityTag
    let lastModified: Int64
    let contentType: String
    let filename: String

    enum Failure: Error {
        case missing
        case outsideRoot(String)
        case notRegular
        case unreadable(String)
    }

    /// Opens without blocking (a FIFO planted in the library must not hang a worker) and
    /// refuses anything whose real path leaves the media root.
    static func open(path: String, root: MediaRoot) -> Result<OpenedFile, Failure> {
        let fd = Glibc.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let err = errno
            return .failure(err == ENOENT || err == ENOTDIR ? .missing : .unreadable(String(cString: strerror(err))))
        }
        // Judge the file actually opened, not a path that could be swapped for a symlink
        // between a check and the open: the kernel names it in /proc/self/fd.
        guard let real = descriptorPath(fd) else {
            Glibc.close(fd)
            return .failure(.unreadable("cannot resolve the opened file"))
        }
        guard root.containsRealPath(resolved: real) else {
            Glibc.close(fd)
            return .failure(.outsideRoot(real))
        }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            Glibc.close(fd)
            return .failure(.notRegular)
        }
        let ext = real.split(separator: ".").last.map(String.init) ?? ""
        let name = real.split(separator: "/").last.map(String.init) ?? "video"
        return .success(OpenedFile(
            descriptor: fd,
            size: Int64(st.st_size),
            etag: .forFile(size: Int64(st.st_size), mtimeSeconds: Int64(st.st_mtim.tv_sec),
                           mtimeNanoseconds: Int64(st.st_mtim.tv_nsec), inode: UInt64(st.st_ino)),
            lastModified: Int64(st.st_mtim.tv_sec),
            contentType: videoContentType(forExtension: ext),
            filename: name))
    }

    static func descriptorPath(_ fd: CInt) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/fd/\(fd)", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Bytes the file holds now; a shrinking file is caught by comparing against what is being sent.
    func currentSize() -> Int64? {
        var st = stat()
        return fstat(descriptor, &st) == 0 ? Int64(st.st_size) : nil
    }
}
