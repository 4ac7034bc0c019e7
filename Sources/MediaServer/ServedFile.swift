import HTTPRanges
import MediaCatalog
import MediaFiles
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// An opened file ready to serve, with validators from the descriptor itself (fstat after
/// open), so what is described is exactly what is sent. Shared by the responses that use it
/// and by the open-file cache; its descriptor closes once, when the last of them lets go.
final class ServedFile {
    let handle: NIOFileHandle
    let descriptor: CInt
    let identity: FileIdentity
    let etag: EntityTag
    let lastModified: Int64
    let contentType: String
    let filename: String
    /// "ETag: …\r\nLast-Modified: …\r\n": on every answer about this file.
    let validatorLines: ByteBuffer
    /// "Accept-Ranges… Content-Disposition… Content-Type…": on 200 and 206.
    let representationLines: ByteBuffer
    /// Everything of a 200 (and of a single-range 206) over HTTP/1.1 that does not change per
    /// request: the status line, validators, representation, Content-Type and Server lines.
    let okPrefix: ByteBuffer
    let partialPrefix: ByteBuffer

    var size: Int64 { identity.size }

    enum Failure: Error {
        case missing
        case outsideRoot(RawPath)
        case notRegular
        case unreadable(String)
    }

    private init(descriptor: CInt, identity: FileIdentity, realPath: RawPath) {
        self.descriptor = descriptor
        handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: descriptor)
        self.identity = identity
        etag = .forFile(size: identity.size, mtimeSeconds: identity.mtimeSeconds,
                        mtimeNanoseconds: identity.mtimeNanoseconds, inode: identity.inode)
        lastModified = identity.mtimeSeconds
        let name = realPath.lastComponent
        contentType = videoContentType(forExtension: name.pathExtension)
        filename = name.string ?? String(decoding: name.bytes, as: UTF8.self)
        var v = ByteBuffer()
        v.writeString("ETag: \(etag.headerValue)\r\nLast-Modified: \(HTTPDate.format(lastModified))\r\n")
        validatorLines = v
        var r = ByteBuffer()
        r.writeString("Accept-Ranges: bytes\r\nContent-Disposition: \(contentDisposition(filename: filename))\r\n")
        representationLines = r
        let type = videoContentType(forExtension: name.pathExtension)
        okPrefix = Self.prefix("HTTP/1.1 200 OK\r\n", v, r, type)
        partialPrefix = Self.prefix("HTTP/1.1 206 Partial Content\r\n", v, r, type)
    }

    deinit { try? handle.close() }

    private static func prefix(_ statusLine: String, _ validators: ByteBuffer, _ representation: ByteBuffer, _ type: String) -> ByteBuffer {
        var p = ByteBuffer()
        p.writeString(statusLine)
        var v = validators
        var r = representation
        p.writeBuffer(&v)
        p.writeBuffer(&r)
        p.writeString("Content-Type: \(type)\r\nServer: medialib\r\n")
        return p
    }

    /// Opens without blocking (a FIFO planted in the library must not hang a worker) and
    /// refuses anything whose real path leaves the media root: the file actually opened is
    /// judged, not a path that could be swapped for a symlink between a check and the open.
    static func open(_ path: RawPath, root: MediaRoot) -> Result<ServedFile, Failure> {
        let fd: CInt
        switch FileSystem.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC) {
        case .failure(let e): return .failure(e.isNotFound || e.code == EINVAL ? .missing : .unreadable(e.description))
        case .success(let d): fd = d
        }
        guard let real = descriptorPath(fd) else {
            close(fd)
            return .failure(.unreadable("cannot resolve the opened file"))
        }
        guard root.containsRealPath(resolved: real) else {
            close(fd)
            return .failure(.outsideRoot(real))
        }
        var st = stat()
        guard fstat(fd, &st) == 0, (UInt32(st.st_mode) & UInt32(S_IFMT)) == UInt32(S_IFREG) else {
            close(fd)
            return .failure(.notRegular)
        }
        return .success(ServedFile(descriptor: fd, identity: FileStatus(st).identity, realPath: real))
    }

    static func descriptorPath(_ fd: CInt) -> RawPath? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/fd/\(fd)", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return RawPath(bytes: buffer[0..<n].map { UInt8(bitPattern: $0) })
    }

    /// Bytes the file holds now; a shrinking file is caught by comparing against what is being sent.
    func currentSize() -> Int64? {
        var st = stat()
        return fstat(descriptor, &st) == 0 ? Int64(st.st_size) : nil
    }

    /// Whether the file is still the one described (same size and mtime as when it was
    /// opened or last revalidated): a response's last bytes go out only if so, so a file
    /// written to, truncated or regrown while a response is in flight ends that response
    /// early instead of mixing two versions of it.
    func isUnchanged() -> Bool {
        var st = stat()
        guard fstat(descriptor, &st) == 0 else { return false }
        let now = FileStatus(st).identity
        return now.size == identity.size && now.mtimeSeconds == identity.mtimeSeconds
            && now.mtimeNanoseconds == identity.mtimeNanoseconds
    }
}

/// Opened files by path, per event loop (so no lock): a cached descriptor is reused only
/// while stat(2) of its path still names the same file with the same size and mtime, so a
/// replaced, truncated or grown file is reopened (and judged again) at the very next request.
final class FileCache {
    private struct Entry {
        var file: ServedFile
        var lastUsed: NIODeadline
    }
    private var entries: [RawPath: Entry] = [:]
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    func open(_ path: RawPath, root: MediaRoot) -> Result<ServedFile, ServedFile.Failure> {
        if capacity > 0, let cached = entries[path] {
            if case .success(let st) = FileSystem.status(path), st.kind == .regular, st.identity == cached.file.identity {
                entries[path]?.lastUsed = .now()
                return .success(cached.file)
            }
            entries[path] = nil
        }
        let opened = ServedFile.open(path, root: root)
        if capacity > 0, case .success(let file) = opened {
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[path] = Entry(file: file, lastUsed: .now())
        }
        return opened
    }

    /// Lets go of descriptors nobody asked for lately, so a file deleted from the library does
    /// not keep its disk space for long. (Responses still sending keep their own reference.)
    func sweep(idle: TimeAmount) {
        let cutoff = NIODeadline.now() - idle
        entries = entries.filter { $0.value.lastUsed > cutoff }
    }

    var count: Int { entries.count }
}
