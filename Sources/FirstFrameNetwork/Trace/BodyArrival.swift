import FirstFrameCore

/// When each byte of an HTTP response body arrived: the reads that carried one hop's response, with the head and
/// any chunked framing taken off, so that "body offset N" (what a demuxer's packet position counts) maps to the
/// read that delivered it, whichever FFmpeg call happened to be reading.
///
/// The reads are the hop's own (``NetworkTrace/responseEvents(of:)``): the socket's receives for plain HTTP, the
/// gnutls session's plaintext for HTTPS, and on a kept-alive connection only up to the next request. Arrival is
/// known as far as the trace captured the bytes when the framing needs them (chunked), and stops at the
/// `Content-Length`.
package struct BodyArrival: Sendable, Hashable {
    /// A read that delivered body bytes: when it returned, and the body's length once it had.
    package struct Delivery: Sendable, Hashable {
        package var time: UInt64
        package var bodyBytesThrough: Int64
    }

    /// Reads in order, each with the body bytes delivered so far (strictly increasing).
    package private(set) var deliveries: [Delivery] = []

    /// The body's first bytes, as far as the trace captured them (up to ``leadingByteCount``): enough to tell a
    /// container by its signature (MPEG-TS's sync byte 0x47).
    package private(set) var leadingBytes: [UInt8] = []
    /// How many of the body's first bytes ``leadingBytes`` keeps.
    package static let leadingByteCount = 8

    /// The first body byte's arrival.
    package var firstByte: UInt64? { deliveries.first?.time }

    /// When the body byte at `offset` (0-based) arrived; nil when the trace does not reach it.
    package func arrival(ofOffset offset: Int64) -> UInt64? {
        guard offset >= 0 else { return nil }
        // Deliveries are sorted by bodyBytesThrough: the first that covers the offset.
        var low = 0
        var high = deliveries.count
        while low < high {
            let middle = (low + high) / 2
            if deliveries[middle].bodyBytesThrough > offset { high = middle } else { low = middle + 1 }
        }
        return low < deliveries.count ? deliveries[low].time : nil
    }

    /// The body of `hop`'s response in `trace`; nil when the hop is not HTTP(S) or had no response.
    package init?(hop: NetworkHop, trace: NetworkTrace) {
        guard hop.kind == .http || hop.kind == .tls, hop.responseStart != nil else { return nil }
        self.init(reads: trace.responseEvents(of: hop))
    }

    /// Takes the head and, when chunked, the framing off `reads` (one response's reads, in order).
    package init(reads: [NetworkEvent]) {
        var head: [UInt8] = []
        var headLength: Int?
        var chunked: ChunkedDecoder?
        var contentLength: Int64?
        var body: Int64 = 0
        for read in reads where read.result > 0 {
            let captured = read.data.count == Int(read.result)
            var delivered: Int64
            if let _ = headLength {
                if var decoder = chunked {
                    guard captured else { break }
                    let payload = decoder.payload(in: read.data[...])
                    keepLeading(payload)
                    delivered = Int64(payload.count)
                    chunked = decoder
                } else {
                    keepLeading(read.data)
                    delivered = read.result
                }
            } else {
                let scanned = head.count - 3
                head += read.data
                guard let length = HTTPHead.headLength(head, searchingFrom: scanned) else {
                    // The head's end was not captured: the body cannot be found.
                    if !captured { break }
                    continue
                }
                headLength = length
                let fields = HTTPHead.fields(Array(head.prefix(length)))
                let bodyInRead = head.count - length
                if fields["transfer-encoding"]?.lowercased().contains("chunked") == true {
                    guard captured else { break }
                    var decoder = ChunkedDecoder()
                    let payload = decoder.payload(in: read.data.suffix(bodyInRead))
                    keepLeading(payload)
                    delivered = Int64(payload.count)
                    chunked = decoder
                } else {
                    contentLength = fields["content-length"].flatMap { Int64($0) }
                    // The part of this read past the head (beyond what was captured too).
                    keepLeading(read.data.suffix(max(0, bodyInRead)))
                    delivered = read.result - Int64(read.data.count - bodyInRead)
                }
            }
            if let contentLength { delivered = min(delivered, contentLength - body) }
            body += delivered
            if body > (deliveries.last?.bodyBytesThrough ?? 0) {
                deliveries.append(.init(time: read.time, bodyBytesThrough: body))
            }
            if chunked?.broken == true || chunked?.finished == true || contentLength.map({ body >= $0 }) == true {
                break
            }
        }
    }

    /// Keeps the body's first bytes, from the captured part of a read.
    private mutating func keepLeading(_ bytes: some Collection<UInt8>) {
        guard leadingBytes.count < Self.leadingByteCount else { return }
        leadingBytes += bytes.prefix(Self.leadingByteCount - leadingBytes.count)
    }
}
