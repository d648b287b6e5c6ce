extension FirstFrameReport {
    /// How a ``StreamPreloader`` had prepared a room when the app opened it, and how long the switch took.
    public struct Preload: Sendable, Codable, Hashable {
        /// The warmest state the room was in when it was opened.
        public enum State: String, Sendable, Codable, CaseIterable {
            /// Opened ahead and kept hot: the newest keyframe decoded, its GOP held; the switch is a hand-over.
            case preloaded
            /// A connection to the edge was open and handed to FFmpeg's connect: no DNS, no TCP handshake.
            case connected
            /// The host was in the DNS cache: no lookup.
            case resolved
            /// Nothing prepared: a cold open.
            case cold
        }

        public var state: State
        /// From the call to ``StreamPreloader/open(_:)`` to the first picture being available: for a preloaded
        /// room the hand-over, else the open.
        public var switchMs: Double
        /// For a preloaded room: how long it had been hot before the call, the bytes it held (its newest GOP)
        /// and the bytes it read while waiting.
        public var preparedMs: Double?
        public var heldBytes: Int?
        public var bytesReadWhilePreloaded: Int64?

        public init(
            state: State,
            switchMs: Double,
            preparedMs: Double? = nil,
            heldBytes: Int? = nil,
            bytesReadWhilePreloaded: Int64? = nil
        ) {
            self.state = state
            self.switchMs = switchMs
            self.preparedMs = preparedMs
            self.heldBytes = heldBytes
            self.bytesReadWhilePreloaded = bytesReadWhilePreloaded
        }
    }
}

extension FirstFrameReport.Preload.State: CustomStringConvertible {
    /// Its name (`preloaded`, `cold`, …).
    public var description: String { rawValue }
}
