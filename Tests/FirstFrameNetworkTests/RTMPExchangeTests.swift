import FirstFrameNetwork
import Foundation
import Testing

/// The RTMP chunk-stream reader and the exchange analysis, from hand-built byte sequences: what a loopback test
/// against a real server cannot stage on purpose (extended timestamps, 2- and 3-byte chunk stream ids, an audio
/// chunk inside a video message, a capture that runs out, bytes that are not RTMP at all).
@Suite struct RTMPExchangeTests {
    // MARK: Building bytes

    /// AMF0 values, encoded.
    enum AMF {
        static func string(_ text: String) -> [UInt8] {
            let bytes = Array(text.utf8)
            return [0x02, UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes
        }

        static func number(_ value: Double) -> [UInt8] {
            [0x00] + withUnsafeBytes(of: value.bitPattern.bigEndian) { Array($0) }
        }

        static let null: [UInt8] = [0x05]

        static func object(_ properties: [(String, [UInt8])]) -> [UInt8] {
            var bytes: [UInt8] = [0x03]
            for (key, value) in properties {
                let name = Array(key.utf8)
                bytes += [UInt8(name.count >> 8), UInt8(name.count & 0xFF)] + name + value
            }
            return bytes + [0x00, 0x00, 0x09]
        }

        static func command(_ name: String, _ transaction: Double, _ rest: [UInt8]...) -> [UInt8] {
            string(name) + number(transaction) + rest.flatMap { $0 }
        }
    }

    /// RTMP chunks, encoded.
    enum Chunk {
        static func basicHeader(format: Int, id: UInt32) -> [UInt8] {
            let top = UInt8(format << 6)
            switch id {
            case 2...63: return [top | UInt8(id)]
            case 64...319: return [top, UInt8(id - 64)]
            default: return [top | 1, UInt8((id - 64) & 0xFF), UInt8((id - 64) >> 8)]
            }
        }

