/// An RTMP open in RTMP's own terms, read from the bytes a trace captured on one socket: the handshake, the
/// `connect`, `createStream` and `play` commands with their answers, the first media messages, and the pauses
/// ("stalls") between them, up to the first video keyframe.
///
/// The hop view (``NetworkHop``) sees an RTMP connection as one request whose response is the handshake; the time
/// an RTMP open costs is mostly after that, in the command round trips. This value says which round trip, and
/// which side the connection was waiting for, so a 40 ms pause after a command sent in several small writes
/// (Nagle meeting the peer's delayed ACK) is told apart from a server slow to answer or a long wait for a
/// keyframe.
///
/// Times are `MonotonicClock` nanoseconds, like ``NetworkHop``'s; ``NetworkTrace/milliseconds(at:)`` makes them
/// relative to the start of the trace. Sends are stamped before the call and receives when it returned, so a
/// message's arrival is when the read that delivered its byte came back.
package struct RTMPExchange: Sendable, Codable, Hashable {
    /// Why the reading stopped before the first keyframe.
    package enum IncompleteReason: String, Sendable, Codable {
        /// The trace kept fewer bytes of a transfer than it moved (its capture per turn ran out): what follows
        /// cannot be read.
        case captureRanOut
        /// The bytes broke the chunk stream's rules (or a message announced more than 16 MiB).
        case malformed
        /// The connection was closed, or the server closed it, first.
        case connectionClosed
        /// The trace ended first (the open stopped, failed, or never asked for that much).
        case traceEnded
    }

    /// Messages read in each direction up to where the reading stopped.
    package struct MessageCounts: Sendable, Codable, Hashable {
        /// Complete messages the client sent and the server sent.
        package var sent = 0
        package var received = 0
        /// Of those received: commands (AMF0 and AMF3: `_result`, `onStatus`, …).
        package var commands = 0
        /// Protocol control and user control messages (and types the analysis does not read).
        package var control = 0
        package var audio = 0
        package var video = 0
        /// Data messages: `onMetaData`, `|RtmpSampleAccess`.
        package var data = 0
        package var aggregate = 0

        package init() {}
    }

    /// A pause of at least this long between two consecutive events on the socket is a stall: above the
    /// scheduling noise of a loopback exchange, below the 40 ms of a delayed ACK.
    package static let stallThreshold: UInt64 = 10_000_000

    /// The phases seen, in order (a phase whose request was never sent is absent).
    package var phases: [RTMPPhase]
    /// Every stall from the handshake to the first keyframe, inside phases or between them.
    package var stalls: [RTMPStall]
    /// The first byte of the first media message (audio, video, `onMetaData`, aggregate) after `play` was sent.
    package var firstMediaByte: UInt64?
    /// The last byte of the first audio and of the first video message (a sequence header counts).
    package var firstAudioMessage: UInt64?
    package var firstVideoMessage: UInt64?
    /// The first and last byte of the first video message carrying a keyframe picture (for AVC a NALU, not the
    /// sequence header).
    package var firstKeyframeStart: UInt64?
    package var firstKeyframeEnd: UInt64?
    /// The chunk sizes in effect at the end of the reading: the server's (nginx-rtmp sets 4096) and the client's.
    package var serverChunkSize: Int
    package var clientChunkSize: Int
    /// The `code` of every `onStatus` the server sent, in order (`NetStream.Play.Start`, `NetStream.Play.StreamNotFound`).
    package var statusCodes: [String]
    package var messages: MessageCounts
    /// The reading got as far as the first keyframe's last byte.
    package var isComplete: Bool
    /// Why it did not; nil when it did.
    package var incompleteReason: IncompleteReason?

    package init(
        phases: [RTMPPhase],
        stalls: [RTMPStall],
        firstMediaByte: UInt64?,
        firstAudioMessage: UInt64?,
        firstVideoMessage: UInt64?,
        firstKeyframeStart: UInt64?,
        firstKeyframeEnd: UInt64?,
        serverChunkSize: Int,
        clientChunkSize: Int,
        statusCodes: [String],
        messages: MessageCounts,
        incompleteReason: IncompleteReason?
    ) {
        self.phases = phases
        self.stalls = stalls
        self.firstMediaByte = firstMediaByte
        self.firstAudioMessage = firstAudioMessage
        self.firstVideoMessage = firstVideoMessage
        self.firstKeyframeStart = firstKeyframeStart
        self.firstKeyframeEnd = firstKeyframeEnd
        self.serverChunkSize = serverChunkSize
        self.clientChunkSize = clientChunkSize
        self.statusCodes = statusCodes
        self.messages = messages
        self.incompleteReason = incompleteReason
        isComplete = incompleteReason == nil
    }

    /// The phase called `name`, if its request was seen.
    package func phase(_ name: RTMPPhase.Name) -> RTMPPhase? { phases.first { $0.name == name } }

    /// The time spent in all stalls, inside phases or not.
    package var stallTime: UInt64 { stalls.reduce(0) { $0 + $1.duration } }

    /// Reads the RTMP exchange on socket `fd` from a trace's events; nil when the socket did not carry RTMP (its
    /// first bytes sent are not a C0 of version 3, or it sent nothing the trace kept).
    ///
    /// For RTMPS, pass the gnutls session's pseudo-fd: its plaintext events read like a plain socket's bytes.
    package static func analyse(events: [NetworkEvent], fd: Int32) -> RTMPExchange? {
        RTMPExchangeAnalysis.run(events: events, fd: fd)
    }
}
