import ArgumentParser
import FirstFrame
import Foundation
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Opens many HTTP-FLV clients against one URL at once and reports what they got: for measuring an origin
/// (ours, under `firstframe serve`, or any other on loopback) under fan-out.
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
        let components = URLComponents(string: url)!
        let host = components.host!
        let port = components.port ?? 80
        let target =
            (components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath)
            + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let results = Mutex<[LoadClientResult]>([])
        let cpuBefore = Self.cpuSeconds()
        let started = MonotonicClock.nanoseconds()

        var channels: [any Channel] = []
        var connectFailures = 0
        var connectedAfter = 0.0
        let (clients, seconds) = (self.clients, self.seconds)
        try await Progress.run("load", total: clients, unit: "clients connected") { progress in
            await progress.step("connecting \(clients) clients") {
                for _ in 0..<clients {
                    let clientStart = MonotonicClock.nanoseconds()
                    let bootstrap = ClientBootstrap(group: group)
                        .channelOption(.socketOption(.tcp_nodelay), value: 1)
                        .channelInitializer { channel in
                            channel.eventLoop.makeCompletedFuture {
                                try channel.pipeline.syncOperations.addHandler(
                                    LoadClientHandler(
                                        host: host,
                                        port: port,
                                        target: target,
                                        startedAt: clientStart,
                                        finish: { result in results.withLock { $0.append(result) } }
                                    )
                                )
                            }
                        }
                    do {
                        channels.append(try await bootstrap.connect(host: host, port: port).get())
                        progress.advance()
                    } catch {
                        connectFailures += 1
                    }
                }
            }
            connectedAfter = MonotonicClock.milliseconds(since: started)
            // The load itself: clients stay connected for the duration asked for.
            try await progress.step("holding \(channels.count) clients for \(seconds) s") {
                try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            }
        }
        for channel in channels { try? await channel.close() }
        try await group.shutdownGracefully()
        let wall = MonotonicClock.milliseconds(since: started) / 1000
        let cpu = Self.cpuSeconds() - cpuBefore

        let all = results.withLock { $0 }
        let keyframes = all.compactMap(\.firstKeyframeAfter).sorted()
        let bytes = all.reduce(0) { $0 + $1.bodyBytes }
        func percentile(_ p: Double) -> String {
            keyframes.isEmpty
                ? "-" : String(format: "%.1f", ReportAggregate.Distribution.percentile(p, ofSorted: keyframes))
        }
        print(
            "clients: \(clients) asked, \(channels.count) connected in \(String(format: "%.0f", connectedAfter)) ms, "
                + "\(connectFailures) failed to connect, \(all.filter { $0.status == 200 }.count) got 200, "
                + "\(keyframes.count) got a keyframe, \(all.filter { $0.error != nil }.count) stream errors"
        )
        print(
            "first keyframe ms: p50 \(percentile(0.5))  p95 \(percentile(0.95))  max \(keyframes.last.map { String(format: "%.1f", $0) } ?? "-")"
        )
        print(
            "received: \(bytes / 1024) KiB in \(String(format: "%.1f", wall)) s "
                + "(\(String(format: "%.0f", Double(bytes) * 8 / wall / 1000)) kbit/s total, "
                + "\(String(format: "%.0f", Double(bytes) * 8 / wall / 1000 / Double(max(1, clients)))) per client)"
        )
        print("load client CPU: \(String(format: "%.2f", cpu)) s")
        if let firstError = all.first(where: { $0.error != nil })?.error { print("first stream error: \(firstError)") }
        if keyframes.count < clients { throw ExitCode(1) }
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(
            usage.ru_utime.tv_usec + usage.ru_stime.tv_usec
        ) / 1e6
    }
}
