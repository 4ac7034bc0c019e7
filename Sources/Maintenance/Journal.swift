import Foundation
import MediaCatalog

/// The cleanup journal: JSON Lines, a header then one line per deleted record with every
/// column and where its files went. Written and fsynced before anything is deleted.
public struct Journal: Sendable, Equatable {
    public struct Header: Codable, Sendable, Equatable {
        public var medialibJournal: Int
        public var createdAt: String
        public var catalog: String
        public var mediaRoot: String
        public var minFrames: Int
        public var trash: String?
        public var records: Int

        enum CodingKeys: String, CodingKey {
            case medialibJournal = "medialib_journal", createdAt = "created_at", catalog
            case mediaRoot = "media_root", minFrames = "min_frames", trash, records
        }
    }

    public struct Move: Codable, Sendable, Equatable {
        public var from: String
        public var to: String
    }

    public struct Entry: Codable, Sendable, Equatable {
        public var row: CatalogRow
        public var reasons: [String]
        public var trash: [Move]
    }

    public var header: Header
    public var entries: [Entry]

    static let version = 1

    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(header)
        data.append(0x0A)
        for e in entries {
            data.append(try encoder.encode(e))
            data.append(0x0A)
        }
        return data
    }

    public static func decode(_ data: Data) throws -> Journal {
        let lines = data.split(separator: 0x0A, omittingEmptySubsequences: true)
        guard let first = lines.first else { throw JournalError.invalid("the journal is empty") }
        let decoder = JSONDecoder()
        let header: Header
        do { header = try decoder.decode(Header.self, from: Data(first)) } catch {
            throw JournalError.invalid("the first line is not a medialib journal header")
        }
        guard header.medialibJournal == version else {
            throw JournalError.invalid("journal version \(header.medialibJournal) is not supported (expected \(version))")
        }
        var entries: [Entry] = []
        for (n, line) in lines.dropFirst().enumerated() {
            do { entries.append(try decoder.decode(Entry.self, from: Data(line))) } catch {
                throw JournalError.invalid("line \(n + 2) is not a journal entry")
            }
        }
        guard entries.count == header.records else {
            throw JournalError.invalid("the header announces \(header.records) records but \(entries.count) follow; the journal is incomplete")
        }
        return Journal(header: header, entries: entries)
    }

    /// Creates the file (never replacing one), writes it whole and fsyncs file and folder.
    public func writeDurably(to path: String) throws {
        let data = try encoded()
        let dir = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: dir.isEmpty ? "." : dir, withIntermediateDirectories: true)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw JournalError.cannotWrite(path, String(cString: strerror(errno)))
        }
        var ok = data.withUnsafeBytes { buf -> Bool in
            var off = 0
            while off < buf.count {
                let n = write(fd, buf.baseAddress! + off, buf.count - off)
                if n <= 0 { if errno == EINTR { continue }; return false }
                off += n
            }
            return true
        }
        ok = ok && fsync(fd) == 0
        close(fd)
        guard ok else {
            unlink(path)
            throw JournalError.cannotWrite(path, String(cString: strerror(errno)))
        }
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }
}

public enum JournalError: Error, Sendable, CustomStringConvertible {
    case invalid(String)
    case cannotWrite(String, String)
    case cannotRead(String, String)

    public var description: String {
        switch self {
        case .invalid(let m): "invalid journal: \(m)"
        case .cannotWrite(let p, let m): "cannot write journal \(p): \(m)"
        case .cannotRead(let p, let m): "cannot read journal \(p): \(m)"
        }
    }
}
