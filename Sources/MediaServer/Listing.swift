import Foundation
import Maintenance
import MediaCatalog
import MediaFiles
import NIOCore

/// The JSON the operator's page reads: one page of records with their cached health, and
/// the library's summary. Runs on the thread pool: it stats files and reads the probe cache.
struct Listing {
    let responder: Responder

    var health: LibraryHealth {
        LibraryHealth(records: responder.catalog.records, state: responder.catalog.state, root: responder.mediaRoot)
    }

    func page(_ q: Route.ListQuery) -> Response {
        let filter = LibraryHealth.Filter(status: q.status.flatMap(LibraryHealth.Status.init(rawValue:)), code: q.code, query: q.q)
        do {
            let (items, next) = try health.page(after: q.after, limit: q.limit, filter: filter)
            var out = "{\"records\":["
            for (i, h) in items.enumerated() {
                if i > 0 { out += "," }
                out += Self.record(h)
            }
            out += "],\"next\":\(next.map(String.init) ?? "null")}"
            return .json(200, out)
        } catch {
            return .error(503, "catalog unavailable: \(error)", headers: [("Retry-After", "1")])
        }
    }

    func summary() -> Response {
        do {
            let s = try health.summary()
            let status = LibraryHealth.Status.allCases.map { "\(JSON.string($0.rawValue)):\(s.status[$0] ?? 0)" }.joined(separator: ",")
            let codes = s.codes.sorted { $0.key < $1.key }.map { "\(JSON.string($0.key)):\($0.value)" }.joined(separator: ",")
            return .json(200, "{\"records\":\(s.records),\"status\":{\(status)},\"codes\":{\(codes)}}")
        } catch {
            return .error(503, "catalog unavailable: \(error)", headers: [("Retry-After", "1")])
        }
    }

    static func record(_ h: LibraryHealth.RecordHealth) -> String {
        let recordFindings = h.findings.filter { $0.file == nil }
        var fields = [
            "\"id\":\(h.record.id)",
            "\"uuid\":\(JSON.string(h.record.uuid))",
            "\"status\":\(JSON.string(h.status.rawValue))",
            "\"codes\":[\(h.codes.map(JSON.string).joined(separator: ","))]",
            "\"findings\":[\(recordFindings.map(finding).joined(separator: ","))]",
        ]
        fields.append("\"files\":[" + h.files.map { file($0, h.record) }.joined(separator: ",") + "]")
        return "{" + fields.joined(separator: ",") + "}"
    }

    static func file(_ f: LibraryHealth.FileHealth, _ record: VideoRecord) -> String {
        let p = f.facts?.probe
        func num<T>(_ v: T?) -> String { v.map { "\($0)" } ?? "null" }
        var fields = [
            "\"kind\":\(JSON.string(f.kind.rawValue))",
            "\"role\":\(JSON.string(f.role.rawValue))",
            // Exact when the name is UTF-8 (as the CLI's JSON); else escaped, with the bytes in base64.
            "\"path\":\(JSON.string(f.stored.string ?? f.stored.displayed))",
        ]
        if f.stored.string == nil { fields.append("\"path_base64\":\(JSON.string(Data(f.stored.bytes).base64EncodedString()))") }
        fields += [
            "\"url\":\(JSON.string("/api/media/videos/\(record.id)/?type=\(f.kind.rawValue)"))",
            "\"exists\":\(f.exists)",
            "\"size\":\(num(f.size))",
            "\"checked\":\(f.checked)",
            "\"frames\":\(num(p?.frameCount))",
            "\"duration\":\(p?.duration.map { $0.isFinite ? String($0) : "null" } ?? "null")",
            "\"codec\":\(p.map { JSON.string($0.videoCodec) } ?? "null")",
            "\"container\":\(p.map { JSON.string($0.container) } ?? "null")",
            "\"width\":\(num(p?.width))",
            "\"height\":\(num(p?.height))",
            "\"findings\":[\(f.findings.map(finding).joined(separator: ","))]",
        ]
        return "{" + fields.joined(separator: ",") + "}"
    }

    static func finding(_ f: Finding) -> String {
        "{\"code\":\(JSON.string(f.code.rawValue)),\"severity\":\(JSON.string(f.severity.rawValue)),\"message\":\(JSON.string(f.message))}"
    }
}
