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
        /// How long a preloaded room is kept hot without being opened (1 s…1 h): then it is closed.
        public var idleTimeout: Duration

        public init(preloadedStreams: Int = 1, bytesPerStream: Int = 4 << 20, idleTimeout: Duration = .seconds(60)) {
            self.preloadedStreams = preloadedStreams
            self.bytesPerStream = bytesPerStream
            self.idleTimeout = idleTimeout
        }

        /// Throws the first budget out of range.
        public func validate() throws(StreamPreloaderError) {
            guard (0...8).contains(preloadedStreams) else {
                throw .invalidConfiguration("preloadedStreams must be 0…8, not \(preloadedStreams)")
            }
            guard (64 << 10...256 << 20).contains(bytesPerStream) else {
                throw .invalidConfiguration("bytesPerStream must be 64 KiB…256 MiB, not \(bytesPerStream)")
            }
            guard idleTimeout >= .seconds(1), idleTimeout <= .seconds(3600) else {
                throw .invalidConfiguration("idleTimeout must be 1 s…1 h, not \(idleTimeout)")
            }
        }
    }
}
