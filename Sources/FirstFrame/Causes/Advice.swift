extension FirstFrameReport {
    /// One line of advice: a cause that cost more than its threshold, and what removes it.
    public struct Advice: Sendable, Codable, Hashable {
        /// What removes the time, as a stable identifier (for dashboards and tests; the message is for people).
        public enum Remedy: String, Sendable, Codable, CaseIterable {
            /// Resolve the stream hosts ahead of the open (the DNS cache's prefetch) and keep them warm.
            case dnsPrefetch
            /// Ask for A records only (`ipv4Only`): no AAAA query to wait for.
            case ipv4Only
            /// Connect attempts failed or were slow: another edge (the DNS cache demotes failed addresses).
            case anotherEdge
            /// Keep connections and TLS sessions warm (keep-alive, session resumption) or avoid the extra hop.
            case warmConnection
            /// Redirects cost a request each: open the final URL.
            case avoidRedirects
            /// The server was slow to send the first media byte: a stream cold at the edge.
            case warmEdge
            /// RTMP's command exchange: `tcp_nodelay` and `quickAck`, or HTTP-FLV from the same server.
            case rtmpExchange
            /// The edge makes joiners wait for its next keyframe: a GOP cache at the edge, or a shorter GOP.
            case gopCache
            /// The first keyframe's bytes took long to arrive: a lower first rendition, a CDN's fast start.
            case fastStart
            /// The client read on after the keyframe had arrived: a knob removes it (named in ``knobs``).
            case tuneKnobs
            /// The decoder held the picture back (B-frame reorder, frame threads): `decodeKeyframeAlone`.
            case decoder
            /// The open spent more round trips than its protocol needs (connections not reused, fetches the first
            /// picture did not need, a server's small writes waiting for ACKs): ``FirstFrameReport/Floor`` lists them.
            case fewerRoundTrips
            /// Packets were lost: a SYN retransmitted after the kernel's 1 s, a DNS query retried, server packets
            /// behind a hole. Hedged connects and lookups (or a better path) take the wait away.
            case lossRecovery
        }

        public var cause: Cause
        public var remedy: Remedy
        /// The milliseconds this advice is about.
        public var ms: Double
        /// One line for a person.
        public var message: String
        /// Knob settings to try, in the form `set` and `sweep` accept (`fpsprobesize=0`); empty when no knob helps.
        public var knobs: [String]
        /// The command that confirms the advice on this URL, when a knob is involved.
        public var sweep: String?

        public init(
            cause: Cause,
            remedy: Remedy,
            ms: Double,
            message: String,
            knobs: [String] = [],
            sweep: String? = nil
        ) {
            self.cause = cause
            self.remedy = remedy
            self.ms = ms
            self.message = message
            self.knobs = knobs
            self.sweep = sweep
        }
    }
}

extension FirstFrameReport.Advice.Remedy: CustomStringConvertible {
    /// Its name, as reports spell it: what `print` and string interpolation show, instead of the qualified case.
    public var description: String { rawValue }
}
