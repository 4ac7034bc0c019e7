// libFuzzer target: the journal reader restore uses (versions 1 and 2). A journal is input
// written by another program: it may be edited, cut short or made of noise.

import Maintenance

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJournal(_ data: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
    if let journal = try? Journal.decode(Array(UnsafeBufferPointer(start: data, count: count))) {
        _ = journal.moves.count
        _ = journal.committed
    }
    return 0
}

// SwiftPM links an executable's entry as FuzzJournal_main; hand it to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32) -> Int32

@_cdecl("FuzzJournal_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzJournal(data, size) }
}
