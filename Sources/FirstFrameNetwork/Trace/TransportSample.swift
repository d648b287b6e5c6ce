import CNetworkHooks
import FirstFrameCore

/// What the kernel knew of one traced TCP connection at one moment (`TCP_INFO`, read by the hooks on the open's
/// thread): the link's round trip, and the evidence of loss. Counters are the connection's totals since it opened.
///
/// Taken when the connect succeeds (the RTT is then the SYN's round trip), when the opener asks (at the first
/// picture), and just before the socket is closed.
public struct TransportSample: Sendable, Codable, Hashable {
    /// When the sample was taken.
    public enum Reason: String, Sendable, Codable {
        case connected, asked, closing

        init?(_ raw: Int32) {
            switch UInt32(raw) {
            case CNH_TCP_SAMPLE_CONNECTED.rawValue: self = .connected
            case CNH_TCP_SAMPLE_CLOSING.rawValue: self = .closing
            case CNH_TCP_SAMPLE_ASKED.rawValue: self = .asked
            default: return nil
            }
        }
    }

    /// `MonotonicClock` nanoseconds.
    public var time: UInt64
    public var reason: Reason
    /// The kernel's smoothed round trip (`tcpi_rtt`): at connect, the SYN's.
    public var smoothedRTT: Duration
    /// Its variation (`tcpi_rttvar`).
    public var rttVariation: Duration
    /// The least round trip seen on the connection (`tcpi_min_rtt`): the path's, without queueing.
    public var minimumRTT: Duration
    /// The receiver's estimate from the data it got (`tcpi_rcv_rtt`); nil before it had one.
    public var receiverRTT: Duration?
    /// Segments this side sent again (`tcpi_total_retrans`): a lost SYN or request.
    public var retransmits: Int
    /// Packets that arrived after a hole (`tcpi_rcv_ooopack`): the server's segments were lost (or reordered) on
    /// the way down, and the bytes behind the hole waited for the retransmission.
    public var outOfOrderPackets: Int
    /// Segments received, and those of them that carried data.
    public var segmentsReceived: Int
    public var dataSegmentsReceived: Int
    /// The largest segment the server sends (`tcpi_rcv_mss`): what its congestion window is counted in.
    public var receiveMSS: Int
    /// Payload bytes received.
    public var bytesReceived: Int64

    init?(_ event: NetworkEvent) {
        guard event.kind == .tcpInfo, let reason = Reason(event.aux),
            event.data.count >= MemoryLayout<cnh_tcp_sample>.size
        else { return nil }
        let raw = event.data.withUnsafeBytes { $0.loadUnaligned(as: cnh_tcp_sample.self) }
        time = event.time
        self.reason = reason
        smoothedRTT = .microseconds(raw.rtt_us)
        rttVariation = .microseconds(raw.rtt_var_us)
        minimumRTT = .microseconds(raw.min_rtt_us)
        receiverRTT = raw.receiver_rtt_us > 0 ? .microseconds(raw.receiver_rtt_us) : nil
        retransmits = Int(raw.total_retransmits)
        outOfOrderPackets = Int(raw.out_of_order_packets)
        segmentsReceived = Int(raw.segments_in)
        dataSegmentsReceived = Int(raw.data_segments_in)
        receiveMSS = Int(raw.receive_mss)
        bytesReceived = Int64(clamping: raw.bytes_received)
    }

    package init(
        time: UInt64,
        reason: Reason,
        smoothedRTT: Duration,
        minimumRTT: Duration,
        retransmits: Int = 0,
        outOfOrderPackets: Int = 0,
        receiveMSS: Int = 1448,
        bytesReceived: Int64 = 0
    ) {
        self.time = time
        self.reason = reason
        self.smoothedRTT = smoothedRTT
        self.rttVariation = .zero
        self.minimumRTT = minimumRTT
        self.receiverRTT = nil
        self.retransmits = retransmits
        self.outOfOrderPackets = outOfOrderPackets
        self.segmentsReceived = 0
        self.dataSegmentsReceived = 0
        self.receiveMSS = receiveMSS
        self.bytesReceived = bytesReceived
    }

    /// The event the hooks would record for this sample on `fd` (fixtures for tests of what reads traces).
    package func recorded(fd: Int32) -> NetworkEvent {
        func microseconds(_ duration: Duration) -> UInt32 {
            UInt32(
                clamping: duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000
            )
        }
        var raw = cnh_tcp_sample()
        raw.rtt_us = microseconds(smoothedRTT)
        raw.rtt_var_us = microseconds(rttVariation)
        raw.min_rtt_us = microseconds(minimumRTT)
        raw.receiver_rtt_us = receiverRTT.map(microseconds) ?? 0
        raw.total_retransmits = UInt32(clamping: retransmits)
        raw.out_of_order_packets = UInt32(clamping: outOfOrderPackets)
        raw.segments_in = UInt32(clamping: segmentsReceived)
        raw.data_segments_in = UInt32(clamping: dataSegmentsReceived)
        raw.receive_mss = UInt32(clamping: receiveMSS)
        raw.bytes_received = UInt64(clamping: bytesReceived)
        let reasonCode: cnh_tcp_sample_reason =
            switch reason {
            case .connected: CNH_TCP_SAMPLE_CONNECTED
            case .asked: CNH_TCP_SAMPLE_ASKED
            case .closing: CNH_TCP_SAMPLE_CLOSING
            }
        return NetworkEvent(
            kind: .tcpInfo,
            time: time,
            fd: fd,
            aux: Int32(reasonCode.rawValue),
            data: withUnsafeBytes(of: raw) { Array($0) }
        )
    }
}
