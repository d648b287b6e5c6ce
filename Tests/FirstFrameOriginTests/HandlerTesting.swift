import FirstFrameFFmpeg
import FirstFrameNetwork
import Logging
import NIOCore
import NIOEmbedded
import Testing

@testable import FirstFrameOrigin

/// What the handler tests share: tags, stream starts and a small origin core, and handlers that record what reaches
/// the ends of an `EmbeddedChannel`'s pipeline. Every handler test is synchronous: an `EmbeddedEventLoop` is used
/// from the thread that made it.
enum HandlerTesting {
    /// A channel with `handlers` in pipeline order, active as a connected client's would be.
    static func channel(_ handlers: [any ChannelHandler]) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers(handlers)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        return channel
    }

    /// A media tag of `size` bytes stamped `timestamp`, its bytes all the timestamp's low byte; with a packet digest
    /// for the sent log.
    static func tag(_ timestamp: UInt32, key: Bool = false, size: Int = 16) -> EmittedTag {
        EmittedTag(
            kind: .video,
            timestamp: timestamp,
            isKeyframe: key,
            bytes: ByteBuffer(repeating: UInt8(truncatingIfNeeded: timestamp), count: size),
            packet: PacketDigest(
                kind: .video,
                milliseconds: Int64(timestamp),
                isKeyframe: key,
                size: size,
                hash: UInt64(timestamp)
            )
        )
    }

    static func viewer(id: Int = 7) -> ViewerCounters {
        ViewerCounters(id: id, path: "/live/stream.flv", channel: "stream", mode: .live)
    }

    static func started(
        _ behaviour: Behaviour = Behaviour(),
        viewer: ViewerCounters = viewer(),
        sentLog: SentLog? = nil,
        timestamp: UInt32 = 0,
        waitsForKeyframe: Bool = false,
        catchUpSpanLimit: UInt32 = 4000,
        endsWithEndOfSequence: Bool = true
    ) -> StreamStarted {
        StreamStarted(
            behaviour: behaviour,
            viewer: viewer,
            sentLog: sentLog,
            timestamp: timestamp,
            waitsForKeyframe: waitsForKeyframe,
            catchUpSpanLimit: catchUpSpanLimit,
            endsWithEndOfSequence: endsWithEndOfSequence
        )
    }

    /// A tiny program (160×96, 10 fps, a keyframe a second, no audio), synthesised once per process.
    static let media = MediaConfiguration(
        width: 160,
        height: 96,
        framesPerSecond: 10,
        gopSeconds: 1,
        loopSeconds: 2,
        audio: false
    )

    /// An origin core over `loop` whose `stream` channel plays ``media`` (its clock not started).
    static func core(
        on loop: any EventLoop,
        logsSentTags: Bool = false,
        maximumChannels: Int = 1000,
        distinctPrograms: Int = 4,
        burstSpeed: Double = 4
    ) throws -> OriginCore {
        let configuration = OriginConfiguration(
            media: media,
            burstSpeed: burstSpeed,
            distinctPrograms: distinctPrograms,
            maximumChannels: maximumChannels,
            logsSentTags: logsSentTags
        )
        let program = try ChannelProgram.synthesized(media)
        return OriginCore(
            configuration: configuration,
            channels: ChannelDirectory(configuration: configuration, group: loop, standardProgram: program),
            registry: ViewerRegistry(),
            logger: Logger(label: "test.origin")
        )
    }

    /// Every outbound `T` the channel has flushed, in order.
    static func outbound<T>(_ channel: EmbeddedChannel, as type: T.Type = T.self) throws -> [T] {
        var parts: [T] = []
        while let part = try channel.readOutbound(as: T.self) { parts.append(part) }
        return parts
    }

    /// Every outbound byte the channel has flushed, as text.
    static func outboundText(_ channel: EmbeddedChannel) throws -> String {
        try outbound(channel, as: ByteBuffer.self).map { String(buffer: $0) }.joined()
    }
}

/// The last handler of a test pipeline: keeps the user events that reach it (``StreamStopped`` among them).
final class InboundEventRecorder: ChannelInboundHandler {
    typealias InboundIn = NIOAny
    private(set) var events: [Any] = []

    var stops: [StreamStopped] { events.compactMap { $0 as? StreamStopped } }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        events.append(event)
    }
}

extension ResponsePart {
    /// The part's bytes as text (`<end>` for the end), for comparing a few parts at once.
    var text: String {
        switch self {
        case .raw(let bytes): String(buffer: bytes)
        case .body(let body): String(buffer: body.bytes)
        case .end: "<end>"
        }
    }

    var body: BodyBytes? {
        guard case .body(let body) = self else { return nil }
        return body
    }
}

/// A handler nearer the socket than the ones under test: keeps the outbound user events that pass it
/// (``StreamStarted`` among them).
final class OutboundEventRecorder: ChannelOutboundHandler {
    typealias OutboundIn = NIOAny
    private(set) var events: [Any] = []

    var started: [StreamStarted] { events.compactMap { $0 as? StreamStarted } }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        events.append(event)
        context.triggerUserOutboundEvent(event, promise: promise)
    }
}
