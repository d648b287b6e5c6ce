import CNetworkHooks
import FirstFrameCore

/// Tracing on the current thread from `init` to ``stop()``. Internal: a recorder left running on a thread
/// would leave that thread pointing at a freed trace, which ``NetworkTrace/capture(captureBytesPerTurn:_:)``
/// cannot do.
package final class NetworkTraceRecorder {
    private var trace: OpaquePointer?

    init(captureBytesPerTurn: Int, quickAck: Bool = false) {
        trace = cnh_trace_begin(UInt32(clamping: max(0, captureBytesPerTurn)))
        if quickAck { cnh_trace_set_quick_ack(trace, 1) }
    }

    /// The events recorded so far on the calling thread's innermost trace (empty when it is not tracing).
    package static func eventsSoFar() -> [NetworkEvent] {
        guard let trace = cnh_trace_current() else { return [] }
        return events(of: trace)
    }

    /// Whether the calling thread is tracing (it has a trace to read).
    package static var isTracing: Bool { cnh_trace_current() != nil }

    /// How many `connect` calls and HTTP request heads (plain or through TLS) the calling thread's innermost trace
    /// has seen so far, as the hooks count them: cheap enough to read on every interrupt poll. Zero when the thread
    /// is not tracing.
    package static func requestCountsSoFar() -> (connects: Int, requests: Int) {
        var connects: UInt32 = 0
        var requests: UInt32 = 0
        cnh_trace_counts(cnh_trace_current(), &connects, &requests)
        return (Int(connects), Int(requests))
    }

    private static func events(of trace: OpaquePointer) -> [NetworkEvent] {
        let count = cnh_trace_event_count(trace)
        let bytes = cnh_trace_bytes(trace)
        var events: [NetworkEvent] = []
        events.reserveCapacity(count)
        guard let raw = cnh_trace_events(trace) else { return [] }
        for event in UnsafeBufferPointer(start: raw, count: count) {
            guard let kind = NetworkEvent.Kind(event.kind) else { continue }
            let data: [UInt8] =
                event.data_length > 0 && bytes != nil
                ? Array(UnsafeBufferPointer(start: bytes! + Int(event.data_offset), count: Int(event.data_length)))
                : []
            events.append(
                NetworkEvent(
                    kind: kind,
                    time: event.time_ns,
                    fd: event.fd,
                    result: event.result,
                    error: event.error,
                    aux: event.aux,
                    data: data
                )
            )
        }
        return events
    }

    /// Stops tracing and returns what was recorded. A second call returns an empty trace.
    func stop() -> NetworkTrace {
        let now = MonotonicClock.nanoseconds()
        guard let trace else { return NetworkTrace(start: now, end: now, events: []) }
        self.trace = nil
        cnh_trace_end(trace)
        defer { cnh_trace_free(trace) }
        let events = Self.events(of: trace)
        let result = NetworkTrace(
            start: cnh_trace_start_ns(trace),
            end: now,
            events: events,
            droppedEvents: Int(cnh_trace_dropped(trace))
        )
        // Once, from the outermost capture: an inner capture's events reach the outer one too.
        if cnh_trace_is_active() == 0 { DNSCache.installed?.learn(from: result) }
        return result
    }
}
