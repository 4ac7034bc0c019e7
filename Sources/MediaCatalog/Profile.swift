import Foundation

/// How an application's database holds its videos, and what the application's own delete of
/// a video removes: data, not code, so another app's schema is a file away (`--schema-file`).
public struct SchemaProfile: Sendable, Equatable, Codable {
    public var profile: Int
    public var name: String
    public var description: String?
    public var video: VideoTable
    public var relations: [Relation]

    public struct VideoTable: Sendable, Equatable, Codable {
        public var table: String
        public var id: String
        public var uuid: String?
        public var files: [FileColumn]
        public var frame_count: String?
        public var storage_mode: StorageMode?
        public var frame_dir: String?
        public var created_at: String?
    }

    public struct FileColumn: Sendable, Equatable, Codable {
        public var kind: FileKind
        public var column: String
        public var streamable: String?
    }

    public struct StorageMode: Sendable, Equatable, Codable {
        public var column: String
        public var encrypted: [String]
    }

    public enum OnDelete: String, Sendable, Codable {
        case cascade, set_null, protect, restrict, set_default, do_nothing
    }

    /// A foreign key into the video table or into a table its deletion cascades into.
    public struct Relation: Sendable, Equatable, Codable {
        public var table: String
        public var column: String
        public var references: String
        public var to_column: String?
        public var on_delete: OnDelete
        public var model: String?
        public var releases: [String]?
        /// For set_default.
        public var `default`: ColumnValue?

        public init(table: String, column: String, references: String, to_column: String? = nil,
                    on_delete: OnDelete, model: String? = nil) {
            self.table = table
            self.column = column
            self.references = references
            self.to_column = to_column
            self.on_delete = on_delete
            self.model = model
        }
    }

    /// medialib's own catalog: one table, nothing depends on it.
    public static let medialib = SchemaProfile(
        profile: 1, name: "medialib", description: "medialib's own catalog",
        video: VideoTable(table: "videos", id: "id", uuid: "uuid",
                          files: [FileColumn(kind: .raw, column: "raw_file", streamable: nil),
                                  FileColumn(kind: .processed, column: "processed_file", streamable: nil)],
                          frame_count: nil, storage_mode: nil, frame_dir: nil, created_at: "created_at"),
        relations: [])

    /// endoreg-db (Django), compiled in from Profiles/endoreg-db.json.
    public static let endoregDB: SchemaProfile? = try? decode(PackageResources.endoreg_db_json)

    public static func builtIn(_ name: String) -> SchemaProfile? {
        switch name {
        case "medialib": medialib
        case "endoreg-db": endoregDB
        default: nil
        }
    }

    /// Parses and checks a profile (a user's file is untrusted input: every identifier is
    /// checked before it goes near SQL).
    public static func decode(_ bytes: [UInt8]) throws -> SchemaProfile {
        let profile: SchemaProfile
        do {
            profile = try JSONDecoder().decode(SchemaProfile.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw ProfileError.invalid(Self.describe(error))
        } catch {
            throw ProfileError.invalid("\(error)")
        }
        try profile.validate()
        return profile
    }

    func validate() throws {
        guard profile == 1 else { throw ProfileError.invalid("\"profile\" must be 1 (this medialib reads profile format 1)") }
        guard !name.isEmpty else { throw ProfileError.invalid("\"name\" is empty") }
        var names = [video.table, video.id] + video.files.map(\.column) + video.files.compactMap(\.streamable)
        names += [video.uuid, video.frame_count, video.frame_dir, video.created_at, video.storage_mode?.column].compactMap { $0 }
        for r in relations { names += [r.table, r.column, r.references] + (r.to_column.map { [$0] } ?? []) }
        for n in names where !Self.isIdentifier(n) {
            throw ProfileError.invalid("\"\(n)\" is not a table or column name (letters, digits, _ and $ only, not starting with a digit)")
        }
        guard !video.files.isEmpty else { throw ProfileError.invalid("video.files names no file column") }
        if Set(video.files.map(\.kind)).count != video.files.count {
            throw ProfileError.invalid("video.files names a kind twice")
        }
    }

    static func isIdentifier(_ s: String) -> Bool {
        guard let first = s.utf8.first, s.utf8.count <= 128, !(first >= 0x30 && first <= 0x39) else { return false }
        return s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F || $0 == 0x24 }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ c: DecodingError.Context) -> String {
            c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        }
        switch error {
        case .keyNotFound(let key, let c): return "missing \"\(key.stringValue)\" at \(path(c).isEmpty ? "the top level" : path(c))"
        case .typeMismatch(_, let c), .valueNotFound(_, let c): return "wrong type at \(path(c)): \(c.debugDescription)"
        case .dataCorrupted(let c): return c.codingPath.isEmpty ? "not JSON: \(c.underlyingError.map { "\($0)" } ?? c.debugDescription)" : "bad value at \(path(c)): \(c.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}

public enum ProfileError: Error, Sendable, CustomStringConvertible {
    case invalid(String)
    public var description: String {
        switch self {
        case .invalid(let m): "invalid schema profile: \(m)"
        }
    }
}

/// Double-quoted SQL identifier (profiles are validated, this is belt and braces).
package func quoted(_ identifier: String) -> String {
    "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}
