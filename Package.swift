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
        .package(url: "https://github.com/vapor/postgres-nio", exact: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", exact: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
    ],
    targets: [
        // libavformat/libavcodec/libavutil's headers, the libraries loaded with dlopen when a
        // command first probes (serve never does), plus the macros Swift cannot import.
        .target(name: "CFFmpeg", linkerSettings: [.linkedLibrary("dl")]),
        // The system SQLite, used directly: every value is read as the bytes it holds.
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        // Pure RFC 9110 range and conditional-request logic: no I/O.
        .target(name: "HTTPRanges"),
        // Paths as bytes, the media root, file identity: what every layer needs of the file system.
        .target(name: "MediaFiles"),
        // The one storage layer; nothing else writes SQL.
        .target(name: "MediaCatalog", dependencies: ["MediaFiles", "CSQLite"],
                resources: [.embedInCode("Profiles/endoreg-db.json")]),
        // The storage layer's PostgreSQL backend, a module of its own so that only the CLI and
        // its tests build postgres-nio (and its TLS stack); it plugs into CatalogOpener.
        .target(name: "MediaCatalogPostgres", dependencies: [
            "MediaCatalog", "MediaFiles",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .target(name: "MediaProbe", dependencies: ["MediaFiles", "CFFmpeg"]),
        .target(name: "Maintenance", dependencies: ["MediaCatalog", "MediaProbe", "MediaFiles"]),
        .target(name: "MediaServer", dependencies: [
            "HTTPRanges", "MediaCatalog", "MediaFiles", "Maintenance",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ], resources: [
            .embedInCode("Page/index.html"), .embedInCode("Page/app.css"), .embedInCode("Page/app.js"),
        ]),
        .executableTarget(name: "medialib", dependencies: [
            "Maintenance", "MediaServer", "MediaCatalog", "MediaCatalogPostgres", "MediaProbe", "MediaFiles",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Locating the package, its fixtures and the built CLI, scratch folders, a seeded RNG,
        // shared by the test targets.
        .target(name: "TestSupport", dependencies: ["MediaFiles"], path: "Tests/TestSupport"),
        .testTarget(name: "HTTPRangesTests", dependencies: ["HTTPRanges"]),
        .testTarget(name: "MediaFilesTests", dependencies: ["TestSupport", "MediaFiles"]),
        .testTarget(name: "MediaCatalogTests", dependencies: ["TestSupport", "MediaCatalog", "MediaCatalogPostgres", "MediaFiles"]),
        .testTarget(name: "MediaProbeTests", dependencies: ["TestSupport", "MediaProbe", "MediaFiles"]),
        .testTarget(name: "MaintenanceTests", dependencies: ["TestSupport", "Maintenance", "MediaCatalog", "MediaProbe", "MediaFiles", "MediaServer"]),
        .testTarget(name: "MediaServerTests", dependencies: ["TestSupport", "MediaServer", "MediaCatalog", "MediaFiles", "HTTPRanges"]),
        // Resources/ holds C sources the tests compile themselves (an LD_PRELOAD fault injector).
        .testTarget(name: "EndToEndTests", dependencies: ["TestSupport", "MediaCatalog", "MediaFiles"], exclude: ["Resources"]),
    ],
    swiftLanguageModes: [.v6]
)

// libFuzzer targets (`make fuzz`), only in a build made with MEDIALIB_FUZZ=1 and
// `-sanitize=fuzzer,address`: libFuzzer supplies their main, which no other build has.
if Context.environment["MEDIALIB_FUZZ"] != nil {
    // -parse-as-library: no Swift main, so libFuzzer's is the program's.
    let fuzzer: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]
    package.targets += [
        .executableTarget(name: "FuzzRanges", dependencies: ["HTTPRanges"], path: "Fuzz/FuzzRanges", swiftSettings: fuzzer),
        .executableTarget(name: "FuzzMP4", dependencies: ["MediaProbe"], path: "Fuzz/FuzzMP4", swiftSettings: fuzzer),
        .executableTarget(name: "FuzzJournal", dependencies: ["Maintenance"], path: "Fuzz/FuzzJournal", swiftSettings: fuzzer),
        .executableTarget(name: "FuzzRequest", dependencies: [
            "MediaServer", "MediaCatalog", "MediaFiles", "Maintenance",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
        ], path: "Fuzz/FuzzRequest", swiftSettings: fuzzer),
    ]
}
