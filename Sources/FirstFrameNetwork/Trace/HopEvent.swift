import FirstFrameCore

/// Something a hop did, as ``TraceInterpreter`` learns it event by event: the live counterpart of a
/// ``NetworkHop``'s fields. Each is stamped with the instant the hop records for the same thing (a lookup's end,
/// an attempt's end, the first application byte each way), and numbered with the hop's index in the trace's
/// ``NetworkTrace/hops``, so a listener told of it hears what the report will say.
package struct HopEvent: Sendable, Hashable {
    package enum Kind: Sendable, Hashable {
        /// ``DomainLookup/start``; `port` is the service asked for.
        case lookupStarted(host: String, port: Int?)
        /// ``DomainLookup/end``, with its source, answers and error.
        case lookupFinished(host: String, source: DomainLookup.Source, answers: [String], error: String?)
        /// A ``ConnectAttempt/start``.
        case connectStarted(address: String, port: Int)
        /// A ``ConnectAttempt/end``, with its outcome.
        case connectFinished(address: String, port: Int, outcome: ConnectAttempt.Outcome, error: String?)
        /// ``NetworkHop/secureConnectionStart``.
        case tlsStarted
        /// ``NetworkHop/secureConnectionEnd`` (or the handshake's error).
        case tlsFinished(resumed: Bool?, error: String?)
        /// ``NetworkHop/requestStart``, with the hop's ``NetworkHop/url`` (not redacted).
        case requestSent(url: String?)
        /// ``NetworkHop/responseStart``: told once an HTTP head is read (with its status line, status and
        /// `Location`), at the first byte for what is not HTTP, and without a status for a head that never
        /// completed (``TraceInterpreter/unfinishedResponses()``).
        case responseStarted(status: Int?, statusLine: String?, redirectTo: String?)
    }

    /// `MonotonicClock` nanoseconds: the hop field's own instant.
    package var time: UInt64
    /// The hop's index in the trace's hops.
    package var hop: Int
    package var kind: Kind

    package init(time: UInt64, hop: Int, kind: Kind) {
        self.time = time
        self.hop = hop
        self.kind = kind
    }
}
