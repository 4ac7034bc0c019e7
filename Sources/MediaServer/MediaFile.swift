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
        guard let real = MediaRoot.realPath(path) else { return .failure(.missing) }
        guard root.containsRealPath(of: real) else { return .failure(.outsideRoot(real)) }
        let fd = Glibc.open(real, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let err = errno
            return .failure(err == ENOENT ? .missing : .unreadable(String(cString: strerror(err))))
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

    /// Bytes the file holds now; a shrinking file is caught by comparing against what is being sent.
    func currentSize() -> Int64? {
        var st = stat()
        return fstat(descriptor, &st) == 0 ? Int64(st.st_size) : nil
    }
}
