import ArgumentParser
import FirstFrame
import FirstFrameFFmpeg
import FirstFrameRendering
import Foundation
import Logging
import OTel
import ServiceLifecycle

/// `firstframe-otlp URL --otlp-endpoint http://127.0.0.1:4318`: opens a stream once and sends the open's spans
/// (one per open, hop, connect attempt, TLS handshake, request and media stage) and metrics to an OTLP/HTTP
/// collector, then flushes and exits. The application bootstraps the telemetry systems; FirstFrame only emits
/// through them.
@main
struct FirstFrameOTLP: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "firstframe-otlp",
        abstract: "Open a stream and export the open's spans and metrics over OTLP/HTTP."
    )

    @Argument(help: "The stream to open.")
    var url: String

    @Option(help: "The OTLP/HTTP collector's base URL; spans go to /v1/traces and metrics to /v1/metrics under it.")
    var otlpEndpoint = "http://127.0.0.1:4318"

    @Option(help: "The preset to open with.")
    var preset = Preset.instant.rawValue

    @Option(help: "Opens to make.")
    var repeats = 1

    func run() async throws {
        FFmpegLog.level = .quiet
        var configuration = OTel.Configuration.default
        configuration.serviceName = "firstframe-otlp"
        configuration.logs.enabled = false
        configuration.traces.otlpExporter.endpoint = otlpEndpoint + "/v1/traces"
        configuration.traces.otlpExporter.protocol = .httpProtobuf
        configuration.traces.batchSpanProcessor.scheduleDelay = .milliseconds(100)
        configuration.metrics.otlpExporter.endpoint = otlpEndpoint + "/v1/metrics"
        configuration.metrics.otlpExporter.protocol = .httpProtobuf
        configuration.metrics.exportInterval = .milliseconds(500)
        let observability = try OTel.bootstrap(configuration: configuration)
        let services = ServiceGroup(
            services: [observability],
            gracefulShutdownSignals: [],
            logger: Logger(label: "firstframe-otlp")
        )
        let opener = StreamOpener(preset: try Preset(named: preset))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await services.run() }
            for _ in 0..<repeats {
                let report = await opener.report(opening: url)
                print(try ReportRendering.jsonLine(report))
            }
            // A graceful shutdown flushes the span batch and exports the metrics one last time.
            await services.triggerGracefulShutdown()
            try await group.waitForAll()
        }
    }
}
