import Foundation
import Testing
import TestSupport
import MediaFiles
@testable import MediaCatalog

extension Scratch {
    /// medialib's own catalog in this folder.
    func catalog(_ name: String = "cat.sqlite", access: CatalogAccess = .create) throws -> OpenCatalog {
        try CatalogOpener.open(CatalogOptions(location: path(name), access: access))
    }
}

extension OpenCatalog {
    var sqlite: SQLiteRecordStore {
        get throws {
            guard let s = records as? SQLiteRecordStore else { throw HarnessError("not a SQLite store") }
            return s
        }
    }
}

/// A deterministic lowercase uuid for row `n`.
func fakeUUID(_ n: Int) -> String { String(format: "00000000-0000-4000-8000-%012x", n) }

func row(id: Int64, uuid: String, raw: ColumnValue, processed: ColumnValue, createdAt: String = "2024-01-02T03:04:05.678Z") -> CatalogRow {
    ["id": .integer(id), "uuid": .text(uuid), "raw_file": raw, "processed_file": processed, "created_at": .text(createdAt)]
}

struct Marker: Error, Equatable {}

/// The catalog error a throwing call raised, or nil.
func catalogError(_ body: () throws -> Void) -> CatalogError? {
    do { try body() } catch let e as CatalogError { return e } catch {
        Issue.record("expected a CatalogError, got \(error)")
        return nil
    }
    return nil
}

/// Runs raw SQL on a SQLite file, as another program would (the tests' way to be that program).
func rawSQL(_ path: String, _ sql: String, _ bindings: [ColumnValue] = []) throws {
    let c = try SQLiteConnection(path: RawPath(path), mode: .readWrite)
    try c.run(sql, bindings)
}

/// A journal that records what a deletion hands it, and can throw at a chosen step.
final class RecordingJournal: DeletionJournal {
    var changes: [RowChange] = []
    var sealed = false
    var throwOnWrite = false
    var throwOnSeal = false
    var onSeal: () throws -> Void = {}

    func write(_ change: RowChange) throws {
        if throwOnWrite { throw Marker() }
        changes.append(change)
    }

    func sealBeforeCommit() throws {
        try onSeal()
        if throwOnSeal { throw Marker() }
        sealed = true
    }
}