        static func uint24(_ value: UInt32) -> [UInt8] {
            [UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
        }
        static func uint32(_ value: UInt32) -> [UInt8] {
            [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
        }

        /// A message as its chunks (each header + payload piece), so tests can interleave them. `format` is the
        /// first chunk's header type; `timestamp` is the absolute time (fmt 0) or the delta (fmt 1, 2).
        static func message(
            id: UInt32,
            type: UInt8,
            streamID: UInt32 = 0,
            timestamp: UInt32 = 0,
            format: Int = 0,
            payload: [UInt8],
            chunkSize: Int = 128
        ) -> [[UInt8]] {
            let extended = timestamp >= 0xFF_FFFF
            let field = uint24(extended ? 0xFF_FFFF : timestamp)
            let ext = extended ? uint32(timestamp) : []
            var header = basicHeader(format: format, id: id)
            switch format {
            case 0:
                header +=
                    field + uint24(UInt32(payload.count)) + [type]
                    + withUnsafeBytes(of: streamID.littleEndian) { Array($0) }
            case 1: header += field + uint24(UInt32(payload.count)) + [type]
            case 2: header += field
            default: break
            }
            header += ext
            var chunks: [[UInt8]] = []
            var offset = 0
            repeat {
                let piece = Array(payload[offset..<min(offset + chunkSize, payload.count)])
                chunks.append((chunks.isEmpty ? header : basicHeader(format: 3, id: id) + ext) + piece)
                offset += chunkSize
            } while offset < payload.count
            return chunks
        }

        static func whole(
            id: UInt32,
            type: UInt8,
            streamID: UInt32 = 0,
            timestamp: UInt32 = 0,
            format: Int = 0,
            payload: [UInt8],
            chunkSize: Int = 128
        ) -> [UInt8] {
            message(
                id: id,
                type: type,
                streamID: streamID,
                timestamp: timestamp,
                format: format,
                payload: payload,
                chunkSize: chunkSize
            ).flatMap { $0 }
        }
    }

    /// A socket's events, each `after` milliseconds past the previous one.
    struct Script {
        static let fd: Int32 = 7
        static let base: UInt64 = 1_000_000_000
        var events: [NetworkEvent] = []

        /// The time `ms` milliseconds after the base.
        static func at(_ ms: Double) -> UInt64 { base + UInt64(ms * 1_000_000) }

        mutating func send(_ bytes: [UInt8], at ms: Double) {
            events.append(
                NetworkEvent(kind: .send, time: Self.at(ms), fd: Self.fd, result: Int64(bytes.count), data: bytes)
            )
        }

        mutating func receive(_ bytes: [UInt8], at ms: Double, result: Int? = nil) {
            events.append(
                NetworkEvent(
                    kind: .receive,
                    time: Self.at(ms),
                    fd: Self.fd,
                    result: Int64(result ?? bytes.count),
                    data: bytes
                )
            )
        }

        func analyse() -> RTMPExchange? { RTMPExchange.analyse(events: events, fd: Self.fd) }
    }

    static let c0c1: [UInt8] = [3] + [UInt8](repeating: 0x11, count: 1536)
    static let c2: [UInt8] = [UInt8](repeating: 0x22, count: 1536)
    static let s0s1: [UInt8] = [3] + [UInt8](repeating: 0x33, count: 1536)
    static let s2: [UInt8] = [UInt8](repeating: 0x44, count: 1536)

    static func control(_ type: UInt8, _ payload: [UInt8], format: Int = 0) -> [UInt8] {
        Chunk.whole(id: 2, type: type, format: format, payload: payload)
    }

    static let connect = AMF.command(
        "connect",
        1,
        AMF.object([
            ("app", AMF.string("live")), ("flashVer", AMF.string("LNX 9,0,124,2")),
            ("tcUrl", AMF.string("rtmp://127.0.0.1:1935/live")), ("fpad", [0x01, 0x00]),
            ("capabilities", AMF.number(15)),
            ("audioCodecs", AMF.number(4071)), ("videoCodecs", AMF.number(252)), ("videoFunction", AMF.number(1)),
        ])
    )
    static let connectResult = AMF.command(
        "_result",
        1,
        AMF.object([
            ("fmsVer", AMF.string("FMS/3,0,1,123")), ("capabilities", AMF.number(31)),
        ]),
        AMF.object([
            ("level", AMF.string("status")), ("code", AMF.string("NetConnection.Connect.Success")),
            ("description", AMF.string("Connection succeeded.")), ("objectEncoding", AMF.number(0)),
        ])
    )
    static let playStart = AMF.command(
        "onStatus",
        0,
        AMF.null,
        AMF.object([
            ("level", AMF.string("status")), ("code", AMF.string("NetStream.Play.Start")),
            ("description", AMF.string("Started playing stream.")),
        ])
    )
    static let keyframe: [UInt8] = [0x17, 0x01, 0, 0, 0] + [UInt8](repeating: 0x65, count: 247)

    /// A whole open as FFmpeg makes it against nginx-rtmp (command chunks written in separate sends, the server's
    /// control messages, a smaller server chunk size so the keyframe spans chunks), with stalls at known places.
    static func scriptedOpen() -> Script {
        var script = Script()
        script.send(c0c1, at: 0)
        script.receive(s0s1, at: 0.2)
        script.receive(s2, at: 0.3)
        script.send(c2, at: 0.4)
        // connect: 12-byte header, 128 bytes, a 1-byte fmt 3 header, the rest: FFmpeg's four writes.
        let connectChunks = Chunk.message(id: 3, type: 20, payload: connect)
        #expect(connectChunks.count == 2)
        script.send(Array(connectChunks[0].prefix(12)), at: 0.5)
        script.send(Array(connectChunks[0].dropFirst(12)), at: 0.6)
        script.send(Array(connectChunks[1].prefix(1)), at: 0.7)
        script.send(Array(connectChunks[1].dropFirst()), at: 0.8)
        script.receive(control(5, Chunk.uint32(5_000_000)), at: 41)
        // Set Chunk Size arrives in the same read as the _result it already applies to.
        script.receive(
            control(6, Chunk.uint32(5_000_000) + [2], format: 1) + control(1, Chunk.uint32(100), format: 1)
                + Chunk.whole(id: 3, type: 20, payload: connectResult, chunkSize: 100),
            at: 85
        )
        script.send(control(5, Chunk.uint32(2_500_000)), at: 85.1)
        script.send(
            Chunk.whole(id: 3, type: 20, format: 1, payload: AMF.command("createStream", 2, AMF.null)),
            at: 85.2
        )
        script.receive(
            Chunk.whole(
                id: 3,
                type: 20,
                format: 1,
                payload: AMF.command("_result", 2, AMF.null, AMF.number(1)),
                chunkSize: 100
            ),
            at: 100
        )
        script.send(
            Chunk.whole(
                id: 8,
                type: 20,
                streamID: 1,
                payload: AMF.command("play", 3, AMF.null, AMF.string("stream"), AMF.number(-2000))
            ),
            at: 100.1
        )
        script.send(control(4, [0, 3, 0, 0, 0, 1, 0, 0, 0x0B, 0xB8], format: 1), at: 100.2)
        script.receive(control(4, [0, 0, 0, 0, 0, 1], format: 1), at: 144)
        let status = Chunk.message(id: 5, type: 20, streamID: 1, payload: playStart, chunkSize: 100)
        #expect(status.count == 2)
        script.receive(status[0], at: 188)
        script.receive(status[1], at: 188.1)
        script.receive(
            Chunk.whole(
                id: 5,
                type: 18,
                streamID: 1,
                payload: AMF.string("|RtmpSampleAccess") + [1, 1, 1, 1],
                chunkSize: 100
            ),
            at: 188.2
        )
        script.receive(
            Chunk.whole(
                id: 5,
                type: 18,
                streamID: 1,
                format: 1,
                payload: AMF.string("onMetaData") + AMF.object([("width", AMF.number(320))]),
                chunkSize: 100
            ),
            at: 188.3
        )
        script.receive(Chunk.whole(id: 4, type: 8, streamID: 1, payload: [0xAF, 0x00, 0x12, 0x10]), at: 200)
        script.receive(Chunk.whole(id: 6, type: 9, streamID: 1, payload: [0x17, 0x00, 0, 0, 0, 1, 0x64]), at: 200.1)
        script.receive(
            Chunk.whole(
                id: 6,
                type: 9,
                streamID: 1,
                timestamp: 40,
                format: 1,
                payload: [0x27, 0x01] + [UInt8](repeating: 0x41, count: 48)
            ),
            at: 200.2
        )
        script.send(control(3, Chunk.uint32(1_000_000)), at: 260)
        // The keyframe in three chunks of 100, with an audio message between its first and second chunk.
        let video = Chunk.message(
            id: 6,
            type: 9,
            streamID: 1,
            timestamp: 40,
            format: 1,
            payload: keyframe,
            chunkSize: 100
        )
        #expect(video.count == 3)
        script.receive(video[0], at: 300)
        script.receive(
            Chunk.whole(
                id: 4,
                type: 8,
                streamID: 1,
                timestamp: 23,
                format: 1,
                payload: [0xAF, 0x01] + [UInt8](repeating: 0x21, count: 30)
            ),
            at: 300.1
        )
        script.receive(video[1], at: 320)
        script.receive(video[2], at: 335)
        // After the keyframe: not read (no stall, no count).
        script.receive(
            Chunk.whole(
                id: 4,
                type: 8,
                streamID: 1,
                timestamp: 23,
                format: 2,
                payload: [0xAF, 0x01] + [UInt8](repeating: 0x21, count: 30)
            ),
            at: 500
        )
        return script
    }

    // MARK: The exchange

    @Test func scriptedOpenPhasesStallsAndKeyframe() throws {
        let exchange = try #require(Self.scriptedOpen().analyse())
        let at = Script.at
        #expect(exchange.isComplete && exchange.incompleteReason == nil)
        #expect(exchange.phases.map(\.name) == [.handshake, .connect, .createStream, .play])

        let handshake = try #require(exchange.phase(.handshake))
        #expect(handshake.start == at(0) && handshake.end == at(0.3) && handshake.endedBy == "S2")
        #expect(handshake.stalls.isEmpty && handshake.sends == 1 && handshake.receives == 2)

        let connect = try #require(exchange.phase(.connect))
        #expect(connect.start == at(0.5) && connect.end == at(85) && connect.endedBy == "_result")
        #expect(connect.sends == 4 && connect.receives == 2)
        #expect(
            connect.stalls.map(\.after) == ["after sending connect", "after receiving Window Acknowledgement Size"]
        )
        #expect(connect.stalls.map(\.awaited) == [.server, .server])
        #expect(connect.stalls.map(\.start) == [at(0.8), at(41)] && connect.stalls.map(\.end) == [at(41), at(85)])
        #expect(connect.stallTime == at(85) - at(0.8))
        // The first pause is the request's round trip; the second, after the answer's first piece, the server
        // holding the rest back (its Nagle, waiting for this client's ACK).
        #expect(connect.stalls.map(\.heldBackByServer) == [false, true])

        let createStream = try #require(exchange.phase(.createStream))
        #expect(createStream.start == at(85.2) && createStream.end == at(100) && createStream.endedBy == "_result")
        #expect(createStream.stalls.map(\.after) == ["after sending createStream"])

        let play = try #require(exchange.phase(.play))
        #expect(play.start == at(100.1) && play.end == at(188.1) && play.endedBy == "onStatus NetStream.Play.Start")
        #expect(
            play.stalls.map(\.after) == [
                "after sending User Control Set Buffer Length", "after receiving User Control Stream Begin",
            ]
        )
        #expect(play.stalls.allSatisfy { $0.phase == .play })
        #expect(play.stalls.map(\.heldBackByServer) == [false, true])
        #expect(createStream.stalls.map(\.heldBackByServer) == [false])

