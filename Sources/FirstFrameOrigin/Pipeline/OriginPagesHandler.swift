import Foundation
import NIOCore

/// Answers the routes that are not streams: the index, `/stats`, `/sent/NAME` and any path the origin does not
/// have (404). Stream requests go on to be played.
final class OriginPagesHandler: ChannelInboundHandler {
    typealias InboundIn = OriginRequest
    typealias InboundOut = OriginRequest
    typealias OutboundOut = ByteBuffer

    private let core: OriginCore

    init(core: OriginCore) {
        self.core = core
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let request = unwrapInboundIn(data)
        let response: ShortResponse
        switch request.route {
        case .stream:
            context.fireChannelRead(data)
            return
        case .index:
            response = ShortResponse(status: 200, body: indexText(), contentType: "text/plain; charset=utf-8")
        case .stats:
            let json = (try? JSONEncoder().encode(core.stats())).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            response = ShortResponse(status: 200, body: json + "\n", contentType: "application/json")
        case .sent:
            guard let name = request.channel else { return }
            response = sentLog(name)
        case .notFound:
            response = ShortResponse(status: 404, body: "no such path: \(request.path)\n")
        }
        context.writeAndClose(wrapOutboundOut(response.encoded(allocator: context.channel.allocator)))
    }

    /// `/sent/NAME`: the channel's sent log as JSON Lines, oldest tag first; `X-Sent-Log-Dropped` says how many
    /// older tags the log's bound let go.
    private func sentLog(_ name: ChannelName) -> ShortResponse {
        guard core.configuration.logsSentTags else {
            return ShortResponse(
                status: 404,
                body: "the sent log is off: start the origin with logsSentTags (firstframe serve --log-sent-tags)\n"
            )
        }
        guard let log = core.channels.existingChannel(named: name)?.sentLog else {
            return ShortResponse(status: 404, body: "no channel \(name.value) has been played\n")
        }
        let (tags, dropped) = log.snapshot
        var body = ""
        body.reserveCapacity(tags.count * 120)
        for tag in tags {
            body += tag.jsonLine
            body += "\n"
        }
        return ShortResponse(
            status: 200,
            body: body,
            contentType: "application/jsonl",
            extraHeaders: ["X-Sent-Log-Dropped: \(dropped)"]
        )
    }

    private func indexText() -> String {
        let paths = JoinMode.allCases.map { "/\($0.rawValue)/stream.flv" }.joined(separator: "\n")
        let programs = core.configuration.distinctPrograms
        let channels = core.stats().channels.map { channel in
            "  \(channel.name): program \(channel.program), from GOP \(channel.firstGOP), \(channel.viewers) viewers"
                + (channel.ended ? ", ended" : "")
        }.joined(separator: "\n")
        return """
            FirstFrame loopback origin: live HTTP-FLV channels.
            \(paths)
            /stats
            /sent/NAME         with --log-sent-tags: the media tags the channel NAME sent, as JSON Lines
            Any /live/NAME.flv, /gop/NAME.flv, /burst/NAME.flv or /NAME.flv plays the channel NAME (1-100 of A-Z a-z 0-9 - _ . ~),
            made on its first request with a clock, GOP cache and viewers of its own. Names share \(programs) synthesised
            programs (picture and tone; each one an encode the first time a name needs it), picked by a stable hash of the
            name, and start the loop at a GOP picked by the same hash; `stream` is program 0 from its first GOP.
            Query parameters: \(OriginRequest.parameterSummary)
              close_after_ms=MS  drop the connection MS ms after the response head, wherever the stream is (can cut a tag)
              end_after_ms=MS    end cleanly after MS ms of media: whole tags, an AVC end-of-sequence tag, then close
              end_channel=1      with end_after_ms: the channel ends with this response; later requests for it get 404
              ended=1            answer 404, as for a channel that has ended
            Channels:
            \(channels)

            """
    }
}
