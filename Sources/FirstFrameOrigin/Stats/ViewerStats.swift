import Synchronization

/// One connected client.
public struct ViewerStats: Sendable, Codable, Equatable {
    public var id: Int
    public var path: String
    /// The channel the client is watching.
    public var channel: String
    public var mode: JoinMode
    public var bytesSent: Int
    public var tagsDropped: Int
    public var dropEvents: Int
    /// When the origin wrote the body's first bytes (the preamble) and the first video keyframe's tag, in
    /// `MonotonicClock` nanoseconds: the origin's own view of a live join's keyframe wait.
    public var firstBodyWriteNs: UInt64?
    public var firstKeyframeWriteNs: UInt64?
}
