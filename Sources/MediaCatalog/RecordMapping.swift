import MediaFiles

/// Which of a profile's columns a given database has, and how a row of them becomes a
/// `VideoRecord`. Optional columns a release of the app lacks are simply not read.
package struct RecordMapping: Sendable {
    package let profile: SchemaProfile
    /// Selected columns, in order; the first is the id.
    package let columns: [String]
    private let uuidIndex: Int?
    private let fileIndexes: [(kind: FileKind, column: String, path: Int, streamableColumn: String?, streamable: Int?)]
    private let frameCountIndex: Int?
    private let storageModeIndex: Int?
    private let frameDirIndex: Int?
    private let createdAtIndex: Int?
    private let encryptedModes: Set<[UInt8]>

    /// `available`: the video table's columns in this database. Throws when a required one is missing.
    package init(profile: SchemaProfile, available: Set<String>) throws {
        self.profile = profile
        let v = profile.video
        var columns = [v.id]
        func add(_ name: String?) -> Int? {
            guard let name, available.contains(name) else { return nil }
            if let i = columns.firstIndex(of: name) { return i }
            columns.append(name)
            return columns.count - 1
        }
        guard available.contains(v.id) else {
            throw CatalogError.unknownSchema(v.table, "the table has no \(v.id) column, which the \(profile.name) profile names as its id")
        }
        uuidIndex = add(v.uuid)
        var files: [(FileKind, String, Int, String?, Int?)] = []
        for f in v.files {
            guard let i = add(f.column) else {
                throw CatalogError.unknownSchema(v.table, "the table has no \(f.column) column, which the \(profile.name) profile names as its \(f.kind.rawValue) file")
            }
            let s = add(f.streamable)
            files.append((f.kind, f.column, i, s == nil ? nil : f.streamable, s))
        }
        fileIndexes = files
        frameCountIndex = add(v.frame_count)
        storageModeIndex = add(v.storage_mode?.column)
        frameDirIndex = add(v.frame_dir)
        createdAtIndex = add(v.created_at)
        encryptedModes = Set((v.storage_mode?.encrypted ?? []).map { Array($0.utf8) })
        self.columns = columns
    }

    package var selectList: String { columns.map(quoted).joined(separator: ", ") }

    /// A row of `selectList` as a record; nil when its id is not an integer (a row no
    /// medialib route could name; it is skipped, never a trap).
    package func record(_ row: [ColumnValue]) -> VideoRecord? {
        guard row.count == columns.count, case .integer(let id) = row[0] else { return nil }
        var files: [RecordFile] = []
        for f in fileIndexes {
            guard let path = Self.path(row[f.path]) else { continue }
            files.append(RecordFile(kind: f.kind, path: path, column: f.column,
                                    streamable: f.streamable.flatMap { Self.path(row[$0]) }, streamableColumn: f.streamableColumn))
        }
        var frames: Int64? = nil
        if let i = frameCountIndex {
            switch row[i] {
            case .integer(let n): frames = n
            case .real(let d) where d.isFinite && d == d.rounded() && abs(d) < 9e18: frames = Int64(d)
            default: frames = nil
            }
        }
        let encrypted = storageModeIndex.map { row[$0].bytes.map { encryptedModes.contains($0) } ?? false } ?? false
        return VideoRecord(
            id: id,
            uuid: uuidIndex.map { UUIDText.display(row[$0]) } ?? "",
            files: files,
            appFrameCount: frames,
            encrypted: encrypted,
            frameDirectory: frameDirIndex.flatMap { Self.path(row[$0]) },
            createdAt: createdAtIndex.flatMap { row[$0].bytes.map { String(decoding: $0, as: UTF8.self) } },
            fingerprint: row)
    }

    /// A stored path: text or blob bytes; NULL and '' mean "no file" (Django's FileField).
    static func path(_ value: ColumnValue) -> RawPath? {
        guard let bytes = value.bytes, !bytes.isEmpty else { return nil }
        return RawPath(bytes: bytes)
    }
}

/// The spellings of a uuid: medialib stores it dashed, Django on SQLite as 32 hex digits,
/// PostgreSQL natively. Routes and messages use the dashed lowercase form.
public enum UUIDText {
    /// The 32 lowercase hex digits of a uuid in any common spelling, or nil.
    public static func hexDigits(_ s: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(32)
        let dashed = s.count == 36
        guard dashed || s.count == 32 else { return nil }
        for (i, c) in s.enumerated() {
            if dashed && (i == 8 || i == 13 || i == 18 || i == 23) {
                guard c == UInt8(ascii: "-") else { return nil }
                continue
            }
            switch c {
            case 0x30...0x39, 0x61...0x66: out.append(c)
            case 0x41...0x46: out.append(c + 32)
            default: return nil
            }
        }
        return out
    }

    public static func dashed(_ hex: [UInt8]) -> String {
        var s = String(decoding: hex, as: UTF8.self)
        for i in [8, 13, 18, 23] { s.insert("-", at: s.index(s.startIndex, offsetBy: i)) }
        return s
    }

    /// The uuid as people and routes see it; a value that is no uuid is shown escaped.
    package static func display(_ value: ColumnValue) -> String {
        guard let bytes = value.bytes else {
            if case .integer(let i) = value { return String(i) }
            return ""
        }
        if bytes.count == 16, case .blob = value {
            return dashed(Array(bytes.map { b -> [UInt8] in
                let digits = Array("0123456789abcdef".utf8)
                return [digits[Int(b >> 4)], digits[Int(b & 0xF)]]
            }.joined()))
        }
        if let hex = hexDigits(bytes) { return dashed(hex) }
        return RawPath(bytes: bytes).displayed
    }

    /// Values a uuid column may hold for this uuid, to look it up with an index.
    package static func spellings(_ given: String) -> [ColumnValue] {
        guard let hex = hexDigits(Array(given.utf8)) else { return [.text(given)] }
        let upperHex = hex.map { $0 >= 0x61 ? $0 - 32 : $0 }
        let d = dashed(hex)
        return [.text(d), .text(hex), .text(d.uppercased()), .text(upperHex)]
    }
}
