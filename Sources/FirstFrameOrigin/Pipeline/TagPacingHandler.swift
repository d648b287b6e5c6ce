import NIOCore

/// Sends the channel's tags at the right time: the cached GOP of a `gop` or `burst` join as fast as its speed and
/// the connection allow, live tags as the channel emits them, and nothing a client that has fallen behind could not
/// decode.
///
/// Two rules keep a slow client from holding the origin up. A catch-up that finds the connection full pauses until
/// it drains (``channelWritabilityChanged(context:)``), its queue bounded by ``trimCatchUpQueue()``. A live client
/// that is not writable (its backlog is over the high-water mark) loses tags until a keyframe finds it writable
/// again, so that it resumes on a decodable picture. Both count what they drop in the viewer's counters.
///
/// Configured by ``StreamStarted``; stops for good at ``StreamStopped`` or when the client goes.
final class TagPacingHandler: ChannelDuplexHandler {
    typealias InboundIn = NIOAny
    typealias InboundOut = NIOAny
    typealias OutboundIn = TagFeed
    typealias OutboundOut = ResponsePart

    private enum Phase {
        case awaitingStart
        case streaming
        case stopped
    }

    private var context: ChannelHandlerContext?
    private var phase = Phase.awaitingStart
    private var viewer: ViewerCounters?
    /// ``StreamStarted/catchUpSpanLimit``.
    private var spanLimit: UInt32 = .max
    /// Set while tags are held back until a keyframe: at a `live` join, or after the client fell behind.
    private var awaitingKeyframe = false
    /// Whether the current wait for a keyframe is because the client fell behind (its tags count as dropped).
    private var recoveringFromBacklog = false
    /// `gop` and `burst` joins: tags not yet sent, paced at `speed` × real time (`gop`: unlimited) and by what the
    /// connection takes, until this queue runs dry and the client is at the live edge.
    private var catchUpQueue = CircularBuffer<EmittedTag>()
    private var catchUp: (speed: Double, startedAt: NIODeadline, startTimestamp: UInt32)?
    /// The pending catch-up pump; at most one is scheduled at a time.
    private var pumpTimer: Scheduled<Void>?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stop()
        self.context = nil
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        if let started = event as? StreamStarted, case .awaitingStart = phase {
            phase = .streaming
            viewer = started.viewer
            spanLimit = started.catchUpSpanLimit
            awaitingKeyframe = started.waitsForKeyframe
        }
        context.triggerUserOutboundEvent(event, promise: promise)
    }

    /// A feed's promise completes when the pacer has taken its tags (to send now or later, or to drop), not when
    /// they have been written.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .part(let part):
            context.write(wrapOutboundOut(part), promise: promise)
            return
        case .catchUp(let tags, let speed):
            if case .streaming = phase, let first = tags.first {
                catchUpQueue.append(contentsOf: tags)
                catchUp = (speed, context.eventLoop.now, first.timestamp)
                pumpCatchUp()
            }
        case .live(let tags):
            guard case .streaming = phase else { break }
            if catchUp != nil {
                catchUpQueue.append(contentsOf: tags)
                trimCatchUpQueue()
                break
            }
            for tag in tags where phase == .streaming { send(tag) }
            context.flush()
        }
        promise?.succeed()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // A catch-up paused by a full connection resumes as soon as it drains.
        if catchUp != nil && context.channel.isWritable { pumpCatchUp() }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is StreamStopped { stop() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    /// Sends what the catch-up clock allows now (everything, for `gop`), as fast as the connection takes it, and
    /// schedules itself for the next tag until the queue is empty: at that point the client is at the live edge and
    /// takes tags as the channel emits them. A full connection pauses the catch-up rather than dropping.
    private func pumpCatchUp() {
        pumpTimer?.cancel()
        pumpTimer = nil
        guard case .streaming = phase, let context, let catchUp else { return }
        let allowed: Double
        if catchUp.speed.isInfinite {
            allowed = .infinity
        } else {
            let elapsed = Double((context.eventLoop.now - catchUp.startedAt).nanoseconds) / 1_000_000
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

    /// Keeps a catching-up client that cannot keep up from queueing without bound: once its queue spans more than
    /// ``StreamStarted/catchUpSpanLimit``, it skips to the latest queued keyframe and catches up from there.
    private func trimCatchUpQueue() {
        guard let viewer, let first = catchUpQueue.first, let last = catchUpQueue.last, var catchUp else { return }
        guard last.timestamp - first.timestamp > spanLimit,
            let keyframe = catchUpQueue.lastIndex(where: { $0.isKeyframe }), keyframe > catchUpQueue.startIndex
        else { return }
        let dropped = catchUpQueue.distance(from: catchUpQueue.startIndex, to: keyframe)
        catchUpQueue.removeFirst(dropped)
        viewer.tagsDropped.wrappingAdd(dropped, ordering: .relaxed)
        viewer.dropEvents.wrappingAdd(1, ordering: .relaxed)
        catchUp.startedAt = context?.eventLoop.now ?? .now()
        catchUp.startTimestamp = catchUpQueue.first!.timestamp
        self.catchUp = catchUp
    }

    /// Writes one live tag, or drops it: a client that is not writable loses tags until a keyframe finds it
    /// writable again.
    private func send(_ tag: EmittedTag) {
        guard let context, let viewer else { return }
        let writable = context.channel.isWritable
        if awaitingKeyframe {
            guard tag.isKeyframe && writable else {
                if recoveringFromBacklog { viewer.tagsDropped.wrappingAdd(1, ordering: .relaxed) }
                return
            }
            awaitingKeyframe = false
            recoveringFromBacklog = false
        } else if !writable {
            awaitingKeyframe = true
            recoveringFromBacklog = true
            viewer.dropEvents.wrappingAdd(1, ordering: .relaxed)
            viewer.tagsDropped.wrappingAdd(1, ordering: .relaxed)
            return
        }
        writeTag(tag)
    }

    /// Hands one tag on toward the socket. The write can stop the stream (an end, a byte limit): the
    /// ``StreamStopped`` it fires reaches ``userInboundEventTriggered(context:event:)`` before this returns.
    private func writeTag(_ tag: EmittedTag) {
        context?.write(wrapOutboundOut(.body(BodyBytes(tag: tag))), promise: nil)
    }

    private func stop() {
        phase = .stopped
        catchUpQueue.removeAll()
        catchUp = nil
        pumpTimer?.cancel()
        pumpTimer = nil
    }
}
