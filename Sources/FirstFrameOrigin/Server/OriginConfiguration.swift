import NIOCore

/// How a ``LiveOrigin`` listens and what it serves.
public struct OriginConfiguration: Sendable {
    /// Loopback only by default: the origin is a test and benchmark tool.
    public var host: String
    /// 0 picks a free port (read it back from ``LiveOrigin/port``).
    public var port: Int
    public var media: MediaConfiguration
    /// The join mode of requests that name none.
    public var defaultMode: JoinMode
    /// Faults and delays applied to every request unless its query string overrides them.
    public var defaultBehaviour: Behaviour
    /// `burst` mode's speed, × real time, unless a request sets `speed=`.
    public var burstSpeed: Double
    /// Bytes a client may have queued in the origin (beyond the kernel's send buffer) before it is
    /// treated as slow: its tags are dropped until the next keyframe that finds it writable again.
    public var clientBacklogBytes: Int
    /// `SO_SNDBUF` for client sockets. Bounding it keeps a stalled client from soaking up megabytes of
    /// kernel autotuned buffer before the backlog rule can see it.
    public var socketSendBufferBytes: Int
    /// Event loops to serve on; `nil` makes the origin create (and shut down) its own, one per core.
    public var eventLoopGroup: (any EventLoopGroup)?
    /// How many differently synthesised programs (picture and tone) the named channels share, `stream`'s
    /// included. Each one is an encode of ``media`` the first time a name needs it: about 0.6 s of wall time and
    /// 0.9 s of CPU for the default 10 s 640×360 loop on a two-core machine, kept for the life of the process.
    /// Names map onto programs by a stable hash and start the loop at a GOP of their own, so with the default 4
    /// a hundred names cost three encodes, and every name still has its own clock, GOP cache and viewers.
    public var distinctPrograms: Int
    /// Most channel names the origin keeps (each has a running clock); a request for another gets 503.
    public var maximumChannels: Int
    /// Whether each channel logs the media tags its connections send (off by default): per tag, once NIO has
    /// handed it to the kernel, the connection, channel time, kind, key flag, and the size and `PayloadHash` of
    /// the packet FFmpeg's FLV demuxer reads from it. Served as JSON Lines at `GET /sent/NAME`: the ground truth
    /// a recording of the channel is checked against. A connection that drops loses the tags NIO had not written,
    /// and they are not logged; a tag cut by a byte limit is logged with `"complete":false`.
    public var logsSentTags: Bool
    /// With ``logsSentTags``: the tags each channel's log keeps (its latest, all connections together); older ones
    /// are let go and counted in the `X-Sent-Log-Dropped` header of `/sent/NAME`. A tag costs about 60 bytes; the
    /// default 200 000 is some 50 minutes of one viewer of the default channel.
    public var sentLogCapacity: Int

    public init(
        host: String = "127.0.0.1",
        port: Int = 0,
        media: MediaConfiguration = MediaConfiguration(),
        defaultMode: JoinMode = .live,
        defaultBehaviour: Behaviour = Behaviour(),
        burstSpeed: Double = 4,
        clientBacklogBytes: Int = 512 * 1024,
        socketSendBufferBytes: Int = 128 * 1024,
        eventLoopGroup: (any EventLoopGroup)? = nil,
        distinctPrograms: Int = 4,
        maximumChannels: Int = 1000,
        logsSentTags: Bool = false,
        sentLogCapacity: Int = 200_000
    ) {
        self.host = host
        self.port = port
        self.media = media
        self.defaultMode = defaultMode
        self.defaultBehaviour = defaultBehaviour
        self.burstSpeed = burstSpeed
        self.clientBacklogBytes = clientBacklogBytes
        self.socketSendBufferBytes = socketSendBufferBytes
        self.eventLoopGroup = eventLoopGroup
        self.distinctPrograms = distinctPrograms
        self.maximumChannels = maximumChannels
        self.logsSentTags = logsSentTags
        self.sentLogCapacity = sentLogCapacity
    }

    /// Checks the values the origin cannot run with, with a message that names the field.
    public func validate() throws(OriginError) {
        try media.validate()
        guard burstSpeed > 1, burstSpeed <= 1000 else {
            throw .invalidConfiguration(
                "burst speed \(burstSpeed): must be > 1 (a client at 1× never catches up) and ≤ 1000"
            )
        }
        guard clientBacklogBytes >= 4096 else {
            throw .invalidConfiguration("client backlog \(clientBacklogBytes) bytes: must be ≥ 4096")
        }
        guard socketSendBufferBytes >= 4096 else {
            throw .invalidConfiguration("socket send buffer \(socketSendBufferBytes) bytes: must be ≥ 4096")
        }
        guard (0...65535).contains(port) else { throw .invalidConfiguration("port \(port): must be 0…65535") }
        guard (1...64).contains(distinctPrograms) else {
            throw .invalidConfiguration("distinct programs \(distinctPrograms): must be 1…64 (each one is an encode)")
        }
        guard (1...100_000).contains(maximumChannels) else {
            throw .invalidConfiguration("maximum channels \(maximumChannels): must be 1…100000")
        }
        guard (1...50_000_000).contains(sentLogCapacity) else {
            throw .invalidConfiguration("sent log capacity \(sentLogCapacity) tags: must be 1…50000000")
        }
    }
}