        // After play: the wait for media and for the keyframe, with the client's late acknowledgement in it.
        let outside = exchange.stalls.filter { $0.phase == nil }
        #expect(
            outside.map(\.after) == [
                "after receiving data onMetaData", "after receiving video", "after sending Acknowledgement",
                "after receiving audio", "after receiving part of video keyframe",
            ]
        )
        #expect(outside.map(\.awaited) == [.server, .client, .server, .server, .server])
        // Outside the phases a pause after a receive is the stream's pace, not an answer held back.
        #expect(outside.allSatisfy { !$0.heldBackByServer })
        #expect(exchange.stalls.count == 10)
        #expect(exchange.stallTime == exchange.stalls.reduce(0) { $0 + $1.duration })

        // |RtmpSampleAccess is not media; onMetaData is.
        #expect(exchange.firstMediaByte == at(188.3))
        #expect(exchange.firstAudioMessage == at(200))
        #expect(exchange.firstVideoMessage == at(200.1))
        #expect(exchange.firstKeyframeStart == at(300) && exchange.firstKeyframeEnd == at(335))
        #expect(exchange.serverChunkSize == 100 && exchange.clientChunkSize == 128)
        #expect(exchange.statusCodes == ["NetStream.Play.Start"])
        #expect(exchange.messages.sent == 6 && exchange.messages.received == 14)
        #expect(exchange.messages.audio == 2 && exchange.messages.video == 3 && exchange.messages.data == 2)
        #expect(exchange.messages.commands == 3 && exchange.messages.control == 4)
    }

    /// What the trace holds about other sockets, and its marks, does not disturb the socket read.
    @Test func otherSocketsAreIgnored() throws {
        var events = Self.scriptedOpen().events
        for (index, event) in events.enumerated().reversed() where index % 3 == 0 {
            events.insert(
                NetworkEvent(kind: .receive, time: event.time, fd: 9, result: 5, data: [1, 2, 3, 4, 5]),
                at: index
            )
        }
        events.insert(NetworkEvent(kind: .mark, time: Script.at(50), data: Array("mark".utf8)), at: 5)
        #expect(RTMPExchange.analyse(events: events, fd: Script.fd) == Self.scriptedOpen().analyse())
    }

