import Dispatch
import Synchronization

/// A kept stream's events as they happen: stalls (a read from the input blocked past a listener's threshold) and
/// the end, on the clock of the open that produced the stream.
///
/// The reading thread marks where each read from the input starts and ends (one relaxed load each when nobody
/// listens). A read blocked in FFmpeg cannot tell anyone it is blocked, so a stall's start is noticed off that
/// thread: one timer per stream (on a Dispatch queue, never the cooperative pool) due when the read in progress
/// would pass the nearest threshold; a healthy stream re-arms it about once per threshold. The stall's end is
/// told by the reading thread, with the packet that ended it. Deliveries happen under the lock, so a listener sees
/// a stall's start before its end whichever thread noticed which.
final class KeptStreamEvents: Sendable {
    /// The open's origin (`MonotonicClock` ns): the report's zero.
    private let origin: UInt64
    private let state = Mutex(State())
    /// Whether anyone listens: the reading thread's fast path.
    private let listening = Atomic<Bool>(false)

    private struct Listener {
        let deliver: @Sendable (OpenEvent) -> Void
        let finish: @Sendable () -> Void
        let threshold: UInt64
        /// A stall was told for the read in progress.
        var stalled = false
    }

    private struct State: ~Copyable {
        var listeners: [Int: Listener] = [:]
        var nextID = 0
        /// When the wait for the next packet started (`MonotonicClock` ns): the start of the first read since the
        /// last whole packet (a read that returns a packet cut short goes on waiting); nil after a packet.
        var waitStart: UInt64?
        /// A read from the input is in progress.
        var reading = false
        /// The stream's end, once it came: told to every later listener at once.
        var end: OpenEvent?
        /// When the earliest pending timer fires.
        var timerDue: UInt64?
    }

    init(origin: UInt64) {
        self.origin = origin
    }

    private func ms(_ time: UInt64) -> Double { Double(Int64(bitPattern: time &- origin)) / 1e6 }

    // MARK: Listeners

    /// Adds a listener told of stalls past `threshold` ns and of the end; returns its id, or nil when the stream
    /// had already ended (the listener was told the end and finished at once).
    func listen(
        threshold: UInt64,
        deliver: @escaping @Sendable (OpenEvent) -> Void,
        finish: @escaping @Sendable () -> Void
    ) -> Int? {
        let added = state.withLock { state -> Result<Int, EndedBefore> in
            if let end = state.end { return .failure(EndedBefore(end: end)) }
            state.nextID += 1
            state.listeners[state.nextID] = Listener(
                deliver: deliver,
                finish: finish,
                threshold: max(1_000_000, threshold)
            )
            listening.store(true, ordering: .relaxed)
            arm(&state, now: MonotonicClock.nanoseconds())
            return .success(state.nextID)
        }
        switch added {
        case .success(let id):
            return id
        case .failure(let before):
            deliver(before.end)
            finish()
            return nil
        }
    }

    private struct EndedBefore: Error {
        var end: OpenEvent
    }

    func stopListening(_ id: Int) {
        state.withLock { state in
            state.listeners[id] = nil
            if state.listeners.isEmpty { listening.store(false, ordering: .relaxed) }
        }
    }

    // MARK: The reading thread

    /// A read from the input starts (it may block).
    func readStarted() {
        guard listening.load(ordering: .relaxed) else { return }
        let now = MonotonicClock.nanoseconds()
        state.withLock { state in
            state.waitStart = state.waitStart ?? now
            state.reading = true
            arm(&state, now: now)
        }
    }

    /// The read returned: with a whole packet, it ends the wait and the stalls told for it. (Without one the
    /// stream ended, whose end says so, or the packet was cut short and the wait goes on.)
    func readFinished(gotPacket: Bool) {
        guard listening.load(ordering: .relaxed) else { return }
        let now = MonotonicClock.nanoseconds()
        state.withLock { state in
            state.reading = false
            guard gotPacket, let start = state.waitStart else { return }
            state.waitStart = nil
            for id in state.listeners.keys where state.listeners[id]!.stalled {
                state.listeners[id]!.stalled = false
                state.listeners[id]!.deliver(OpenEvent(ms: ms(now), kind: .stallEnded(durationMs: ms(now) - ms(start))))
            }
        }
    }

