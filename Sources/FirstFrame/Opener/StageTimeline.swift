import FirstFrameNetwork

/// Lays the stages of one open end to end on [open asked for, first picture]: each stage starts where the one
/// before ended and ends at its own event, so the stages tile the time with no gap and no overlap, and time
/// between events (FFmpeg's own work between two calls) counts towards the stage it leads into.
package struct StageTimeline {
    /// `MonotonicClock` times the media pipeline reached, nil when it did not.
    package struct MediaMarks {
        package var formatProbed: UInt64?
        package var streamInfoFound: UInt64?
        package var bufferReady: UInt64?
        package var firstVideoFrame: UInt64?
        /// Demuxed packets counted at each mark (for packets per stage).
        package var packetsAt: [Stage: Int] = [:]
        /// Bytes the input had read at each mark (used when there is no network trace: files).
        package var bytesAt: [Stage: Int64] = [:]

        package init() {}
    }

    private(set) var spans: [FirstFrameReport.StageSpan] = []
    private let origin: UInt64
    private var cursor: UInt64

    init(origin: UInt64) {
        self.origin = origin
        self.cursor = origin
    }

    func milliseconds(_ time: UInt64) -> Double { Double(Int64(bitPattern: time &- origin)) / 1e6 }

    /// Ends `stage` at `time` (clamped so time never runs backwards).
    mutating func close(_ stage: Stage, at time: UInt64) {
        let end = max(time, cursor)
        if spans.last?.name == stage {
            // The same stage again (a failure inside the stage just closed): it runs on.
            spans[spans.count - 1].endMs = milliseconds(end)
        } else {
            spans.append(.init(name: stage, startMs: milliseconds(cursor), endMs: milliseconds(end)))
        }
        cursor = end
    }

    /// The network stages of each hop, in order, up to `limit` (the open's return, or its failure).
    mutating func addNetwork(_ hops: [NetworkHop], until limit: UInt64) {
        for hop in hops {
            func within(_ time: UInt64?) -> UInt64? { time.flatMap { $0 <= limit ? $0 : nil } }
            if let end = within(hop.lookup?.end) { close(.dns, at: end) }
            if let end = within(hop.establishedConnect?.end ?? hop.connects.compactMap(\.end).max()) {
                close(.tcpConnect, at: end)
            }
            if let end = within(hop.secureConnectionEnd) { close(.tls, at: end) }
            if let end = within(hop.responseStart) { close(.httpResponse, at: end) }
        }
    }

    /// The network stage (or the format probe after the last response) in progress at `now` in an open that
    /// started at `origin`, and when it started: for stage deadlines checked while `avformat_open_input` blocks.
    package static func networkStageInProgress(
        hops: [NetworkHop],
        origin: UInt64,
        now: UInt64
    ) -> (stage: Stage, since: UInt64) {
        var timeline = StageTimeline(origin: origin)
        timeline.addNetwork(hops, until: now)
        return (stageInProgress(hops: hops, marks: MediaMarks()), timeline.cursor)
    }

    /// The stage that was running when the open stopped, judged from the last hop and the media marks reached:
    /// where a failure happened.
    package static func stageInProgress(hops: [NetworkHop], marks: MediaMarks) -> Stage {
        if marks.bufferReady != nil { return .decode }
        if marks.streamInfoFound != nil { return .buffering }
        if marks.formatProbed != nil { return .streamInfo }
        guard let hop = hops.last else { return .formatProbe }
        if let lookup = hop.lookup, lookup.end == nil || lookup.error != nil { return .dns }
        if !hop.connects.isEmpty || hop.lookup != nil, hop.establishedConnect == nil { return .tcpConnect }
        if hop.secureConnectionStart != nil, hop.secureConnectionEnd == nil { return .tls }
        if hop.responseStart == nil { return .httpResponse }
        return .formatProbe
    }

    /// Sums each stage (network stages repeat across hops) into the summary.
    var summary: FirstFrameReport.Summary {
        var summary = FirstFrameReport.Summary()
        for span in spans { summary[span.name] += span.durationMs }
        return summary
    }

    /// Fills bytes (received in each span, from the trace; or the input's counter) and packets per span.
    mutating func attribute(receives: [NetworkEvent], marks: MediaMarks) {
        var previousPackets = 0
        var previousBytes: Int64 = 0
        for index in spans.indices {
            let span = spans[index]
            let start = origin + UInt64(max(0, span.startMs * 1e6))
            let end = origin + UInt64(max(0, span.endMs * 1e6))
            if receives.isEmpty {
                if let bytes = marks.bytesAt[span.name] {
                    spans[index].bytes = bytes - previousBytes
                    previousBytes = bytes
                }
            } else {
                spans[index].bytes = receives.lazy
                    .filter { $0.time > start && $0.time <= end && $0.result > 0 }
                    .reduce(0) { $0 + $1.result }
            }
            if let packets = marks.packetsAt[span.name] {
                spans[index].packets = packets - previousPackets
                previousPackets = packets
            }
        }
    }
}
