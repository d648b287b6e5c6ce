/// The FLV file header that starts every response.
public struct FLVHeader: Sendable, Equatable {
    public var hasAudio: Bool
    public var hasVideo: Bool

    public init(hasAudio: Bool, hasVideo: Bool) {
        self.hasAudio = hasAudio
        self.hasVideo = hasVideo
    }

    /// 9 header bytes plus the first (zero) previous-tag-size.
    public static let encodedSize = 13

    public func encoded() -> [UInt8] {
        let flags: UInt8 = (hasAudio ? 0x04 : 0) | (hasVideo ? 0x01 : 0)
        return [0x46, 0x4C, 0x56, 0x01, flags, 0, 0, 0, 9, 0, 0, 0, 0]
    }
}