    /// The stream ended: every listener is told, then finished.
    func ended(_ end: StreamEnd) {
        let now = MonotonicClock.nanoseconds()
        let finished = state.withLock { state -> [Listener] in
            guard state.end == nil else { return [] }
            let event = OpenEvent(ms: ms(now), kind: .ended(end))
            state.end = event
            state.reading = false
            let listeners = Array(state.listeners.values)
            state.listeners = [:]
            listening.store(false, ordering: .relaxed)
            for listener in listeners { listener.deliver(event) }
            return listeners
        }
        // Outside the lock: finishing a stream runs its termination handler, which takes the lock.
        for listener in finished { listener.finish() }
    }

    // MARK: The stall timer

    /// Makes sure a timer fires when the read in progress passes the nearest threshold not yet told.
    private func arm(_ state: inout State, now: UInt64) {
        guard state.end == nil, state.reading, let start = state.waitStart,
            let due = state.listeners.values.filter({ !$0.stalled }).map({ start + $0.threshold }).min()
        else { return }
        if let pending = state.timerDue, pending <= due { return }
        state.timerDue = due
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(due - min(due, now)))) { [self] in
            fire(due)
        }
    }

    private func fire(_ due: UInt64) {
        state.withLock { state in
            if state.timerDue == due { state.timerDue = nil }
            guard state.end == nil, state.reading, let start = state.waitStart else { return }
            let now = MonotonicClock.nanoseconds()
            for id in state.listeners.keys {
                let listener = state.listeners[id]!
                guard !listener.stalled, now >= start + listener.threshold else { continue }
                state.listeners[id]!.stalled = true
                listener.deliver(
                    OpenEvent(ms: ms(start + listener.threshold), kind: .stallStarted(waitingSinceMs: ms(start)))
                )
            }
            arm(&state, now: now)
        }
    }
}

extension OpenedStream {
    /// The kept stream's events from now on, as they happen: ``OpenEvent/Kind/stallStarted(waitingSinceMs:)`` when
    /// a read from the input has waited `stallAfter` for its packet, ``OpenEvent/Kind/stallEnded(durationMs:)``
    /// when the packet came, and ``OpenEvent/Kind/ended(_:)`` last, after which the sequence finishes. Times are on
    /// the clock of the open that produced the stream (the report's), so they follow on from the open's events.
    ///
    /// ```swift
    /// let stream = try await opener.open(url)
    /// Task {
    ///     for await event in stream.events(stallAfter: .milliseconds(300)) {
    ///         if case .stallStarted = event.kind { showSpinner() }
    ///         if case .stallEnded = event.kind { hideSpinner() }
    ///     }
    /// }
    /// for try await packet in stream.packets() { … }
    /// ```
    ///
    /// A stall is a read that waits: while the read-ahead of ``packets(bufferCapacity:)`` waits for its consumer
    /// (back-pressure) no read is in progress and nothing stalls. Packets read during the open are handed on without
    /// a read. Set the threshold above the gaps the stream has when it is healthy (a frame interval, and the
    /// batching of ``batchReads(bytes:)`` if used); the read timeout (`readTimeoutMs`) still ends a stall that goes
    /// on too long, as ``StreamEnd/Reason/stalled``.
    ///
    /// Each call adds a listener with its own threshold; every listener gets every event from the moment it was
    /// added. On a stream that has already ended, the sequence holds only the end. Nothing is measured while nobody
    /// listens; the events never wait for the consumer (the oldest are dropped past `bufferingNewest`).
    public func events(
        stallAfter: Duration = .milliseconds(500),
        bufferingNewest limit: Int = 1024
    ) -> AsyncStream<OpenEvent> {
        let (events, continuation) = AsyncStream.makeStream(
            of: OpenEvent.self,
            bufferingPolicy: .bufferingNewest(max(1, limit))
        )
        let hub = eventHub
        if let id = hub.listen(
            threshold: stallAfter.nanoseconds,
            deliver: { continuation.yield($0) },
            finish: { continuation.finish() }
        ) {
            continuation.onTermination = { _ in hub.stopListening(id) }
        }
        return events
    }
}
