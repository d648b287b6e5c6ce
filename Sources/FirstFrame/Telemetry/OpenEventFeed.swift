import FirstFrameFFmpeg
import FirstFrameNetwork
import Synchronization

/// What one open tells its listener, as it runs: what the hops do (the open's ``LiveTrace`` reads them from the
/// trace, where the open left off, at every FFmpeg interrupt poll and every media milestone) and the milestones
/// themselves, each on the report's clock. Called on the open's thread only; the lock is never contended, it only
/// makes the feed `Sendable` for the interrupter's limit, which runs there too.
///
/// Exists only when someone listens: an open without a listener has no feed and does none of this.
final class OpenEventFeed: Sendable {
    /// The open's origin (`MonotonicClock` ns): the report's zero.
    private let origin: UInt64
    /// The open's trace, read as it grows; it keeps the hop events (`reportsHopEvents`).
    private let live: LiveTrace
    private let sink: @Sendable (OpenEvent) -> Void
    private let state = Mutex(State())

    private struct State: ~Copyable {
        /// `streamsKnown` went out; until it does, the first keyframe's event waits for it (below).
        var streamsKnown = false
        var heldKeyframe: OpenEvent?
    }

    init(origin: UInt64, live: LiveTrace, sink: @escaping @Sendable (OpenEvent) -> Void) {
        self.origin = origin
        self.live = live
        self.sink = sink
    }

    /// A `MonotonicClock` time on the report's clock (as `StageTimeline.milliseconds`).
    func ms(_ time: UInt64) -> Double { Double(Int64(bitPattern: time &- origin)) / 1e6 }

    private func emit(_ events: [HopEvent]) {
        for event in events { sink(OpenEvent(ms: ms(event.time), hop: event.hop, kind: OpenEvent.Kind(event.kind))) }
    }

    // MARK: Network

    /// Delivers what the hops did since the last call. On the open's thread (whose trace it reads); elsewhere, or
    /// once the open is over, it delivers nothing new.
    func drainNetwork() {
        emit(live.takeHopEvents())
    }

    /// The last read of the trace, before it ends: what is left, and the responses whose head never completed.
    func finishNetwork() {
        emit(live.finishHopEvents())
    }

    // MARK: Media

    /// A stage's milestone was reached at `time`: the network events before it first.
    func reached(_ stage: Stage, at time: UInt64, input: InputFormatContext?) {
        drainNetwork()
        switch stage {
        case .formatProbe:
            sink(OpenEvent(ms: ms(time), kind: .formatProbed(format: input?.formatName ?? "")))
        case .streamInfo:
            let streams = (input?.streams ?? []).map { stream in
                let isVideo = stream.kind == .video
                return FirstFrameReport.Stream(
                    index: stream.index,
                    type: stream.kind,
                    codec: stream.codec,
                    width: isVideo && stream.width > 0 ? stream.width : nil,
                    height: isVideo && stream.height > 0 ? stream.height : nil,
                    sampleRate: stream.kind == .audio ? stream.sampleRate : nil
                )
            }
            sink(OpenEvent(ms: ms(time), kind: .streamsKnown(streams)))
            if let keyframe = state.withLock({ state in
                state.streamsKnown = true
                defer { state.heldKeyframe = nil }
                return state.heldKeyframe
            }) {
                sink(keyframe)
            }
        case .buffering:
            sink(OpenEvent(ms: ms(time), kind: .bufferReady))
        default:
            // The network stages come from the trace; the decode stage's end is the first picture.
            break
        }
    }

    /// The first video keyframe was read at `readAt`; its last byte arrived at `arrivedAt`, when known.
    ///
    /// Delivered after `streamsKnown`, which it may precede when the stream information is read without
    /// `avformat_find_stream_info` (FLV's video is known by its sequence header or its first keyframe): the events
    /// keep the pipeline's order, and the keyframe's time is its own either way.
    func firstKeyframe(readAt: UInt64, arrivedAt: UInt64?) {
        drainNetwork()
        let event = OpenEvent(
            ms: ms(arrivedAt ?? readAt),
            kind: .firstKeyframe(readMs: ms(readAt), arrivedMs: arrivedAt.map(ms))
        )
        let held = state.withLock { state in
            if !state.streamsKnown { state.heldKeyframe = event }
            return !state.streamsKnown
        }
        if !held { sink(event) }
    }

    /// The keyframe's event, if it is still waiting for `streamsKnown` that did not come.
    private func releaseKeyframe() {
        if let keyframe = state.withLock({ state in
            defer { state.heldKeyframe = nil }
            return state.heldKeyframe
        }) {
            sink(keyframe)
        }
    }

    func firstPicture(at time: UInt64, width: Int, height: Int) {
        drainNetwork()
        sink(OpenEvent(ms: ms(time), kind: .firstPicture(width: width, height: height)))
    }

    func firstAudioFrame(at time: UInt64) {
        sink(OpenEvent(ms: ms(time), kind: .firstAudioFrame))
    }

    /// The open failed: the last event, at the end of the report's last stage.
    func failed(_ report: FirstFrameReport) {
        guard let failure = report.error else { return }
        releaseKeyframe()
        sink(OpenEvent(ms: report.stages.last?.endMs ?? 0, kind: .openFailed(failure)))
    }
}

extension OpenEvent.Kind {
    /// What a hop did, as a listener is told it: URLs redacted, as the report has them.
    init(_ kind: HopEvent.Kind) {
        switch kind {
        case .lookupStarted(let host, let port):
            self = .lookupStarted(host: host, port: port)
        case .lookupFinished(let host, let source, let answers, let error):
            self = .lookupFinished(host: host, source: source, answers: answers, error: error)
        case .connectStarted(let address, let port):
            self = .connectStarted(address: address, port: port)
        case .connectFinished(let address, let port, let outcome, let error):
            self = .connectFinished(address: address, port: port, outcome: outcome, error: error)
        case .tlsStarted:
            self = .tlsStarted
        case .tlsFinished(let resumed, let error):
            self = .tlsFinished(resumed: resumed, error: error)
        case .requestSent(let url):
            self = .requestSent(url: url.map(InputPolicy.redacted))
        case .responseStarted(let status, let statusLine, let redirectTo):
            self = .responseStarted(
                status: status,
                statusLine: statusLine,
                redirectTo: redirectTo.map(InputPolicy.redacted)
            )
        }
    }
}
