/// One step of an RTMP open, from the client's first byte of its request to the last byte of the server's
/// answer: the handshake, then the `connect`, `createStream` and `play` commands.
package struct RTMPPhase: Sendable, Codable, Hashable {
    package enum Name: String, Sendable, Codable, CaseIterable {
        /// C0+C1's first byte sent → S2's last byte received.
        case handshake
        /// The `connect` command's first byte sent → its `_result` (or `_error`) received.
        case connect
        /// `createStream` sent → its `_result` (or `_error`) received.
        case createStream
        /// `play` sent → `onStatus` `NetStream.Play.Start` received (or a play failure status, or the first media
        /// message when the server never says Play.Start before it).
        case play
    }

    package var name: Name
    /// `MonotonicClock` ns of the event that carried the request's first byte.
    package var start: UInt64
    /// `MonotonicClock` ns of the event that carried the answer's last byte; nil when no answer was seen.
    package var end: UInt64?
    /// What ended the phase: `S2`, `_result`, `_error`, `onStatus NetStream.Play.Start`, `first media message`.
    package var endedBy: String?
    /// The pauses inside the phase, in order.
    package var stalls: [RTMPStall]
    /// Socket calls inside the phase, both ends included: how many writes the client's request took and how many
    /// reads the answer (FFmpeg writes a command's chunks separately and reads a chunk header in small pieces).
    package var sends: Int
    package var receives: Int

    /// The phase's length, once it ended.
    package var duration: UInt64? { end.map { $0 > start ? $0 - start : 0 } }
    /// The time spent in the phase's stalls.
    package var stallTime: UInt64 { stalls.reduce(0) { $0 + $1.duration } }

    package init(
        name: Name,
        start: UInt64,
        end: UInt64?,
        endedBy: String?,
        stalls: [RTMPStall] = [],
        sends: Int = 0,
        receives: Int = 0
    ) {
        self.name = name
        self.start = start
        self.end = end
        self.endedBy = endedBy
        self.stalls = stalls
        self.sends = sends
        self.receives = receives
    }

    /// Whether `time` lies in the phase: from its start, up to its end (to the end of the trace if it never ended).
    func contains(_ time: UInt64) -> Bool {
        time >= start && end.map { time < $0 } ?? true
    }
}