    /// RTMPS: the same bytes as a gnutls session's plaintext, under its pseudo-fd.
    @Test func tlsPlaintextReadsLikeASocket() throws {
        let events = Self.scriptedOpen().events.map { event in
            NetworkEvent(
                kind: event.kind == .send ? .tlsSend : .tlsReceive,
                time: event.time,
                fd: -100,
                result: event.result,
                data: event.data
            )
        }
        #expect(RTMPExchange.analyse(events: events, fd: -100) == Self.scriptedOpen().analyse())
    }

    @Test func codableRoundTrip() throws {
        let exchange = try #require(Self.scriptedOpen().analyse())
        let decoded = try JSONDecoder().decode(RTMPExchange.self, from: JSONEncoder().encode(exchange))
        #expect(decoded == exchange)
    }

    @Test func notRTMPIsNil() {
        var http = Script()
        http.send(Array("GET / HTTP/1.1\r\n\r\n".utf8), at: 0)
        #expect(http.analyse() == nil)
        #expect(RTMPExchange.analyse(events: [], fd: 3) == nil)
        // RTMPE (C0 = 6) is encrypted: nothing to read.
        var encrypted = Script()
        encrypted.send([6] + [UInt8](repeating: 0, count: 1536), at: 0)
        #expect(encrypted.analyse() == nil)
        // A receive before any send is no RTMP client.
        var silent = Script()
        silent.receive(Self.s0s1, at: 0)
        #expect(silent.analyse() == nil)
    }

    @Test func captureRunningOutBeforeTheKeyframeIsIncomplete() throws {
        var script = Self.scriptedOpen()
        // The read with the keyframe's second chunk moved more than the trace kept.
        let index = try #require(script.events.firstIndex { $0.time == Script.at(320) })
        script.events[index].data = Array(script.events[index].data.prefix(10))
        let exchange = try #require(script.analyse())
        #expect(!exchange.isComplete && exchange.incompleteReason == .captureRanOut)
        #expect(exchange.firstKeyframeStart == nil && exchange.firstKeyframeEnd == nil)
        // What came before is all there.
        #expect(exchange.phase(.play)?.end == Script.at(188.1))
        #expect(exchange.firstVideoMessage == Script.at(200.1))
    }

    @Test func captureRunningOutAfterTheKeyframeIsComplete() throws {
        var script = Self.scriptedOpen()
        script.events[script.events.count - 1].data = []
        #expect(try #require(script.analyse()).isComplete)
    }

    @Test func playEndsAtTheFirstMediaMessageWithoutPlayStart() throws {
        var script = Self.scriptedOpen()
        script.events.removeAll { $0.time == Script.at(188) || $0.time == Script.at(188.1) }
        let exchange = try #require(script.analyse())
        #expect(exchange.phase(.play)?.end == Script.at(188.3))
        #expect(exchange.phase(.play)?.endedBy == "first media message")
        #expect(exchange.statusCodes.isEmpty)
        #expect(exchange.isComplete)
    }

    @Test func closedConnectionAndEndedTraceAreIncomplete() throws {
        var script = Self.scriptedOpen()
        let index = try #require(script.events.firstIndex { $0.time == Script.at(200) })
        script.events.removeSubrange(index...)
        #expect(try #require(script.analyse()).incompleteReason == .traceEnded)
        script.receive([], at: 201)
        #expect(try #require(script.analyse()).incompleteReason == .connectionClosed)
        script.events.removeLast()
        script.events.append(NetworkEvent(kind: .close, time: Script.at(202), fd: Script.fd))
        #expect(try #require(script.analyse()).incompleteReason == .connectionClosed)
    }

    @Test func failedCallsMoveNothing() throws {
        var script = Self.scriptedOpen()
        // EAGAIN between the connect and its answer: no bytes, no stall split.
        script.events.insert(
            NetworkEvent(kind: .receive, time: Script.at(20), fd: Script.fd, result: -1, error: EAGAIN),
            at: 8
        )
        let exchange = try #require(script.analyse())
        #expect(exchange == Self.scriptedOpen().analyse())
    }

    @Test func connectErrorEndsTheConnectPhase() throws {
        var script = Script()
        script.send(Self.c0c1, at: 0)
        script.receive(Self.s0s1 + Self.s2, at: 1)
        script.send(
            Self.c2
                + Chunk.whole(
                    id: 3,
                    type: 20,
                    payload: AMF.command("connect", 1, AMF.object([("app", AMF.string("nope"))]))
                ),
            at: 2
        )
        script.receive(
            Chunk.whole(
                id: 3,
                type: 20,
                payload: AMF.command(
                    "_error",
                    1,
                    AMF.null,
                    AMF.object([
                        ("level", AMF.string("error")), ("code", AMF.string("NetConnection.Connect.Rejected")),
                    ])
                )
            ),
            at: 3
        )
        let exchange = try #require(script.analyse())
        #expect(exchange.phases.map(\.name) == [.handshake, .connect])
        #expect(exchange.phase(.connect)?.endedBy == "_error" && exchange.phase(.connect)?.end == Script.at(3))
        #expect(exchange.incompleteReason == .traceEnded)
    }

