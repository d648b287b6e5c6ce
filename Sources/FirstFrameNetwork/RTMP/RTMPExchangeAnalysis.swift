/// The state machine behind ``RTMPExchange/analyse(events:fd:)``: walks one socket's transfers in order, feeds
/// each direction's chunk-stream reader, and turns the messages into phases, media milestones and stalls.
struct RTMPExchangeAnalysis {
    /// A transfer before a pause: which direction, and where its last byte fell in that direction's stream.
    private struct Mark {
        var time: UInt64
        var side: RTMPChunkStreamReader.Side
        var position: RTMPChunkStreamReader.Position
    }

    /// A stall whose label waits for the end of the reading: the message before it may complete only later.
    private struct PendingStall {
        var start: UInt64
        var end: UInt64
        var awaited: RTMPStall.Side
        var before: Mark
    }

    private var client = RTMPChunkStreamReader(side: .client)
    private var server = RTMPChunkStreamReader(side: .server)
    /// Completed messages by serial, per direction: the names stall labels use.
    private var clientMessages: [Int: RTMPMessage] = [:]
    private var serverMessages: [Int: RTMPMessage] = [:]
    /// The client's commands by transaction id, to match the server's `_result`/`_error` to them.
    private var transactions: [Double: String] = [:]

    private var handshakeStart: UInt64?
    private var handshakeEnd: UInt64?
    private var requests: [RTMPPhase.Name: UInt64] = [:]
    private var answers: [RTMPPhase.Name: (time: UInt64, by: String)] = [:]
    private var firstMediaByte: UInt64?
    private var firstAudioMessage: UInt64?
    private var firstVideoMessage: UInt64?
    private var keyframe: (start: UInt64, end: UInt64)?
    private var statusCodes: [String] = []
    private var counts = RTMPExchange.MessageCounts()
    private var transfers: [(time: UInt64, side: RTMPChunkStreamReader.Side)] = []
    private var stalls: [PendingStall] = []
    private var previous: Mark?

    static func run(events: [NetworkEvent], fd: Int32) -> RTMPExchange? {
        let socket = events.filter { $0.fd == fd }
        guard let firstSend = socket.first(where: { ($0.kind == .send || $0.kind == .tlsSend) && $0.result > 0 }),
            firstSend.data.first == 3
        else { return nil }
        var analysis = RTMPExchangeAnalysis()
        let reason = analysis.read(socket)
        return analysis.exchange(reason)
    }

    /// Reads transfers until the first keyframe's last byte (nil: complete) or until something stops it.
    private mutating func read(_ events: [NetworkEvent]) -> RTMPExchange.IncompleteReason? {
        for event in events {
            switch event.kind {
            case .close, .shutdown:
                if handshakeStart != nil { return .connectionClosed }
                continue
            case .receive where event.result == 0, .tlsReceive where event.result == 0:
                // End of stream: the server closed the connection.
                if handshakeStart != nil { return .connectionClosed }
                continue
            case .send, .receive, .tlsSend, .tlsReceive:
                // A failed call (EAGAIN, EINTR) moved nothing; the next one will.
                guard event.result > 0 else { continue }
            default:
                continue
            }
            // RTMPS: a gnutls session's plaintext (its pseudo-fd) reads like a plain socket's bytes.
            let side: RTMPChunkStreamReader.Side = event.kind == .send || event.kind == .tlsSend ? .client : .server
            if handshakeStart == nil {
                // Nothing the server sends before the client's C0 is RTMP; the exchange starts with that byte.
                guard side == .client else { continue }
                handshakeStart = event.time
            }
            if let previous, event.time >= previous.time, event.time - previous.time >= RTMPExchange.stallThreshold {
                stalls.append(
                    PendingStall(
                        start: previous.time,
                        end: event.time,
                        awaited: side == .client ? .client : .server,
                        before: previous
                    )
                )
            }
            transfers.append((event.time, side))
            let captured = event.data.prefix(Int(min(event.result, Int64(event.data.count))))
            let messages =
                side == .client ? client.feed(captured, at: event.time) : server.feed(captured, at: event.time)
            if side == .server, handshakeEnd == nil, let end = server.handshakeEnd { handshakeEnd = end }
            for message in messages { apply(message, from: side) }
            previous = Mark(time: event.time, side: side, position: side == .client ? client.position : server.position)
            if keyframe != nil { return nil }
            if client.failure != nil || server.failure != nil { return .malformed }
            // The bytes the trace did not keep cannot be read, and nothing after them can be placed.
            if event.data.count < event.result { return .captureRanOut }
        }
        return .traceEnded
    }

