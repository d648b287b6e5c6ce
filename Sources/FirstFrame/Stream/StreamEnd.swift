import FirstFrameFFmpeg
import Foundation

/// Why a kept stream stopped handing on packets, with what it had handed on: the typed end of
/// ``OpenedStream/readPacket()`` and ``PacketSequence``.
///
/// A clean end (``Reason/endOfInput``, ``Reason/closed``) finishes a read loop normally (`nil`, or the end of a
/// `for try await`); every other reason is thrown.
public struct StreamEnd: Error, Sendable, Equatable, Codable, CustomStringConvertible {
    public enum Reason: String, Sendable, Hashable, Codable {
        /// The input ended at a packet boundary: the server closed the connection after a whole packet, or the
        /// file ended.
        case endOfInput
        /// The connection broke: it ended inside a packet (that truncated packet is not handed on; see
        /// ``StreamEnd/discardedBytes``), or a read failed with a connection error. FFmpeg 5.1 reports the end of
        /// a close-delimited HTTP body of unknown length as such an error ("Stream ends prematurely"), so an
        /// HTTP-FLV edge that ends without chunked framing lands here too: only a final chunk is an end it can tell.
        case connectionDropped
        /// No packet came within the read timeout (the `readTimeoutMs` knob).
        case stalled
        /// ``OpenedStream/close()`` was called, or the reading task was cancelled.
        case closed
        /// FFmpeg failed for another reason (invalid data, …): see ``StreamEnd/error``.
        case failed
    }

    public var reason: Reason
    /// What happened, in a sentence.
    public var message: String
    /// The FFmpeg error behind the end, when there was one.
    public var error: FFmpegError?
    /// Packets handed on after the open (the ones read during the open included).
    public var packets: Int
    /// Bytes the input had read in total when it ended (the open's included).
    public var bytesRead: Int64
    /// Bytes of a truncated packet that was dropped instead of handed on.
    public var discardedBytes: Int
    /// Seconds from the first picture to the end.
    public var secondsSinceFirstPicture: Double
    /// Seconds since the last packet was read from the input, when the end came (the stall's length for
    /// ``Reason/stalled``).
    public var secondsSinceLastPacket: Double

    /// Whether a read loop ends normally at this end rather than throwing it.
    public var isClean: Bool { reason == .endOfInput || reason == .closed }

    public var description: String {
        "\(reason.rawValue): \(message) (\(packets) packets, \(bytesRead) bytes, "
            + "\(String(format: "%.3f", secondsSinceFirstPicture)) s after the first picture)"
    }
}

extension StreamEnd.Reason: CustomStringConvertible {
    /// Its name (`connectionDropped`, …): what `print` and string interpolation show, instead of the qualified case.
    public var description: String { rawValue }
}
