// swift-tools-version:6.2
import PackageDescription

// OTLP export of FirstFrame's spans and metrics through swift-otel, in a package of its own: swift-otel (with only
// its OTLP/HTTP trait) brings swift-protobuf, async-http-client and swift-nio-ssl, which take longer to build than
// all of FirstFrame. Built and tested in CI by `make otlp-example`.
let package = Package(
    name: "OTLPExport",
    platforms: [.macOS("15.0")],
    dependencies: [
        // The repository root, whatever its directory is called.
        .package(name: "FirstFrame", path: "../.."),
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "firstframe-otlp",
            dependencies: [
                .product(name: "FirstFrame", package: "FirstFrame"),
                // ReportRendering.jsonLine: each report printed as one JSON line.
                .product(name: "FirstFrameRendering", package: "FirstFrame"),
                // FFmpegLog: FFmpeg's own lines routed to swift-log.
                .product(name: "FirstFrameFFmpeg", package: "FirstFrame"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "OTLPExportTests",
            dependencies: [
                .product(name: "FirstFrameOrigin", package: "FirstFrame"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
    ]
)
