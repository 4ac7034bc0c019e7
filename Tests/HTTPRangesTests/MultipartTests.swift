import Testing
@testable import HTTPRanges

private func r(_ first: Int64, _ last: Int64) -> ByteRange { ByteRange(first: first, last: last) }

/// What a server would write: each part header, the slice, then the trailer.
private func assemble(_ m: MultipartByteranges, from file: [UInt8]) -> [UInt8] {
    var body: [UInt8] = []
    for part in m.parts {
        body += part.header
        body += file[Int(part.range.first)...Int(part.range.last)]
    }
    return body + m.trailer
}

@Test func multipartExactBytes() {
    let file = Array("0123456789abcdefghij".utf8)
    let m = MultipartByteranges(ranges: [r(0, 1), r(10, 12)], size: 20, contentType: "video/mp4", boundary: "XYZ")
    let expected = "\r\n--XYZ\r\nContent-Type: video/mp4\r\nContent-Range: bytes 0-1/20\r\n\r\n01"
        + "\r\n--XYZ\r\nContent-Type: video/mp4\r\nContent-Range: bytes 10-12/20\r\n\r\nabc"
        + "\r\n--XYZ--\r\n"
    let body = assemble(m, from: file)
    #expect(String(decoding: body, as: UTF8.self) == expected)
    #expect(m.contentLength == Int64(body.count))
    #expect(m.contentType == "multipart/byteranges; boundary=XYZ")
    #expect(m.boundary == "XYZ")
    #expect(m.parts.map(\.range) == [r(0, 1), r(10, 12)])
    #expect(m.trailer == Array("\r\n--XYZ--\r\n".utf8))
}

@Test(arguments: [
    "bytes=0-0,-1",
    "bytes=0-9,100-199,4000-",
    "bytes=1-1,3-3,5-5,7-7,9-9",
    "bytes=-500,0-499,1000-1999,2500-2600",
    "bytes=123-4095,4097-",
])
func multipartLengthMatchesConcatenation(_ header: String) throws {
    let size: Int64 = 4096
    let file = (0..<Int(size)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
    guard case let .ranges(ranges) = evaluateRange(header, size: size) else {
        Issue.record("expected ranges for \(header)")
        return
    }
    let m = MultipartByteranges(ranges: ranges, size: size, contentType: "video/webm", boundary: makeBoundary())
    let body = assemble(m, from: file)
    #expect(m.contentLength == Int64(body.count))
    // Every part's payload sits right after its header.
    var offset = 0
    for part in m.parts {
        offset += part.header.count
        #expect(Array(body[offset..<offset + Int(part.range.length)]) == Array(file[Int(part.range.first)...Int(part.range.last)]))
        offset += Int(part.range.length)
    }
    #expect(Array(body[offset...]) == m.trailer)
}

@Test func boundaryShape() {
    let a = makeBoundary()
    let b = makeBoundary()
    #expect(a.utf8.count == 24)
    #expect(a.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
    #expect(a != b)
    var g1 = SplitMix64(state: 7)
    var g2 = SplitMix64(state: 7)
    #expect(makeBoundary(using: &g1) == makeBoundary(using: &g2))
}

enum PlanKind: Equatable { case full, single(ByteRange), multipart(Int), unsatisfiable }

private func kind(_ p: RangeResponsePlan) -> PlanKind {
    switch p {
    case .full: return .full
    case let .single(r): return .single(r)
    case let .multipart(m): return .multipart(m.parts.count)
    case .unsatisfiable: return .unsatisfiable
    }
}

struct PlanCase: Sendable, CustomTestStringConvertible {
    let request: RangeRequest
    let size: Int64
    let expected: PlanKind
    var testDescription: String { "\(request) size=\(size)" }
}

extension PlanKind: Sendable {}

@Test(arguments: [
    PlanCase(request: .ignored, size: 1000, expected: .full),
    PlanCase(request: .unsatisfiable, size: 1000, expected: .unsatisfiable),
    PlanCase(request: .ranges([r(0, 99)]), size: 1000, expected: .single(r(0, 99))),
    PlanCase(request: .ranges([r(0, 999)]), size: 1000, expected: .single(r(0, 999))),
    PlanCase(request: .ranges([r(0, 9), r(500, 509)]), size: 100_000, expected: .multipart(2)),
    // ~100 bytes framing per part outweighs 2 bytes of payload: whole file is cheaper.
    PlanCase(request: .ranges([r(0, 0), r(2, 2)]), size: 100, expected: .full),
    PlanCase(request: .ranges((0..<30).map { r(Int64($0) * 10, Int64($0) * 10) }), size: 1000, expected: .full),
    PlanCase(request: .ranges([r(0, 10), r(990, 999)]), size: 1000, expected: .multipart(2)),
])
func rangeResponsePlan(_ c: PlanCase) {
    let plan = chooseRangeResponse(c.request, size: c.size, contentType: "video/mp4", boundary: "0123456789abcdef01234567")
    #expect(kind(plan) == c.expected)
    if case let .multipart(m) = plan { #expect(m.contentLength < c.size) }
}
