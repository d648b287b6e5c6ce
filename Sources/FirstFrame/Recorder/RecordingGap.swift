/// Where a recording has no media: a stream that ended and the attempt that picked it up again. A stream that ended
/// and was never picked up again (the recording stopped, or its input ended) is a gap without ``toSeconds``.
public struct RecordingGap: Sendable, Codable, Equatable {
    /// The attempt (1-based) whose stream ended.
    public var afterAttempt: Int
    /// Why it ended.
    public var end: StreamEnd
    /// The file's time (seconds from the recording's start) of the last packet before the gap, and of the first
    /// one after it (nil until media came again).
    public var fromSeconds: Double
    public var toSeconds: Double?
    /// Wall-clock seconds between the last packet written before the gap and the first one after it.
    public var wallSeconds: Double?
    /// Packets the new connection re-sent that were already written (an edge's GOP cache), dropped.
    public var duplicatesDropped: Int
    /// Video packets dropped after the gap until a keyframe, because the frames they refer to were lost.
    public var droppedUntilKeyframe: Int
    /// Whether the new connection's timestamps continued the old ones (the same channel clock), so the gap in the
    /// file is the media that was really missed; otherwise the file's timeline advanced by the wall-clock gap.
    public var sameClock: Bool?
}
