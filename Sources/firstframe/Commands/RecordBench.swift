import ArgumentParser
import FirstFrame
import FirstFrameOrigin
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// `firstframe bench record`: many channels recorded at once from an origin in its own process, each connection
/// dropped every `--drop-every` seconds; the recorder's CPU per channel-second and memory per channel, then every
/// file judged by ffprobe and a full decode, and by content: every packet checked against what the origin logged
/// it sent on the channel (``ContentCheck``; `.flv` and `.mkv` only, since MPEG-TS rewrites the payloads).
struct RecordBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Recorder cost per channel, and ffprobe and content checks of every file, with drops injected."
    )

    @Option(help: "Channels recorded at once.")
    var channels = 100

    @Option(help: "Seconds to record.")
    var seconds = 60.0

    @Option(help: "The origin drops each connection after this many seconds (0: never).")
    var dropEvery = 15.0

    @Option(help: "Join mode of the channels: gop (the edge re-sends its GOP on reconnect) or live.")
    var mode = "gop"

    @Option(
        help:
            "Container: flv or mkv (checked by content too), ts or mp4 (ffprobe only: their muxers rewrite or may shift what was sent)."
    )
    var container = "flv"

    @Option(help: "Files checked (ffprobe and a full decode, or by content) at once.")
    var checkers = 2

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    struct Result: Codable {
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
    }

    /// Whether recordings in `container` keep the payloads as FLV carries them (see ``ContentCheck``).
    private var checksContent: Bool { ["flv", "mkv"].contains(container) }

    func run() async throws {
        FFmpegLog.level = .quiet
        let origin = try OriginProcess.start(arguments: ["--log-sent-tags"])
        defer { origin.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "firstframe-record-bench-\(getpid())"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let query = dropEvery > 0 ? "?close_after_ms=\(Int(dropEvery * 1000))" : ""
        var logger = Logger(label: "firstframe.bench.record")
        logger.logLevel = .warning
        let recorders = try (1...channels).map { index in
            try Recorder(
                url: "http://127.0.0.1:\(origin.port)/\(mode)/ch\(index).flv\(query)",
                path: directory.appendingPathComponent("ch\(index).\(container)").path,
                configuration: .init(reconnect: try ReconnectPolicy(initialDelay: 0.2, maximumDelay: 2)),
                logger: logger
            )
        }
        // Every channel's program is encoded by the origin before the clock starts.
        for index in 1...channels { _ = try? await origin.warm(channel: "ch\(index)") }

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
        let summaries = await Progress.run("bench record", total: nil) { _ in
            await withTaskGroup(of: (Int, RecordingSummary).self) { group in
                for (index, recorder) in recorders.enumerated() { group.addTask { (index, await recorder.run()) } }
                var summaries: [(Int, RecordingSummary)] = []
                for await summary in group { summaries.append(summary) }
                return summaries.sorted { $0.0 < $1.0 }.map(\.1)
            }
        }
        let threadsDuring = await threadSample.value
        stopper.cancel()
        let wall = Double(MonotonicClock.nanoseconds() - start) / 1e9
        let cpu = Self.cpuSeconds() - cpuBefore
        let rssGrowth = Self.residentMiB() - rssBefore

        let jobs: [@Sendable () -> RecordingCheck] = summaries.flatMap { summary in
            summary.files.map { path in { @Sendable in RecordingCheck.run(path: path, gaps: summary.gaps) } }
        }
        let checks = await Self.inParallel(jobs, concurrency: max(1, checkers))
        let port = origin.port
        var contentJobs: [@Sendable () -> ContentCheck] = []
        if checksContent {
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
        let contentChecks = await Self.inParallel(contentJobs, concurrency: max(1, checkers))
        let contentTotal = contentChecks.isEmpty ? nil : contentChecks.reduce(into: ContentCheck()) { $0.add($1) }
        let bytes = summaries.reduce(Int64(0)) { $0 + $1.bytesWritten }
        let result = Result(
            channels: channels,
            seconds: seconds,
            wallSeconds: wall,
            cpuSeconds: cpu,
            cpuPercentPerChannel: cpu / (Double(channels) * wall) * 100,
            kbitPerChannel: Double(bytes) * 8 / 1000 / wall / Double(channels),
            rssGrowthMiB: rssGrowth,
            rssPerChannelMiB: rssGrowth / Double(channels),
            threadsDuring: threadsDuring,
            reconnects: summaries.reduce(0) { $0 + max(0, $1.successfulOpens - 1) },
            gaps: summaries.reduce(0) { $0 + $1.gaps.count },
            duplicatesDropped: summaries.reduce(0) { $0 + $1.duplicatesDropped },
            files: checks.count,
            filesPassed: checks.filter(\.passed).count,
            failures: checks.filter { !$0.passed },
            content: contentTotal,
            contentPassed: contentChecks.filter(\.passed).count,
            contentFailures: contentChecks.filter { !$0.passed }
        )
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        } else {
            print(
                String(
                    format: "%d channels × %.0f s (%@ join, drop every %.0f s, .%@): %.1f kbit/s per channel",
                    channels,
                    wall,
                    mode,
                    dropEvery,
                    container,
                    result.kbitPerChannel
                )
            )
            print(
                String(
                    format:
                        "CPU %.2f s = %.3f %% of one core per channel; RSS +%.1f MiB (%.2f MiB per channel); %d threads",
                    cpu,
                    result.cpuPercentPerChannel,
                    rssGrowth,
                    result.rssPerChannelMiB,
                    threadsDuring
                )
            )
            print(
                "\(result.reconnects) reconnects, \(result.gaps) gaps, \(result.duplicatesDropped) re-sent packets dropped"
            )
            print(
                "ffprobe: \(result.filesPassed)/\(result.files) files pass (keyframe first, dts increasing, no duplicates, "
                    + "holes only at logged gaps, full decode without errors)"
            )
            for failure in result.failures.prefix(10) { print("  FAIL \(failure)") }
            if let content = result.content {
                print(
                    "content: \(result.contentPassed)/\(contentChecks.count) recordings hold exactly what the origin sent, "
                        + "outside logged gaps: \(content.figures)"
                )
                for failure in result.contentFailures.prefix(10) {
                    print("  FAIL \(failure.paths.first ?? "?"): \(failure.figures)")
                    for problem in failure.problems.prefix(3) { print("    \(problem)") }
                }
            } else {
                print("content: not checked (.\(container) does not keep the payloads as sent; record to .flv or .mkv)")
            }
        }
        if result.filesPassed != result.files || !result.contentFailures.isEmpty { throw ExitCode(1) }
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

    static func cpuSeconds() -> Double { ProcessStats.current()?.cpuSeconds ?? 0 }

    static func residentMiB() -> Double { (ProcessStats.current()?.residentBytes ?? 0) / 1_048_576 }

    static func threadCount() -> Int { ProcessStats.current()?.threads ?? 0 }
}

/// `firstframe serve` in a process of its own: the recorder's CPU is measured without the origin's.
struct OriginProcess: Sendable {
    let process: Process
    let port: Int

    /// Starts `firstframe serve --port 0` with `arguments` added.
    static func start(arguments: [String] = []) throws -> OriginProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = ["serve", "--port", "0"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // `serve` prints its URLs, with the port it got, as soon as it listens.
        var text = ""
        while !text.contains("\n  gop") {
            let data = output.fileHandleForReading.availableData
            guard !data.isEmpty else { throw ValidationError("the origin process ended before listening") }
            text += String(decoding: data, as: UTF8.self)
        }
        guard let range = text.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression),
            let port = Int(text[range].split(separator: ":").last!)
        else {
            throw ValidationError("no port in the origin's output: \(text)")
        }
        return OriginProcess(process: process, port: port)
    }

    /// The origin process's CPU time, seconds: the sum over its threads of the scheduler's nanoseconds on a CPU
    /// (`/proc/PID/task/*/schedstat`; `stat`'s clock ticks are too coarse for a few hundred µs per open).
    func cpuSeconds() -> Double {
        let tasks = "/proc/\(process.processIdentifier)/task"
        let threads = (try? FileManager.default.contentsOfDirectory(atPath: tasks)) ?? []
        let nanoseconds = threads.compactMap { thread -> Double? in
            guard let text = try? String(contentsOfFile: "\(tasks)/\(thread)/schedstat", encoding: .utf8) else {
                return nil
            }
            return text.split(separator: " ").first.flatMap { Double($0) }
        }.reduce(0, +)
        return nanoseconds / 1e9
    }

    /// Asks for a channel once (its first request makes the origin encode its program), reading only the head.
    func warm(channel: String) async throws {
        let port = port
        _ = try await DedicatedThread.run(name: "bench.warm") {
            try LoopbackGet(port: port, path: "/gop/\(channel).flv?close_after=1")
        }
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}