    @Test func playFailureStatusEndsPlay() throws {
        var script = Self.scriptedOpen()
        let index = try #require(script.events.firstIndex { $0.time == Script.at(188) })
        script.events.removeSubrange(index...)
        let notFound = AMF.command(
            "onStatus",
            0,
            AMF.null,
            AMF.object([
                ("level", AMF.string("error")), ("code", AMF.string("NetStream.Play.StreamNotFound")),
            ])
        )
        script.receive(Chunk.whole(id: 5, type: 20, streamID: 1, payload: notFound, chunkSize: 100), at: 190)
        let exchange = try #require(script.analyse())
        #expect(exchange.phase(.play)?.endedBy == "onStatus NetStream.Play.StreamNotFound")
        #expect(exchange.statusCodes == ["NetStream.Play.StreamNotFound"])
        #expect(!exchange.isComplete)
    }

    @Test func malformedChunkStreamStopsTheReading() throws {
        var script = Self.scriptedOpen()
        let index = try #require(script.events.firstIndex { $0.time == Script.at(144) })
        // fmt 1 on a chunk stream no fmt 0 header started.
        script.events[index].data = [0x40 | 40, 0, 0, 0, 0, 0, 6, 4, 0, 0, 0, 0, 0, 1]
        script.events[index].result = Int64(script.events[index].data.count)
        let exchange = try #require(script.analyse())
        #expect(exchange.incompleteReason == .malformed)
        #expect(exchange.phase(.createStream)?.end == Script.at(100))
    }

    // MARK: The chunk-stream reader

    @Test func handshakeInPiecesThenChunks() {
        var reader = RTMPChunkStreamReader(side: .server)
        let bytes = Self.s0s1 + Self.s2 + Self.control(5, Chunk.uint32(2_500_000))
        var messages: [RTMPMessage] = []
        // 1000 bytes at a time: the handshake's end falls inside the fourth piece.
        for (piece, start) in stride(from: 0, to: bytes.count, by: 1000).enumerated() {
            messages += reader.feed(bytes[start..<min(start + 1000, bytes.count)], at: UInt64(piece))
        }
        #expect(reader.handshakeEnd == 3)
        #expect(messages.map(\.content) == [.windowAcknowledgementSize(2_500_000)])
        #expect(messages.first?.firstByteTime == 3 && messages.first?.lastByteTime == 3)
        #expect(reader.failure == nil && reader.bytesRead == Int64(bytes.count))
    }

    /// Each byte in an event of its own: the first and last byte times are the first and last events'.
    @Test func byteAtATime() {
        var reader = RTMPChunkStreamReader(side: .client)
        let bytes = Self.c0c1 + Self.c2 + Chunk.whole(id: 3, type: 20, payload: Self.connect)
        var messages: [RTMPMessage] = []
        for (index, byte) in bytes.enumerated() { messages += reader.feed([byte], at: UInt64(index)) }
        #expect(messages.count == 1)
        #expect(messages.first?.firstByteTime == 3073 && messages.first?.lastByteTime == UInt64(bytes.count - 1))
        guard case .command(let name, let transaction, _)? = messages.first?.content else {
            Issue.record("not a command: \(String(describing: messages.first))")
            return
        }
        #expect(name == "connect" && transaction == 1)
    }

    static func chunksOnly(
        _ side: RTMPChunkStreamReader.Side,
        _ pieces: [[UInt8]]
    ) -> (RTMPChunkStreamReader, [RTMPMessage]) {
        var reader = RTMPChunkStreamReader(side: side)
        var messages = reader.feed((side == .client ? c0c1 + c2 : s0s1 + s2)[...], at: 0)
        for (index, piece) in pieces.enumerated() { messages += reader.feed(piece[...], at: UInt64(index + 1)) }
        return (reader, messages)
    }

    @Test func headerFormatsZeroToThree() {
        let payload = [UInt8](repeating: 0xAA, count: 10)
        let (reader, messages) = Self.chunksOnly(
            .server,
            [
                Chunk.whole(id: 4, type: 8, streamID: 1, timestamp: 1000, payload: payload),
                // fmt 1: new length and type, same stream; the timestamp is a delta.
                Chunk.whole(id: 4, type: 9, timestamp: 40, format: 1, payload: [0x27, 0x01, 0, 0, 0]),
                // fmt 2: same length and type, new delta.
                Chunk.whole(id: 4, type: 9, timestamp: 20, format: 2, payload: [0x17, 0x01, 0, 0, 0]),
                // fmt 3 starting a message: everything repeated, the last delta too.
                Chunk.whole(id: 4, type: 9, format: 3, payload: [0x27, 0x01, 0, 0, 1]),
            ]
        )
        #expect(reader.failure == nil)
        #expect(messages.map(\.typeID) == [8, 9, 9, 9])
        #expect(messages.map(\.length) == [10, 5, 5, 5])
        #expect(messages.map(\.streamID) == [1, 1, 1, 1])
        #expect(messages.map(\.timestamp) == [1000, 1040, 1060, 1080])
        #expect(messages.map(\.serial) == [0, 1, 2, 3])
        #expect(messages.map(\.isKeyframe) == [false, false, true, false])
    }

