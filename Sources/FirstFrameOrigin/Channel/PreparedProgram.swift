import FirstFrameFFmpeg
import NIOCore

/// A program with each media tag encoded once into a `ByteBuffer`, ready for a channel clock to restamp and
/// fan out.
///
/// Built once per look and shared by every channel that plays it: a pass of the default channel is about a
/// megabyte of tags, and a hundred channels on four looks must not hold a hundred copies. Channels that start
/// the loop at another GOP share the same buffers in another order (``startingAt(gop:)``).
struct PreparedProgram: Sendable {
    let program: ChannelProgram
    /// One pass of the media, encoded with loop-relative timestamps (the clock restamps a copy as it emits), each
    /// with the digest of the packet FFmpeg reads from it (hashed once here; the clock restamps its time too).
    let loopTags: [(tag: FLVTag, bytes: ByteBuffer, packet: PacketDigest?)]

    init(_ program: ChannelProgram) {
        let allocator = ByteBufferAllocator()
        self.program = program
        self.loopTags = program.media.map { tag in (tag, allocator.buffer(bytes: tag.encoded()), tag.packetDigest()) }
    }

    private init(program: ChannelProgram, loopTags: [(tag: FLVTag, bytes: ByteBuffer, packet: PacketDigest?)]) {
        self.program = program
        self.loopTags = loopTags
    }

    /// The same program started at its `gop`-th keyframe (see ``ChannelProgram/startingAt(gop:)``). The bytes are
    /// the same buffers (and digests): the timestamp inside them is overwritten on every emission anyway.
    func startingAt(gop: Int) -> PreparedProgram {
        let rotated = program.startingAt(gop: gop)
        guard rotated.rotation > 0 else { return self }
        let moved = loopTags[rotated.rotation...] + loopTags[..<rotated.rotation]
        return PreparedProgram(program: rotated, loopTags: zip(rotated.media, moved).map { ($0, $1.bytes, $1.packet) })
    }
}
