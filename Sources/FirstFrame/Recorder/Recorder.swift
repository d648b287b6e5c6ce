import Foundation
import Logging
import Synchronization

/// Records one live stream to a file by remuxing (no re-encoding), reconnecting when it drops.
///
/// The container follows the file's extension: `.flv`, `.ts`, `.mkv`, or `.mp4` (written as fragmented MP4, so a
/// file cut short by a crash still plays). With `segmentSeconds` the recording is split at keyframes into
/// `name-00001.ext`, `name-00002.ext`, ….
///
/// Across reconnects the file's timestamps keep increasing, packets an edge re-sends from its GOP cache are not
/// written twice, video resumes at a keyframe after a real gap, and each gap is recorded. Every attempt's
/// ``FirstFrameReport``, every gap and file, and the summary go to the session log (JSON Lines, next to the
/// recording unless `sessionLogPath` says otherwise), flushed in batches and when the recorder stops.
///
/// ```swift
/// let recorder = try Recorder(url: "http://edge.example.com/live/room.flv", path: "/var/rec/room.ts",
///                             configuration: .init(segmentSeconds: 600), logger: logger)
/// let summary = await recorder.run()            // until stop(), cancellation, or maxAttempts failed opens
/// ```
///
/// The blocking reads and writes run on a thread per recording (never Swift's cooperative pool). ``stop()`` may be
/// called from anywhere (a SIGTERM handler) and returns at once: it interrupts the open or the read in progress,
/// and ``run()`` returns once the file is finalised and the log flushed.
public final class Recorder: Sendable {
    public let url: String
    /// The recording's path (the first file's, or the pattern of the segments').
    public let path: String
    /// How the recording is made (validated).
    public let configuration: Configuration
    /// The session log's path.
    public let sessionLogPath: String
    private let opener: StreamOpener
    private let metrics: RecorderMetrics
    private let log: SessionLog
    private let logger: Logger
    private let state = Mutex(SharedState())
    private let stopped = Atomic<Bool>(false)
    /// Every attempt's events, for ``events(stallAfter:bufferingNewest:)``.
    let eventRelay = RecorderEventRelay()

    private struct SharedState: ~Copyable {
        var progress = RecorderProgress()
        var current: OpenedStream?
        /// The open in progress, to cancel on stop.
        var opening: Task<Result<OpenedStream, OpenError>, Never>?
        var running = false
    }

    /// - Parameters:
    ///   - url: the stream to record.
    ///   - path: the file to write; its extension picks the container (`.flv`, `.ts`, `.mkv`, `.mp4`).
    ///   - configuration: segments, knobs, reconnects, read batches, the session log's path, the metrics' channel.
    ///   - logger: where the recorder logs its attempts and ends (it never bootstraps logging); nothing is logged
    ///     unless one is given.
    ///   - telemetry: where each open's metrics and spans, and the recorder's own metrics
    ///     (``MetricNames/recorder``), go: the global systems unless given.
    /// - Throws: ``RecorderParameterError`` naming a number of the configuration that is not finite or out of its
    ///   range (``Configuration/validate()``), ``KnobError`` for invalid knobs, or the error opening the session log.
    public init(
        url: String,
        path: String,
        configuration: Configuration = Configuration(),
        logger: Logger = .disabled,
        telemetry: Telemetry = Telemetry()
    ) throws {
        try configuration.validate()
        self.url = url
        self.path = path
        self.configuration = configuration
        self.sessionLogPath = configuration.sessionLogPath ?? path + ".session.jsonl"
        self.opener = try StreamOpener(knobs: configuration.knobs, logger: logger, telemetry: telemetry)
        self.metrics = RecorderMetrics(url: url, channel: configuration.channel, factory: telemetry.factory)
        self.log = try SessionLog(path: self.sessionLogPath)
        self.logger = logger
    }

    /// Seconds a segment may last (`segmentSeconds`): a tenth of a second to a day.
    public static let segmentSecondsRange: ClosedRange<Double> = 0.1...86_400
    /// Seconds of bytes a read may wait to gather (`readBatchSeconds`): 0 (every tag) to 10.
    public static let readBatchSecondsRange: ClosedRange<Double> = 0...10

    /// The recorder's state now.
    public var progress: RecorderProgress { state.withLock { $0.progress } }

    /// Stops recording: the open or the read in progress is interrupted (within FFmpeg's 100 ms poll), then
    /// ``run()`` finalises the file, flushes the session log and returns. Returns at once; idempotent.
    public func stop() {
        stopped.store(true, ordering: .relaxed)
        let (stream, opening) = state.withLock { ($0.current, $0.opening) }
        stream?.interruptReads()
        opening?.cancel()
    }

    private var isStopped: Bool { stopped.load(ordering: .relaxed) }

