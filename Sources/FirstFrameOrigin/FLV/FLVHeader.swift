/// The FLV file header that starts every response.
package struct FLVHeader: Sendable, Equatable {
    package var hasAudio: Bool
    package var hasVideo: Bool

    package init(hasAudio: Bool, hasVideo: Bool) {
        self.hasAudio = hasAudio
        self.hasVideo = hasVideo
    }

    /// 9 header bytes plus the first (zero) previous-tag-size.
    package static let encodedSize = 13

    package func encoded() -> [UInt8] {
        let flags: UInt8 = (hasAudio ? 0x04 : 0) | (hasVideo ? 0x01 : 0)
        return [0x46, 0x4C, 0x56, 0x01, flags, 0, 0, 0, 9, 0, 0, 0, 0]
    }
}
