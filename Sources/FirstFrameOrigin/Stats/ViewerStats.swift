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
}
