import ArgumentParser
import Dispatch
import FirstFrame
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
import FirstFrameFFmpeg
#endif

/// `firstframe record URL... --out DIR`: records many live channels at once by remuxing, reconnecting each when it
/// drops, with a session log per channel; stops cleanly on SIGINT/SIGTERM with every file finalised.
struct RecordCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record live channels to files (remux, reconnect, session logs).",
        discussion: """
            Each URL is recorded to DIR/NAME.EXT (NAME from the URL's last path component) with its session log \
            DIR/NAME.EXT.session.jsonl: every attempt's first-frame report, every gap, every file. SIGINT or SIGTERM \
            stops every channel, finalises its file and flushes its log. The exit status is 0 when every channel \
            recorded and stopped cleanly, 1 when one gave up (it is named on standard error).
            """
    )

    @Argument(help: "Stream URLs to record.")
    var urls: [String]

    @Option(help: "Directory for the recordings and their session logs (created if missing).")
    var out: String

    @Option(help: "Container: ts, flv, mkv, or mp4 (fragmented).")
    var container = "ts"

    @Option(
        help:
            "Split each recording into segments of about this many seconds (at keyframes), 0.1…86400 (default: one file)."
    )
    var segment: Double?

    @Option(help: "Failed opens in a row before a channel gives up, 1…1000000 (default: never).")
    var maxAttempts: Int?

    @Option(
        help:
            "Milliseconds a read may wait for a packet before the stream counts as stalled and is reopened, 0…3600000 (0: no limit; default: the preset's readTimeoutMs, 10000)."
    )
    var readTimeoutMs: Int?

    @Flag(help: "End a channel's recording when its input ends cleanly (files, ended events) instead of reopening it.")
    var stopAtEnd = false

    @Option(
        help:
            "Stop after this many seconds, more than 0 and at most 31536000 (a year) (default: until SIGINT or SIGTERM)."
    )
    var duration: Double?

    @Option(help: "Seconds between progress lines when standard error is not a terminal, 0.1…86400.")
    var statusInterval = 10.0

    @OptionGroup var knobOptions: KnobOptions

    /// The longest `--duration`, seconds: a year.
    static let maximumDuration = 31_536_000.0
    /// What `--status-interval` may be, seconds.
    static let statusIntervalRange = 0.1...86_400.0
    /// What `--read-timeout-ms` may be (the readTimeoutMs knob's range).
    static let readTimeoutRange = 0...3_600_000

    func validate() throws {
        guard ["ts", "flv", "mkv", "mp4"].contains(container) else {
            throw ValidationError("--container: ts, flv, mkv or mp4")
        }
        guard !urls.isEmpty else { throw ValidationError("give at least one URL") }
        if let duration, !(duration.isFinite && duration > 0 && duration <= Self.maximumDuration) {
            throw ValidationError("--duration: \(duration) is not seconds in (0, \(Int(Self.maximumDuration))]")
        }
        guard statusInterval.isFinite, Self.statusIntervalRange.contains(statusInterval) else {
            throw ValidationError("--status-interval: \(statusInterval) is not seconds in 0.1…86400")
        }
        if let segment, !(segment.isFinite && Recorder.segmentSecondsRange.contains(segment)) {
            throw ValidationError("--segment: \(segment) is not seconds in 0.1…86400")
        }
        if let maxAttempts, !ReconnectPolicy.maxAttemptsRange.contains(maxAttempts) {
            throw ValidationError("--max-attempts: \(maxAttempts) is not a count in 1…1000000")
        }
        if let readTimeoutMs, !Self.readTimeoutRange.contains(readTimeoutMs) {
            throw ValidationError("--read-timeout-ms: \(readTimeoutMs) is not milliseconds in 0…3600000")
        }
    }

    func run() async throws {
        FFmpegLog.level = .quiet
        var knobs = try knobOptions.knobs()
        if let readTimeoutMs {
            do { try knobs.set("readTimeoutMs", String(readTimeoutMs)) } catch {
                throw ValidationError(error.description)
            }
        }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        var logger = Logger(label: "firstframe.record")
        logger.logLevel = .warning
        let names = Self.fileNames(for: urls)
        let reconnect: ReconnectPolicy
        do { reconnect = try ReconnectPolicy(maxAttempts: maxAttempts) } catch {
            throw ValidationError("--max-attempts: \(error)")
        }
        let recorders = try zip(urls, names).map { url, name in
            do {
                return try Recorder(
                    url: url,
                    path: (out as NSString).appendingPathComponent("\(name).\(container)"),
                    configuration: .init(
                        segmentSeconds: segment,
                        knobs: knobs,
                        reconnect: reconnect,
                        stopAtEndOfInput: stopAtEnd
                    ),
                    logger: logger
                )
            } catch let error as RecorderParameterError {
                throw ValidationError("\(error)")
            }
        }
        let status = StatusBoard(names: names, recorders: recorders, interval: statusInterval)
        // Started first, so that a stop can cancel it: its last lines are measured up to the stop, not after it.
        let board = Task { await status.run() }
        let stopAll: @Sendable () -> Void = {
            status.markStopped()
            board.cancel()
            for recorder in recorders { recorder.stop() }
        }
        let signals = [SIGINT, SIGTERM].map { number -> any DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number)
            source.setEventHandler(handler: stopAll)
            source.resume()
            return source
        }
        defer { for signal in signals { signal.cancel() } }
        let timer = duration.map { seconds in
            Task {
                try await Task.sleep(for: .seconds(seconds))
                stopAll()
            }
        }
        let summaries = await withTaskGroup(of: (Int, RecordingSummary).self) { group in
            for (index, recorder) in recorders.enumerated() { group.addTask { (index, await recorder.run()) } }
            var summaries = [RecordingSummary?](repeating: nil, count: recorders.count)
            for await (index, summary) in group { summaries[index] = summary }
            return summaries.map { $0! }
        }
        // Every channel ended on its own (none was stopped): the last lines are measured up to now.
        board.cancel()
        await board.value
        timer?.cancel()
        var failed: [String] = []
        for (index, summary) in summaries.enumerated() {
            let name = names[index]
            let gaps = summary.gaps.count
            // The channel's URL as reports and logs show it: without its userinfo.
            print(
                "\(name) (\(InputPolicy.redacted(urls[index]))): \(summary.outcome.rawValue), \(summary.successfulOpens)/\(summary.attempts) opens, \(gaps) gaps, "
                    + "\(summary.packetsWritten) packets, \(Self.megabytes(summary.bytesWritten)), "
                    + String(format: "%.1f s of media", summary.mediaSeconds)
                    + " → \(summary.files.joined(separator: ", "))"
            )
            if ![.stopped, .inputEnded].contains(summary.outcome) || summary.successfulOpens == 0 {
                let why =
                    summary.message
                    ?? (summary.successfulOpens == 0 ? "no open reached a first picture, see the session log" : nil)
                failed.append("\(name) (\(summary.outcome.rawValue)\(why.map { ": \($0)" } ?? ""))")
            }
        }
        fflush(nil)  // every output stream: stdout is block-buffered into a file or pipe
        if !failed.isEmpty {
            FileHandle.standardError.write(
                Data(
                    "record: \(failed.count) of \(names.count) channels failed: \(failed.joined(separator: "; "))\n"
                        .utf8
                )
            )
            throw ExitCode(1)
        }
    }

    /// A file name per URL: its last path component without the extension, made safe, unique among the channels.
    static func fileNames(for urls: [String]) -> [String] {
        var used: [String: Int] = [:]
        return urls.map { url in
            let last = URL(string: url)?.deletingPathExtension().lastPathComponent ?? "channel"
            var name = String(last.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
            if name.isEmpty || name == "_" { name = "channel" }
            used[name, default: 0] += 1
            return used[name]! == 1 ? name : "\(name)-\(used[name]!)"
        }
    }

    static func megabytes(_ bytes: Int64) -> String { String(format: "%.1f MB", Double(bytes) / 1e6) }
}
