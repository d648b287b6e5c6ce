import FirstFrameCore
import FirstFrameFFmpeg
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// A live HTTP-FLV origin on loopback: synthetic channels by name, many clients each, with the join modes and
/// injectable faults of a CDN edge. Used by FirstFrame's tests, benchmarks and demo, and on its own
/// (`firstframe serve`) to reproduce edge behaviour against any player.
///
/// `stream` (`/live/stream.flv`) runs from the start. Any other name (`/live/room7.flv`, `/gop/room7.flv`,
/// `/room7.flv`) is a channel of its own, created on its first request with its own clock, GOP cache and
/// viewers, playing one of ``OriginConfiguration/distinctPrograms`` synthesised pictures and tones chosen by
/// a stable hash of the name (see ``OriginConfiguration/distinctPrograms`` for what that costs).
///
/// ```swift
/// let origin = try await LiveOrigin.start()
/// let url = origin.url(.gop)                   // http://127.0.0.1:PORT/gop/stream.flv
/// let room = origin.url(.live, channel: "room7") // http://127.0.0.1:PORT/live/room7.flv
/// …
/// try await origin.shutdown()
/// ```
public final class LiveOrigin: Sendable {
    public let configuration: OriginConfiguration
    /// The media the `stream` channel plays.
    package let program: ChannelProgram
    /// The bound port (the chosen one when the configuration asked for 0).
    public let port: Int
    public let host: String

    private let core: OriginCore
    private let serverChannel: any Channel
    private let connections: OpenConnections
    private let ownedGroup: MultiThreadedEventLoopGroup?

    private init(
        configuration: OriginConfiguration,
        program: ChannelProgram,
        core: OriginCore,
        serverChannel: any Channel,
        connections: OpenConnections,
        port: Int,
        ownedGroup: MultiThreadedEventLoopGroup?
    ) {
        self.connections = connections
        self.configuration = configuration
        self.program = program
        self.core = core
        self.serverChannel = serverChannel
        self.port = port
        self.host = configuration.host
        self.ownedGroup = ownedGroup
    }

