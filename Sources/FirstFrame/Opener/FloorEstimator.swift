import FirstFrameNetwork

/// Computes an open's ``FirstFrameReport/Floor`` from what it recorded: the hops with their `TCP_INFO` samples,
/// the RTMP exchanges, where the first keyframe ended, and the causes. Pure, like ``ReportAssembler``.
///
/// The model is the one a streaming engineer draws on a whiteboard, and the one the network rig's
/// `measure.py` computes independently from the link's settings: round trips × RTT, plus the keyframe's
/// bytes under slow start (flights of 10, 20, 40 … segments, each taking at least a round trip, the last its
/// serialisation), plus the stream's keyframe wait and one decode.
package struct FloorEstimator {
    /// The server's initial congestion window, in segments (Linux's and most CDNs' default, RFC 6928).
    package static let initialWindowSegments = 10
    /// Below this RTT (loopback) round trips cost nothing worth counting: no floor.
    package static let minimumRTTMs = 1.0

    package var trace: NetworkTrace
    package var exchanges: [RTMPExchange?]
    /// Where the media came from (the hop) and when its keyframe arrived.
    package var arrival: CauseTimeline.MediaArrival?
    /// The first keyframe's bytes in the media body (from the demuxer's packet position).
    package var keyframeBytes: Range<Int64>?
    /// The open's end: the first picture, or the failure.
    package var end: UInt64
    package var keyframeWaitMs: Double
    package var decodeMs: Double
    package var firstPictureMs: Double?

    package func floor() -> FirstFrameReport.Floor? {
        guard let rtt = pathRTT(), rtt >= Self.minimumRTTMs else { return nil }
        let steps = self.steps(rtt: rtt)
        let mediaHop = arrival.map { trace.hops[$0.hop] }
        let mss = mediaHop?.lastSample?.receiveMSS ?? 0
        let segment = mss >= 536 ? mss : 1448
        let bytes = keyframeBytes.map { $0.upperBound }.flatMap { $0 > 0 ? $0 : nil }
        let rate = arrival.flatMap { deliveryRate(hop: trace.hops[$0.hop], rtt: rtt) }
        let transfer = bytes.map { Self.transfer(bytes: $0, segment: segment, rttMs: rtt, rateKbit: rate) }
        let needed = steps.reduce(0) { $0 + $1.needed }
        let floorMs = Double(needed) * rtt + (transfer?.ms ?? 0) + keyframeWaitMs + decodeMs
        let samples = trace.hops.compactMap(\.lastSample)
        return .init(
            rttMs: rtt,
            steps: steps,
            roundTripsNeeded: needed,
            roundTripsSpent: steps.reduce(0) { $0 + $1.spent },
            keyframeBytes: bytes,
            keyframeFlights: transfer?.flights,
            deliveryRateKbit: rate,
            transferMs: transfer?.ms ?? 0,
            keyframeWaitMs: keyframeWaitMs,
            decodeMs: decodeMs,
            floorMs: floorMs,
            ratio: firstPictureMs.map { $0 / floorMs },
            retransmits: samples.reduce(0) { $0 + $1.retransmits },
            outOfOrderPackets: samples.reduce(0) { $0 + $1.outOfOrderPackets }
        )
    }

    /// The least RTT the kernel saw on any of the open's connections (queueing and delayed ACKs only add to an
    /// RTT sample, so the least is the path's).
    private func pathRTT() -> Double? {
        let samples = trace.hops.flatMap(\.transport).map(\.minimumRTT).filter { $0 > .zero }
        return samples.min()?.milliseconds
    }

    private func ms(_ nanoseconds: UInt64) -> Double { Double(nanoseconds) / 1e6 }

    /// The open's steps in round trips, up to ``end``.
    private func steps(rtt: Double) -> [FirstFrameReport.Floor.Step] {
        var steps: [FirstFrameReport.Floor.Step] = []
        var lookedUp: Set<String> = []
        var connectedTo: Set<SocketAddress> = []
        var segmentFetched = false
        func add(
            _ kind: FirstFrameReport.Floor.Step.Kind,
            _ hop: Int,
            needed: Int,
            from start: UInt64,
            to stop: UInt64?
        ) {
            guard start <= end else { return }
            let elapsed = ms(min(stop ?? end, end) &- start)
            steps.append(.init(kind: kind, hop: hop, needed: needed, spent: elapsed / rtt, ms: elapsed))
        }
        for (index, hop) in trace.hops.enumerated() {
            if let lookup = hop.lookup, [.system, .resolver].contains(lookup.source) {
                add(
                    .dns,
                    index,
                    needed: lookedUp.insert(lookup.host).inserted ? 1 : 0,
                    from: lookup.start,
                    to: lookup.end
                )
            }
            if let first = hop.connects.map(\.start).min() {
                let established = hop.establishedConnect
                let isNew = established.map { connectedTo.insert($0.address).inserted } ?? false
                add(.tcp, index, needed: isNew ? 1 : 0, from: first, to: established?.end ?? hop.connects.last?.end)
            }
            if let start = hop.secureConnectionStart {
                let full12 = hop.tlsVersion == "1.2" && hop.tlsResumed != true
                add(.tls, index, needed: full12 ? 2 : 1, from: start, to: hop.secureConnectionEnd)
            }
            if index < exchanges.count, let exchange = exchanges[index] {
                for phase in exchange.phases {
                    let kind: FirstFrameReport.Floor.Step.Kind =
                        switch phase.name {
                        case .handshake: .rtmpHandshake
                        case .connect: .rtmpConnect
                        case .createStream: .rtmpCreateStream
                        case .play: .rtmpPlay
                        }
                    add(kind, index, needed: 1, from: phase.start, to: phase.end)
                }
            } else if let request = hop.requestStart, hop.kind != .rtmp {
                // A segment after the first is a fetch the first picture did not need.
                var needed = 1
                if hop.role == .segment {
                    needed = segmentFetched ? 0 : 1
                    segmentFetched = true
                }
                add(.request, index, needed: needed, from: request, to: hop.responseStart)
            }
        }
        return steps
    }

    /// The link's rate from the media connection's receives up to the first keyframe's last byte: the fastest run
    /// of receives closer together than half a round trip (a flight), its bytes after the first receive over its
    /// span. Nil when no run has 3 receives and 4 KB.
    private func deliveryRate(hop: NetworkHop, rtt: Double) -> Double? {
        guard let fd = hop.establishedConnect?.fd, let start = hop.responseStart else { return nil }
        let stop = arrival?.keyframeLastByte ?? end
        let receives = trace.events.filter {
            $0.kind == .receive && $0.fd == fd && $0.result > 0 && $0.time >= start && $0.time <= stop
        }
        var best: Double?
        var run: [NetworkEvent] = []
        func close() {
            defer { run = [] }
            guard run.count >= 3, let first = run.first, let last = run.last, last.time > first.time else { return }
            let bytes = run.dropFirst().reduce(Int64(0)) { $0 + $1.result }
            guard bytes >= 4096 else { return }
            let kbit = Double(bytes) * 8 / (ms(last.time - first.time))
            best = max(best ?? 0, kbit)
        }
        for receive in receives {
            if let last = run.last, ms(receive.time &- last.time) > rtt / 2 { close() }
            run.append(receive)
        }
        close()
        return best
    }

    /// `bytes` under slow start: flights of 10, 20, 40 … segments; each flight but the last takes the longer of a
    /// round trip and its serialisation, the last its serialisation (1500-byte packets for `segment` payload
    /// bytes). Without a rate, serialisation counts nothing.
    package static func transfer(
        bytes: Int64,
        segment: Int,
        rttMs: Double,
        rateKbit: Double?
    ) -> (flights: Int, ms: Double) {
        func serialisation(_ flightBytes: Int64) -> Double {
            guard let rateKbit, rateKbit > 0 else { return 0 }
            let packets = (Double(flightBytes) / Double(segment)).rounded(.up)
            return packets * 1500 * 8 / rateKbit
        }
        var remaining = bytes
        var window = Int64(initialWindowSegments * segment)
        var flights = 0
        var total = 0.0
        while remaining > 0 {
            flights += 1
            let flight = min(window, remaining)
            remaining -= flight
            total += remaining > 0 ? max(rttMs, serialisation(flight)) : serialisation(flight)
            window *= 2
        }
        return (flights, total)
    }
}
