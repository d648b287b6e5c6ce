import Testing

@testable import FirstFrameCore

/// The hash is the ground truth every recording check compares, so its definition is pinned here by the steps its
/// documentation gives, computed by hand for short inputs, and by the properties a content check relies on.
@Suite struct PayloadHashTests {
    private func hash(_ bytes: [UInt8]) -> UInt64 { bytes.withUnsafeBytes { PayloadHash.hash($0) } }

    /// The documented finishing step, written out here so that a change to it shows.
    private func finish(_ value: UInt64) -> UInt64 {
        var value = value
        value ^= value >> 32
        value &*= PayloadHash.finisher
        value ^= value >> 29
        return value
    }

    @Test func emptyInputIsTheFinishedOffsetBasis() {
        #expect(hash([]) == finish(PayloadHash.offsetBasis))
    }

    @Test func tailBytesAreFNV1a() {
        var expected = PayloadHash.offsetBasis ^ (3 &* PayloadHash.prime)
        for byte: UInt8 in [0x01, 0x02, 0x03] { expected = (expected ^ UInt64(byte)) &* PayloadHash.prime }
        #expect(hash([0x01, 0x02, 0x03]) == finish(expected))
    }

    @Test func wholeWordsAreReadLittleEndianAndMixed() {
        let bytes: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
        var expected = PayloadHash.offsetBasis ^ (9 &* PayloadHash.prime)
        expected = (expected ^ 0x0807_0605_0403_0201) &* PayloadHash.prime
        expected ^= expected >> 29
        expected = (expected ^ 9) &* PayloadHash.prime
        #expect(hash(bytes) == finish(expected))
    }

    @Test func anyFlippedBitOrLengthChangesTheHash() {
        let payload = (0..<257).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let original = hash(payload)
        var seen: Set<UInt64> = [original]
        for index in stride(from: 0, to: payload.count, by: 13) {
            for bit in 0..<8 {
                var changed = payload
                changed[index] ^= UInt8(1 << bit)
                seen.insert(hash(changed))
            }
        }
        // Every one-bit change gives a hash of its own.
        #expect(seen.count == 1 + 8 * Int((payload.count + 12) / 13))
        // A trailing zero byte is content too.
        #expect(hash(payload + [0]) != original)
        #expect(hash(Array(payload.dropLast())) != original)
    }

    @Test func unalignedBuffersHashAsAligned() {
        let payload = (0..<100).map { UInt8($0) }
        let padded = [0xff] + payload
        let unaligned = padded.withUnsafeBytes { PayloadHash.hash(UnsafeRawBufferPointer(rebasing: $0[1...])) }
        #expect(unaligned == hash(payload))
    }
}
