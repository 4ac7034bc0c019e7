import Foundation
import Testing
import TestSupport
import MediaCatalog
import MediaFiles
@testable import Maintenance

private let identity = CatalogIdentity(kind: "sqlite", location: "/data/cat ü.sqlite", schema: "medialib")

private func header(records: Int, trash: RawPath? = "/data/trash") -> Journal.Header {
    Journal.Header(version: 2, createdAt: "2024-05-06T07:08:09Z", catalog: identity, mediaRoot: "/data/media",
                   trash: trash, minFrames: 10, records: records, videoTable: "videos")
}

private func sampleChanges(_ count: Int) -> [RowChange] {
    (0..<count).map { i in
        var row: CatalogRow = [
            "id": .integer(Int64(i + 1)),
            "uuid": .text(String(format: "00000000-0000-4000-8000-%012d", i)),
            "raw_file": i == 1 ? .null : .text("uploads/ü \(i):x.mp4"),
            "processed_file": i == 2 ? .text("processed/\(i).mp4") : .null,
            "created_at": .text("2024-01-0\(i + 1)T00:00:00.123Z"),
        ]
        if i == 0 {
            row["extra_int"] = .integer(Int64.max)
            row["extra_real"] = .real(2.0)
            row["extra_blob"] = .blob([0, 10, 255])
            row["extra_text"] = .text("line\nbreak \"quoted\" / slash")
            // A name that is not UTF-8, as another program may have stored it.
            row["raw_file"] = .text([0x63, 0x61, 0x66, 0xE9, 0x2E, 0x6D, 0x70, 0x34])
            row["extra_inf"] = .real(.infinity)
        }
        return .deleted(table: "videos", key: ["id": .integer(Int64(i + 1))], row: row, record: Int64(i + 1))
    }
}

private let move = Journal.Move(record: 3, column: "processed_file", from: "/data/media/processed/2.mp4",
                                to: "/data/trash/processed/2.mp4",
                                file: FileIdentity(device: 2049, inode: 77, size: 5114, mtimeSeconds: 1_700_000_000, mtimeNanoseconds: 123_456_789))

/// Writes a journal as cleanup does, to `path`; `stage` says how far it gets.
private func writeJournal(_ path: String, changes: [RowChange], moves: [Journal.Move], committed: Bool, moved: Bool) throws {
    let w = try JournalWriter(path: RawPath(path), header: header(records: changes.count), reasons: [2: ["missing_file"]], faults: .none)
    w.planMoves(moves)
    for c in changes { try w.write(c) }
    try w.sealBeforeCommit()
    if committed { try w.markCommitted() }
    if moved {
        for m in moves {
            try w.recordMoved(Journal.Moved(from: m.from, to: m.to, file: m.file ?? FileIdentity(device: 0, inode: 0, size: 0, mtimeSeconds: 0, mtimeNanoseconds: 0), copied: false))
        }
        try w.finish()
    }
}

