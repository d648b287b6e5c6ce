import CNetworkHooks

/// Where a reader of one C trace (the hooks' event array and byte arena) has got to: each ``read(into:)`` decodes
/// only the events recorded since the last one, so a reader that reads on every poll decodes each event once.
///
/// The C trace is touched only by the thread that records it: read it on that thread, or after it has ended.
struct TraceCursor {
    let trace: OpaquePointer
    /// The index in the C trace of the first event not decoded yet.
    private(set) var next = 0

    init(_ trace: OpaquePointer) {
        self.trace = trace
    }

    /// Appends the events recorded since the last read to `events`; returns how many C events it decoded (events
    /// of a kind this build does not know are decoded and skipped).
    @discardableResult
    mutating func read(into events: inout [NetworkEvent]) -> Int {
        let count = cnh_trace_event_count(trace)
        guard count > next, let raw = cnh_trace_events(trace) else { return 0 }
        let bytes = cnh_trace_bytes(trace)
        events.reserveCapacity(events.count + count - next)
        for event in UnsafeBufferPointer(start: raw + next, count: count - next) {
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
        defer { next = count }
        return count - next
    }

}
