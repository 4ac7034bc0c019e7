// libFuzzer target: the range and conditional-request parsers (HTTPRanges). The input is
// split at newlines into a size and header values; every outcome must keep the invariants
// the server relies on, else the target traps and libFuzzer keeps the input.

import HTTPRanges

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRanges(_ data: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: count), as: UTF8.self)
    let fields = text.split(separator: "\n", maxSplits: 6, omittingEmptySubsequences: false).map(String.init)
    func field(_ i: Int) -> String? { i < fields.count && !fields[i].isEmpty ? fields[i] : nil }
    let size = Int64(fields.first.map { $0.utf8.reduce(0) { ($0 &* 31 &+ Int($1)) & 0xFFFF_FFFF } } ?? 0)
    let range = field(1)

    switch evaluateRange(range, size: size) {
    case .ignored, .unsatisfiable:
        break
    case .ranges(let list):
        precondition(!list.isEmpty, "an empty range list")
        var previousEnd: Int64 = -2
        for r in list {
            precondition(r.first >= 0 && r.first <= r.last && r.last < size, "range \(r) outside a \(size)-byte file")
            precondition(r.first > previousEnd + 1, "ranges not sorted and merged")
            previousEnd = r.last
        }
        switch chooseRangeResponse(.ranges(list), size: size, contentType: "video/mp4", boundary: "b0undary") {
        case .single(let r): precondition(list.count == 1 && r == list[0])
        case .multipart(let m):
            precondition(m.parts.count == list.count)
            let total = m.parts.reduce(Int64(m.trailer.count)) { $0 + Int64($1.header.count) + $1.range.length }
            precondition(total == m.contentLength, "multipart Content-Length \(m.contentLength) is not \(total)")
        case .full, .unsatisfiable: break
        }
    }

    let etag = EntityTag.forFile(size: size, mtimeSeconds: 1_700_000_000, mtimeNanoseconds: 5, inode: 42)
    let conditions = RequestConditions(method: field(6) == nil ? "GET" : "HEAD", hasRange: range != nil,
                                       ifMatch: field(2), ifNoneMatch: field(3), ifModifiedSince: field(4),
                                       ifUnmodifiedSince: field(5), ifRange: field(6))
    _ = evaluateConditions(conditions, ResourceValidators(etag: etag, lastModified: 1_700_000_000))
    if let t = field(2) { _ = EntityTag.parse(t); _ = EntityTagList.parse(t) }
    if let d = field(4), let seconds = HTTPDate.parse(d) { _ = HTTPDate.format(seconds) }
    return 0
}

// SwiftPM links an executable's entry as FuzzRanges_main; hand it to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32) -> Int32

@_cdecl("FuzzRanges_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzRanges(data, size) }
}
