// libFuzzer target: serve's request path. The input is fed, as it arrived from a socket, to a
// connection's real handlers (request decoder, connection handler, responder) in an
// EmbeddedChannel over a small library; whatever comes back must be HTTP responses, and the
// connection must survive or close, never trap.

import Foundation
import MediaCatalog
import MediaFiles
import MediaServer
import Maintenance
import NIOCore
import NIOEmbedded

/// A catalog of two records over two small files, made once per process.
let library: (OpenCatalog, MediaRoot) = {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("medialib-fuzz-\(getpid())").path
    try? FileManager.default.createDirectory(atPath: folder + "/media", withIntermediateDirectories: true)
    var bytes = [UInt8](repeating: 0, count: 70_000)
    for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 131) }
    _ = FileManager.default.createFile(atPath: folder + "/media/a.mp4", contents: Data(bytes))
    _ = FileManager.default.createFile(atPath: folder + "/media/b.webm", contents: Data(bytes.prefix(10)))
    _ = FileManager.default.createFile(atPath: folder + "/media/c.webm", contents: Data(bytes.prefix(20_000)))
    do {
        let catalog = try CatalogOpener.open(CatalogOptions(location: folder + "/cat.sqlite", access: .create))
        let root = RawPath(folder + "/media")
        let registration = Registration(catalog: catalog, explicitRoot: root)
        if try catalog.records.count() == 0 {
            _ = try registration.add(raw: root.appending("a.mp4"), processed: root.appending("c.webm"), uuid: "c6e4a9de-7a9f-5c29-b089-a0e46887e9fe")
            _ = try registration.add(raw: root.appending("b.webm"), processed: nil, uuid: nil)
        }
        return (catalog, MediaRoot(root))
    } catch {
        fatalError("fuzz setup: \(error)")
    }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequest(_ data: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
    let (catalog, root) = library
    var configuration = ServerConfiguration()
    configuration.corsOrigins = ["http://app.example"]
    let channel = EmbeddedChannel()
    do {
        try channel.pipeline.syncOperations.addHandlers(ConnectionHandlers.make(catalog: catalog, mediaRoot: root,
                                                                                   configuration: configuration, log: { _ in }))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        // Two deliveries: a request may arrive in pieces.
        let cut = count / 2
        for piece in [UnsafeBufferPointer(start: data, count: cut), UnsafeBufferPointer(start: data + cut, count: count - cut)] {
            guard channel.isActive else { break }
            try channel.writeInbound(ByteBuffer(bytes: piece))
            channel.embeddedEventLoop.run()
        }
        var written = 0
        while let out = try channel.readOutbound(as: IOData.self) {
            switch out {
            case .byteBuffer(let b):
                if written == 0 { precondition(b.readableBytesView.starts(with: "HTTP/1.".utf8), "output does not start with a status line") }
                written += b.readableBytes
            case .fileRegion(let r):
                precondition(r.readableBytes >= 0 && r.endIndex <= 70_000, "a file region past the file")
                written += r.readableBytes
            }
        }
        if channel.isActive { _ = try? channel.finish() }
    } catch {
        _ = try? channel.finish()
    }
    return 0
}

// SwiftPM links an executable's entry as FuzzRequest_main; hand it to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32) -> Int32

@_cdecl("FuzzRequest_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzRequest(data, size) }
}
