// libFuzzer target: the MP4 box reader (is moov before mdat?) over arbitrary bytes.

import MediaProbe

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMP4(_ data: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
    _ = MP4Boxes.moovBeforeMdat(bytes: Array(UnsafeBufferPointer(start: data, count: count)))
    return 0
}

// SwiftPM links an executable's entry as FuzzMP4_main; hand it to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32) -> Int32

@_cdecl("FuzzMP4_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzMP4(data, size) }
}