    @Test func extendedTimestampsInEveryChunk() {
        let big: UInt32 = 0x0123_4567
        let payload = [0x17, 0x01] + [UInt8](repeating: 0x55, count: 298)
        let chunks = Chunk.message(id: 6, type: 9, streamID: 1, timestamp: big, payload: payload)
        #expect(chunks.count == 3)
        // fmt 3 continuation chunks repeat the 4 extended bytes: 1 + 4 + 128.
        #expect(chunks[1].count == 133)
        let (reader, messages) = Self.chunksOnly(
            .server,
            chunks + [
                // A fmt 1 header with an extended delta, then a plain one: the flag follows the last full header.
                Chunk.whole(
                    id: 6,
                    type: 9,
                    timestamp: 0x0100_0000,
                    format: 1,
                    payload: [0x27, 0x01] + [UInt8](repeating: 0, count: 200)
                ),
                Chunk.whole(
                    id: 6,
                    type: 9,
                    timestamp: 40,
                    format: 1,
                    payload: [0x27, 0x01] + [UInt8](repeating: 0, count: 200)
                ),
            ]
        )
        #expect(reader.failure == nil)
        #expect(messages.map(\.timestamp) == [big, big &+ 0x0100_0000, big &+ 0x0100_0000 &+ 40])
        #expect(messages.map(\.length) == [300, 202, 202])
        #expect(messages.first?.isKeyframe == true)
        #expect(messages.first?.firstByteTime == 1 && messages.first?.lastByteTime == 3)
    }

    @Test func audioChunkInsideAVideoMessage() {
        let video = Chunk.message(id: 6, type: 9, streamID: 1, payload: Self.keyframe)
        #expect(video.count == 2)
        let audio = Chunk.whole(id: 4, type: 8, streamID: 1, payload: [0xAF, 0x01, 1, 2, 3])
        let (reader, messages) = Self.chunksOnly(.server, [video[0], audio, video[1]])
        #expect(reader.failure == nil)
        // Completed in arrival order of their last bytes; numbered in arrival order of their first.
        #expect(messages.map(\.typeID) == [8, 9])
        #expect(messages.map(\.serial) == [1, 0])
        #expect(messages[1].firstByteTime == 1 && messages[1].lastByteTime == 3)
        #expect(messages[0].firstByteTime == 2 && messages[0].lastByteTime == 2)
    }

    @Test func chunkSizeIsPerDirection() {
        let payload = AMF.command("play", 4, AMF.null, AMF.string(String(repeating: "s", count: 250)))
        let (client, sent) = Self.chunksOnly(
            .client,
            [
                Self.control(1, Chunk.uint32(4096)),
                Chunk.whole(id: 8, type: 20, streamID: 1, payload: payload, chunkSize: 4096),
            ]
        )
        #expect(client.chunkSize == 4096)
        #expect(sent.count == 2 && sent.last?.length == payload.count)
        // The same bytes read as the server's (whose chunk size is still 128) are not one chunk.
        let (server, _) = Self.chunksOnly(
            .server,
            [Chunk.whole(id: 8, type: 20, streamID: 1, payload: payload, chunkSize: 4096)]
        )
        #expect(server.chunkSize == 128)
        #expect(server.position != .message(serial: 0, typeID: 20, complete: true))
    }

    @Test func longChunkStreamIDs() {
        let (reader, messages) = Self.chunksOnly(
            .server,
            [
                Chunk.whole(id: 64, type: 18, payload: AMF.string("onMetaData")),
                Chunk.whole(id: 319, type: 18, payload: AMF.string("onMetaData")),
                Chunk.whole(id: 320, type: 8, payload: [0xAF, 0x01]),
                Chunk.whole(id: 65599, type: 9, payload: Self.keyframe),
            ]
        )
        #expect(reader.failure == nil)
        #expect(messages.map(\.chunkStreamID) == [64, 319, 320, 65599])
        #expect(messages.last?.isKeyframe == true)
    }

    @Test func abortDropsThePartialMessage() {
        let video = Chunk.message(id: 6, type: 9, payload: Self.keyframe)
        let (reader, messages) = Self.chunksOnly(
            .server,
            [
                video[0], Self.control(2, Chunk.uint32(6)),
                // The chunk stream starts over with a fmt 3 header: a new message of the same length and type.
                Chunk.whole(id: 6, type: 9, format: 3, payload: Self.keyframe),
            ]
        )
        #expect(reader.failure == nil)
        #expect(messages.map(\.typeID) == [2, 9])
        #expect(messages.last?.firstByteTime == 3)
    }

    @Test func zeroChunkSizeAndAnUnstartedChunkStreamAreMalformed() {
        let (zero, _) = Self.chunksOnly(.server, [Self.control(1, Chunk.uint32(0)), Self.control(5, Chunk.uint32(1))])
        #expect(zero.failure == .malformed("Set Chunk Size 0"))
        let (unstarted, messages) = Self.chunksOnly(.server, [[0xC0 | 9, 1, 2, 3]])
        #expect(unstarted.failure != nil && messages.isEmpty)
    }

