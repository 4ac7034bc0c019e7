#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MediaFiles

/// Reads MP4/MOV top-level box headers to learn whether `moov` precedes `mdat`
/// (faststart). Only headers are read: a few dozen bytes for a typical file.
public enum MP4Boxes {
    static func moovBeforeMdat(path: RawPath) -> Bool? {
        guard case .success(let fd) = FileSystem.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK) else { return nil }
        defer { close(fd) }
        return moovBeforeMdat { offset, header in
            header.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
        }
    }

    /// The same over bytes in memory (the fuzzer's entry).
    public static func moovBeforeMdat(bytes: [UInt8]) -> Bool? {
        moovBeforeMdat { offset, header in
            guard offset >= 0, offset < Int64(bytes.count) else { return 0 }
            let n = min(header.count, bytes.count - Int(offset))
            header.replaceSubrange(0..<n, with: bytes[Int(offset)..<(Int(offset) + n)])
            return n
        }
    }

    /// Walks top-level box headers; `read(offset, buffer)` fills up to 16 bytes and says how many.
    static func moovBeforeMdat(read: (Int64, inout [UInt8]) -> Int) -> Bool? {
        var offset: Int64 = 0
        var header = [UInt8](repeating: 0, count: 16)
        for _ in 0..<1024 {
            let n = read(offset, &header)
            guard n >= 8 else { return nil }
            var size = Int64(be32(header, 0))
            let type = String(decoding: header[4..<8], as: UTF8.self)
            if size == 1 {
                guard n >= 16 else { return nil }
                size = Int64(bitPattern: (UInt64(be32(header, 8)) << 32) | UInt64(be32(header, 12)))
            } else if size == 0 {
                // Box runs to the end of the file.
                return type == "moov" ? true : (type == "mdat" ? false : nil)
            }
            if type == "moov" { return true }
            if type == "mdat" { return false }
            guard size >= 8 else { return nil }
            let (next, overflow) = offset.addingReportingOverflow(size)
            guard !overflow else { return nil }
            offset = next
        }
        return nil
    }

    private static func be32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }
}
