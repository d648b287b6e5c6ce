extension FirstFrameReport {
    /// The least time this open could have taken on the link it met, counted the way a first frame is counted on
    /// a real network: the round trips its protocol needs × the path's round trip, the first keyframe's bytes
    /// under TCP slow start at the link's rate, the stream's own wait for a keyframe, and one decode — beside the
    /// round trips the open actually spent, step by step.
    ///
    /// The RTT is the kernel's (`TCP_INFO`'s least RTT on the open's connections), so the floor needs no
    /// configuration. Nil on a path under 1 ms (loopback: round trips cost nothing and the floor is a decode) or
    /// when no connection was sampled.
    public struct Floor: Sendable, Codable, Hashable {
        /// One step of the open in round trips: what its protocol needed, what it took.
        public struct Step: Sendable, Codable, Hashable {
            /// What the step was.
            public enum Kind: String, Sendable, Codable {
                /// A DNS lookup that went to the network (a cache hit costs none).
                case dns
                /// A TCP connect: its SYN's round trip (a lost SYN costs the kernel's 1 s retransmission).
                case tcp
                /// A TLS handshake: 1 round trip under TLS 1.3, 2 under a full TLS 1.2 one.
                case tls
                /// An HTTP request to its response's first byte (a playlist, a segment, a redirect).
                case request
                /// RTMP's handshake and each command (`connect`, `createStream`, `play`).
                case rtmpHandshake, rtmpConnect, rtmpCreateStream, rtmpPlay
            }

            public var kind: Kind
            /// The hop it belongs to (an index into ``FirstFrameReport/hops``).
            public var hop: Int
            /// Round trips the protocol needs for it: 0 when it repeats what an earlier step did (a second
            /// lookup of a host, a second connection to an address, a segment after the first).
            public var needed: Int
            /// Its time, in round trips of ``Floor/rttMs``.
            public var spent: Double
            /// Its time.
            public var ms: Double
        }

        /// The path's round trip: the least RTT the kernel saw on the open's connections.
        public var rttMs: Double
        /// Every step, in the order the open took them (only those begun before the first picture, or the failure).
        public var steps: [Step]
        public var roundTripsNeeded: Int
        public var roundTripsSpent: Double
        /// Bytes from the media response's first byte to the end of the first keyframe (nil when the demuxer did
        /// not say where the keyframe was: RTMP, some containers).
        public var keyframeBytes: Int64?
        /// The server's congestion-window flights those bytes need under slow start (an initial window of 10
        /// segments, doubling each round trip): 2 or more means the keyframe waited a round trip per extra flight.
        public var keyframeFlights: Int?
        /// The link's rate, estimated from the fastest run of the media connection's receives (nil: too few).
        public var deliveryRateKbit: Double?
        /// The keyframe's transfer at the floor: its flights' round trips plus the last flight's serialisation.
        public var transferMs: Double
        /// The stream's own wait for its next keyframe (an edge without a GOP cache): no client can take it away,
        /// so it is part of the floor.
        public var keyframeWaitMs: Double
        /// One decode of the first keyframe.
        public var decodeMs: Double
        /// Round trips needed × RTT + transfer + keyframe wait + decode.
        public var floorMs: Double
        /// The first picture's time over the floor (nil when the open did not reach it).
        public var ratio: Double?
        /// Segments this side retransmitted (lost SYNs, requests) and server packets that arrived after a hole
        /// (lost on the way down), over the open's connections.
        public var retransmits: Int
        public var outOfOrderPackets: Int

        /// Round trips spent beyond those needed.
        public var excessRoundTrips: Double { max(0, roundTripsSpent - Double(roundTripsNeeded)) }
    }

    /// One hop's connection as the kernel saw it (`TCP_INFO`), in the report's units.
    public struct Transport: Sendable, Codable, Hashable {
        /// The SYN's round trip, from the sample taken as the connect succeeded.
        public var connectRTTMs: Double?
        /// The kernel's smoothed RTT and its least RTT, from the last sample.
        public var smoothedRTTMs: Double
        public var minimumRTTMs: Double
        /// Segments this side retransmitted; server packets that arrived after a hole (lost on the way down).
        public var retransmits: Int
        public var outOfOrderPackets: Int
        /// Payload bytes the connection had received at the last sample.
        public var bytesReceived: Int64
    }
}
