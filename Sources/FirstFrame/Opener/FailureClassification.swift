import FirstFrameFFmpeg
import FirstFrameNetwork

/// Decides a failed open's stage and kind from what was observed — the network trace, the media marks the
/// pipeline reached, the error and the interrupter's state — never from message text.
///
/// Pure: the same evidence gives the same answer, so it is tested as a table (`FailureClassificationTests`).
package enum FailureClassification {
    /// What the open's interrupter knew when the blocking call returned.
    package struct Interruption: Sendable, Hashable {
        /// The open was cancelled (task cancellation).
        package var cancelled: Bool
        /// The total deadline or the current stage's deadline had passed.
        package var deadlinePassed: Bool

        package init(cancelled: Bool = false, deadlinePassed: Bool = false) {
            self.cancelled = cancelled
            self.deadlinePassed = deadlinePassed
        }
    }

    /// The failure for `error`, thrown by the pipeline after it reached `marks`, with `trace` recorded so far.
    package static func classify(
        trace: NetworkTrace, marks: StageTimeline.MediaMarks, error: any Error, interruption: Interruption
    ) -> FirstFrameReport.Failure {
        var stage = StageTimeline.stageInProgress(hops: trace.hops, marks: marks)
        let lastHop = trace.hops.last
        let lookup = lastHop?.lookup
        let ffmpeg = error as? FFmpegError
        var message = "\(error)"
        let kind: FirstFrameReport.Failure.Kind

        if let known = error as? PipelineFailure {
            kind = known.kind
            message = known.message
            // Before the probe returned, the stage in progress comes from the trace; after it, the pipeline knows.
            if marks.formatProbed != nil { stage = max(stage, known.stage) }
        } else if interruption.cancelled || lookup?.failure == .cancelled {
            kind = .cancelled
        } else if interruption.deadlinePassed || lookup?.failure == .timedOut {
            kind = .timeout
            message = "\(stage.rawValue) did not finish before its deadline (\(message))"
        } else if let ffmpeg, let status = lastHop?.status.flatMap({ $0 >= 400 ? $0 : nil }) ?? ffmpeg.httpStatus {
            // The trace has the exact status; FFmpeg names only a few (others are "4xx"/"5xx").
            kind = .http
            stage = .httpResponse
            message = "HTTP \(status) (\(ffmpeg.message))"
        } else if stage == .dns {
            kind = .dns
            if let lookup, let text = lookup.error { message = "\(lookup.host): \(text)" }
        } else if stage == .tcpConnect {
            kind = .connect
            let errors = lastHop?.connects.compactMap { attempt in attempt.error.map { "\(attempt.address): \($0)" } } ?? []
            if !errors.isEmpty { message = errors.joined(separator: "; ") }
        } else if stage == .tls {
            kind = .tls
        } else if let ffmpeg, ffmpeg.isInvalidData {
            kind = .invalidData
        } else if let ffmpeg, ffmpeg.isEndOfFile || peerClosed(trace) {
            // FFmpeg's http reports a body cut short as EIO; the trace shows the peer's EOF.
            kind = .endOfStream
            message = "the input ended before the first picture (\(ffmpeg.message))"
        } else {
            kind = .ffmpeg
        }
        return FirstFrameReport.Failure(stage: stage, kind: kind, message: message)
    }

    /// Whether the media hop's socket read an end of stream (the server closed it).
    private static func peerClosed(_ trace: NetworkTrace) -> Bool {
        guard let fd = trace.hops.last?.establishedConnect?.fd else { return false }
        return trace.events.contains { $0.kind == .receive && $0.fd == fd && $0.result == 0 }
    }
}
