// swift-tools-version:6.0
import Foundation
import PackageDescription

// The layers, bottom up (each only sees the ones below it):
//
//   CFFmpeg, CNetworkHooks (+ CGnuTLS)   C: FFmpeg's headers; the interposed libc/gnutls calls
//   FirstFrameCore                       the clock, the deadline/cancel switch, dedicated threads
//   FirstFrameFFmpeg                     Swift over FFmpeg               (Core, CFFmpeg)
//   FirstFrameNetwork                    Swift over the hooks: trace, DNS (Core, CNetworkHooks) — no FFmpeg
//   FirstFrame                           the opener, knobs, reports      (FFmpeg + Network, re-exported)
//   FirstFrameRendering                  reports shown: terminal, HTML   (FirstFrame)
//   FirstFrameExporter                   the Prometheus exporter         (FirstFrame + Prometheus + SwiftNIO)
//   FirstFrameOrigin                     the loopback origin             (FFmpeg + SwiftNIO) — not the opener
//   FirstFrameBenchmarks                 every benchmark                 (FirstFrame + Origin + test-only C)
//   firstframe                           the CLI: ArgumentParser fronts to the libraries above
//
// FIRSTFRAME_NETWORK_ONLY=1 declares only the network layer and its tests: what `make tsan` builds under
// ThreadSanitizer without compiling FFmpeg wrappers or SwiftNIO.
let networkOnly = ProcessInfo.processInfo.environment["FIRSTFRAME_NETWORK_ONLY"] == "1"

// Libraries accept a Logger and never bootstrap the logging system.
let swiftLog = Package.Dependency.package(url: "https://github.com/apple/swift-log.git", from: "1.16.2")
let logging = Target.Dependency.product(name: "Logging", package: "swift-log")
// Telemetry through the global systems, which cost nothing until an application bootstraps them: metrics (the DNS
// cache's counters live in the network layer) and spans.
let swiftMetrics = Package.Dependency.package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0")
let metrics = Target.Dependency.product(name: "CoreMetrics", package: "swift-metrics")
let tracing = Target.Dependency.product(name: "Tracing", package: "swift-distributed-tracing")
// The loopback origin's HTTP server, the exporter's listener, and the benchmarks' load client.
let nio: [Target.Dependency] = [
    .product(name: "NIOCore", package: "swift-nio"),
    .product(name: "NIOPosix", package: "swift-nio"),
]

let lowerLayers: [Target] = [
    .systemLibrary(
        name: "CFFmpeg",
        pkgConfig: "libavformat",
        providers: [.apt(["libavformat-dev", "libavcodec-dev", "libavutil-dev", "pkg-config"])]
    ),
    // gnutls on the link line makes the executable export CNetworkHooks' gnutls_* definitions, so they
    // interpose the ones libavformat calls.
    .systemLibrary(name: "CGnuTLS", pkgConfig: "gnutls", providers: [.apt(["libgnutls28-dev"])]),
    // Interposes libc's getaddrinfo/connect/send/recv/close and gnutls' handshake/record calls for FFmpeg.
    .target(
        name: "CNetworkHooks",
        dependencies: ["CGnuTLS"],
        linkerSettings: [
            .linkedLibrary("resolv", .when(platforms: [.linux])),
            .linkedLibrary("dl", .when(platforms: [.linux])),
        ]
    ),
    // The hooks' symbols only tests and benchmarks call (leak counter, the real recv).
    .target(name: "CNetworkHooksTesting", dependencies: ["CNetworkHooks"]),
    .target(name: "FirstFrameCore", dependencies: [logging]),
    .testTarget(name: "FirstFrameCoreTests", dependencies: ["FirstFrameCore"]),
    .target(
        name: "FirstFrameNetwork",
        dependencies: ["FirstFrameCore", "CNetworkHooks", logging, metrics]
    ),
    .target(
        name: "FirstFrameTestSupport",
        dependencies: ["FirstFrameCore", "FirstFrameNetwork", "CNetworkHooksTesting", logging],
        path: "Tests/Support/FirstFrameTestSupport"
    ),
    .testTarget(
        name: "FirstFrameNetworkTests",
        dependencies: [
            "FirstFrameNetwork", "FirstFrameTestSupport", "CNetworkHooks", "CNetworkHooksTesting",
            .product(name: "MetricsTestKit", package: "swift-metrics"),
        ]
    ),
]

