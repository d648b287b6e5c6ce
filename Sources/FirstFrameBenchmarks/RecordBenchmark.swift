import FirstFrame
import FirstFrameOrigin
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// `firstframe bench record`: many channels recorded at once from an origin in its own process, each connection
/// dropped every `dropEvery` seconds; the recorder's CPU per channel-second and memory per channel, then every
/// file judged by ffprobe and a full decode (``RecordingCheck``), and by content: every packet checked against what
/// the origin logged it sent on the channel (``ContentCheck``; `.flv` and `.mkv` only, since MPEG-TS rewrites the
/// payloads).
///
/// Three parts, so that the caller can show the recording's progress alone: ``start(_:)`` (the origin process,
/// the recorders, every channel's program encoded), ``record()`` (the timed part), ``check(_:)``; ``stop()`` at
/// the end, whatever happened.
package final class RecordBenchmark: Sendable {
    package struct Parameters: Sendable {
        /// Channels recorded at once.
        package var channels: Int
        /// Seconds to record.
        package var seconds: Double
        /// The origin drops each connection after this many seconds (0: never).
        package var dropEvery: Double
        /// Join mode of the channels: `gop` or `live`.
        package var mode: String
        /// flv or mkv (checked by content too), ts or mp4 (ffprobe only).
        package var container: String
        /// Files checked at once.
        package var checkers: Int

        package init(
            channels: Int,
            seconds: Double,
            dropEvery: Double,
            mode: String,
            container: String,
            checkers: Int
        ) {
            self.channels = channels
            self.seconds = seconds
            self.dropEvery = dropEvery
            self.mode = mode
            self.container = container
            self.checkers = checkers
        }

        /// Whether recordings in `container` keep the payloads as FLV carries them (see ``ContentCheck``).
        var checksContent: Bool { ["flv", "mkv"].contains(container) }
    }

    package struct Result: Codable {
        var channels: Int
        var seconds: Double
        var wallSeconds: Double
        var cpuSeconds: Double
        /// CPU of the recording process per channel-second of recording, as a percentage of one core.
        var cpuPercentPerChannel: Double
        var kbitPerChannel: Double
        var rssGrowthMiB: Double
        var rssPerChannelMiB: Double
        var threadsDuring: Int
        var reconnects: Int
        var gaps: Int
        var duplicatesDropped: Int
        var files: Int
        var filesPassed: Int
        var failures: [RecordingCheck]
        /// The content checks' figures over every recording (nil when the container is not checked by content).
        var content: ContentCheck?
        var contentPassed: Int
        var contentFailures: [ContentCheck]

        /// Every file passed ffprobe's checks, and every recording checked by content held what was sent.
        package var passed: Bool { filesPassed == files && contentFailures.isEmpty }

        init(
            _ recording: Recording,
            parameters: Parameters,
            checks: [RecordingCheck],
            contentChecks: [ContentCheck]
        ) {
            let channels = parameters.channels
            let summaries = recording.summaries
            let bytes = summaries.reduce(Int64(0)) { $0 + $1.bytesWritten }
            self.channels = channels
            seconds = parameters.seconds
            wallSeconds = recording.wallSeconds
            cpuSeconds = recording.cpuSeconds
            cpuPercentPerChannel = recording.cpuSeconds / (Double(channels) * recording.wallSeconds) * 100
            kbitPerChannel = Double(bytes) * 8 / 1000 / recording.wallSeconds / Double(channels)
            rssGrowthMiB = recording.rssGrowthMiB
            rssPerChannelMiB = recording.rssGrowthMiB / Double(channels)
            threadsDuring = recording.threadsDuring
            reconnects = summaries.reduce(0) { $0 + max(0, $1.successfulOpens - 1) }
            gaps = summaries.reduce(0) { $0 + $1.gaps.count }
            duplicatesDropped = summaries.reduce(0) { $0 + $1.duplicatesDropped }
            files = checks.count
            filesPassed = checks.filter(\.passed).count
            failures = checks.filter { !$0.passed }
            content = contentChecks.isEmpty ? nil : contentChecks.reduce(into: ContentCheck()) { $0.add($1) }
            contentPassed = contentChecks.filter(\.passed).count
            contentFailures = contentChecks.filter { !$0.passed }
        }
    }

    /// What ``record()`` measured.
    package struct Recording: Sendable {
        var summaries: [RecordingSummary]
        var wallSeconds: Double
        var cpuSeconds: Double
        var rssGrowthMiB: Double
        var threadsDuring: Int
    }

    let parameters: Parameters
    let origin: OriginProcess
    let directory: URL
    let recorders: [Recorder]

    private init(parameters: Parameters, origin: OriginProcess, directory: URL, recorders: [Recorder]) {
        self.parameters = parameters
        self.origin = origin
        self.directory = directory
        self.recorders = recorders
    }

    /// Starts the origin process (throws ``OriginProcess/Failure`` when it does not listen), makes a recorder per
    /// channel into a temporary directory, and has the origin encode every channel's program before the clock
    /// starts.
    package static func start(_ parameters: Parameters) async throws -> RecordBenchmark {
        let origin = try OriginProcess.start(arguments: ["--log-sent-tags"])
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "firstframe-record-bench-\(getpid())"
        )
        let recorders: [Recorder]
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let query = parameters.dropEvery > 0 ? "?close_after_ms=\(Int(parameters.dropEvery * 1000))" : ""
            var logger = Logger(label: "firstframe.bench.record")
            logger.logLevel = .warning
            recorders = try (1...parameters.channels).map { index in
                try Recorder(
                    url: "http://127.0.0.1:\(origin.port)/\(parameters.mode)/ch\(index).flv\(query)",
                    path: directory.appendingPathComponent("ch\(index).\(parameters.container)").path,
                    configuration: .init(reconnect: try ReconnectPolicy(initialDelay: 0.2, maximumDelay: 2)),
                    logger: logger
                )
            }
        } catch {
            try? FileManager.default.removeItem(at: directory)
            origin.stop()
            throw error
        }
        // Every channel's program is encoded by the origin before the clock starts.
        for index in 1...parameters.channels { _ = try? await origin.warm(channel: "ch\(index)") }
        return RecordBenchmark(parameters: parameters, origin: origin, directory: directory, recorders: recorders)
    }

    /// Records every channel for the parameters' seconds, measuring this process's CPU, memory growth and threads.
    package func record() async -> Recording {
        let recorders = recorders
        let seconds = parameters.seconds
        let rssBefore = Self.residentMiB()
        let cpuBefore = Self.cpuSeconds()
        let start = MonotonicClock.nanoseconds()
        let stopper = Task {
            try await Task.sleep(for: .seconds(seconds))
            for recorder in recorders { recorder.stop() }
        }
        // Halfway through: how many threads the recorders run on.
        let threadSample = Task { () -> Int in
            try? await Task.sleep(for: .seconds(seconds / 2))
            return Self.threadCount()
        }
        let summaries = await withTaskGroup(of: (Int, RecordingSummary).self) { group in
            for (index, recorder) in recorders.enumerated() { group.addTask { (index, await recorder.run()) } }
            var summaries: [(Int, RecordingSummary)] = []
            for await summary in group { summaries.append(summary) }
            return summaries.sorted { $0.0 < $1.0 }.map(\.1)
        }
        let threadsDuring = await threadSample.value
        stopper.cancel()
        return Recording(
            summaries: summaries,
            wallSeconds: Double(MonotonicClock.nanoseconds() - start) / 1e9,
            cpuSeconds: Self.cpuSeconds() - cpuBefore,
            rssGrowthMiB: Self.residentMiB() - rssBefore,
            threadsDuring: threadsDuring
        )
    }

    /// Judges every file: ffprobe and a full decode, then (for `.flv` and `.mkv`) the content against the origin's
    /// sent logs; `checkers` at a time.
    package func check(_ recording: Recording) async -> Result {
        let summaries = recording.summaries
        let jobs: [@Sendable () -> RecordingCheck] = summaries.flatMap { summary in
            summary.files.map { path in { @Sendable in RecordingCheck.run(path: path, gaps: summary.gaps) } }
        }
        let concurrency = max(1, parameters.checkers)
        let checks = await Self.inParallel(jobs, concurrency: concurrency)
        let port = origin.port
        var contentJobs: [@Sendable () -> ContentCheck] = []
        if parameters.checksContent {
            for (index, (recorder, summary)) in zip(recorders, summaries).enumerated() {
                let (path, logPath) = (recorder.path, recorder.sessionLogPath)
                contentJobs.append {
                    Self.checkContent(
                        files: summary.files,
                        sessionLog: logPath,
                        port: port,
                        channel: "ch\(index + 1)",
                        path: path
                    )
                }
            }
        }
        let contentChecks = await Self.inParallel(contentJobs, concurrency: concurrency)
        return Result(recording, parameters: parameters, checks: checks, contentChecks: contentChecks)
    }

    /// Stops the origin process and removes the recordings.
    package func stop() {
        origin.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// The result as the command prints it.
    package static func table(_ result: Result, parameters: Parameters) -> String {
        var lines = [
            String(
                format: "%d channels × %.0f s (%@ join, drop every %.0f s, .%@): %.1f kbit/s per channel",
                result.channels,
                result.wallSeconds,
                parameters.mode,
                parameters.dropEvery,
                parameters.container,
                result.kbitPerChannel
            ),
            String(
                format:
                    "CPU %.2f s = %.3f %% of one core per channel; RSS +%.1f MiB (%.2f MiB per channel); %d threads",
                result.cpuSeconds,
                result.cpuPercentPerChannel,
                result.rssGrowthMiB,
                result.rssPerChannelMiB,
                result.threadsDuring
            ),
            "\(result.reconnects) reconnects, \(result.gaps) gaps, \(result.duplicatesDropped) re-sent packets dropped",
            "ffprobe: \(result.filesPassed)/\(result.files) files pass (keyframe first, dts increasing, no duplicates, "
                + "holes only at logged gaps, full decode without errors)",
        ]
        for failure in result.failures.prefix(10) { lines.append("  FAIL \(failure)") }
        if let content = result.content {
            lines.append(
                "content: \(result.contentPassed)/\(result.contentPassed + result.contentFailures.count) recordings hold exactly what the origin sent, "
                    + "outside logged gaps: \(content.figures)"
            )
            for failure in result.contentFailures.prefix(10) {
                lines.append("  FAIL \(failure.paths.first ?? "?"): \(failure.figures)")
                for problem in failure.problems.prefix(3) { lines.append("    \(problem)") }
            }
        } else {
            lines.append(
                "content: not checked (.\(parameters.container) does not keep the payloads as sent; record to .flv or .mkv)"
            )
        }
        return lines.joined(separator: "\n")
    }

    /// One recording's content check against the origin's sent log of its channel (fetched over HTTP: the origin
    /// runs in its own process). A failure to fetch or read is a failed check that says why.
    private static func checkContent(
        files: [String],
        sessionLog: String,
        port: Int,
        channel: String,
        path: String
    ) -> ContentCheck {
        do {
            let data = try LoopbackGet.body(port: port, path: "/sent/\(channel)")
            let truth = SentTag.truth(try SentTag.decode(jsonLines: data))
            return try ContentCheck.run(paths: files, truth: truth, sessionLog: sessionLog)
        } catch {
            var failed = ContentCheck()
            failed.paths = files.isEmpty ? [path] : files
            failed.problems = ["\(error)"]
            return failed
        }
    }

    /// Runs `jobs` on threads of their own, `concurrency` at a time; results in completion order.
    private static func inParallel<Value: Sendable>(_ jobs: [@Sendable () -> Value], concurrency: Int) async -> [Value]
    {
        await withTaskGroup(of: Value?.self) { group in
            var results: [Value] = []
            var next = 0
            func add() {
                guard next < jobs.count else { return }
                let job = jobs[next]
                next += 1
                group.addTask { try? await DedicatedThread.run(name: "bench.check") { job() } }
            }
            for _ in 0..<concurrency { add() }
            for await result in group {
                if let result { results.append(result) }
                add()
            }
            return results
        }
    }

    /// This process's CPU time, seconds.
    package static func cpuSeconds() -> Double { ProcessStats.current()?.cpuSeconds ?? 0 }

    static func residentMiB() -> Double { (ProcessStats.current()?.residentBytes ?? 0) / 1_048_576 }

    static func threadCount() -> Int { ProcessStats.current()?.threads ?? 0 }
}
