extension FirstFrameReport {
    /// One interval of the open attributed to a cause; consecutive spans share their boundary and tile
    /// [0, first picture] (or [0, failure]).
    public struct CauseSpan: Sendable, Codable, Hashable {
        public var cause: Cause
        public var startMs: Double
        public var endMs: Double
        /// The hop the time belongs to (network set-up and server response), nil for media causes.
        public var hop: Int?
        /// The stages this time fell in, in order: where FFmpeg happened to be blocked while it passed.
        public var stages: [Stage]

        public init(cause: Cause, startMs: Double, endMs: Double, hop: Int? = nil, stages: [Stage] = []) {
            self.cause = cause
            self.startMs = startMs
            self.endMs = endMs
            self.hop = hop
            self.stages = stages
        }

        public var durationMs: Double { endMs - startMs }
    }
}
