/// The 64-bit hash FirstFrame identifies a media packet's payload by: what a recorder compares to recognise a
/// packet an edge sends again, and what the origin's log of sent tags and the recordings' content check use, so
/// that the three agree on the bytes.
///
/// FNV-1a 64 over every byte (offset basis 0xcbf29ce484222325, prime 0x100000001b3): not cryptographic, and not
/// meant to be — a collision needs two packets of the same kind and size near the same place in a stream.
public enum PayloadHash {
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return hash
    }
}
