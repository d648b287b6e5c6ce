import FirstFrameFFmpeg
import FirstFrameNetwork

/// Decides a failed open's stage and kind from what was observed — the network trace, the media marks the
/// pipeline reached, the error and the interrupter's state — never from message text.
///
/// Pure: the same evidence gives the same answer, so it is tested as a table (`FailureClassificationTests`).
package enum FailureClassification {
    /// What the open's interrupter knew when the blocking call returned.
    package struct Interruption: Sendable, Hashable {
        /// A later request of a playlist (a segment) that answered with an HTTP error.
        package struct SegmentFailure: Sendable, Hashable {
            package var status: Int
            /// Redacted.
            package var url: String?

            package init(status: Int, url: String?) {
                self.status = status
                self.url = url
            }
        }

        /// The open was cancelled (task cancellation).
        package var cancelled: Bool
        /// The total deadline, the current stage's deadline, or the cap on requests had passed.
        package var deadlinePassed: Bool
        /// Which one, in words (`totalDeadline 2.0 s`, `the httpResponse deadline (50.0 ms)`), for the message.
        package var deadline: String?
        /// The open was stopped because a segment failed.
        package var segmentFailure: SegmentFailure?

        package init(
            cancelled: Bool = false,
            deadlinePassed: Bool = false,
            deadline: String? = nil,
            segmentFailure: SegmentFailure? = nil
        ) {
            self.cancelled = cancelled
            self.deadlinePassed = deadlinePassed
            self.deadline = deadline
            self.segmentFailure = segmentFailure
        }
    }

    /// The failure for `error`, thrown by the pipeline after it reached `marks`, with `trace` recorded so far.
    package static func classify(
        trace: NetworkTrace,
        marks: StageTimeline.MediaMarks,
        error: any Error,
        interruption: Interruption,
        allowedProtocols: [String] = TuningKnobs.defaultAllowedProtocols
    ) -> FirstFrameReport.Failure {
        var stage = StageTimeline.stageInProgress(hops: trace.hops, marks: marks)
        let lastHop = trace.hops.last
        let lookup = lastHop?.lookup
        let ffmpeg = error as? FFmpegError
        var message = "\(error)"
        let kind: FirstFrameReport.Failure.Kind

        if let refused = disallowedRedirect(trace, allowed: allowedProtocols) {
            kind = .protocolNotAllowed
            stage = .httpResponse
            message = "a redirect to '\(InputPolicy.redacted(refused))', whose protocol is not in allowedProtocols"
        } else if let lastHop, lastHop.kind == .http, let why = redirectFailure(trace.hops) {
            kind = .redirect
            stage = .httpResponse
            message = why
        } else if let segment = interruption.segmentFailure {
            kind = .http
            stage = .httpResponse
            message =
                "HTTP \(segment.status) for an HLS segment" + (segment.url.map { " (\($0))" } ?? "")
                + ": FFmpeg would skip it and wait for the next one until the deadline"
        } else if let lastHop, [.http, .tls].contains(lastHop.kind), lastHop.responseStart != nil,
            lastHop.statusLine != nil || !interruption.deadlinePassed,
            lastHop.status.map({ !(100...599).contains($0) }) ?? true
        {
            // (A head still incomplete when a deadline passed is a trickle: a timeout, below.)
            // FFmpeg reads any number as a status and passes what is not 4xx/5xx as success; the stream that follows
            // is nonsense. An unparsable or out-of-range status line is the server's error.
            kind = .http
            stage = .httpResponse
            message = "invalid HTTP status line" + (lastHop.status.map { " (status \($0))" } ?? "")
        } else if let known = error as? PipelineFailure, !(interruption.deadlinePassed && known.isConsequenceOfAStop) {
            kind = known.kind
            message = known.message
            // Before the probe returned, the stage in progress comes from the trace; after it, the pipeline knows.
            // A network stage the pipeline names (a status line found bad after the open) is that stage.
            if known.stage.isNetwork {
                stage = known.stage
            } else if marks.formatProbed != nil {
                stage = max(stage, known.stage)
            }
        } else if interruption.cancelled || lookup?.failure == .cancelled {
            kind = .cancelled
        } else if interruption.deadlinePassed || lookup?.failure == .timedOut {
            // What a read stopped by the deadline looks like to FFmpeg (an end of stream, a short header) is the
            // deadline's doing: a trickle is a timeout in the stage it was in.
            kind = .timeout
            if let known = error as? PipelineFailure, marks.formatProbed != nil { stage = max(stage, known.stage) }
            // A response head that never completed (it trickled): the response had not come yet.
            if marks.formatProbed == nil, let lastHop, [.http, .tls].contains(lastHop.kind),
                lastHop.requestStart != nil,
                lastHop.statusLine == nil
            {
                stage = .httpResponse
            }
            let which =
                interruption.deadline ?? (lookup?.failure == .timedOut ? "the lookup's deadline" : "its deadline")
            message = "\(stage.rawValue) did not finish within \(which)"
        } else if stage == .httpResponse, let lastHop, lastHop.secureConnectionEnd != nil, lastHop.requestStart == nil {
            // The handshake completed but no request followed: FFmpeg checks the peer after the handshake.
            kind = .tls
            stage = .tls
            message =
                "the TLS peer could not be verified (certificate chain or host name; verifyTLS, caFile): \(message)"
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
            let errors =
                lastHop?.connects.compactMap { attempt in attempt.error.map { "\(attempt.address): \($0)" } } ?? []
            if !errors.isEmpty { message = errors.joined(separator: "; ") }
        } else if stage == .tls {
            kind = .tls
        } else if let ffmpeg, ffmpeg.code == .invalidData, marks.formatProbed != nil, peerClosed(trace) {
            // The container was recognised and the server then closed mid-packet: a body cut short, whatever
            // FFmpeg makes of the half packet.
            kind = .endOfStream
            message = "the input ended inside a packet, before the first picture (\(ffmpeg.message))"
        } else if let ffmpeg, ffmpeg.code == .invalidData {
            kind = .invalidData
        } else if let ffmpeg, ffmpeg.code == .endOfFile || peerClosed(trace) {
            // FFmpeg's http reports a body cut short as EIO; the trace shows the peer's EOF.
            kind = .endOfStream
            message = "the input ended before the first picture (\(ffmpeg.message))"
        } else {
            kind = .ffmpeg
        }
        return FirstFrameReport.Failure(stage: stage, kind: kind, message: message)
    }

    /// FFmpeg's http follows at most this many redirects.
    static let maximumRedirects = 8

    /// Why the chain of hops ended on a redirect, if it did: a loop, more hops than FFmpeg follows, or a 3xx
    /// without a usable `Location`.
    static func redirectFailure(_ hops: [NetworkHop]) -> String? {
        let http = hops.filter { $0.kind == .http }
        guard let last = http.last, let status = last.status, (300...399).contains(status) else { return nil }
        let redirects = http.filter { $0.status.map { (300...399).contains($0) } ?? false }
        let targets = redirects.compactMap(\.redirectTo)
        if Set(targets).count < targets.count
            || targets.contains(where: { target in http.contains { $0.url == target } })
        {
            return "redirect loop after \(redirects.count) redirects (HTTP \(status))"
        }
        if redirects.count > maximumRedirects { return "more than \(maximumRedirects) redirects (FFmpeg's limit)" }
        guard let location = last.redirectTo, !location.isEmpty else { return "HTTP \(status) without a Location" }
        return "HTTP \(status) to \(InputPolicy.redacted(location)) could not be followed"
    }

    /// A redirect whose target's protocol is outside `allowed` (FFmpeg refuses it, or would misread it as HTTP).
    static func disallowedRedirect(_ trace: NetworkTrace, allowed: [String]) -> String? {
        for hop in trace.hops {
            guard let target = hop.redirectTo else { continue }
            let scheme = InputPolicy.scheme(of: target)
            // A relative Location (no scheme of its own) stays on the same protocol.
            guard target.lowercased().hasPrefix(scheme + ":") else { continue }
            if scheme == "file" || !allowed.contains(scheme) { return target }
        }
        return nil
    }

    /// Whether the media hop's socket read an end of stream (the server closed it).
    private static func peerClosed(_ trace: NetworkTrace) -> Bool {
        guard let fd = trace.hops.last?.establishedConnect?.fd else { return false }
        return trace.events.contains { $0.kind == .receive && $0.fd == fd && $0.result == 0 }
    }
}
