/// Where a recording's timeline breaks: a stream that ended and the attempt that picked it up again, or a break
/// inside one connection (its timestamps jumped, or video skipped frames). A stream that ended and was never picked
/// up again (the recording stopped, or its input ended) is a gap without ``toSeconds``.
public struct RecordingGap: Sendable, Codable, Equatable {
    /// What broke the timeline.
    public enum Kind: String, Sendable, Codable, Hashable {
        /// The connection ended (``RecordingGap/end`` says why) and the next one picked the recording up again:
        /// the media the edge sent in between is missing.
        case reconnect
        /// The timestamps jumped inside a connection (back, or more than 10 s ahead: FLV's 32-bit wrap, an MPEG-TS
        /// discontinuity, a publisher restarted behind a relay). The new clock goes on right after the last packet,
        /// so the file has no hole; nothing is known to be missing.
        case timestampJump
        /// Video stepped over missing frames on its own clock (an edge that skipped frames, an HLS segment that
        /// expired before it was read): the file has a hole where its timestamps say.
        case hole
    }

    public var kind: Kind
    /// The attempt (1-based) whose stream ended, or in which the break was found.
    public var afterAttempt: Int
    /// Why the stream ended (``Kind/reconnect`` only).
    public var end: StreamEnd?
    /// The file's time (seconds from the recording's start) of the last packet before the gap, and of the first
    /// one after it (nil until media came again).
    public var fromSeconds: Double
    public var toSeconds: Double?
    /// Wall-clock seconds between the last packet written before the gap and the first one after it: how long
    /// nothing came (a stall before a drop included).
    public var wallSeconds: Double?
    /// Packets the new connection sent again that were already written (an edge's GOP cache), dropped.
    public var duplicatesDropped: Int
    /// Video packets dropped after the gap until a keyframe, because the frames they refer to were lost.
    public var droppedUntilKeyframe: Int
    /// Whether the new connection's timestamps continued the old ones (the same channel clock), so the gap in the
    /// file is the media that was really missed; otherwise the file's timeline advanced by the wall-clock gap.
    public var sameClock: Bool?

    public init(
        kind: Kind,
        afterAttempt: Int,
        end: StreamEnd?,
        fromSeconds: Double,
        toSeconds: Double? = nil,
        wallSeconds: Double? = nil,
        duplicatesDropped: Int = 0,
        droppedUntilKeyframe: Int = 0,
        sameClock: Bool? = nil
    ) {
        self.kind = kind
        self.afterAttempt = afterAttempt
        self.end = end
        self.fromSeconds = fromSeconds
        self.toSeconds = toSeconds
        self.wallSeconds = wallSeconds
        self.duplicatesDropped = duplicatesDropped
        self.droppedUntilKeyframe = droppedUntilKeyframe
        self.sameClock = sameClock
    }
}
