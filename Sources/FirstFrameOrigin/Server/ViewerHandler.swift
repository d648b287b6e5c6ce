import FirstFrameFFmpeg
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// One client connection: reads the request, applies the injected behaviours and streams the channel it names.
///
/// Everything here runs on the connection's event loop. Body bytes are written raw after a hand-written
/// response head: the body is close-delimited like most HTTP-FLV edges (chunked only when asked), so byte
/// offsets for stalls, closes and corruption are offsets into the FLV stream itself. Every tag is written
/// whole, so between two writes the body is on a tag boundary: where a clean end (`end_after_ms`, an ended
/// channel) closes it. Only the byte limits and a drop (`close_after_ms`) cut elsewhere.
final class ViewerHandler: ChannelInboundHandler, ChannelViewer {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = ByteBuffer

    private enum Phase {
        case awaitingRequest
        /// Request read; the response is held back by an injected delay.
        case delaying
        /// Waiting for the requested channel to be created (its program is being synthesised).
        case awaitingChannel
        case streaming
        /// `stall_after` reached: the connection stays open, silent.
        case stalled
        case finished
    }

    private let core: OriginCore
    private var context: ChannelHandlerContext?
    private var phase = Phase.awaitingRequest
    private var request: OriginRequest?
    /// The channel being played, once joined.
    private var channel: LiveChannel?
    private var counters: ViewerCounters?
    private var joined = false
    private var bodyBytes = 0
    /// Timestamp of the first media tag written: `end_after_ms` counts from it.
    private var mediaStart: UInt32?
    /// Timestamp of the latest tag written (the sequence headers' before any frame): the end-of-sequence
    /// marker of a clean end carries it.
    private var lastTimestamp: UInt32 = 0
    /// Set while tags are held back until a keyframe: at a `live` join, or after the client fell behind.
    private var awaitingKeyframe = false
    /// Whether the current wait for a keyframe is because the client fell behind (its tags count as dropped).
    private var recoveringFromBacklog = false
    /// `gop` and `burst` joins: tags not yet sent, paced at `speed` × real time (`gop`: unlimited) and by what
    /// the connection takes, until this queue runs dry and the client is at the live edge.
    private var catchUpQueue = CircularBuffer<EmittedTag>()
    private var catchUp: (speed: Double, startedAt: NIODeadline, startTimestamp: UInt32)?
    /// The pending catch-up pump or injected response delay; at most one of each is scheduled at a time,
    /// and both are cancelled when the client goes.
    private var pumpTimer: Scheduled<Void>?
    private var delayTimer: Scheduled<Void>?
    /// The pending `close_after_ms` drop.
    private var dropTimer: Scheduled<Void>?

    init(core: OriginCore) {
        self.core = core
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish()
        // The context holds this handler: drop the reference back so that both can be freed.
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .awaitingRequest = phase else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            do {
                request = try OriginRequest(uri: head.uri, defaults: core.configuration.defaultBehaviour)
            } catch {
                respond(status: 400, body: "\(error)\n")
                return
            }
        case .body:
            break
        case .end:
            guard let request else { return }
            start(request)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        core.logger.debug("viewer connection error", metadata: ["error": "\(error)"])
        finish()
        context.close(promise: nil)
    }

    // MARK: Routing