    @Test func commandsAndMediaAreDecoded() {
        let (_, messages) = Self.chunksOnly(
            .server,
            [
                Chunk.whole(id: 3, type: 20, payload: Self.connectResult),
                // AMF3 command: a 0 format byte, then AMF0.
                Chunk.whole(id: 5, type: 17, payload: [0] + Self.playStart),
                Chunk.whole(
                    id: 5,
                    type: 18,
                    payload: AMF.string("onMetaData") + [0x08, 0, 0, 0, 1]
                        + AMF.object([("duration", AMF.number(0))]).dropFirst()
                ),
                Chunk.whole(id: 4, type: 8, payload: [0xAF, 0x00, 0x12, 0x10]),
                Chunk.whole(id: 6, type: 9, payload: [0x17, 0x00, 1]),
                Chunk.whole(id: 6, type: 9, payload: [0x12, 0x00]),  // Sorenson keyframe: no AVCPacketType
                // Enhanced RTMP: keyframe, coded frames.
                Chunk.whole(id: 6, type: 9, payload: [0x91, 0x68, 0x76, 0x63, 0x31]),
                Chunk.whole(id: 6, type: 9, payload: [0x90, 0x68, 0x76, 0x63, 0x31]),  // enhanced RTMP: sequence start
                Chunk.whole(id: 6, type: 9, payload: [0x17]),  // AVC keyframe cut short: no packet type, not a picture
            ]
        )
        #expect(
            messages.map(\.summary) == [
                "_result", "onStatus NetStream.Play.Start", "data onMetaData", "audio sequence header",
                "video sequence header",
                "video keyframe", "video keyframe", "video sequence header", "video",
            ]
        )
        #expect(messages[1].content == .command(name: "onStatus", transactionID: 0, statusCode: "NetStream.Play.Start"))
        #expect(messages.map(\.isKeyframe) == [false, false, false, false, false, true, true, false, false])
        #expect(messages.map(\.isMedia) == [false, false, true, true, true, true, true, true, true])
    }

    @Test func aggregateMessagesAreMedia() throws {
        func tag(_ type: UInt8, _ data: [UInt8]) -> [UInt8] {
            [type] + Chunk.uint24(UInt32(data.count)) + [0, 0, 0, 0, 0, 0, 0] + data
                + Chunk.uint32(UInt32(11 + data.count))
        }
        var script = Self.scriptedOpen()
        let index = try #require(script.events.firstIndex { $0.time == Script.at(200) })
        script.events.removeSubrange(index...)
        script.receive(
            Chunk.whole(
                id: 7,
                type: 22,
                streamID: 1,
                payload: tag(8, [0xAF, 0x01, 1]) + tag(9, Self.keyframe),
                chunkSize: 100
            ),
            at: 250
        )
        let exchange = try #require(script.analyse())
        #expect(exchange.isComplete)
        #expect(exchange.firstKeyframeEnd == Script.at(250))
        #expect(exchange.firstAudioMessage == Script.at(250) && exchange.firstVideoMessage == Script.at(250))
        #expect(exchange.messages.aggregate == 1)
    }

    // MARK: Robustness

    /// A small deterministic generator, so a failing case can be replayed from its seed.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Events in random directions with random bytes (after a real handshake or not), random sizes and times.
    @Test func randomBytesNeverCrash() {
        for seed in 0..<300 as Range<UInt64> {
            var random = SplitMix64(state: seed)
            var script = Script()
            var time = 0.0
            if seed % 2 == 0 {
                script.send(Self.c0c1, at: 0)
                script.receive(Self.s0s1 + Self.s2, at: 0.1)
                script.send(Self.c2, at: 0.2)
                time = 0.3
            } else {
                script.send([3], at: 0)
            }
            for _ in 0..<Int.random(in: 1...60, using: &random) {
                let bytes = (0..<Int.random(in: 0...700, using: &random)).map { _ in
                    UInt8.random(in: 0...255, using: &random)
                }
                time += Double.random(in: 0...30, using: &random)
                if Bool.random(using: &random) {
                    script.send(bytes, at: time)
                } else {
                    script.receive(
                        bytes,
                        at: time,
                        result: bytes.count + (Int.random(in: 0...9, using: &random) == 0 ? 5 : 0)
                    )
                }
            }
            let exchange = script.analyse()
            #expect(exchange != nil, "seed \(seed)")
            if let exchange {
                #expect(exchange.stalls.allSatisfy { $0.end > $0.start }, "seed \(seed)")
            }
        }
    }

    /// The scripted open with one read or write cut short, one byte changed, or its byte streams split at other
    /// places: never a crash; a cut before the keyframe's end leaves it incomplete.
    @Test func truncationsAndMutationsNeverCrash() throws {
        let original = Self.scriptedOpen()
        let keyframeEvent = try #require(original.events.firstIndex { $0.time == Script.at(335) })
        var random = SplitMix64(state: 42)
        for round in 0..<400 {
            var script = original
            let index = Int.random(in: 0..<script.events.count, using: &random)
            let data = script.events[index].data
            if round % 2 == 0 {
                let keep = Int.random(in: 0..<max(data.count, 1), using: &random)
                script.events[index].data = Array(data.prefix(keep))
                let exchange = script.analyse()
                if index == 0 && keep == 0 {
                    #expect(exchange == nil)
                } else if index <= keyframeEvent && keep < data.count {
                    #expect(exchange?.isComplete == false, "round \(round): cut event \(index) to \(keep)")
                }
            } else if !data.isEmpty {
                script.events[index].data[Int.random(in: 0..<data.count, using: &random)] = UInt8.random(
                    in: 0...255,
                    using: &random
                )
                _ = script.analyse()
            }
        }
    }

    /// Random but valid chunk streams (any header format, 1- to 3-byte chunk stream ids, extended timestamps,
    /// interleaved chunks, chunk size changes) split into random reads: every message comes back, intact.
    @Test func randomValidChunkStreamsReadBack() {
        struct Sent: Hashable, Comparable {
            var id: UInt32, type: UInt8, length: Int, timestamp: UInt32
            static func < (a: Sent, b: Sent) -> Bool {
                (a.id, a.type, a.length, a.timestamp) < (b.id, b.type, b.length, b.timestamp)
            }
        }
        for seed in 0..<200 as Range<UInt64> {
            var random = SplitMix64(state: seed)
            var bytes = Self.s0s1 + Self.s2
            var chunkSize = 128
            var last: [UInt32: (type: UInt8, length: Int, timestamp: UInt32, delta: UInt32)] = [:]
            var active: [UInt32: [[UInt8]]] = [:]
            var sent: [Sent] = []
            for _ in 0..<Int.random(in: 1...60, using: &random) {
                let choice = Int.random(in: 0..<10, using: &random)
                if choice == 0, active.isEmpty {
                    // Set Chunk Size applies to every chunk after it, so none may be half sent around it.
                    let size = Int.random(in: 1...600, using: &random)
                    bytes += Chunk.whole(
                        id: 2,
                        type: 1,
                        timestamp: 0,
                        payload: Chunk.uint32(UInt32(size)),
                        chunkSize: chunkSize
                    )
                    chunkSize = size
                    sent.append(Sent(id: 2, type: 1, length: 4, timestamp: 0))
                    last[2] = (1, 4, 0, 0)
                } else if choice < 5, let id = active.keys.randomElement(using: &random) {
                    bytes += active[id]!.removeFirst()
                    if active[id]!.isEmpty { active[id] = nil }
                } else {
                    let id = [3, 4, 5, 6, 63, 64, 319, 320, 65599].randomElement(using: &random)! as UInt32
                    guard active[id] == nil else { continue }
                    var format = last[id] == nil ? 0 : Int.random(in: 0...3, using: &random)
                    var type = [8, 9, 18, 20].randomElement(using: &random)! as UInt8
                    var length = Int.random(in: 0...700, using: &random)
                    var time =
                        Bool.random(using: &random)
                        ? UInt32.random(in: 0...0xFF_FFFE, using: &random)
                        : UInt32.random(in: 0xFF_FFFF...UInt32.max, using: &random)
                    if let previous = last[id] {
                        if format >= 2 {
                            type = previous.type
                            length = previous.length
                        }
                        // fmt 3 repeats the last header's timestamp field as a delta (after fmt 0, its absolute
                        // time, as FFmpeg reads it), extended bytes included when that field was extended.
                        if format == 3 { time = previous.delta }
                    } else {
                        format = 0
                    }
                    let timestamp = format == 0 ? time : last[id]!.timestamp &+ time
                    let chunks = Chunk.message(
                        id: id,
                        type: type,
                        streamID: 1,
                        timestamp: time,
                        format: format,
                        payload: (0..<length).map { UInt8(truncatingIfNeeded: $0) },
                        chunkSize: chunkSize
                    )
                    bytes += chunks[0]
                    if chunks.count > 1 { active[id] = Array(chunks.dropFirst()) }
                    last[id] = (type, length, timestamp, time)
                    sent.append(Sent(id: id, type: type, length: length, timestamp: timestamp))
                }
            }
            for id in active.keys.sorted() { bytes += active[id]!.flatMap { $0 } }

            var reader = RTMPChunkStreamReader(side: .server)
            var messages: [RTMPMessage] = []
            var offset = 0
            while offset < bytes.count {
                let end = min(bytes.count, offset + Int.random(in: 1...3000, using: &random))
                messages += reader.feed(bytes[offset..<end], at: UInt64(offset))
                offset = end
            }
            #expect(reader.failure == nil, "seed \(seed)")
            #expect(reader.chunkSize == chunkSize, "seed \(seed)")
            let read = messages.map {
                Sent(id: $0.chunkStreamID, type: $0.typeID, length: $0.length, timestamp: $0.timestamp)
            }
            #expect(read.sorted() == sent.sorted(), "seed \(seed)")
            #expect(messages.allSatisfy { $0.firstByteTime <= $0.lastByteTime }, "seed \(seed)")
        }
    }

    /// However the bytes are split into reads and writes, the same messages come out.
    @Test func resplittingKeepsTheMessages() throws {
        let original = Self.scriptedOpen()
        let expected = try #require(original.analyse())
        var random = SplitMix64(state: 7)
        for round in 0..<100 {
            var script = Script()
            for event in original.events {
                var rest = event.data[...]
                var ms = Double(event.time - Script.base) / 1e6
                while !rest.isEmpty {
                    let piece = rest.prefix(Int.random(in: 1...max(1, rest.count), using: &random))
                    rest = rest.dropFirst(piece.count)
                    if event.kind == .send {
                        script.send(Array(piece), at: ms)
                    } else {
                        script.receive(Array(piece), at: ms)
                    }
                    ms += 0.001
                }
            }
            let exchange = try #require(script.analyse())
            #expect(exchange.isComplete, "round \(round)")
            #expect(exchange.messages == expected.messages, "round \(round)")
            #expect(exchange.phases.map(\.name) == expected.phases.map(\.name), "round \(round)")
            #expect(exchange.statusCodes == expected.statusCodes, "round \(round)")
        }
    }

    @Test func amf0NeverCrashes() {
        var random = SplitMix64(state: 99)
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0...300, using: &random)).map { _ in
                UInt8.random(in: 0...255, using: &random)
            }
            _ = AMF0Value.decodeAll(bytes[...])
        }
        // Objects nested ten thousand deep: decoding stops at the depth limit, the stack survives.
        let deep = [UInt8]([0x03] + Array(repeating: [0x00, 0x01, 0x61, 0x03], count: 10_000).flatMap { $0 })
        #expect(AMF0Value.decodeAll(deep[...]).isEmpty)
        // A strict array claiming four billion elements.
        #expect(AMF0Value.decodeAll([0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x05][...]).isEmpty)
    }
}
