import FirstFrameFFmpeg
import NIOCore

/// A tag as the channel clock emitted it: bytes stamped with channel time, shared by every client
/// (a `ByteBuffer` is reference-counted, so fan-out copies nothing).
struct EmittedTag: Sendable {
    let kind: FLVTag.Kind
    /// Channel time in milliseconds: pass × loop length + the tag's time in the loop.
    let timestamp: UInt32
    let isKeyframe: Bool
    let bytes: ByteBuffer
    /// The packet FFmpeg's FLV demuxer reads from the tag, timed at ``timestamp``: what the sent log records.
    let packet: PacketDigest?
}