@Suite("Journal")
struct JournalTests {
    @Test(arguments: [0, 1, 3])
    func writeReadRoundTrip(entries: Int) throws {
        let s = try Scratch()
        defer { s.remove() }
        let changes = sampleChanges(entries)
        let moves = entries >= 3 ? [move] : []
        try writeJournal(s.path("j.jsonl"), changes: changes, moves: moves, committed: true, moved: true)
        let journal = try Journal.load(RawPath(s.path("j.jsonl")))
        #expect(journal.header == header(records: entries))
        #expect(journal.changes == changes, "every value back as it was: reals, blobs, text that is not UTF-8, infinity")
        #expect(journal.moves == moves)
        #expect(journal.committed == true)
        #expect(journal.moved.map(\.to) == moves.map(\.to))
        if entries >= 2 { #expect(journal.reasons[2] == ["missing_file"]) }
        // JSON Lines: each line a JSON object.
        let data = try #require(FileManager.default.contents(atPath: s.path("j.jsonl")))
        for line in data.split(separator: 0x0A) {
            #expect(try JSONSerialization.jsonObject(with: Data(line)) is [String: Any])
        }
        let perms = try FileManager.default.attributesOfItem(atPath: s.path("j.jsonl"))[.posixPermissions] as? Int
        #expect(perms == 0o600)
    }

    @Test func deleteLinesCarryEveryColumnAndTheirTable() throws {
        let s = try Scratch()
        defer { s.remove() }
        try writeJournal(s.path("j.jsonl"), changes: sampleChanges(3), moves: [], committed: false, moved: false)
        let lines = try jsonLines(s.path("j.jsonl"))
        let second = try #require(lines[2]["delete"] as? [String: Any])
        #expect(second["table"] as? String == "videos")
        let row = try #require(second["row"] as? [String: Any])
        #expect(Set(row.keys) == ["id", "uuid", "raw_file", "processed_file", "created_at"])
        #expect(row["raw_file"] is NSNull, "a NULL column is written, not left out")
        #expect(lines[2]["reasons"] as? [String] == ["missing_file"])
        let first = try #require((lines[1]["delete"] as? [String: Any])?["row"] as? [String: Any])
        #expect((first["raw_file"] as? [String: String])?["text_base64"] == Data([0x63, 0x61, 0x66, 0xE9, 0x2E, 0x6D, 0x70, 0x34]).base64EncodedString())
    }

    @Test("a journal cut before its end line means the cleanup never committed")
    func incompleteJournalSaysSo() throws {
        let s = try Scratch()
        defer { s.remove() }
        try writeJournal(s.path("j.jsonl"), changes: sampleChanges(3), moves: [], committed: false, moved: false)
        var lines = try #require(FileManager.default.contents(atPath: s.path("j.jsonl"))).split(separator: 0x0A)
        lines.removeLast()
        do {
            _ = try Journal.decode([UInt8](Data(lines.joined(separator: [0x0A]))))
            Issue.record("decoded an incomplete journal")
        } catch let error as JournalError {
            #expect(error.description.contains("incomplete"))
            #expect(error.description.contains("nothing was deleted"))
        }
    }

    @Test("rejects journals that are empty, damaged or not journals", arguments: [
        "empty", "blank lines", "not json", "no header", "future version", "garbled line",
        "cut inside a planned line", "end line miscounts", "one row too many", "header twice",
    ])
    func rejects(_ damage: String) throws {
        let s = try Scratch()
        defer { s.remove() }
        try writeJournal(s.path("j.jsonl"), changes: sampleChanges(3), moves: [move], committed: true, moved: true)
        let good = try #require(FileManager.default.contents(atPath: s.path("j.jsonl")))
        var parts = good.split(separator: 0x0A).map { Data($0) }
        let data: Data
        switch damage {
        case "empty": data = Data()
        case "blank lines": data = Data("\n\n\n".utf8)
        case "not json": data = Data("hello\n".utf8)
        case "no header": data = Data(parts.dropFirst().joined(separator: [0x0A]))
        case "future version":
            parts[0] = Data(String(decoding: parts[0], as: UTF8.self).replacingOccurrences(of: "\"medialib_journal\":2", with: "\"medialib_journal\":3").utf8)
            data = Data(parts.joined(separator: [0x0A]))
        case "garbled line":
            parts[2] = Data("{\"row\": 5}".utf8)
            data = Data(parts.joined(separator: [0x0A]))
        case "cut inside a planned line": data = Data(parts[0..<2].joined(separator: [0x0A])) + parts[2].prefix(20)
        case "end line miscounts":
            parts.remove(at: 2)
            data = Data(parts.joined(separator: [0x0A]))
        case "one row too many":
            parts.insert(parts[1], at: 1)
            data = Data(parts.joined(separator: [0x0A]))
        case "header twice":
            parts[1] = parts[0]
            data = Data(parts.joined(separator: [0x0A]))
        default: Issue.record("unknown case"); return
        }
        #expect(throws: JournalError.self) { try Journal.decode([UInt8](data)) }
    }

    @Test("a line torn after the commit (a crash mid-move) loses nothing restore needs")
    func tornTailAfterCommit() throws {
        let s = try Scratch()
        defer { s.remove() }
        try writeJournal(s.path("j.jsonl"), changes: sampleChanges(3), moves: [move], committed: true, moved: true)
        let good = try #require(FileManager.default.contents(atPath: s.path("j.jsonl")))
        let torn = good.prefix(good.count - 10)
        let journal = try Journal.decode([UInt8](torn))
        #expect(journal.changes.count == 3)
        #expect(journal.committed == true)
    }

    @Test func writingNeverOverwrites() throws {
        let s = try Scratch()
        defer { s.remove() }
        let path = s.path("deep/er/j.jsonl")
        try writeJournal(path, changes: sampleChanges(2), moves: [], committed: true, moved: false)
        let first = FileManager.default.contents(atPath: path)
        #expect(throws: JournalError.self) { try writeJournal(path, changes: sampleChanges(1), moves: [], committed: true, moved: false) }
        #expect(FileManager.default.contents(atPath: path) == first, "the first journal is intact")
    }

    @Test func loadExplainsWhatIsWrong() throws {
        let s = try Scratch()
        defer { s.remove() }
        do { _ = try Journal.load(RawPath(s.path("missing.jsonl"))) } catch { #expect("\(error)".contains("no such file")) }
        do { _ = try Journal.load(RawPath(s.path)) } catch { #expect("\(error)".contains("directory")) }
        do { _ = try Journal.load("/dev/null") } catch { #expect("\(error)".contains("not a regular file")) }
        try Data("garbage\n".utf8).write(to: URL(fileURLWithPath: s.path("bad.jsonl")))
        do { _ = try Journal.load(RawPath(s.path("bad.jsonl"))) } catch { #expect("\(error)".contains("invalid journal")) }
    }

    @Test("a journal written by medialib 0.1 (version 1) still reads")
    func versionOne() throws {
        let bytes = try #require(FileManager.default.contents(atPath: Repository.fixture("catalogs/v1/journal.jsonl")))
        let journal = try Journal.decode([UInt8](bytes))
        #expect(journal.header.version == 1)
        #expect(journal.header.records == 2)
        #expect(journal.header.catalog.location == "/tmp/medialib-v1-fixture/catalog.sqlite")
        #expect(journal.header.trash == "/tmp/medialib-v1-fixture/trash")
        #expect(journal.changes.count == 2)
        #expect(journal.reasons[3] == ["not_media"])
        #expect(journal.moves.map(\.to) == ["/tmp/medialib-v1-fixture/trash/uploads/text.mp4", "/tmp/medialib-v1-fixture/trash/uploads/three-frames.mp4"])
        #expect(journal.moves.allSatisfy { $0.file == nil && $0.column == nil })
    }
}
