// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "FirstFrame",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "FirstFrame", targets: ["FirstFrame"]),
        .library(name: "FirstFrameOrigin", targets: ["FirstFrameOrigin"]),
        .executable(name: "firstframe", targets: ["firstframe"]),
    ],
    dependencies: [
        // The loopback origin's HTTP server.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        // The CLI.
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        // Libraries accept a Logger and never bootstrap the logging system.
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CFFmpeg",
            pkgConfig: "libavformat",
            providers: [
                .apt(["libavformat-dev", "libavcodec-dev", "libavutil-dev", "pkg-config"]),
                .brew(["ffmpeg"]),
            ]
        ),
        // Interposes libc's getaddrinfo/connect/send/recv/close for FFmpeg: network events and the DNS cache.
        .target(
            name: "CNetworkHooks",
            linkerSettings: [
                .linkedLibrary("resolv", .when(platforms: [.linux])),
                .linkedLibrary("dl", .when(platforms: [.linux])),
                // Linking gnutls (already loaded by libavformat) exports our gnutls_handshake, so it interposes.
                .linkedLibrary(":libgnutls.so.30", .when(platforms: [.linux])),
            ]
        ),
        .target(
            name: "FirstFrame",
            dependencies: [
                "CFFmpeg",
                "CNetworkHooks",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "FirstFrameOrigin",
            dependencies: [
                "CFFmpeg",
                "FirstFrame",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "firstframe",
            dependencies: [
                "FirstFrame",
                "FirstFrameOrigin",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "time-an-open",
            dependencies: ["FirstFrame"],
            path: "Examples/TimeAnOpen"
        ),
        .executableTarget(
            name: "trace-your-open",
            dependencies: ["FirstFrame", "CFFmpeg"],
            path: "Examples/TraceYourOpen"
        ),
        .testTarget(
            name: "FirstFrameTests",
            dependencies: ["FirstFrame", "CFFmpeg", "CNetworkHooks"]
        ),
        .testTarget(
            name: "FirstFrameOriginTests",
            dependencies: [
                "FirstFrameOrigin",
                "FirstFrame",
                "CFFmpeg",
                "CNetworkHooks",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
    ]
)
