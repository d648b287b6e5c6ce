import CNetworkHooks
import Synchronization

/// What one open tells its listener, as it runs: the network events the trace records (read from the trace where
/// the open left off: at every FFmpeg interrupt poll and every media milestone) and the milestones themselves,
/// each on the report's clock. Called on the open's thread only; the lock is never contended, it only makes the
/// feed `Sendable` for the interrupter's limit, which runs there too.
///
/// Exists only when someone listens: an open without a listener has no feed and does none of this.
final class OpenEventFeed: Sendable {
    /// The open's origin (`MonotonicClock` ns): the report's zero.
    private let origin: UInt64
    private let sink: @Sendable (OpenEvent) -> Void
    private let state = Mutex(State())

    private struct State: ~Copyable {
        var tracker = NetworkEventTracker()
        /// The trace being read (the open's), and the index of the first event not read yet.
        var trace: OpaquePointer?
        var nextEvent = 0
        /// The open is over: nothing more is read (the trace is gone).
        var finished = false
        /// `streamsKnown` went out; until it does, the first keyframe's event waits for it (below).
        var streamsKnown = false
        var heldKeyframe: OpenEvent?
    }

    init(origin: UInt64, sink: @escaping @Sendable (OpenEvent) -> Void) {
        self.origin = origin
        self.sink = sink
    }

    /// A `MonotonicClock` time on the report's clock (as `StageTimeline.milliseconds`).
    func ms(_ time: UInt64) -> Double { Double(Int64(bitPattern: time &- origin)) / 1e6 }

    private func emit(_ events: [OpenEvent]) {
        for event in events { sink(event) }
    }

    // MARK: Network

    /// Delivers the network events recorded since the last call. On the open's thread (whose trace it reads);
    /// elsewhere, or once the open is over, it does nothing.
    func drainNetwork() {
        emit(state.withLock { state in readNew(&state) })
    }

    private func readNew(_ state: inout State) -> [OpenEvent] {
        guard !state.finished, let trace = cnh_trace_current() else { return [] }
        // The open's trace is the one current at the first read; a trace nested inside it hands its events on
        // when it ends.
        if state.trace == nil { state.trace = trace }
        guard state.trace == trace else { return [] }
        let count = cnh_trace_event_count(trace)
        guard count > state.nextEvent, let raw = cnh_trace_events(trace) else { return [] }
        let bytes = cnh_trace_bytes(trace)
        var events: [OpenEvent] = []
        for index in state.nextEvent..<count {
            let event = raw[index]
            let data =
                event.data_length > 0 && bytes != nil
                ? UnsafeRawBufferPointer(start: bytes! + Int(event.data_offset), count: Int(event.data_length))
                : UnsafeRawBufferPointer(start: nil, count: 0)
            let found = state.tracker.apply(
                .init(
                    kind: event.kind,
                    time: event.time_ns,
                    fd: event.fd,
                    result: event.result,
                    error: event.error,
                    aux: event.aux,
                    data: data
                )
            )
            events += found.map { OpenEvent(ms: ms($0.time), hop: $0.hop, kind: $0.kind) }
        }
        state.nextEvent = count
        return events
    }

    /// The last read of the trace, before it ends: what is left, and the responses whose head never completed.
    func finishNetwork() {
        emit(
            state.withLock { state in
                var events = readNew(&state)
                events += state.tracker.flush().map { OpenEvent(ms: ms($0.time), hop: $0.hop, kind: $0.kind) }
                state.finished = true
                state.trace = nil
                return events
            }
        )
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
