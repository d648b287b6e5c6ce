/// The 64-bit content hash of a media payload that the project's ground truth is built on: the loopback origin
/// logs it for every tag it sends (over what FFmpeg's FLV demuxer returns as the `AVPacket`'s data), and the
/// recording checks compute it over each packet they read back from a file; the recorder recognises a packet an
/// edge sends again by it.
///
/// FNV-1a, 64 bits, over every byte in order: start from the offset basis `0xcbf29ce484222325`, then for each byte
/// XOR it in and multiply by the prime `0x100000001b3` (wrapping). Not cryptographic: it tells apart payloads
/// that differ, which is all a content check needs (two different frames colliding on 64 bits is not a concern at
/// the packet counts of a recording). Byte-wise FNV runs at roughly a byte per nanosecond, enough to hash a
/// channel's packets as they pass.
///
/// The definition is fixed: every side that compares hashes (the origin's sent log, the recorder, the checkers)
/// calls this one function, so a change here changes them all together.
public enum PayloadHash {
    /// The FNV-1a 64 offset basis.
    public static let offsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    /// The FNV-1a 64 prime.
    public static let prime: UInt64 = 0x0000_0100_0000_01b3

    /// The FNV-1a 64 hash of `bytes` (the offset basis for an empty buffer).
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash = offsetBasis
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* prime
        }
        return hash
    }
}
