import FirstFrameCore
import FirstFrameFFmpeg
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// A live HTTP-FLV origin on loopback: one synthetic channel, many clients, with the join modes and
/// injectable faults of a CDN edge. Used by FirstFrame's tests, benchmarks and demo, and on its own
/// (`firstframe serve`) to reproduce edge behaviour against any player.
///
/// ```swift
/// let origin = try await LiveOrigin.start()
/// let url = origin.url(.gop)            // http://127.0.0.1:PORT/gop/stream.flv
/// …
/// try await origin.shutdown()
/// ```
public final class LiveOrigin: Sendable {
    public let configuration: OriginConfiguration
    /// The media every client is served.
    package let program: ChannelProgram
    /// The bound port (the chosen one when the configuration asked for 0).
    public let port: Int
    public let host: String

    private let core: OriginCore
    private let serverChannel: any Channel
    private let connections: OpenConnections
    private let ownedGroup: MultiThreadedEventLoopGroup?

    private init(configuration: OriginConfiguration, program: ChannelProgram, core: OriginCore, serverChannel: any Channel,
                 connections: OpenConnections, port: Int, ownedGroup: MultiThreadedEventLoopGroup?) {
        self.connections = connections
        self.configuration = configuration
        self.program = program
        self.core = core
        self.serverChannel = serverChannel
        self.port = port
        self.host = configuration.host
        self.ownedGroup = ownedGroup
    }

    /// Synthesises the channel's media (about a second of encoding, once per media configuration per
    /// process, on a thread of its own), starts the channel clock and binds the listener.
    public static func start(
        _ configuration: OriginConfiguration = OriginConfiguration(),
        logger: Logger = Logger(label: "firstframe.origin")
    ) async throws -> LiveOrigin {
        try configuration.validate()
        let media = configuration.media
        let program = try await DedicatedThread.run(name: "firstframe.origin.synthesis") {
            try ChannelProgram.synthesized(media)
        }
        let ownedGroup = configuration.eventLoopGroup == nil ? MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount) : nil
        let group: any EventLoopGroup = configuration.eventLoopGroup ?? ownedGroup!
        let channel = LiveChannel(program: program, clockLoop: group.next())
        let core = OriginCore(configuration: configuration, channel: channel, registry: ViewerRegistry(), logger: logger)
        let connections = OpenConnections()
        let backlog = configuration.clientBacklogBytes
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.socketOption(.so_sndbuf), value: SocketOptionValue(configuration.socketSendBufferBytes))
            .childChannelOption(.writeBufferWaterMark, value: .init(low: backlog / 2, high: backlog))
            .childChannelInitializer { child in
                connections.track(child)
                return child.eventLoop.makeCompletedFuture {
                    let handlers = child.pipeline.syncOperations
                    try handlers.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
                    try handlers.addHandler(ViewerHandler(core: core))
                }
            }
        let server: any Channel
        do {
            server = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        } catch {
            try? await ownedGroup?.shutdownGracefully()
            throw error
        }
        channel.start()
        let port = server.localAddress?.port ?? configuration.port
        logger.info("origin listening", metadata: [
            "address": "\(configuration.host):\(port)",
            "video": "\(program.videoCodec) \(media.width)x\(media.height)@\(media.framesPerSecond)",
            "kbps": "\(Int(program.bitsPerSecond / 1000))",
        ])
        return LiveOrigin(configuration: configuration, program: program, core: core, serverChannel: server,
                          connections: connections, port: port, ownedGroup: ownedGroup)
    }

    /// The URL of the channel in `mode` with `behaviour` injected (only the parts that differ from the defaults
    /// go into the query string).
    public func url(_ mode: JoinMode? = nil, stream: String = "stream.flv", behaviour: Behaviour = Behaviour()) -> String {
        let prefix = mode.map { "/\($0.rawValue)" } ?? ""
        let query = OriginRequest.query(behaviour: behaviour)
        return "\(baseURL)\(prefix)/\(stream)" + (query.isEmpty ? "" : "?" + query)
    }

    /// `http://HOST:PORT`, with an IPv6 host in brackets: the root that `/stats`, `/` and stream paths hang from.
    public var baseURL: String {
        "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
    }

    /// Milliseconds until the channel's next keyframe is due: benchmarks start live opens at the same GOP phase
    /// so that every contender waits for its keyframe equally long.
    public var millisecondsToNextKeyframe: Double {
        let media = program.configuration
        let gop = UInt64(media.gopFrames) * 1000 / UInt64(media.framesPerSecond)
        return Double(gop - core.channel.channelTime % gop)
    }

    /// Starts an origin, runs `body` with it, and shuts it down whatever `body` does.
    public static func serving<Result>(
        _ configuration: OriginConfiguration = OriginConfiguration(),
        logger: Logger = Logger(label: "firstframe.origin"),
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

    /// Viewers, bytes and drops so far.
    public func stats() -> OriginStats { core.stats() }

    /// Client connections currently open (stream requests and others).
    public var openConnections: Int { connections.count }

    /// Stops the clock, closes the listener and every client connection, and releases an owned event loop group.
    public func shutdown() async throws {
        core.channel.stop()
        try? await serverChannel.close()
        await connections.closeAll()
        if let ownedGroup {
            try await ownedGroup.shutdownGracefully()
        }
    }
}
