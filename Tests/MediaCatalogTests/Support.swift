import Foundation
import Testing
import TestSupport
@testable import MediaCatalog

/// A fresh folder per test; removed by `remove()`.
struct Scratch {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("medialib-catalog-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    var path: String { url.path }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    func remove() { removeTestFolder(path) }

    /// A new catalog in this folder.
    func catalog(_ name: String = "cat.sqlite") throws -> SQLiteCatalog {
        try SQLiteCatalog(path: path(name), access: .create)
    }
}

func row(id: Int64, uuid: String, raw: String?, processed: String?, createdAt: String = "2024-01-02T03:04:05.678Z") -> CatalogRow {
    [
        "id": .integer(id),
        "uuid": .text(uuid),
        "raw_file": raw.map(ColumnValue.text) ?? .null,
        "processed_file": processed.map(ColumnValue.text) ?? .null,
        "created_at": .text(createdAt),
    ]
}

/// A deterministic lowercase uuid for row `n`.
func fakeUUID(_ n: Int) -> String {
    String(format: "00000000-0000-4000-8000-%012x", n)
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
