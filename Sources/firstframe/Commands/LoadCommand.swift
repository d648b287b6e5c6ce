import ArgumentParser
import FirstFrameBenchmarks
import Foundation

/// Opens many HTTP-FLV clients against one URL at once and reports what they got: for measuring an origin
/// (ours, under `firstframe serve`, or any other on loopback) under fan-out (``LoadBenchmark``).
struct LoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Hold many HTTP-FLV clients on a loopback URL and report first-keyframe times and throughput."
    )

    @Argument(help: "Stream URL, e.g. http://127.0.0.1:8080/gop/stream.flv")
    var url: String

    @Option(help: "Clients connected at once.")
    var clients: Int = 200

    @Option(help: "Seconds to stay connected.")
    var seconds: Double = 10

    func validate() throws {
        guard let components = URLComponents(string: url), components.scheme == "http", let host = components.host
        else {
            throw ValidationError("an http:// URL is required")
        }
        guard LoopbackHost.contains(host) else {
            throw ValidationError("load runs go to loopback only (127.0.0.0/8, ::1, localhost)")
        }
        guard clients > 0, seconds > 0 else { throw ValidationError("--clients and --seconds must be positive") }
    }

    func run() async throws {
        let (url, clients, seconds) = (self.url, self.clients, self.seconds)
        let result = try await Progress.run("load", total: clients, unit: "clients connected") { progress in
            try await LoadBenchmark.run(url: url, clients: clients, seconds: seconds, progress: progress)
        }
        print(LoadBenchmark.summary(result))
        if result.keyframes.count < clients { throw ExitCode(1) }
    }
}
