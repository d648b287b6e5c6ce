import FirstFrame
import Foundation
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `firstframe load`: many HTTP-FLV clients held on one URL at once, and what they got (``LoadClientHandler``):
/// for measuring an origin (ours, under `firstframe serve`, or any other on loopback) under fan-out.
package enum LoadBenchmark {
    /// What a run saw.
    package struct Result: Sendable {
        /// Clients asked for, and those that connected.
        package var clients: Int
        package var connected: Int
        package var connectFailures: Int
        /// Milliseconds from the start until the last client connected.
        package var connectedAfterMs: Double
        /// Each client's account, when its connection ended.
        package var results: [LoadClientResult]
        package var wallSeconds: Double
        /// CPU of this process meanwhile (user + system).
        package var cpuSeconds: Double

        /// Every first keyframe's arrival (ms from its client's start), ascending.
        package var keyframes: [Double] { results.compactMap(\.firstKeyframeAfter).sorted() }
    }

    /// Connects `clients` clients to `url` (an `http://` URL; the caller checks it is loopback), holds them for
    /// `seconds`, then closes them. `progress` counts the clients connected.
    package static func run(
        url: String,
        clients: Int,
        seconds: Double,
        progress: some BenchmarkProgress
    ) async throws -> Result {
        let components = URLComponents(string: url)!
        let host = components.host!
        let port = components.port ?? 80
        let target =
            (components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath)
            + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let results = Mutex<[LoadClientResult]>([])
        let cpuBefore = cpuSeconds()
        let started = MonotonicClock.nanoseconds()

        var channels: [any Channel] = []
        var connectFailures = 0
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
                    progress.advance(by: 1)
                } catch {
                    connectFailures += 1
                }
            }
        }
        let connectedAfter = MonotonicClock.milliseconds(since: started)
        // The load itself: clients stay connected for the duration asked for.
        try await progress.step("holding \(channels.count) clients for \(seconds) s") {
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
        }
        for channel in channels { try? await channel.close() }
        try await group.shutdownGracefully()
        return Result(
            clients: clients,
            connected: channels.count,
            connectFailures: connectFailures,
            connectedAfterMs: connectedAfter,
            results: results.withLock { $0 },
            wallSeconds: MonotonicClock.milliseconds(since: started) / 1000,
            cpuSeconds: cpuSeconds() - cpuBefore
        )
    }

    /// What the command prints.
    package static func summary(_ result: Result) -> String {
        let all = result.results
        let keyframes = result.keyframes
        let bytes = all.reduce(0) { $0 + $1.bodyBytes }
        let wall = result.wallSeconds
        func percentile(_ p: Double) -> String {
            keyframes.isEmpty
                ? "-" : String(format: "%.1f", ReportAggregate.Distribution.percentile(p, ofSorted: keyframes))
        }
        var lines = [
            "clients: \(result.clients) asked, \(result.connected) connected in \(String(format: "%.0f", result.connectedAfterMs)) ms, "
                + "\(result.connectFailures) failed to connect, \(all.filter { $0.status == 200 }.count) got 200, "
                + "\(keyframes.count) got a keyframe, \(all.filter { $0.error != nil }.count) stream errors",
            "first keyframe ms: p50 \(percentile(0.5))  p95 \(percentile(0.95))  max \(keyframes.last.map { String(format: "%.1f", $0) } ?? "-")",
            "received: \(bytes / 1024) KiB in \(String(format: "%.1f", wall)) s "
                + "(\(String(format: "%.0f", Double(bytes) * 8 / wall / 1000)) kbit/s total, "
                + "\(String(format: "%.0f", Double(bytes) * 8 / wall / 1000 / Double(max(1, result.clients)))) per client)",
            "load client CPU: \(String(format: "%.2f", result.cpuSeconds)) s",
        ]
        if let firstError = all.first(where: { $0.error != nil })?.error {
            lines.append("first stream error: \(firstError)")
        }
        return lines.joined(separator: "\n")
    }

    /// This process's user + system CPU time, seconds.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(
            usage.ru_utime.tv_usec + usage.ru_stime.tv_usec
        ) / 1e6
    }
}