    /// Synthesises the `stream` channel's media (about 0.6 s of encoding, once per media configuration per
    /// process, on a thread of its own), starts its clock and binds the listener. Other channels are made on
    /// their first request, or by ``prepareChannels(_:)``.
    public static func start(
        _ configuration: OriginConfiguration = OriginConfiguration(),
        logger: Logger = .disabled
    ) async throws -> LiveOrigin {
        try configuration.validate()
        let media = configuration.media
        let program = try await DedicatedThread.run(name: "firstframe.origin.synthesis") {
            try ChannelProgram.synthesized(media)
        }
        let ownedGroup =
            configuration.eventLoopGroup == nil ? MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount) : nil
        let group: any EventLoopGroup = configuration.eventLoopGroup ?? ownedGroup!
        let channels = ChannelDirectory(configuration: configuration, group: group, standardProgram: program)
        let core = OriginCore(
            configuration: configuration,
            channels: channels,
            registry: ViewerRegistry(),
            logger: logger
        )
        let connections = OpenConnections()
        let backlog = configuration.clientBacklogBytes
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(
                .socketOption(.so_sndbuf),
                value: SocketOptionValue(configuration.socketSendBufferBytes)
            )
            .childChannelOption(.writeBufferWaterMark, value: .init(low: backlog / 2, high: backlog))
            .childChannelInitializer { child in
                connections.track(child)
                return child.eventLoop.makeCompletedFuture {
                    try OriginPipeline.addHandlers(to: child.pipeline.syncOperations, core: core)
                }
            }
        let server: any Channel
        do {
            server = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        } catch {
            try? await ownedGroup?.shutdownGracefully()
            throw error
        }
        channels.standard.start()
        let port = server.localAddress?.port ?? configuration.port
        logger.info(
            "origin listening",
            metadata: [
                "address": "\(configuration.host):\(port)",
                "video": "\(program.videoCodec) \(media.width)x\(media.height)@\(media.framesPerSecond)",
                "kbps": "\(Int(program.bitsPerSecond / 1000))",
            ]
        )
        return LiveOrigin(
            configuration: configuration,
            program: program,
            core: core,
            serverChannel: server,
            connections: connections,
            port: port,
            ownedGroup: ownedGroup
        )
    }

    /// The URL of the channel in `mode` with `behaviour` injected (only the parts that differ from the defaults
    /// go into the query string). `stream` is the last path component: `room7.flv` plays the channel `room7`.
    public func url(
        _ mode: JoinMode? = nil,
        stream: String = "stream.flv",
        behaviour: Behaviour = Behaviour()
    ) -> String {
        let prefix = mode.map { "/\($0.rawValue)" } ?? ""
        let query = OriginRequest.query(behaviour: behaviour)
        return "\(baseURL)\(prefix)/\(stream)" + (query.isEmpty ? "" : "?" + query)
    }

    /// The URL of the channel named `channel` (`/live/room7.flv` for `url(.live, channel: "room7")`): names are
    /// 1…100 characters from `A–Z a–z 0–9 - _ . ~`; any other name is answered 404.
    public func url(_ mode: JoinMode? = nil, channel: String, behaviour: Behaviour = Behaviour()) -> String {
        url(mode, stream: channel + ".flv", behaviour: behaviour)
    }

    /// Creates the channels `names` now and returns once every one is ready (its program synthesised, its clock
    /// running), so that the first requests for them do not wait for an encode: for tests that time those
    /// requests. Names already created cost nothing.
    public func prepareChannels(_ names: [String]) async throws {
        var valid: [ChannelName] = []
        for name in names {
            guard let channelName = ChannelName(name) else {
                throw OriginError.invalidConfiguration("channel name \"\(name)\"")
            }
            valid.append(channelName)
        }
        try await core.channels.prepare(valid)
    }

    /// Ends the channel `name`, as when its broadcaster stops: every response playing it ends cleanly on a tag
    /// boundary (as with `end_after_ms`), and every later request for it, reconnects included, is answered 404
    /// for the rest of the origin's life. A name never requested yet ends too.
    public func endChannel(_ name: String) throws(OriginError) {
        guard let channelName = ChannelName(name) else { throw .invalidConfiguration("channel name \"\(name)\"") }
        core.channels.end(channelName)
    }

    /// `http://HOST:PORT`, with an IPv6 host in brackets: the root that `/stats`, `/` and stream paths hang from.
    public var baseURL: String {
        "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
    }

    /// Milliseconds until the `stream` channel's next keyframe is due: benchmarks start live opens at the same
    /// GOP phase so that every contender waits for its keyframe equally long.
    public var millisecondsToNextKeyframe: Double {
        let media = program.configuration
        let gop = UInt64(media.gopFrames) * 1000 / UInt64(media.framesPerSecond)
        return Double(gop - core.channels.standard.channelTime % gop)
    }

    /// Starts an origin, runs `body` with it, and shuts it down whatever `body` does.
    public static func serving<Result>(
        _ configuration: OriginConfiguration = OriginConfiguration(),
        logger: Logger = .disabled,
        _ body: (LiveOrigin) async throws -> Result
    ) async throws -> Result {
        let origin = try await start(configuration, logger: logger)
        do {
            let result = try await body(origin)
            try await origin.shutdown()
            return result
        } catch {
            try? await origin.shutdown()
            throw error
        }
    }

    /// The sent log of the channel `channel` (``OriginConfiguration/logsSentTags``), oldest tag first: what `GET
    /// /sent/NAME` serves, without the HTTP. Nil when the origin does not log, or no such channel has been made.
    package func sentTags(channel: String = ChannelName.standard.value) -> [SentTag]? {
        guard let name = ChannelName(channel) else { return nil }
        return core.channels.existingChannel(named: name)?.sentLog?.snapshot.tags
    }

    /// Viewers, bytes and drops so far.
    public func stats() -> OriginStats { core.stats() }

    /// Client connections currently open (stream requests and others).
    public var openConnections: Int { connections.count }

    /// Stops every channel clock (waiting for a synthesis still running), closes the listener and every client
    /// connection, and releases an owned event loop group.
    public func shutdown() async throws {
        await core.channels.stop()
        try? await serverChannel.close()
        await connections.closeAll()
        if let ownedGroup {
            try await ownedGroup.shutdownGracefully()
        }
    }
}
