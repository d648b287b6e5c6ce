import FirstFrameNetwork
import Testing

/// A body offset maps to the read that delivered it, through the head, chunked framing (however it falls across
/// reads), a `Content-Length`, and a capture that ran out; hostile framing ends the mapping, never the process.
@Suite struct BodyArrivalTests {
    /// A read returning at `time` ms with `bytes` (all captured unless `result` says more came).
    private func read(_ time: UInt64, _ bytes: [UInt8], result: Int? = nil) -> NetworkEvent {
        NetworkEvent(kind: .receive, time: time * 1_000_000, fd: 5, result: Int64(result ?? bytes.count), data: bytes)
    }

    private func text(_ string: String) -> [UInt8] { Array(string.utf8) }

    @Test func aPlainBodyCountsFromTheEndOfTheHeadEvenWhenTheHeadSpansReads() {
        let arrival = BodyArrival(reads: [
            read(1, text("HTTP/1.1 200 OK\r\nContent-Ty")),
            read(2, text("pe: video/x-flv\r\n\r\nFLV")),
            read(3, [UInt8](repeating: 7, count: 100)),
            read(4, [UInt8](repeating: 7, count: 10), result: 1000),
        ])
        #expect(arrival.firstByte == 2_000_000)
        #expect(arrival.arrival(ofOffset: 2) == 2_000_000)
        #expect(arrival.arrival(ofOffset: 3) == 3_000_000)
        #expect(arrival.arrival(ofOffset: 102) == 3_000_000)
        // Bytes past the capture still count by the call's return value.
        #expect(arrival.arrival(ofOffset: 1102) == 4_000_000)
        #expect(arrival.arrival(ofOffset: 1103) == nil)
    }

    @Test func contentLengthEndsTheBody() {
        let arrival = BodyArrival(reads: [
            read(1, text("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd")),
            read(2, text("HTTP/1.1 200 OK\r\n\r\nnext response")),
        ])
        #expect(arrival.arrival(ofOffset: 3) == 1_000_000)
        #expect(arrival.arrival(ofOffset: 4) == nil)
    }

    @Test func chunkedFramingIsTakenOffWhereverItFallsAcrossReads() {
        let arrival = BodyArrival(reads: [
            read(1, text("HTTP/1.1 200 OK\r\nTransfer-Encoding:chunked\r\n\r\n5;ext=1\r")),
            read(2, text("\nhel")),
            read(3, text("lo\r")),
            read(4, text("\n3\r\nabc\r\n0\r\nTrailer: x\r\n\r\n")),
        ])
        #expect(arrival.firstByte == 2_000_000)
        #expect(arrival.arrival(ofOffset: 2) == 2_000_000)
        #expect(arrival.arrival(ofOffset: 4) == 3_000_000)
        #expect(arrival.arrival(ofOffset: 7) == 4_000_000)
        #expect(arrival.arrival(ofOffset: 8) == nil)
    }

    @Test func aChunkedBodyStopsWhereTheCaptureRanOut() {
        let arrival = BodyArrival(reads: [
            read(1, text("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n4\r\nabcd\r\n")),
            read(2, text("4\r\nef"), result: 9),
        ])
        #expect(arrival.arrival(ofOffset: 3) == 1_000_000)
        #expect(arrival.arrival(ofOffset: 4) == nil, "framing past the capture cannot be read")
    }

    @Test(arguments: ["7fffffffffffffff", "ffffffffffffffffffffffff", "zz", ""])
    func hostileChunkSizesEndTheMappingWithoutTrapping(size: String) {
        var decoder = ChunkedDecoder()
        let payload = decoder.payload(in: text("3\r\nabc\r\n\(size)\r\nxyz")[...])
        #expect(payload == text("abc"))
        #expect(decoder.broken)
        let arrival = BodyArrival(reads: [
            read(1, text("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n\(size)\r\nxyz"))
        ])
        #expect(arrival.arrival(ofOffset: 2) == 1_000_000 && arrival.arrival(ofOffset: 3) == nil)
    }

    @Test func randomBytesNeverTrapTheDecoder() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var decoder = ChunkedDecoder()
            let bytes = (0..<Int.random(in: 0...64, using: &generator)).map { _ in
                [UInt8(ascii: "0"), UInt8(ascii: "f"), 13, 10, 59, UInt8.random(in: 0...255, using: &generator)]
                    .randomElement(using: &generator)!
            }
            var total = 0
            for piece in bytes.chunked(Int.random(in: 1...8, using: &generator)) {
                total += decoder.payload(in: piece).count
            }
            #expect(total <= bytes.count)
        }
    }
}

extension Array {
    fileprivate func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
