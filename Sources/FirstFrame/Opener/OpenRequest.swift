import FirstFrameNetwork
import Foundation
import Logging

/// One open as it was asked for: what it opens with which knobs, when it was asked for (every time in its report
/// counts from there), who listens, and what stops it.
///
/// Made where the open is asked for, and `Sendable`: the caller keeps it to cancel the open and to report a thread
/// that could not start, and the open's thread makes its ``OpenRun`` from it.
struct OpenRequest: Sendable {
    let url: String
    let knobs: TuningKnobs
    /// The preset the knobs came from, for the report.
    let presetName: String?
    /// The opener's own cache, when its knobs need one (nil: libc's getaddrinfo, or the installed cache).
    let dnsCache: DNSCache?
    /// The opener's logger: FFmpeg's lines of this open go to it (``FFmpegLog/withLogger(_:metadata:_:)``).
    let logger: Logger
    /// When the open was asked for (`MonotonicClock`).
    let origin: UInt64
    /// The wall clock at ``origin`` (seconds since 1970), for the report's `startedAt`.
    let startedAt: Double
    /// The open's network trace, read as it grows (by the limits, the log lines' stage, the feed) and assembled
    /// once, from the same reading, when the open ends.
    let live: LiveTrace
    /// Turns the trace and the marks into events as they happen; nil when nobody listens (no work at all).
    let feed: OpenEventFeed?
    let limits: OpenLimits

    /// - Parameter events: told what happens as it happens, on the open's thread (nil: nobody listens).
    init(
        url: String,
        knobs: TuningKnobs,
        presetName: String?,
        dnsCache: DNSCache?,
        events: (@Sendable (OpenEvent) -> Void)? = nil,
        logger: Logger = .disabled
    ) {
        self.url = url
        self.knobs = knobs
        self.presetName = presetName
        self.dnsCache = dnsCache
        self.logger = logger
        startedAt = Date().timeIntervalSince1970
        let origin = MonotonicClock.nanoseconds()
        self.origin = origin
        let live = LiveTrace(reportsHopEvents: events != nil)
        self.live = live
        let feed = events.map { OpenEventFeed(origin: origin, live: live, sink: $0) }
        self.feed = feed
        limits = OpenLimits(knobs: knobs, url: url, origin: origin, feed: feed, live: live)
    }

    /// The open's deadlines and cancel switch.
    var interrupter: Interrupter { limits.interrupter }

    /// The logger FFmpeg's lines of this open (and of its kept stream's reads) go to: the opener's, with the URL,
    /// credentials redacted.
    var ffmpegLogger: Logger {
        var logger = logger
        logger[metadataKey: "url"] = .string(InputPolicy.redacted(url))
        return logger
    }

    /// A report for a failure outside the pipeline (the thread could not run).
    func failedReport(kind: FirstFrameReport.Failure.Kind, message: String) -> FirstFrameReport {
        notRunReport(.init(stage: .dns, kind: kind, message: message))
    }

    /// The report of an open whose pipeline did not run: `failure` is all it says.
    func notRunReport(_ failure: FirstFrameReport.Failure) -> FirstFrameReport {
        ReportAssembler.notRun(url: url, presetName: presetName, knobs: knobs, failure: failure)
    }
}
