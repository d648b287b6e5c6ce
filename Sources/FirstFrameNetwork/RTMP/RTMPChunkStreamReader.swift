/// Reads one direction of an RTMP connection — the client's bytes or the server's — as the trace delivered them:
/// the handshake, then chunks, put back together into messages.
///
/// Bytes come in the pieces the socket calls moved them in (FFmpeg reads a chunk header in several 1- to 4-byte
/// `recv`s), each with the time of its event, so every message knows when its first and its last byte crossed
/// the socket. The reader never looks ahead past what it was fed: a chunk header split over events waits for
/// its remaining bytes, payload is taken as it comes.
///
/// It is built for bytes from the wild: a malformed header (a chunk stream continued before it was started, a
/// chunk size of 0) stops it with ``failure`` set and it ignores everything after; every loop consumes at
/// least one byte, and what it keeps is bounded by what it was fed.
package struct RTMPChunkStreamReader: Sendable {
    /// Which end wrote the bytes: it decides the handshake's shape (C0+C1, C2 or S0+S1, S2).
    package enum Side: Sendable, Hashable {
        case client, server
    }

    /// Why the reader stopped reading.
    package enum Failure: Sendable, Hashable, Error {
        /// The handshake's version byte (C0/S0) is not 3: not plain RTMP (6 is RTMPE, encrypted).
        case notRTMP(version: UInt8)
        /// The bytes do not follow the chunk stream's rules (the description says which).
        case malformed(String)
        /// A message announced a payload over ``RTMPChunkStreamReader/maximumMessageLength``.
        case messageTooLong(Int)
    }

    /// Where the last byte fed so far belongs: what a gap after it was waiting behind.
    package enum Position: Sendable, Hashable {
        case nothing
        /// A handshake part (`C0+C1`, `C2`, `S0+S1`, `S2`), and whether its last byte is in.
        case handshake(part: String, complete: Bool)
        /// Part of a chunk header whose message is not known yet.
        case chunkHeader
        /// A message (by ``RTMPMessage/serial``) of type `typeID`, and whether its last byte is in.
        case message(serial: Int, typeID: UInt8, complete: Bool)
    }

    /// RTMP's handshake: a version byte and a 1536-byte block, then the echo of the peer's block.
    package static let handshakeBlock = 1536
    /// The chunk size both directions start with (RTMP 1.0 §5.4.1).
    package static let defaultChunkSize = 128
    /// Message payloads announced beyond this end the reading; the 3-byte length field tops out just below it.
    package static let maximumMessageLength = 16 * 1024 * 1024

    package let side: Side
    /// The chunk size in effect for this direction (changed by Set Chunk Size messages sent this way).
    package private(set) var chunkSize = Self.defaultChunkSize
    /// Bytes fed and read so far.
    package private(set) var bytesRead: Int64 = 0
    /// The time of the event that carried the handshake's last byte from this side (C2's or S2's).
    package private(set) var handshakeEnd: UInt64?
    /// Set when the reader stopped; it ignores every byte fed after.
    package private(set) var failure: Failure?
    package private(set) var position = Position.nothing
    /// Messages started so far (complete or not).
    package private(set) var messagesStarted = 0

    /// A chunk stream's header state: what fmt 1–3 headers leave out is taken from here.
    private struct ChunkStream: Sendable {
        var timestamp: UInt32 = 0
        /// The timestamp field of the last header (the delta for fmt 1–3), extended value if it was extended.
        var timestampField: UInt32 = 0
        var length = 0
        var typeID: UInt8 = 0
        var streamID: UInt32 = 0
        /// The last fmt 0–2 header's timestamp field was 0xFFFFFF, so fmt 3 chunks carry the 4 extended bytes too.
        var extended = false
        var partial: Partial?
    }

    /// A message whose chunks are not all in.
    private struct Partial: Sendable {
        var serial: Int
        var length: Int
        var received = 0
        var kept: [UInt8] = []
        var firstByteTime: UInt64
        var typeID: UInt8
        var streamID: UInt32
        var timestamp: UInt32
    }

    private var handshakeRead = 0
    /// Header bytes fed but not yet enough to parse a chunk header, and when the first of them came.
    private var header: [UInt8] = []
    private var headerFirstTime: UInt64 = 0
    /// The chunk whose payload is being read: its chunk stream and payload bytes still to come.
    private var payloadStream: UInt32?
    private var payloadRemaining = 0
    private var streams: [UInt32: ChunkStream] = [:]

    package init(side: Side) {
        self.side = side
    }

    /// C0+C1+C2 (or S0+S1+S2): the version byte and two blocks.
    private var handshakeLength: Int { 1 + 2 * Self.handshakeBlock }

    /// Reads `bytes`, which one event (at `time`) moved, and returns the messages they completed, in the order
    /// they completed.
    package mutating func feed(_ bytes: ArraySlice<UInt8>, at time: UInt64) -> [RTMPMessage] {
        var completed: [RTMPMessage] = []
        var index = bytes.startIndex
        while index < bytes.endIndex, failure == nil {
            let before = index
            if handshakeRead < handshakeLength {
                index = readHandshake(bytes, from: index, at: time)
            } else if payloadStream != nil {
                index = readPayload(bytes, from: index, at: time, into: &completed)
            } else {
                header.append(bytes[index])
                if header.count == 1 { headerFirstTime = time }
                index += 1
                position = .chunkHeader
                parseHeader(at: time, into: &completed)
            }
            // Every step takes at least one byte; one that took none would spin forever, so it ends the reading.
            if index <= before {
                failure = .malformed("no progress at byte \(bytesRead + Int64(index - bytes.startIndex))")
                break
            }
        }
        bytesRead += Int64(index - bytes.startIndex)
        return completed
    }

    private mutating func readHandshake(_ bytes: ArraySlice<UInt8>, from index: Int, at time: UInt64) -> Int {
        if handshakeRead == 0, bytes[index] != 3 {
            failure = .notRTMP(version: bytes[index])
            return index + 1
        }
        let firstPart = 1 + Self.handshakeBlock
        let partEnd = handshakeRead < firstPart ? firstPart : handshakeLength
        let taken = min(bytes.endIndex - index, partEnd - handshakeRead)
        handshakeRead += taken
        let names = side == .client ? ("C0+C1", "C2") : ("S0+S1", "S2")
        position = .handshake(part: partEnd == firstPart ? names.0 : names.1, complete: handshakeRead == partEnd)
        if handshakeRead == handshakeLength { handshakeEnd = time }
        return index + taken
    }

    private mutating func readPayload(
        _ bytes: ArraySlice<UInt8>,
        from index: Int,
        at time: UInt64,
        into completed: inout [RTMPMessage]
    ) -> Int {
        guard let id = payloadStream, var partial = streams[id]?.partial else {
            // Cannot happen (a payload is only read for a started message); stop rather than trust the state.
            failure = .malformed("payload without a message")
            return index + 1
        }
        // Out of the dictionary while it grows, so appending does not copy the kept bytes each chunk.
        streams[id]?.partial = nil
        let taken = min(bytes.endIndex - index, payloadRemaining)
        let keep = min(taken, RTMPMessage.keptPayloadLimit(for: partial.typeID) - partial.kept.count)
        if keep > 0 { partial.kept += bytes[index..<index + keep] }
        partial.received += taken
        payloadRemaining -= taken
        if payloadRemaining == 0 { payloadStream = nil }
        if partial.received == partial.length {
            finish(partial, chunkStreamID: id, at: time, into: &completed)
        } else {
            streams[id]?.partial = partial
            position = .message(serial: partial.serial, typeID: partial.typeID, complete: false)
        }
        return index + taken
    }

    /// Parses the buffered header once it is whole; with too few bytes, it waits for the next ones.
    private mutating func parseHeader(at time: UInt64, into completed: inout [RTMPMessage]) {
        let first = header[0]
        let format = Int(first >> 6)
        // Basic header: chunk stream id 2–63 in the first byte; 0 and 1 announce one or two more bytes.
        let basicLength =
            switch first & 0x3F {
            case 0: 2
            case 1: 3
            default: 1
            }
        guard header.count >= basicLength else { return }
        let id: UInt32 =
            switch first & 0x3F {
            case 0: 64 + UInt32(header[1])
            case 1: 64 + UInt32(header[1]) + UInt32(header[2]) << 8
            default: UInt32(first & 0x3F)
            }
        guard format == 0 || streams[id] != nil else {
            failure = .malformed("chunk stream \(id) continued (fmt \(format)) before a type 0 header started it")
            return
        }
        var state = streams[id] ?? ChunkStream()
        let fieldEnd = basicLength + [11, 7, 3, 0][format]
        guard header.count >= fieldEnd else { return }
        func uint24(_ at: Int) -> UInt32 {
            UInt32(header[at]) << 16 | UInt32(header[at + 1]) << 8 | UInt32(header[at + 2])
        }
        let field = format == 3 ? nil : uint24(basicLength)
        // fmt 3 repeats the extended timestamp when its chunk stream's last full header had one (as FFmpeg,
        // librtmp and nginx-rtmp write and read it).
        let extended = field.map { $0 == 0xFF_FFFF } ?? state.extended
        guard header.count >= fieldEnd + (extended ? 4 : 0) else { return }
        let timestampField =
            extended
            ? header[fieldEnd..<fieldEnd + 4].reduce(0) { $0 << 8 | UInt32($1) }
            : field ?? state.timestampField
        let length = format <= 1 ? Int(uint24(basicLength + 3)) : state.length
        let typeID = format <= 1 ? header[basicLength + 6] : state.typeID
        let streamID =
            format == 0
            ? header[basicLength + 7..<basicLength + 11].reversed().reduce(0) { $0 << 8 | UInt32($1) }
            : state.streamID
        header.removeAll(keepingCapacity: true)

        if format != 3 || state.partial == nil {
            // A new message. A header of fmt 0–2 while a message was unfinished on the chunk stream means the
            // peer gave up on that one (or the bytes are not what they claim): its bytes are lost either way.
            state.length = length
            state.typeID = typeID
            state.streamID = streamID
            state.timestamp = format == 0 ? timestampField : state.timestamp &+ timestampField
            state.timestampField = timestampField
            if format != 3 { state.extended = extended }
            guard length <= Self.maximumMessageLength else {
                failure = .messageTooLong(length)
                return
            }
            state.partial = Partial(
                serial: messagesStarted,
                length: length,
                firstByteTime: headerFirstTime,
                typeID: typeID,
                streamID: streamID,
                timestamp: state.timestamp
            )
            messagesStarted += 1
        }
        streams[id] = state
        guard let partial = state.partial else { return }
        let remaining = partial.length - partial.received
        if remaining == 0 {
            // A message with no payload is complete with its header.
            streams[id]?.partial = nil
            finish(partial, chunkStreamID: id, at: time, into: &completed)
        } else {
            payloadStream = id
            payloadRemaining = min(chunkSize, remaining)
            position = .message(serial: partial.serial, typeID: partial.typeID, complete: false)
        }
    }

    private mutating func finish(
        _ partial: Partial,
        chunkStreamID: UInt32,
        at time: UInt64,
        into completed: inout [RTMPMessage]
    ) {
        let message = RTMPMessage(
            serial: partial.serial,
            chunkStreamID: chunkStreamID,
            typeID: partial.typeID,
            streamID: partial.streamID,
            length: partial.length,
            timestamp: partial.timestamp,
            firstByteTime: partial.firstByteTime,
            lastByteTime: time,
            content: RTMPMessage.content(typeID: partial.typeID, payload: partial.kept[...])
        )
        position = .message(serial: partial.serial, typeID: partial.typeID, complete: true)
        completed.append(message)
        // Protocol control messages (on chunk stream 2, stream 0, but honoured wherever they come) change how this
        // direction's next chunks are read.
        switch message.content {
        case .setChunkSize(let size):
            guard size >= 1 else {
                failure = .malformed("Set Chunk Size \(size)")
                return
            }
            // Chunks never exceed a message, so a size beyond the longest message changes nothing.
            chunkSize = min(size, Self.maximumMessageLength)
        case .abort(let id):
            if streams[id]?.partial != nil { streams[id]?.partial = nil }
            if payloadStream == id {
                payloadStream = nil
                payloadRemaining = 0
            }
        default:
            break
        }
    }
}
