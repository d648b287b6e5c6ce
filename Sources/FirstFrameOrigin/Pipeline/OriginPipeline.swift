import NIOCore
import NIOHTTP1

/// The handlers of one client connection, in pipeline order: the place to read how a request is answered.
///
/// A request travels from the socket to the end of the pipeline, each handler answering it or passing it on:
///
///     HTTPRequestDecoder        bytes → request parts
///     RequestRoutingHandler     → OriginRequest (400 for a bad query)
///     OriginPagesHandler        index, /stats, /sent/NAME, 404; streams go on
///     ResponseDelayHandler      delay=
///     InjectedResponseHandler   status=, redirect(s)=, ended=1
///     ChannelLookupHandler      → ChannelRequest (404 ended, 503 full, 500)
///     ViewerHandler             joins the channel and starts the response
///
/// The answers to the first five are whole short responses, written as bytes straight back to the socket. A stream
/// goes the other way through the handlers in between, from ``ViewerHandler`` back to the socket:
///
///     TagPacingHandler          tags at their time (catch-up, backlog drops)      TagFeed → ResponsePart
///     ConnectionDropHandler     close_after_ms=
///     CleanEndHandler           end_after_ms=, the channel's end
///     BodyFaultHandler          stall_after=, close_after=, corrupt_at=
///     SentAccountingHandler     byte counters, first writes, the sent log
///     ResponseFramingHandler    chunked=1                                         ResponsePart → bytes
///
/// ``StreamStarted`` (an outbound event, ahead of the head) tells each of them what it needs about the stream, and
/// ``StreamStopped`` (an inbound event from whichever ended it) tells the ones nearer the viewer to stop. That is why
/// the faults sit nearer the socket than the end, the end nearer than the drop, and all of them nearer than the
/// pacer and the viewer: each one's stop must reach every handler that could still write.
enum OriginPipeline {
    static func addHandlers(to pipeline: ChannelPipeline.SynchronousOperations, core: OriginCore) throws {
        let configuration = core.configuration
        try pipeline.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
        try pipeline.addHandlers([
            RequestRoutingHandler(defaults: configuration.defaultBehaviour),
            OriginPagesHandler(core: core),
            ResponseDelayHandler(),
            InjectedResponseHandler(),
            ChannelLookupHandler(channels: core.channels, maximumChannels: configuration.maximumChannels),
            ResponseFramingHandler(),
            SentAccountingHandler(),
            BodyFaultHandler(),
            CleanEndHandler(),
            ConnectionDropHandler(),
            TagPacingHandler(),
            ViewerHandler(core: core),
        ])
    }
}