    /// Records until ``stop()``, task cancellation, `maxAttempts` failed opens in a row, or a file that cannot be
    /// written; returns what was recorded. Call it once: a recorder owns its file.
    public func run() async -> RecordingSummary {
        let alreadyRunning = state.withLock { state in
            defer { state.running = true }
            return state.running
        }
        precondition(!alreadyRunning, "Recorder.run() called twice: a recorder owns its file")
        let started = MonotonicClock.nanoseconds()
        let writer = RecordingWriter(
            path: path,
            segmentSeconds: configuration.segmentSeconds,
            readBatchSeconds: configuration.readBatchSeconds,
            log: log,
            metrics: metrics
        )
        var summary = RecordingSummary(
            outcome: .stopped,
            attempts: 0,
            successfulOpens: 0,
            files: [],
            gaps: [],
            packetsWritten: 0,
            bytesWritten: 0,
            duplicatesDropped: 0,
            mediaSeconds: 0,
            wallSeconds: 0
        )
        var failures = 0
        await withTaskCancellationHandler {
            attempts: while !isStopped {
                let wait = configuration.reconnect.delay(afterFailures: failures)
                if wait > 0 {
                    updateProgress { $0.state = .waiting }
                    await pause(seconds: wait)
                    if isStopped { break }
                }
                summary.attempts += 1
                if summary.attempts > 1 {
                    eventRelay.emit(
                        OpenEvent(ms: 0, kind: .reconnecting(attempt: summary.attempts, waitedMs: wait * 1000))
                    )
                }
                updateProgress {
                    $0.state = .opening
                    $0.attempts = summary.attempts
                }
                let next: Next
                switch await openOnce() {
                case .failure(let error): next = failedOpen(error, summary: &summary, failures: &failures)
                case .success(let stream):
                    next = await record(stream, writer: writer, summary: &summary, failures: &failures)
                }
                if next == .stop { break }
            }
        } onCancel: {
            stop()
        }
        // A clean stop is not the last failed open: that error stays in the session log and lastProblem only.
        if summary.outcome == .stopped { summary.message = nil }
        await writer.finish(into: &summary)
        summary.wallSeconds = Double(MonotonicClock.nanoseconds() - started) / 1e9
        log.append(.summary(summary, at: Date()))
        log.flush()
        updateProgress {
            $0.state = .stopped
            $0.gaps = summary.gaps.count
        }
        eventRelay.finish()
        return summary
    }

    /// What the attempts loop does after one attempt.
    private enum Next {
        case again
        case stop
    }

    /// One open, in a task of its own so that ``stop()`` can cancel it (the opener stops at FFmpeg's next poll).
    private func openOnce() async -> Result<OpenedStream, OpenError> {
        let opener = opener
        let url = url
        let events = eventRelay.sink
        let opening = Task { () async -> Result<OpenedStream, OpenError> in
            do throws(OpenError) { return .success(try await opener.open(url, events: events)) } catch {
                return .failure(error)
            }
        }
        state.withLock { $0.opening = opening }
        if isStopped { opening.cancel() }
        defer { state.withLock { $0.opening = nil } }
        return await opening.value
    }

    /// Logs a failed open and counts it; stops when the recorder was stopped or the policy gives up.
    private func failedOpen(_ error: OpenError, summary: inout RecordingSummary, failures: inout Int) -> Next {
        log.append(.attempt(number: summary.attempts, at: Date(), report: error.report))
        log.flush()
        if isStopped { return .stop }
        failures += 1
        summary.message = error.report.error.map { "\($0.stage.rawValue)/\($0.kind.rawValue): \($0.message)" }
        updateProgress { [message = summary.message] in $0.lastProblem = message }
        logger.info("open failed", metadata: ["url": "\(error.report.url)", "attempt": "\(summary.attempts)"])
        guard configuration.reconnect.allowsAttempt(afterFailures: failures) else {
            summary.outcome = .attemptsExhausted
            return .stop
        }
        return .again
    }

    /// Records one opened stream to its end, then decides whether to open again.
    private func record(
        _ stream: OpenedStream,
        writer: RecordingWriter,
        summary: inout RecordingSummary,
        failures: inout Int
    ) async -> Next {
        summary.successfulOpens += 1
        if summary.successfulOpens > 1 { metrics.reconnects.increment() }
        eventRelay.follow(stream, readBatchSeconds: configuration.readBatchSeconds)
        log.append(.attempt(number: summary.attempts, at: Date(), report: stream.report))
        let attempt = summary.attempts
        state.withLock { $0.current = stream }
        updateProgress { [reconnects = summary.successfulOpens - 1] in
            $0.state = .recording
            $0.reconnects = reconnects
            $0.lastFirstPictureMs = stream.report.summary.firstVideoFrameMs
        }
        // A stop that came while the open ran missed this stream.
        if isStopped { stream.interruptReads() }
        let outcome = await writer.record(stream, attempt: attempt) { written in
            self.updateProgress { progress in
                progress.packetsWritten = written.packets
                progress.bytesWritten = written.bytes
                progress.mediaSeconds = written.seconds
            }
        }
        state.withLock { $0.current = nil }
        stream.close()
        defer { log.flush() }
        switch outcome {
        case .ended(let end, let wroteMedia):
            // Only a connection that added media resets the count: an edge that opens, re-sends what was written
            // and closes again is backed off like a failed open, and counts towards maxAttempts.
            if wroteMedia {
                failures = 0
            } else if !isStopped {
                failures += 1
                guard configuration.reconnect.allowsAttempt(afterFailures: failures) else {
                    summary.outcome = .attemptsExhausted
                    summary.message = end.description
                    return .stop
                }
            }
            updateProgress { $0.lastProblem = end.description }
            if configuration.stopAtEndOfInput, end.reason == .endOfInput {
                summary.outcome = .inputEnded
                summary.message = end.description
                return .stop
            }
            logger.info("stream ended", metadata: ["reason": "\(end.reason.rawValue)", "attempt": "\(attempt)"])
        case .writeFailed(let error):
            summary.outcome = .writeFailed
            summary.message = error.description
            stopped.store(true, ordering: .relaxed)
        }
        return .again
    }

    private func updateProgress(_ change: (inout RecorderProgress) -> Void) {
        state.withLock { change(&$0.progress) }
    }

    /// Waits `seconds`, returning early when the recorder is stopped.
    private func pause(seconds: Double) async {
        let end = MonotonicClock.nanoseconds() + UInt64(seconds * 1e9)
        while !isStopped, MonotonicClock.nanoseconds() < end {
            let left = Double(end - min(end, MonotonicClock.nanoseconds())) / 1e9
            try? await Task.sleep(for: .milliseconds(Int(min(left, 0.05) * 1000) + 1))
        }
    }
}
