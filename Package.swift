// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "medialib",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "medialib", targets: ["medialib"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", exact: "2.101.2"),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
    ],
    targets: [
        // libavformat/libavcodec/libavutil plus a shim for the macros Swift cannot import.
        .systemLibrary(
            name: "CFFmpeg",
            pkgConfig: "libavformat",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libavutil-dev"])]
        ),
        // Pure RFC 9110 range and conditional-request logic: no I/O.
        .target(name: "HTTPRanges"),
        // The one storage layer; nothing else writes SQL.
        .target(name: "MediaCatalog", dependencies: [
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "GRDBSQLite", package: "GRDB.swift"),
        ]),
        .target(name: "MediaProbe", dependencies: ["CFFmpeg"]),
        .target(name: "Maintenance", dependencies: ["MediaCatalog", "MediaProbe"]),
        .target(name: "MediaServer", dependencies: [
            "HTTPRanges", "MediaCatalog",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .executableTarget(name: "medialib", dependencies: [
            "Maintenance", "MediaServer", "MediaCatalog", "MediaProbe",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Locating the package, its fixtures and the built CLI, shared by the test targets.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "HTTPRangesTests", dependencies: ["HTTPRanges"]),
        .testTarget(name: "MediaCatalogTests", dependencies: ["TestSupport", "MediaCatalog"]),
        .testTarget(name: "MediaProbeTests", dependencies: ["TestSupport", "MediaProbe"]),
        .testTarget(name: "MaintenanceTests", dependencies: ["TestSupport", "Maintenance", "MediaCatalog", "MediaProbe"]),
        .testTarget(name: "MediaServerTests", dependencies: ["TestSupport", "MediaServer", "MediaCatalog", "HTTPRanges"]),
        // Resources/ holds C sources the tests compile themselves (an LD_PRELOAD fault injector).
        .testTarget(name: "EndToEndTests", dependencies: ["TestSupport", "MediaCatalog"], exclude: ["Resources"]),
        .testTarget(name: "VerifyTests", dependencies: ["TestSupport", "Maintenance", "MediaCatalog", "MediaProbe", "MediaServer"]),
    ],
    swiftLanguageModes: [.v6]
)