    private func start(_ request: OriginRequest) {
        switch request.route {
        case .index:
            respond(status: 200, body: indexText(), contentType: "text/plain; charset=utf-8")
        case .stats:
            let json = (try? JSONEncoder().encode(core.stats())).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            respond(status: 200, body: json + "\n", contentType: "application/json")
        case .sent:
            respondSentLog(request)
        case .notFound:
            respond(status: 404, body: "no such path: \(request.path)\n")
        case .stream:
            let delay = request.behaviour.responseDelayMilliseconds
            guard delay > 0, let context else {
                serve(request)
                return
            }
            phase = .delaying
            delayTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(delay))) {
                self.delayTimer = nil
                guard case .delaying = self.phase else { return }
                self.serve(request)
            }
        }
    }

    /// `/sent/NAME`: the channel's sent log as JSON Lines, oldest tag first; `X-Sent-Log-Dropped` says how many
    /// older tags the log's bound let go.
    private func respondSentLog(_ request: OriginRequest) {
        guard let name = request.channel else { return }
        guard core.configuration.logsSentTags else {
            respond(
                status: 404,
                body: "the sent log is off: start the origin with logsSentTags (firstframe serve --log-sent-tags)\n"
            )
            return
        }
        guard let log = core.channels.existingChannel(named: name)?.sentLog else {
            respond(status: 404, body: "no channel \(name.value) has been played\n")
            return
        }
        let (tags, dropped) = log.snapshot
        var body = ""
        body.reserveCapacity(tags.count * 120)
        for tag in tags {
            body += tag.jsonLine
            body += "\n"
        }
        respond(
            status: 200,
            body: body,
            contentType: "application/jsonl",
            extraHeaders: ["X-Sent-Log-Dropped: \(dropped)"]
        )
    }

    private func serve(_ request: OriginRequest) {
        let behaviour = request.behaviour
        if let status = behaviour.status {
            respond(status: status, body: "injected status \(status)\n")
        } else if behaviour.redirectHops > 0 {
            redirect(to: request.redirectTargetForNextHop, status: behaviour.redirectStatus)
        } else if let target = behaviour.redirectTarget {
            redirect(to: target, status: behaviour.redirectStatus)
        } else if behaviour.channelEnded {
            respondChannelEnded(request)
        } else {
            openChannel(request)
        }
    }

    private func respondChannelEnded(_ request: OriginRequest) {
        respond(status: 404, body: "channel ended: \(request.channel?.value ?? request.path)\n")
    }

    /// Finds (or has the directory create) the requested channel, then streams it.
    private func openChannel(_ request: OriginRequest) {
        guard let name = request.channel, let context else { return }
        switch core.channels.channel(named: name) {
        case .ready(let channel):
            stream(request, on: channel)
        case .ended:
            respondChannelEnded(request)
        case .full:
            respond(status: 503, body: "the origin has its maximum of \(core.configuration.maximumChannels) channels\n")
        case .pending(let future):
            phase = .awaitingChannel
            future.hop(to: context.eventLoop).assumeIsolated().whenComplete { result in
                // The client may have gone while the channel was being made.
                guard case .awaitingChannel = self.phase else { return }
                switch result {
                case .success(let channel):
                    self.stream(request, on: channel)
                case .failure(let error) where error is ChannelDirectory.Ended:
                    self.respondChannelEnded(request)
                case .failure(let error):
                    self.respond(status: 500, body: "channel \(name) could not be made: \(error)\n")
                }
            }
        }
    }

    private func redirect(to location: String, status: Int) {
        respond(status: status, body: "see \(location)\n", extraHeaders: ["Location: \(location)"])
    }

    /// A complete non-stream response, then close.
    private func respond(status: Int, body: String, contentType: String = "text/plain", extraHeaders: [String] = []) {
        guard let context else { return }
        phase = .finished
        let bodyBytes = Array(body.utf8)
        let reason = HTTPResponseStatus(statusCode: status).reasonPhrase
        var head =
            "HTTP/1.1 \(status) \(reason.isEmpty ? "Status" : reason)\r\nServer: FirstFrameOrigin\r\nContent-Type: \(contentType)\r\n"
        head += "Content-Length: \(bodyBytes.count)\r\nConnection: close\r\n"
        for header in extraHeaders { head += header + "\r\n" }
        head += "\r\n"
        var buffer = context.channel.allocator.buffer(capacity: head.utf8.count + bodyBytes.count)
        buffer.writeString(head)
        buffer.writeBytes(bodyBytes)
        context.write(wrapOutboundOut(buffer), promise: nil)
        flushAndClose(context)
    }

    /// Closes the connection once everything written so far has gone out.
    private func flushAndClose(_ context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).assumeIsolated()
            .whenComplete { _ in
                context.close(promise: nil)
            }
    }

    // MARK: Streaming

    private func stream(_ request: OriginRequest, on channel: LiveChannel) {
        guard let context else { return }
        let mode = request.mode ?? core.configuration.defaultMode
        let counters = ViewerCounters(
            id: core.registry.makeID(),
            path: request.path,
            channel: channel.name.value,
            mode: mode
        )
        // Joined before the head goes out: a channel that ended since it was looked up is a 404, not an empty 200.
        guard
            let (gop, liveEdge) = channel.join(
                id: counters.id,
                viewer: NIOLoopBound(self as any ChannelViewer, eventLoop: context.eventLoop)
            )
        else {
            respondChannelEnded(request)
            return
        }
        joined = true
        self.channel = channel
        self.counters = counters
        core.registry.add(counters)
        phase = .streaming

        let framing = request.behaviour.chunked ? "Transfer-Encoding: chunked\r\n" : ""
        let head =
            "HTTP/1.1 200 OK\r\nServer: FirstFrameOrigin\r\nContent-Type: video/x-flv\r\n"
            + "Cache-Control: no-cache\r\n\(framing)Connection: close\r\n\r\n"
        context.write(wrapOutboundOut(context.channel.allocator.buffer(string: head)), promise: nil)
        if let milliseconds = request.behaviour.closeAfterMilliseconds {
            dropTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(milliseconds))) {
                self.dropTimer = nil
                self.drop()
            }
        }

        switch mode {
        case .live:
            awaitingKeyframe = request.behaviour.waitForKeyframe
            lastTimestamp = liveEdge
            writeBody(channel.preamble(timestamp: liveEdge))
        case .gop, .burst:
            lastTimestamp = gop.first?.timestamp ?? liveEdge
            writeBody(channel.preamble(timestamp: lastTimestamp))
            // An injected stall or close inside the preamble has already ended the stream.
            guard phase == .streaming else { break }
            // Nothing cached yet (the channel has not reached its first keyframe): wait for it, as live does.
            awaitingKeyframe = gop.isEmpty
            if let first = gop.first {
                // The cached GOP is never dropped for backlog: it is the point of these modes. It goes out as
                // fast as the mode and the connection allow; live tags queue behind it until it has drained.
                let speed =
                    mode == .gop ? Double.infinity : request.behaviour.burstSpeed ?? core.configuration.burstSpeed
                catchUpQueue.append(contentsOf: gop)
                catchUp = (speed, .now(), first.timestamp)
                pumpCatchUp()
            }
        }
        context.flush()
    }

    func deliver(_ tags: [EmittedTag]) {
        guard case .streaming = phase, let context else { return }
        if catchUp != nil {
            catchUpQueue.append(contentsOf: tags)
            trimCatchUpQueue()
            return
        }
        for tag in tags where phase == .streaming { send(tag) }
        context.flush()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // A catch-up paused by a full connection resumes as soon as it drains.
        if catchUp != nil && context.channel.isWritable { pumpCatchUp() }
        context.fireChannelWritabilityChanged()
    }

    /// Sends what the catch-up clock allows now (everything, for `gop`), as fast as the connection takes it,
    /// and schedules itself for the next tag until the queue is empty: at that point the client is at the live
    /// edge and takes tags as the channel emits them. A full connection pauses the catch-up
    /// (``channelWritabilityChanged(context:)`` resumes it) rather than dropping; the queue is bounded by
    /// ``trimCatchUpQueue()``.
    private func pumpCatchUp() {
        pumpTimer?.cancel()
        pumpTimer = nil
        guard case .streaming = phase, let context, let catchUp else { return }
        let allowed: Double
        if catchUp.speed.isInfinite {
            allowed = .infinity
        } else {
            let elapsed = Double((NIODeadline.now() - catchUp.startedAt).nanoseconds) / 1_000_000
            allowed = Double(catchUp.startTimestamp) + elapsed * catchUp.speed
        }
        while let next = catchUpQueue.first, Double(next.timestamp) <= allowed, phase == .streaming,
            context.channel.isWritable
        {
            writeTag(catchUpQueue.removeFirst())
        }
        context.flush()
        guard let next = catchUpQueue.first else {
            self.catchUp = nil
            return
        }
        guard context.channel.isWritable, !catchUp.speed.isInfinite else { return }
        let wait = (Double(next.timestamp) - Double(catchUp.startTimestamp)) / catchUp.speed
        let due = catchUp.startedAt + .nanoseconds(Int64(wait * 1_000_000))
        pumpTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: due) {
            self.pumpTimer = nil
            self.pumpCatchUp()
        }
    }

    /// Keeps a catching-up client that cannot keep up from queueing without bound: once its queue spans more
    /// than two GOPs, it skips to the latest queued keyframe and catches up from there.
    private func trimCatchUpQueue() {
        guard let counters, let channel, let first = catchUpQueue.first, let last = catchUpQueue.last, var catchUp
        else { return }
        let limit = UInt32(2 * channel.program.configuration.gopSeconds * 1000)
        guard last.timestamp - first.timestamp > limit,
            let keyframe = catchUpQueue.lastIndex(where: { $0.isKeyframe }), keyframe > catchUpQueue.startIndex
        else { return }
        let dropped = catchUpQueue.distance(from: catchUpQueue.startIndex, to: keyframe)
        catchUpQueue.removeFirst(dropped)
        counters.tagsDropped.wrappingAdd(dropped, ordering: .relaxed)
        counters.dropEvents.wrappingAdd(1, ordering: .relaxed)
        catchUp.startedAt = .now()
        catchUp.startTimestamp = catchUpQueue.first!.timestamp
        self.catchUp = catchUp
    }

    /// Writes one tag, or drops it: a client that is not writable (its backlog is over the high-water mark)
    /// loses tags until a keyframe finds it writable again, so it resumes on a decodable picture.
    private func send(_ tag: EmittedTag) {
        guard let context, let counters else { return }
        let writable = context.channel.isWritable
        if awaitingKeyframe {
            guard tag.isKeyframe && writable else {
                if recoveringFromBacklog { counters.tagsDropped.wrappingAdd(1, ordering: .relaxed) }
                return
            }
            awaitingKeyframe = false
            recoveringFromBacklog = false
        } else if !writable {
            awaitingKeyframe = true
            recoveringFromBacklog = true
            counters.dropEvents.wrappingAdd(1, ordering: .relaxed)
            counters.tagsDropped.wrappingAdd(1, ordering: .relaxed)
            return
        }
        writeTag(tag)
    }

    /// Writes one media tag, or ends the response cleanly instead once `end_after_ms` of media has been sent:
    /// the tag that reaches the limit is not sent, so the body ends after the last whole tag before it.
    private func writeTag(_ tag: EmittedTag) {
        if let limit = request?.behaviour.endAfterMilliseconds,
            Int64(tag.timestamp) - Int64(mediaStart ?? tag.timestamp) >= Int64(limit)
        {
            endCleanly()
            return
        }
        if mediaStart == nil { mediaStart = tag.timestamp }
        lastTimestamp = tag.timestamp
        if tag.isKeyframe { counters?.keyframeWritten() }
        guard let log = channel?.sentLog, let packet = tag.packet, let connection = counters?.id, let context else {
            writeBody(tag.bytes)
            return
        }
        // Logged once NIO has handed the tag to the kernel: a drop loses what it had not written yet, unlogged.
        let written = context.eventLoop.makePromise(of: Void.self)
        let complete = writeBody(tag.bytes, promise: written)
        written.futureResult.whenSuccess {
            log.append(SentTag(connection: connection, complete: complete, packet: packet))
        }
    }

    /// A clean end of the stream, as when the broadcast stops: after the last whole tag, the AVC end-of-sequence
    /// tag that FFmpeg's FLV muxer writes in its trailer (H.264 only), the final chunk when chunked, then the
    /// close once all of it has gone out. With `end_channel=1` the channel ends with it, for every viewer.
    private func endCleanly() {
        guard let context, case .streaming = phase else { return }
        let behaviour = request?.behaviour ?? Behaviour()
        if channel?.program.videoCodec == "h264" {
            writeBody(
                context.channel.allocator.buffer(bytes: FLVTag.avcEndOfSequence(timestamp: lastTimestamp).encoded())
            )
            // A byte limit inside the marker has already cut the stream there.
            guard case .streaming = phase else { return }
        }
        if behaviour.chunked {
            context.write(wrapOutboundOut(context.channel.allocator.buffer(string: "0\r\n\r\n")), promise: nil)
        }
        let ended = behaviour.endsChannel ? channel?.name : nil
        leaveChannel()
        phase = .finished
        flushAndClose(context)
        if let ended { core.channels.end(ended) }
    }

    /// `close_after_ms`: the connection goes now, wherever the stream is. Nothing more is flushed: what the socket
    /// had not taken yet is lost, as on a connection that really dropped.
    private func drop() {
        guard let context else { return }
        switch phase {
        case .streaming, .stalled: break
        case .awaitingRequest, .delaying, .awaitingChannel, .finished: return
        }
        leaveChannel()
        phase = .finished
        context.close(promise: nil)
    }

    func channelEnded() {
        guard case .streaming = phase else { return }
        endCleanly()
    }

    /// Writes body bytes through the injected stall, close and corruption rules; `promise` completes when the bytes
    /// that went out have been written to the socket (it fails when none went out, or the connection closed first).
    /// Returns whether `bytes` went out whole and unaltered.
    @discardableResult
    private func writeBody(_ bytes: ByteBuffer, promise: EventLoopPromise<Void>? = nil) -> Bool {
        guard let context, case .streaming = phase else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return false
        }
        let behaviour = request?.behaviour ?? Behaviour()
        var buffer = bytes
        let start = bodyBytes
        if start == 0 { counters?.bodyWritten() }
        var limit: (bytes: Int, close: Bool)?
        if let stall = behaviour.stallAfterBytes { limit = (stall, false) }
        if let close = behaviour.closeAfterBytes, close < (limit?.bytes ?? .max) { limit = (close, true) }
        var reachedLimit = false
        var whole = true
        if let limit, start + buffer.readableBytes >= limit.bytes {
            whole = start + buffer.readableBytes == limit.bytes
            buffer = buffer.getSlice(at: buffer.readerIndex, length: max(0, limit.bytes - start))!
            reachedLimit = true
        }
        if let corruptAt = behaviour.corruptAtByte {
            let from = max(corruptAt, start)
            let to = min(corruptAt + behaviour.corruptLength, start + buffer.readableBytes)
            if from < to {
                whole = false
                var corrupted = context.channel.allocator.buffer(capacity: buffer.readableBytes)
                corrupted.writeImmutableBuffer(buffer)
                for offset in (from - start)..<(to - start) {
                    let index = corrupted.readerIndex + offset
                    corrupted.setInteger(~corrupted.getInteger(at: index, as: UInt8.self)!, at: index)
                }
                buffer = corrupted
            }
        }
        let count = buffer.readableBytes
        if count > 0 {
            if behaviour.chunked {
                // One chunk per write. What a stall or close lets through still goes out as a whole chunk, and
                // no final zero-length chunk follows: the stream is cut, as by a failing edge.
                context.write(
                    wrapOutboundOut(context.channel.allocator.buffer(string: String(count, radix: 16) + "\r\n")),
                    promise: nil
                )
                context.write(wrapOutboundOut(buffer), promise: promise)
                context.write(wrapOutboundOut(context.channel.allocator.buffer(string: "\r\n")), promise: nil)
            } else {
                context.write(wrapOutboundOut(buffer), promise: promise)
            }
            bodyBytes += count
            counters?.bytesSent.wrappingAdd(count, ordering: .relaxed)
        } else {
            whole = false
            promise?.fail(ChannelError.ioOnClosedChannel)
        }
        guard reachedLimit, let limit else { return whole }
        leaveChannel()
        if limit.close {
            phase = .finished
            flushAndClose(context)
        } else {
            phase = .stalled
            context.flush()
        }
        return whole
    }

    private func leaveChannel() {
        guard joined, let counters else { return }
        joined = false
        channel?.leave(id: counters.id)
        stopCatchUp()
    }

    private func stopCatchUp() {
        catchUpQueue.removeAll()
        catchUp = nil
        pumpTimer?.cancel()
        pumpTimer = nil
    }

    private func finish() {
        leaveChannel()
        // A stall or close may already have left the channel; catch-up state can outlive that, never the client.
        stopCatchUp()
        delayTimer?.cancel()
        delayTimer = nil
        dropTimer?.cancel()
        dropTimer = nil
        phase = .finished
        if let counters {
            core.registry.remove(counters)
            self.counters = nil
        }
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
