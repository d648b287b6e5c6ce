import FirstFrameFFmpeg

extension FirstFrameReport {
    /// How the video decoder reached the first picture: what could hold a picture back (B-frame reorder, frame
    /// threads), and whether it did.
    public struct FirstPictureDecode: Sendable, Codable, Hashable {
        /// The video codec (`h264`, …).
        public var codec: String
        /// Pictures the stream makes a decoder hold back to reorder B-frames (FFmpeg's `has_b_frames` once the
        /// first picture is out): 0 without B-frames, 2 with x264's defaults. The encoder decides it.
        public var reorderDepth: Int
        /// Threads of the decoder that gave the first picture (each frame thread holds a picture back).
        public var threads: Int
        /// Whether the keyframe was decoded alone (``TuningKnobs/decodeKeyframeAlone``): then nothing held it back.
        public var keyframeAlone: Bool
        /// Video packets, from the first keyframe, the decoder took before it gave the picture: 1 when nothing held
        /// it back.
        public var packetsDecoded: Int

        package init(decoder: CodecContext, keyframeAlone: Bool, packetsDecoded: Int) {
            codec = decoder.codecName
            reorderDepth = Int(decoder.pointer.pointee.has_b_frames)
            threads = Int(decoder.pointer.pointee.thread_count)
            self.keyframeAlone = keyframeAlone
            self.packetsDecoded = packetsDecoded
        }
    }
}
