import Synchronization

extension Recorder {
    /// The recording's events as they happen: each attempt's open (lookup, connects, request, response, probe,
    /// streams, first keyframe, first picture, or ``OpenEvent/Kind/openFailed(_:)``), its kept stream's stalls and
    /// end, and ``OpenEvent/Kind/reconnecting(attempt:waitedMs:)`` before every attempt after the first. Each
    /// attempt's events are on that open's clock: a reconnect is at 0 ms, and the events after it count from there.
    ///
    /// ```swift
    /// let events = recorder.events()
    /// Task { for await event in events { log(event) } }   // finishes when run() returns
    /// let summary = await recorder.run()
    /// ```
    ///
    /// Ask before ``run()`` to see everything: a listener added while the recorder runs starts with the next open
    /// or kept stream. `stallAfter` nil takes 500 ms, or twice `readBatchSeconds` when that is longer (batched
    /// reads wait that long when the stream is healthy). The events never wait for the consumer (the oldest are
    /// dropped past `bufferingNewest`), and nothing is measured while nobody listens.
    public func events(stallAfter: Duration? = nil, bufferingNewest limit: Int = 4096) -> AsyncStream<OpenEvent> {
        eventRelay.subscribe(stallAfter: stallAfter.map(\.nanoseconds), limit: limit)
    }
}

extension Duration {
    /// Whole nanoseconds, 0 for a negative duration.
    var nanoseconds: UInt64 {
        let components = components
        guard components.seconds >= 0, components.attoseconds >= 0 else { return 0 }
        return UInt64(components.seconds) * 1_000_000_000 + UInt64(components.attoseconds / 1_000_000_000)
    }
}

/// A recorder's listeners: each gets the opens' events (through the opener's sink) and, per kept stream, the
/// stream's stalls (at its own threshold) and end.
final class RecorderEventRelay: Sendable {
    private struct Subscriber {
        let continuation: AsyncStream<OpenEvent>.Continuation
        let stallAfter: UInt64?
    }

    private struct State: ~Copyable {
        var subscribers: [Int: Subscriber] = [:]
        var nextID = 0
        /// The recorder's run is over: later listeners get a finished sequence.
        var finished = false
    }

    private let state = Mutex(State())

    func subscribe(stallAfter: UInt64?, limit: Int) -> AsyncStream<OpenEvent> {
        let (events, continuation) = AsyncStream.makeStream(
            of: OpenEvent.self,
            bufferingPolicy: .bufferingNewest(max(1, limit))
        )
        let id = state.withLock { state -> Int? in
            guard !state.finished else { return nil }
            state.nextID += 1
            state.subscribers[state.nextID] = Subscriber(continuation: continuation, stallAfter: stallAfter)
            return state.nextID
        }
        guard let id else {
            continuation.finish()
            return events
        }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { _ = $0.subscribers.removeValue(forKey: id) }
        }
        return events
    }

    /// What the opener is told to call for the next open: nil (no work in the open) while nobody listens.
    var sink: (@Sendable (OpenEvent) -> Void)? {
        guard state.withLock({ !$0.subscribers.isEmpty }) else { return nil }
        return { @Sendable [self] event in emit(event) }
    }

    func emit(_ event: OpenEvent) {
        // Yielding never calls back: safe under the lock, which keeps every listener's order.
        state.withLock { state in
            for subscriber in state.subscribers.values { subscriber.continuation.yield(event) }
        }
    }

    /// Hands the kept stream's events to every listener there is now, each at its own stall threshold.
    func follow(_ stream: OpenedStream, readBatchSeconds: Double) {
        let subscribers = state.withLock { Array($0.subscribers.values) }
        let standard = max(500_000_000, UInt64(max(0, readBatchSeconds) * 2e9))
        for subscriber in subscribers {
            let continuation = subscriber.continuation
            _ = stream.eventHub.listen(
                threshold: subscriber.stallAfter ?? standard,
                deliver: { continuation.yield($0) },
                finish: {}
            )
        }
    }

    func finish() {
        let subscribers = state.withLock { state -> [Subscriber] in
            state.finished = true
            defer { state.subscribers = [:] }
            return Array(state.subscribers.values)
        }
        // Outside the lock: finishing runs the termination handler, which takes it.
        for subscriber in subscribers { subscriber.continuation.finish() }
    }
}
