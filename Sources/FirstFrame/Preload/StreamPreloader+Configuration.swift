extension StreamPreloader {
    /// A preloader's budgets. Every number is checked by ``validate()`` (``StreamPreloader/init(opener:configuration:telemetry:)``
    /// calls it).
    public struct Configuration: Sendable, Hashable {
        /// The rooms at the head of the candidates kept open and hot (0…8): each holds a connection, a thread and
        /// its newest GOP, and reads the stream at its bitrate.
        public var preloadedStreams: Int
        /// The most bytes a preloaded room holds (its newest GOP, 64 KiB…256 MiB): past it the room holds nothing
        /// until the next keyframe, and is opened cold-but-connected if claimed meanwhile.
        public var bytesPerStream: Int
        /// How long a preloaded room is kept hot, or a room's warm connection kept, without being opened (1 s…1 h):
        /// then it is closed.
        public var idleTimeout: Duration
        /// The candidates after the preloaded ones given a warm connection to their edge (0…8): the `connected`
        /// state, handed to FFmpeg's connect when the room is opened. Needs the opener's DNS cache (the `instant`
        /// preset has one); without it those rooms are only resolved.
        public var warmConnections: Int
        /// Race a room's first two addresses for its warm connection and keep the first to connect (the other is
        /// closed, and the DNS cache ranks the winner first).
        public var raceEdges: Bool
        /// How long a warm connection's connect may take (0.1…60 s).
        public var connectTimeout: Duration

        public init(
            preloadedStreams: Int = 1,
            bytesPerStream: Int = 4 << 20,
            idleTimeout: Duration = .seconds(60),
            warmConnections: Int = 2,
            raceEdges: Bool = true,
            connectTimeout: Duration = .seconds(5)
        ) {
            self.preloadedStreams = preloadedStreams
            self.bytesPerStream = bytesPerStream
            self.idleTimeout = idleTimeout
            self.warmConnections = warmConnections
            self.raceEdges = raceEdges
            self.connectTimeout = connectTimeout
        }

        /// Throws the first budget out of range.
        public func validate() throws(StreamPreloaderError) {
            guard (0...8).contains(preloadedStreams) else {
                throw .invalidConfiguration("preloadedStreams must be 0…8, not \(preloadedStreams)")
            }
            guard (64 << 10...256 << 20).contains(bytesPerStream) else {
                throw .invalidConfiguration("bytesPerStream must be 64 KiB…256 MiB, not \(bytesPerStream)")
            }
            guard (0...8).contains(warmConnections) else {
                throw .invalidConfiguration("warmConnections must be 0…8, not \(warmConnections)")
            }
            guard connectTimeout >= .milliseconds(100), connectTimeout <= .seconds(60) else {
                throw .invalidConfiguration("connectTimeout must be 0.1…60 s, not \(connectTimeout)")
            }
            guard idleTimeout >= .seconds(1), idleTimeout <= .seconds(3600) else {
                throw .invalidConfiguration("idleTimeout must be 1 s…1 h, not \(idleTimeout)")
            }
        }
    }
}