    private mutating func apply(_ message: RTMPMessage, from side: RTMPChunkStreamReader.Side) {
        if side == .client {
            clientMessages[message.serial] = message
            counts.sent += 1
            guard case .command(let name, let transaction, _) = message.content else { return }
            if let transaction { transactions[transaction] = name }
            if let phase = RTMPPhase.Name(rawValue: name), phase != .handshake, requests[phase] == nil {
                requests[phase] = message.firstByteTime
            }
            return
        }
        serverMessages[message.serial] = message
        counts.received += 1
        switch message.content {
        case .command(let name, let transaction, let code):
            counts.commands += 1
            if name == "_result" || name == "_error", let transaction, let command = transactions[transaction],
                let phase = RTMPPhase.Name(rawValue: command), phase == .connect || phase == .createStream,
                requests[phase] != nil, answers[phase] == nil
            {
                answers[phase] = (message.lastByteTime, name)
            }
            if name == "onStatus", let code {
                statusCodes.append(code)
                // Play.Start ends play; a failure status (StreamNotFound, Failed) ends it too, with no media to come.
                let failed =
                    code.hasPrefix("NetStream.Play.") && (code.hasSuffix("Failed") || code.hasSuffix("NotFound"))
                if requests[.play] != nil, answers[.play] == nil, code == "NetStream.Play.Start" || failed {
                    answers[.play] = (message.lastByteTime, "onStatus \(code)")
                }
            }
        case .audio: counts.audio += 1
        case .video: counts.video += 1
        case .data: counts.data += 1
        case .aggregate: counts.aggregate += 1
        case .other
        where message.typeID == RTMPMessage.TypeID.commandAMF0 || message.typeID == RTMPMessage.TypeID.commandAMF3:
            counts.commands += 1
        default: counts.control += 1
        }
        // Media counts once the client has asked to play; nothing the server sends before that is the stream.
        guard requests[.play] != nil, message.isMedia else { return }
        if firstMediaByte == nil {
            firstMediaByte = message.firstByteTime
            if answers[.play] == nil { answers[.play] = (message.firstByteTime, "first media message") }
        }
        if firstAudioMessage == nil, message.typeID == RTMPMessage.TypeID.audio || message.hasAggregated(audio: true) {
            firstAudioMessage = message.lastByteTime
        }
        if firstVideoMessage == nil, message.typeID == RTMPMessage.TypeID.video || message.hasAggregated(audio: false) {
            firstVideoMessage = message.lastByteTime
        }
        if keyframe == nil, message.isKeyframe { keyframe = (message.firstByteTime, message.lastByteTime) }
    }

    private func exchange(_ reason: RTMPExchange.IncompleteReason?) -> RTMPExchange {
        var phases: [RTMPPhase] = []
        if let handshakeStart {
            phases.append(
                RTMPPhase(
                    name: .handshake,
                    start: handshakeStart,
                    end: handshakeEnd,
                    endedBy: handshakeEnd.map { _ in "S2" }
                )
            )
        }
        for name in [RTMPPhase.Name.connect, .createStream, .play] {
            guard let start = requests[name] else { continue }
            let answer = answers[name]
            phases.append(RTMPPhase(name: name, start: start, end: answer?.time, endedBy: answer?.by))
        }
        phases.sort { $0.start < $1.start }
        for index in phases.indices {
            let phase = phases[index]
            let inside = transfers.filter { transfer in
                transfer.time >= phase.start && phase.end.map { transfer.time <= $0 } ?? true
            }
            phases[index].sends = inside.count { $0.side == .client }
            phases[index].receives = inside.count { $0.side == .server }
        }
        let stalls = stalls.map { pending in
            let phase = phases.first { $0.contains(pending.start) }?.name
            return RTMPStall(
                start: pending.start,
                end: pending.end,
                awaited: pending.awaited,
                after: label(pending.before),
                phase: phase,
                // The server had sent part of its answer (the transfer before the pause was a receive) and the
                // rest came after the pause: it held its own bytes back.
                heldBackByServer: phase != nil && pending.awaited == .server && pending.before.side == .server
            )
        }
        for index in phases.indices {
            phases[index].stalls = stalls.filter { $0.phase == phases[index].name }
        }
        return RTMPExchange(
            phases: phases,
            stalls: stalls,
            firstMediaByte: firstMediaByte,
            firstAudioMessage: firstAudioMessage,
            firstVideoMessage: firstVideoMessage,
            firstKeyframeStart: keyframe?.start,
            firstKeyframeEnd: keyframe?.end,
            serverChunkSize: server.chunkSize,
            clientChunkSize: client.chunkSize,
            statusCodes: statusCodes,
            messages: counts,
            incompleteReason: reason
        )
    }

    /// "after sending connect", "after receiving part of video": what the transfer before a stall moved last.
    private func label(_ mark: Mark) -> String {
        let verb = mark.side == .client ? "sending" : "receiving"
        switch mark.position {
        case .nothing:
            return "after \(verb) nothing"
        case .handshake(let part, let complete):
            return complete ? "after \(verb) \(part)" : "after \(verb) part of \(part)"
        case .chunkHeader:
            return "after \(verb) part of a chunk header"
        case .message(let serial, let typeID, let complete):
            let message = (mark.side == .client ? clientMessages : serverMessages)[serial]
            let name = message.map(describe) ?? RTMPMessage.typeName(typeID)
            return complete ? "after \(verb) \(name)" : "after \(verb) part of \(name)"
        }
    }

    /// A message's summary, with the command a `_result`/`_error` answers.
    private func describe(_ message: RTMPMessage) -> String {
        if case .command(let name, let transaction, _) = message.content, name == "_result" || name == "_error",
            let transaction, let command = transactions[transaction]
        {
            return "\(name) (\(command))"
        }
        return message.summary
    }
}

extension RTMPMessage {
    /// An aggregate that holds audio (`audio: true`) or video tags.
    fileprivate func hasAggregated(audio: Bool) -> Bool {
        guard case .aggregate(let hasAudio, let hasVideo, _) = content else { return false }
        return audio ? hasAudio : hasVideo
    }
}
