/// The 64-bit content hash of a media payload that the project's ground truth is built on: the loopback origin
/// logs it for every tag it sends (over what FFmpeg's FLV demuxer returns as the `AVPacket`'s data), the recording
/// checks compute it over each packet they read back from a file, and the recorder recognises a packet an edge
/// sends again by it.
///
/// The definition, over 64-bit words so that a recorder of a hundred channels hashes each packet at memory speed
/// (byte-wise FNV cost it a tenth of its CPU):
/// 1. start from the FNV-1a 64 offset basis `0xcbf29ce484222325` XOR (the byte count × the FNV prime);
/// 2. for each whole 8-byte word, read little-endian: XOR it in, multiply by the FNV prime `0x100000001b3`
///    (wrapping), then XOR in the result shifted right by 29;
/// 3. for each remaining byte: XOR it in and multiply by the prime (FNV-1a);
/// 4. finish: XOR in the value shifted right by 32, multiply by `0x9e3779b97f4a7c15`, XOR in the value shifted
///    right by 29.
///
/// Not cryptographic: it tells apart payloads that differ, which is all a content check needs (two different
/// frames colliding on 64 bits is not a concern at the packet counts of a recording). The definition is fixed:
/// every side that compares hashes (the origin's sent log, the recorder, the checkers) calls this one function,
/// so a change here changes them all together.
public enum PayloadHash {
    /// The FNV-1a 64 offset basis.
    public static let offsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    /// The FNV-1a 64 prime.
    public static let prime: UInt64 = 0x0000_0100_0000_01b3
    /// The finishing multiplier (2⁶⁴ ÷ the golden ratio).
    public static let finisher: UInt64 = 0x9e37_79b9_7f4a_7c15

    /// The hash of `bytes`.
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash = offsetBasis ^ (UInt64(bytes.count) &* prime)
        let words = bytes.count / 8
        var offset = 0
        for _ in 0..<words {
            let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            hash = (hash ^ word) &* prime
            hash ^= hash >> 29
            offset += 8
        }
        while offset < bytes.count {
            hash = (hash ^ UInt64(bytes[offset])) &* prime
            offset += 1
        }
        hash ^= hash >> 32
        hash &*= finisher
        hash ^= hash >> 29
        return hash
    }
}
