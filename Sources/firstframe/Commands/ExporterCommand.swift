import ArgumentParser
import CoreMetrics
import Dispatch
import FirstFrame
import FirstFrameExporter
import Foundation
import Prometheus

#if canImport(Glibc)
import Glibc
import FirstFrameFFmpeg
#endif

/// `firstframe exporter`: a Prometheus exporter in blackbox_exporter's pattern. `/probe?target=NAME` opens once
/// and answers with that open's series; configured targets with an interval are also probed on their own, their
/// results on `/metrics` with the exporter's process metrics and the library's own metrics.
///
/// The exporter is the `FirstFrameExporter` library (``Exporter``, ``ExporterHTTPServer``, ``ProbeScheduler``);
/// this command is its front: the options, the metrics system's bootstrap, SIGHUP reloads and the interrupt.
struct ExporterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exporter",
        abstract: "Serve Prometheus metrics of first-frame probes (/probe?target=NAME, /metrics, /reports).",
        discussion: """
            The configuration (JSON) lists the targets that may be probed, and those probed on their own:
              {"targets": [{"name": "room1", "url": "http://edge/live/room1.flv", "preset": "instant",
                            "interval": 15, "timeout": 5, "labels": {"region": "eu"}, "set": {"knob": "value"}}],
               "concurrency": 4, "jitter": 0.1}
            A target without interval is probed only when /probe asks for it. SIGHUP or POST /-/reload re-reads the file.
            """
    )

    @Option(
        help: ArgumentHelp("The targets (JSON; default: none, so /probe needs --allow-any-target).", valueName: "file")
    )
    var config: String?

    @Option(
        help: ArgumentHelp(
            "Address to listen on (loopback unless told otherwise; port 0 picks a free one).",
            valueName: "host:port"
        )
    )
    var listen = "127.0.0.1:9716"

    @Flag(help: "Let /probe open any http(s):// or rtmp(s):// URL, not only configured targets.")
    var allowAnyTarget = false

    @Option(help: "/probe opens running at once; more are answered 429.")
    var probeConcurrency = 4

    @Option(help: "Probes kept for /reports.")
    var keepReports = 100

    @Option(help: "Seconds taken off Prometheus' scrape timeout for a /probe open's deadline, 0…3600.")
    var timeoutOffset = 0.5

    func validate() throws {
        guard (try? Self.address(listen)) != nil else {
            throw ValidationError("--listen expects host:port, got \"\(listen)\"")
        }
        guard probeConcurrency >= 1 else { throw ValidationError("--probe-concurrency must be at least 1") }
        guard keepReports >= 0 else { throw ValidationError("--keep-reports must not be negative") }
        guard timeoutOffset.isFinite, (0...3600).contains(timeoutOffset) else {
            throw ValidationError("--timeout-offset: \(timeoutOffset) is not seconds in 0…3600")
        }
    }

    /// `host:port`, `[v6]:port`.
    static func address(_ text: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else {
            throw ValidationError("bad address")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw ValidationError("bad address") }
        return (host, port)
    }

    func run() async throws {
        FFmpegLog.level = .quiet
        // The CLI is an application: its registry takes every swift-metrics metric (the library's too).
        let registry = PrometheusCollectorRegistry()
        let metrics = ExporterMetrics(registry: registry)
        let exporter: Exporter
        do {
            exporter = try Exporter(
                options: .init(
                    configPath: config,
                    allowAnyTarget: allowAnyTarget,
                    probeConcurrency: probeConcurrency,
                    keepReports: keepReports,
                    timeoutOffset: timeoutOffset
                ),
                metrics: metrics,
                logger: CommandLineLogging.opens
            )
        } catch {
            throw ValidationError(error.description)
        }
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        let (host, port) = try Self.address(listen)
        let server = try await ExporterHTTPServer.bind(host: host, port: port)
        let shown = host.contains(":") ? "[\(host)]" : host
        let configuration = exporter.configuration
        let scheduled = configuration.targets.filter { $0.interval != nil }.count
        // Whoever started the exporter reads its port here, often through a pipe or a file: one unbuffered write.
        FileHandle.standardOutput.write(
            Data(
                """
                firstframe exporter listening on http://\(shown):\(server.port)
                  \(configuration.targets.count) targets (\(scheduled) scheduled, concurrency \(configuration.concurrency))\
                \(allowAnyTarget ? "; any URL may be probed" : "")

                """.utf8
            )
        )

        if configuration.targets.isEmpty && !allowAnyTarget {
            FileHandle.standardError.write(
                Data(
                    "exporter: no targets, so /probe refuses every request (give --config FILE or --allow-any-target)\n"
                        .utf8
                )
            )
        }

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run(exporter) }
            group.addTask { await ProbeScheduler.run(exporter) }
            group.addTask { await Self.reloadOnHangUp(exporter) }
            group.addTask { await ServeCommand.waitForInterrupt() }
            // The interrupt (or a server failure) ends everything.
            try await group.next()
            group.cancelAll()
            exporter.finish()
        }
    }

    /// Re-reads the configuration on every SIGHUP, until cancelled.
    static func reloadOnHangUp(_ exporter: Exporter) async {
        let (hangUps, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler { continuation.yield() }
        source.resume()
        defer { source.cancel() }
        for await _ in hangUps {
            do throws(ExporterConfiguration.ConfigurationError) {
                try exporter.reload()
                FileHandle.standardError.write(
                    Data("exporter: configuration reloaded (\(exporter.configuration.targets.count) targets)\n".utf8)
                )
            } catch {
                FileHandle.standardError.write(
                    Data("exporter: reload failed, the previous configuration stays: \(error)\n".utf8)
                )
            }
        }
    }
}
