import FirstFrameCore

/// When each byte of an HTTP response body arrived: the receives of one connection after its response head, with
/// chunked framing taken off, so that "body offset N" (what a demuxer's packet position counts) maps to the read
/// that delivered it, whichever FFmpeg call happened to be reading.
///
/// Plain HTTP reads come from the socket's `receive` events; HTTPS from the plaintext of its gnutls session
/// (`tlsReceive`). Arrival is known only as far as the trace captured the bytes when the framing needs them
/// (chunked), or as far as the connection was traced.
package struct BodyArrival: Sendable, Hashable {
    /// A read that delivered body bytes: when it returned, and the body's length once it had.
    package struct Delivery: Sendable, Hashable {
        package var time: UInt64
        package var bodyBytesThrough: Int64
    }

    /// Reads in order, each with the body bytes delivered so far (strictly increasing).
    package private(set) var deliveries: [Delivery] = []
    /// Whether the body used chunked transfer encoding.
    package private(set) var chunked = false

    /// The first body byte's arrival.
    package var firstByte: UInt64? { deliveries.first?.time }

    /// When the body byte at `offset` (0-based) arrived; nil when the trace does not reach it.
    package func arrival(ofOffset offset: Int64) -> UInt64? {
        guard offset >= 0 else { return nil }
        // Deliveries are sorted by bodyBytesThrough: the first that covers the offset.
        var low = 0, high = deliveries.count
        while low < high {
            let middle = (low + high) / 2
            if deliveries[middle].bodyBytesThrough > offset { high = middle } else { low = middle + 1 }
        }
        return low < deliveries.count ? deliveries[low].time : nil
    }

    /// The body of `hop`'s response, from the trace's events; nil when the hop has no response on a traced
    /// connection (or is not HTTP).
    package init?(hop: NetworkHop, events: [NetworkEvent]) {
        guard let socket = hop.establishedConnect?.fd ?? Self.reusedSocket(hop, events),
              let responseStart = hop.responseStart else { return nil }
        let reads: [NetworkEvent]
        switch hop.kind {
        case .http:
            reads = events.filter { $0.kind == .receive && $0.fd == socket && $0.time >= responseStart && $0.result > 0 }
        case .tls:
            guard let session = Self.session(over: socket, after: hop.secureConnectionStart ?? hop.connects.first?.start ?? 0,
                                             events: events) else { return nil }
            reads = events.filter { $0.kind == .tlsReceive && $0.fd == session && $0.time >= responseStart && $0.result > 0 }
        case .rtmp, .tcp:
            return nil
        }
        self.init(reads: reads)
    }

    /// Takes the head and, when chunked, the framing off `reads` (the response's reads in order).
    package init(reads: [NetworkEvent]) {
        var head: [UInt8] = []
        var headDone = false
        var framing = ChunkFraming()
        var body: Int64 = 0
        for read in reads {
            var bytes = read.data[...]
            let captured = read.data.count == Int(read.result)
            if !headDone {
                head += bytes
                guard let length = HTTPHead.headLength(head) else {
                    // The head's end was not captured: the body cannot be found.
                    if !captured { return }
                    continue
                }
                headDone = true
                chunked = String(decoding: head.prefix(length), as: UTF8.self).lowercased().contains("transfer-encoding: chunked")
                let bodyInRead = head.count - length
                bytes = bytes.suffix(bodyInRead)
                if !captured && chunked { return }
                let delivered = chunked ? framing.payloadBytes(in: bytes) : Int64(read.result) - Int64(read.data.count - bodyInRead)
                guard let delivered else { return }
                body += delivered
            } else if chunked {
                guard captured, let delivered = framing.payloadBytes(in: bytes) else { return }
                body += delivered
            } else {
                body += read.result
            }
            if body > (deliveries.last?.bodyBytesThrough ?? 0) {
                deliveries.append(.init(time: read.time, bodyBytesThrough: body))
            }
        }
    }

    /// A hop on a kept-alive connection has no connect of its own: the socket its request went out on.
    private static func reusedSocket(_ hop: NetworkHop, _ events: [NetworkEvent]) -> Int32? {
        guard let requestStart = hop.requestStart else { return nil }
        return events.first { ($0.kind == .send) && $0.time == requestStart }?.fd
    }

    /// The gnutls session pseudo-fd whose handshake ran over `socket`: the first session event after the
    /// socket connected (the hooks number sessions; the assembler pairs them with sockets the same way).
    private static func session(over socket: Int32, after time: UInt64, events: [NetworkEvent]) -> Int32? {
        events.first { [.tlsHandshakeStart, .tlsSend, .tlsReceive].contains($0.kind) && $0.time >= time }?.fd
    }
}

/// RFC 9112 chunked framing, fed the body's bytes as they came: counts the payload bytes among them.
private struct ChunkFraming: Sendable {
    private enum State: Sendable {
        case size(digits: Int64, sawDigit: Bool, inExtension: Bool)
        case sizeLineFeed(size: Int64)
        case payload(remaining: Int64)
        case payloadCR, payloadLF
        case trailer(lineEmpty: Bool)
        case done
    }

    private var state = State.size(digits: 0, sawDigit: false, inExtension: false)

    /// Payload bytes in `bytes`; nil when the framing is broken (the arrival is then unknown past it).
    mutating func payloadBytes(in bytes: ArraySlice<UInt8>) -> Int64? {
        var payload: Int64 = 0
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            switch state {
            case .size(let digits, let sawDigit, let inExtension):
                if byte == 13 {
                    guard sawDigit else { return nil }
                    state = .sizeLineFeed(size: digits)
                } else if inExtension {
                    break
                } else if byte == 59 { // ';' starts a chunk extension
                    state = .size(digits: digits, sawDigit: sawDigit, inExtension: true)
                } else if let value = Self.hexValue(byte), digits < (1 << 40) {
                    state = .size(digits: digits * 16 + value, sawDigit: true, inExtension: false)
                } else {
                    return nil
                }
            case .sizeLineFeed(let size):
                guard byte == 10 else { return nil }
                state = size == 0 ? .trailer(lineEmpty: true) : .payload(remaining: size)
            case .payload(let remaining):
                let take = min(remaining, Int64(bytes.endIndex - index))
                payload += take
                index += Int(take)
                state = remaining - take == 0 ? .payloadCR : .payload(remaining: remaining - take)
                continue
            case .payloadCR:
                guard byte == 13 else { return nil }
                state = .payloadLF
            case .payloadLF:
                guard byte == 10 else { return nil }
                state = .size(digits: 0, sawDigit: false, inExtension: false)
            case .trailer(let lineEmpty):
                if byte == 10 { state = lineEmpty ? .done : .trailer(lineEmpty: true) } else if byte != 13 { state = .trailer(lineEmpty: false) }
            case .done:
                return payload
            }
            index += 1
        }
        return payload
    }

    private static func hexValue(_ byte: UInt8) -> Int64? {
        switch byte {
        case 48...57: Int64(byte - 48)
        case 65...70: Int64(byte - 55)
        case 97...102: Int64(byte - 87)
        default: nil
        }
    }
}
