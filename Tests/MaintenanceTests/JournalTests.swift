import Foundation
import Testing
import MediaCatalog
@testable import Maintenance

private func sampleJournal(entries count: Int = 3) -> Journal {
    let entries = (0..<count).map { i -> Journal.Entry in
        var row: CatalogRow = [
            "id": .integer(Int64(i + 1)),
            "uuid": .text(String(format: "00000000-0000-4000-8000-%012d", i)),
            "raw_file": i == 1 ? .null : .text("uploads/ü \(i):x.mp4"),
            "processed_file": i == 2 ? .text("processed/\(i).mp4") : .null,
            "created_at": .text("2024-01-0\(i + 1)T00:00:00.123Z"),
        ]
        if i == 0 {
            row["extra_int"] = .integer(Int64.max)
            row["extra_real"] = .real(0.5)
            row["extra_blob"] = .blob([0, 10, 255])
            row["extra_text"] = .text("line\nbreak \"quoted\" / slash")
        }
        let moves = i == 2 ? [Journal.Move(from: "/m/processed/2.mp4", to: "/t/processed/2.mp4")] : []
        return Journal.Entry(row: row, reasons: i == 1 ? ["missing_file"] : ["too_few_frames", "empty_file"], trash: moves)
    }
    let header = Journal.Header(medialibJournal: Journal.version, createdAt: "2024-05-06T07:08:09Z",
                                catalog: "/data/cat ü.sqlite", mediaRoot: "/data/media", minFrames: 10,
                                trash: "/data/trash", records: entries.count)
    return Journal(header: header, entries: entries)
}

private func lines(_ data: Data) -> [Data] {
    data.split(separator: 0x0A, omittingEmptySubsequences: false).map { Data($0) }
}

@Suite("Journal")
struct JournalTests {
    @Test(arguments: [0, 1, 3])
    func encodeDecodeRoundTrip(entries: Int) throws {
        let journal = sampleJournal(entries: entries)
        let data = try journal.encoded()
        #expect(try Journal.decode(data) == journal)
        // JSON Lines: a header line then one line per entry, each a JSON object, newline-terminated.
        let parts = lines(data)
        #expect(parts.count == entries + 2)
        #expect(parts.last == Data())
        for line in parts.dropLast() {
            #expect(try JSONSerialization.jsonObject(with: line) is [String: Any])
        }
        let header = try #require(try JSONSerialization.jsonObject(with: parts[0]) as? [String: Any])
        #expect(header["medialib_journal"] as? Int == 1)
        #expect(header["records"] as? Int == entries)
        #expect(header["media_root"] as? String == "/data/media")
        #expect(header["min_frames"] as? Int == 10)
        #expect(header["trash"] as? String == "/data/trash")
    }

    @Test func entryLinesCarryEveryColumn() throws {
        let data = try sampleJournal().encoded()
        let second = try #require(try JSONSerialization.jsonObject(with: lines(data)[2]) as? [String: Any])
        let row = try #require(second["row"] as? [String: Any])
        #expect(Set(row.keys) == ["id", "uuid", "raw_file", "processed_file", "created_at"])
        #expect(row["raw_file"] is NSNull, "a NULL column is written, not left out")
        #expect(second["reasons"] as? [String] == ["missing_file"])
    }

    @Test func headerWithoutTrashRoundTrips() throws {
        var journal = sampleJournal(entries: 1)
        journal.header.trash = nil
        #expect(try Journal.decode(try journal.encoded()) == journal)
    }

    @Test("rejects journals that are empty, cut short or not journals", arguments: [
        "empty", "blank lines", "not json", "header is an entry", "future version", "garbled entry",
        "cut inside the last line", "last line missing", "one entry too many", "entry is a header",
    ])
    func rejects(_ damage: String) throws {
        let journal = sampleJournal()
        let good = try journal.encoded()
        var parts = lines(good).dropLast().map { $0 }
        let data: Data
        switch damage {
        case "empty": data = Data()
        case "blank lines": data = Data("\n\n\n".utf8)
        case "not json": data = Data("hello\n".utf8)
        case "header is an entry": data = Data(parts.dropFirst().joined(separator: [0x0A]))
        case "future version":
            var h = journal
            h.header.medialibJournal = 2
            data = try h.encoded()
        case "garbled entry":
            parts[2] = Data("{\"row\": 5}".utf8)
            data = Data(parts.joined(separator: [0x0A]))
        case "cut inside the last line": data = good.prefix(good.count - 20)
        case "last line missing": data = Data(parts.dropLast().joined(separator: [0x0A]))
        case "one entry too many":
            parts.append(parts[1])
            data = Data(parts.joined(separator: [0x0A]))
        case "entry is a header":
            parts[1] = parts[0]
            data = Data(parts.joined(separator: [0x0A]))
        default: Issue.record("unknown case"); return
        }
        #expect(throws: JournalError.self) { try Journal.decode(data) }
    }

    @Test func incompleteJournalSaysSo() throws {
        let good = try sampleJournal().encoded()
        let parts = lines(good).dropLast()
        let data = Data(parts.dropLast().joined(separator: [0x0A]))
        do {
            _ = try Journal.decode(data)
            Issue.record("decoded an incomplete journal")
        } catch let error as JournalError {
            #expect(error.description.contains("incomplete"))
        }
    }

    @Test func writeDurablyCreatesFoldersAndNeverOverwrites() throws {
        let s = try Scratch()
        defer { s.remove() }
        let path = s.path("deep/er/j.jsonl")
        let journal = sampleJournal()
        try journal.writeDurably(to: path)
        #expect(FileManager.default.contents(atPath: path) == (try journal.encoded()))
        let perms = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(perms == 0o600)
        #expect(try Restorer.load(path) == journal)

        let other = sampleJournal(entries: 1)
        #expect(throws: JournalError.self) { try other.writeDurably(to: path) }
        #expect(try Restorer.load(path) == journal, "the first journal is intact")
    }

    @Test func loadExplainsWhatIsWrong() throws {
        let s = try Scratch()
        defer { s.remove() }
        #expect(throws: JournalError.self) { try Restorer.load(s.path("missing.jsonl")) }
        do { _ = try Restorer.load(s.path("missing.jsonl")) } catch { #expect("\(error)".contains("no such file")) }
        do { _ = try Restorer.load(s.path) } catch { #expect("\(error)".contains("directory")) }
        try Data("garbage\n".utf8).write(to: URL(fileURLWithPath: s.path("bad.jsonl")))
        do { _ = try Restorer.load(s.path("bad.jsonl")) } catch { #expect("\(error)".contains("invalid journal")) }
    }

    @Test func defaultJournalPathIsBesideTheCatalog() {
        let now = Date(timeIntervalSince1970: 1_704_164_645) // 2024-01-02T03:04:05Z
        let path = CleanupApplier.defaultJournalPath(catalogPath: "/data/x/../cat.sqlite", now: now)
        #expect(path == "/data/medialib-journals/cleanup-20240102T030405Z-\(getpid()).jsonl")
    }
}
