import CNetworkHooks
import FirstFrameCore

/// Tracing on the current thread from `init` to ``stop()``. Internal: a recorder left running on a thread
/// would leave that thread pointing at a freed trace, which ``NetworkTrace/capture(captureBytesPerTurn:_:)``
/// cannot do.
package final class NetworkTraceRecorder {
    private var trace: OpaquePointer?
    /// Reads the trace, during the capture for whoever asks it and at the end for the result.
    private let live: LiveTrace
    private let observer: (any NetworkTraceObserver)?
    /// The connect policy this capture applied (ended with it), as the owner token of its spares.
    private var policyOwner: UInt64?

    init(
        captureBytesPerTurn: Int,
        quickAck: Bool = false,
        connectPolicy: ConnectPolicy? = nil,
        live: LiveTrace = LiveTrace(),
        observer: (any NetworkTraceObserver)? = nil
    ) {
        self.live = live
        self.observer = observer
        trace = cnh_trace_begin(UInt32(clamping: max(0, captureBytesPerTurn)))
        if let trace {
            if quickAck { cnh_trace_set_quick_ack(trace, 1) }
            if let connectPolicy {
                // The trace's address names this capture's spares (unique while it lives, which is as long).
                let owner = UInt64(UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(trace))))
                if connectPolicy.begin(owner: owner) { policyOwner = owner }
            }
            live.begin(trace)
        }
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

    /// Stops tracing and returns what was recorded. A second call returns an empty trace.
    func stop() -> NetworkTrace {
        // Every socket still open is sampled while this trace is the thread's innermost: an open ends its capture
        // at its first picture (or failure), so the sample says how the keyframe's connection fared.
        if trace != nil, cnh_trace_current() == trace { cnh_trace_sample_sockets() }
        let now = MonotonicClock.nanoseconds()
        guard let trace else { return NetworkTrace(start: now, end: now, events: []) }
        self.trace = nil
        if let policyOwner { ConnectPolicy.end(owner: policyOwner) }
        cnh_trace_end(trace)
        defer { cnh_trace_free(trace) }
        let result = live.end(at: now, droppedEvents: Int(cnh_trace_dropped(trace)))
        // The registered observers once, from the outermost capture: an inner capture's events reach the outer one
        // too.
        NetworkTraceObservers.traceEnded(result, observer: observer, outermost: cnh_trace_is_active() == 0)
        return result
    }
}
