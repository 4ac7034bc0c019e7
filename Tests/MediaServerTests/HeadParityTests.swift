// HEAD answers with exactly the header fields GET would send (Date aside), and no body.

import Testing
import TestSupport

struct HeadCase: Sendable, CustomTestStringConvertible {
    let name: String
    let target: String
    let headers: [(String, String)]
    var testDescription: String { name }
}

let headCases: [HeadCase] = [
    HeadCase(name: "whole file", target: "/api/media/videos/{id:big}/", headers: []),
    HeadCase(name: "processed by uuid", target: "/api/media/videos/{uuid:both}", headers: []),
    HeadCase(name: "raw", target: "/api/media/videos/{id:both}/?type=raw", headers: []),
    HeadCase(name: "single range", target: "/api/media/videos/{id:big}/", headers: [("Range", "bytes=100-")]),
    HeadCase(name: "suffix range", target: "/api/media/videos/{id:big}/", headers: [("Range", "bytes=-7")]),
    HeadCase(name: "multipart", target: "/api/media/videos/{id:big}/", headers: [("Range", "bytes=0-1,10-11,20-21")]),
    HeadCase(name: "416", target: "/api/media/videos/{id:big}/", headers: [("Range", "bytes=-0")]),
    HeadCase(name: "304", target: "/api/media/videos/{id:big}/", headers: [("If-None-Match", "*")]),
    HeadCase(name: "412", target: "/api/media/videos/{id:big}/", headers: [("If-Match", "\"x\"")]),
    HeadCase(name: "404", target: "/api/media/videos/{id:missing}/", headers: []),
    HeadCase(name: "400", target: "/api/media/videos/x/", headers: []),
    HeadCase(name: "empty file", target: "/api/media/videos/{id:empty}/", headers: [("Range", "bytes=0-")]),
    HeadCase(name: "non-ASCII name", target: "/api/media/videos/{id:nonascii}/", headers: []),
    HeadCase(name: "allowed origin", target: "/api/media/videos/{id:webm}/", headers: [("Origin", allowedOrigin), ("Range", "bytes=5-9")]),
    HeadCase(name: "list", target: "/api/media/videos/", headers: []),
    HeadCase(name: "health", target: "/healthz", headers: []),
]

@Suite("HEAD parity")
struct HeadParityTests {
    @Test(arguments: headCases)
    func headMatchesGet(_ c: HeadCase) async throws {
        let (lib, server) = try await startServer()
        defer { server.stop() }
        let target = try expand(c.target, lib)

        // Both on one connection, HEAD first: a stray HEAD body would corrupt the GET that follows.
        let (head, get) = try await io {
            let connection = try server.connect()
            defer { connection.close() }
            return (try connection.exchange("HEAD", target, headers: c.headers),
                    try connection.exchange("GET", target, headers: c.headers))
        }

        #expect(head.body.isEmpty)
        #expect(head.status == get.status)
        #expect(head.header("Date") != nil)
        func comparable(_ r: HTTPResponse) -> [String] {
            r.headers.compactMap { field -> String? in
                let name = field.name.lowercased()
                if name == "date" { return nil }
                // The multipart boundary is random per response.
                if name == "content-type", field.value.hasPrefix("multipart/byteranges") { return "content-type: multipart/byteranges" }
                return "\(name): \(field.value)"
            }
        }
        #expect(comparable(head) == comparable(get))
        if ![204, 304].contains(get.status) {
            #expect(head.header("Content-Length") == String(get.body.count))
        }
        for name in ["Content-Length", "Content-Range", "ETag", "Last-Modified", "Accept-Ranges"] {
            #expect(head.header(name) == get.header(name), "\(name)")
        }
    }
}
