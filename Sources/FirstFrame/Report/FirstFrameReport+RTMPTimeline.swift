import FirstFrameNetwork

extension FirstFrameReport {
    /// An RTMP hop in its own terms, read from its chunk stream: the handshake, the `connect`, `createStream` and
    /// `play` commands with their answers, the first media messages, and the stalls inside them (milliseconds
    /// on the report's clock).
    public struct RTMPTimeline: Sendable, Codable, Hashable {
        /// A gap on the connection with nothing sent or received.
        public struct Stall: Sendable, Codable, Hashable {
            public var startMs: Double
            public var endMs: Double
            /// Who the connection was waiting for: `server` or `client`.
            public var awaiting: String
            /// What came before it ("after sending connect").
            public var after: String
            /// True when, inside a phase, the server had begun its answer and sent the rest only after the pause:
            /// a server writing its answer in pieces under Nagle (no `TCP_NODELAY`, as nginx-rtmp) holds all but
            /// the first until this client's ACK, one round trip more that no client setting removes (or a lost
            /// packet); absent otherwise.
            public var heldBackByServer: Bool?

            public var durationMs: Double { endMs - startMs }
        }

        /// `handshake`, `connect`, `createStream` or `play`: its request's first byte to its answer's last.
        public struct Phase: Sendable, Codable, Hashable {
            public var name: String
            public var startMs: Double
            public var endMs: Double?
            public var stalls: [Stall]

            public var stallMs: Double { stalls.reduce(0) { $0 + $1.durationMs } }
            /// The stalls where the server held the rest of its answer back (``Stall/heldBackByServer``): on a
            /// link with a round trip, one round trip each.
            public var heldBack: [Stall] { stalls.filter { $0.heldBackByServer == true } }
        }

        public var phases: [Phase]
        /// The first byte of the first media message after `play`.
        public var firstMediaByteMs: Double?
        /// The last byte of the first audio and the first video message.
        public var firstAudioMs: Double?
        public var firstVideoMs: Double?
        /// The first video keyframe message's first and last byte.
        public var firstKeyframeStartMs: Double?
        public var firstKeyframeEndMs: Double?
        /// Stalls from the handshake to the first keyframe, inside or between phases.
        public var stalls: [Stall]
        /// False when the trace did not capture the chunk stream as far as the first keyframe.
        public var isComplete: Bool

        public var stallMs: Double { stalls.reduce(0) { $0 + $1.durationMs } }
        /// The round trips the server added to the phases by answering in pieces (``Phase/heldBack``).
        public var serverHeldBackRoundTrips: Int { phases.reduce(0) { $0 + $1.heldBack.count } }
    }
}

extension FirstFrameReport.RTMPTimeline {
    /// The exchange read from the trace, on the report's clock.
    init(_ exchange: RTMPExchange, milliseconds ms: (UInt64) -> Double) {
        func stall(_ stall: RTMPStall) -> Stall {
            .init(
                startMs: ms(stall.start),
                endMs: ms(stall.end),
                awaiting: stall.awaited.rawValue,
                after: stall.after,
                heldBackByServer: stall.heldBackByServer ? true : nil
            )
        }
        phases = exchange.phases.map { phase in
            .init(
                name: phase.name.rawValue,
                startMs: ms(phase.start),
                endMs: phase.end.map(ms),
                stalls: phase.stalls.map(stall)
            )
        }
        firstMediaByteMs = exchange.firstMediaByte.map(ms)
        firstAudioMs = exchange.firstAudioMessage.map(ms)
        firstVideoMs = exchange.firstVideoMessage.map(ms)
        firstKeyframeStartMs = exchange.firstKeyframeStart.map(ms)
        firstKeyframeEndMs = exchange.firstKeyframeEnd.map(ms)
        stalls = exchange.stalls.map(stall)
        isComplete = exchange.isComplete
    }
}
