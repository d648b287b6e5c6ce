/// A pause on an RTMP connection: nothing was sent or received on the socket for at least
/// ``RTMPExchange/stallThreshold``, between the handshake's first byte and the first keyframe's last.
///
/// On loopback an exchange of small messages should have no pause at all; the stalls that show up are where a
/// round trip, a peer's processing, or Nagle's algorithm meeting a delayed ACK (~40 ms on Linux) went.
package struct RTMPStall: Sendable, Codable, Hashable {
    /// Whose move it was during the pause.
    package enum Side: String, Sendable, Codable {
        /// The pause ended with a receive: the client was waiting for the server's answer, or for the rest of its
        /// bytes.
        ///
        /// What the trace cannot see is which kernel held the bytes. A send is stamped when the client hands its
        /// bytes to its own kernel, so a request that Nagle's algorithm holds back in the client's socket (a command
        /// written in several small sends, waiting for the server's delayed ACK of the first) shows here as
        /// "after sending connect", although the server had not yet got it; FFmpeg's `tcp_nodelay` removes those.
        /// And receives are stamped when they return, so a client busy elsewhere while the bytes sat in its
        /// socket buffer lands here too.
        case server
        /// The client had received and its next send came late: its own processing (or a pause between its own
        /// writes).
        case client
    }

    /// `MonotonicClock` ns of the event before the pause and of the event that ended it.
    package var start: UInt64
    package var end: UInt64
    package var awaited: Side
    /// What came before the pause: "after sending connect", "after receiving Window Acknowledgement Size",
    /// "after receiving part of video keyframe".
    package var after: String
    /// The phase the pause lies in; nil between phases or after `play` ended (waiting for media or a keyframe).
    package var phase: RTMPPhase.Name?
    /// Inside a phase, the client was waiting for the rest of an answer the server had begun: the server's answer
    /// came in pieces with a pause between them. A server that writes an answer in several small writes without
    /// `TCP_NODELAY` (nginx-rtmp) sends the first at once and holds the rest under Nagle until the client
    /// acknowledges the first: one round trip more, whatever the client does (``RTMPExchange`` with quick ACKs
    /// shows it as one round trip; without them, a round trip plus the client's delayed ACK). A lost packet looks
    /// the same.
    package var heldBackByServer: Bool

    package var duration: UInt64 { end - start }

    package init(
        start: UInt64,
        end: UInt64,
        awaited: Side,
        after: String,
        phase: RTMPPhase.Name?,
        heldBackByServer: Bool = false
    ) {
        self.start = start
        self.end = end
        self.awaited = awaited
        self.after = after
        self.phase = phase
        self.heldBackByServer = heldBackByServer
    }
}