let upperLayers: [Target] = [
    // FFmpeg's own log lines go to swift-log (the logger of the open they belong to).
    .target(name: "FirstFrameFFmpeg", dependencies: ["FirstFrameCore", "CFFmpeg", logging]),
    .target(
        name: "FirstFrame",
        dependencies: [
            "FirstFrameCore", "FirstFrameFFmpeg", "FirstFrameNetwork", "CFFmpeg", logging, metrics, tracing,
        ]
    ),
    // The report page (HTML and SVG), the terminal waterfall and tables, JSON Lines, and the file writer behind them.
    .target(name: "FirstFrameRendering", dependencies: ["FirstFrame"]),
    // `firstframe exporter` as a library: the probes, the Prometheus text format, the HTTP listener, the schedule.
    .target(
        name: "FirstFrameExporter",
        dependencies: [
            "FirstFrame", logging,
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ] + nio
    ),
    .target(
        name: "FirstFrameOrigin",
        dependencies: [
            "FirstFrameCore", "FirstFrameFFmpeg", "CFFmpeg", logging,
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ] + nio
    ),
    // Every benchmark and what only benchmarks use (`firstframe bench …`, `firstframe load`): the only target, tests
    // aside, that links the hooks' test-only C (the real recv and getaddrinfo, next to the hooked ones).
    .target(
        name: "FirstFrameBenchmarks",
        dependencies: [
            "FirstFrame", "FirstFrameFFmpeg", "FirstFrameNetwork", "FirstFrameOrigin", "CFFmpeg", "CNetworkHooks",
            "CNetworkHooksTesting", logging,
        ] + nio
    ),
    // The CLI: ArgumentParser fronts to the libraries above (CNetworkHooksTesting only through the benchmarks).
    .executableTarget(
        name: "firstframe",
        dependencies: [
            "FirstFrame", "FirstFrameFFmpeg", "FirstFrameRendering", "FirstFrameExporter", "FirstFrameBenchmarks",
            "FirstFrameOrigin",
            "CFFmpeg", logging, .product(name: "ArgumentParser", package: "swift-argument-parser"),
            // `firstframe exporter` bootstraps swift-metrics with Prometheus' factory on the exporter's registry.
            .product(name: "Prometheus", package: "swift-prometheus"), metrics,
        ]
    ),
    .executableTarget(
        name: "time-an-open",
        dependencies: ["FirstFrame", "FirstFrameFFmpeg"],
        path: "Examples/TimeAnOpen"
    ),
    .executableTarget(
        name: "trace-your-open",
        dependencies: ["FirstFrame", "FirstFrameFFmpeg", "FirstFrameNetwork", "CFFmpeg"],
        path: "Examples/TraceYourOpen"
    ),
    .executableTarget(
        name: "player",
        dependencies: ["FirstFrame", "FirstFrameFFmpeg", "FirstFrameRendering", logging],
        path: "Examples/Player"
    ),
    .executableTarget(
        name: "recorder",
        dependencies: ["FirstFrame", "FirstFrameFFmpeg", logging],
        path: "Examples/Recorder"
    ),
    .executableTarget(
        name: "feed",
        dependencies: ["FirstFrame", "FirstFrameFFmpeg", logging],
        path: "Examples/Feed"
    ),
    .target(
        name: "OriginTestSupport",
        dependencies: ["FirstFrameOrigin", "FirstFrameTestSupport"],
        path: "Tests/Support/OriginTestSupport"
    ),
    .testTarget(name: "FirstFrameFFmpegTests", dependencies: ["FirstFrameFFmpeg", "CFFmpeg", "FirstFrameTestSupport"]),
    .testTarget(
        name: "FirstFrameOriginTests",
        dependencies: [
            "FirstFrameOrigin", "FirstFrameFFmpeg", "OriginTestSupport", "FirstFrameTestSupport", logging,
            // The origin's handlers, each alone in an EmbeddedChannel.
            .product(name: "NIOEmbedded", package: "swift-nio"),
        ] + nio
    ),
    // The exporter through its request handling, in-process (FirstFrameIntegrationTests also runs
    // `firstframe exporter`).
    .testTarget(
        name: "FirstFrameExporterTests",
        dependencies: [
            "FirstFrameExporter", "FirstFrameFFmpeg", "FirstFrame", "FirstFrameOrigin", "OriginTestSupport",
            "FirstFrameTestSupport",
        ]
    ),
    // Fast unit tests of the FirstFrame layer: pure logic, no server, no timing.
    .testTarget(
        name: "FirstFrameTests",
        dependencies: [
            "FirstFrame", "FirstFrameFFmpeg", "FirstFrameNetwork", "FirstFrameRendering", "FirstFrameTestSupport",
            "CFFmpeg", "CNetworkHooks",
            .product(name: "PropertyBased", package: "swift-property-based"),
        ]
    ),
    // The timed loopback suites: real FFmpeg against the origin, nginx, openssl, ffmpeg -listen, the CLI.
    .testTarget(
        name: "FirstFrameIntegrationTests",
        dependencies: [
            "FirstFrame", "FirstFrameCore", "FirstFrameFFmpeg", "FirstFrameNetwork", "FirstFrameRendering",
            "FirstFrameOrigin", "OriginTestSupport", "FirstFrameTestSupport",
            "CFFmpeg", "CNetworkHooks", "CNetworkHooksTesting",
            .product(name: "PropertyBased", package: "swift-property-based"),
            .product(name: "MetricsTestKit", package: "swift-metrics"),
            .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
        ]
    ),
]

let package = Package(
    name: "FirstFrame",
    products: networkOnly
        ? [.library(name: "FirstFrameNetwork", targets: ["FirstFrameNetwork"])]
        : [
            .library(name: "FirstFrame", targets: ["FirstFrame"]),
            // The layers under the opener, imported where their types are named (packets, decoders; DNS, trace).
            .library(name: "FirstFrameFFmpeg", targets: ["FirstFrameFFmpeg"]),
            .library(name: "FirstFrameNetwork", targets: ["FirstFrameNetwork"]),
            .library(name: "FirstFrameRendering", targets: ["FirstFrameRendering"]),
            .library(name: "FirstFrameExporter", targets: ["FirstFrameExporter"]),
            .library(name: "FirstFrameOrigin", targets: ["FirstFrameOrigin"]),
            .executable(name: "firstframe", targets: ["firstframe"]),
        ],
    dependencies: networkOnly
        ? [swiftLog, swiftMetrics]
        : [
            swiftLog, swiftMetrics,
            .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
            // The exporter's Prometheus text format (FirstFrameExporter, and the CLI's metrics bootstrap).
            .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
            .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
            // The CLI.
            .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
            // `make docs`: swift package generate-documentation.
            .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
            // Tests: random knob strings and URLs thrown at parsing and validation.
            .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        ],
    targets: networkOnly ? lowerLayers : lowerLayers + upperLayers
)
