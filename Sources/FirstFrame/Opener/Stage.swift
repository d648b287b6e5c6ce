/// The stages of an open, in order. Together they tile the time from the open being asked for to the first
/// decoded picture: no gaps, no overlaps. A redirect repeats the network stages.
public enum Stage: String, Sendable, Codable, CaseIterable, CodingKeyRepresentable {
    /// The lookup of the host (or of each redirect's host).
    case dns
    /// From the first connect attempt to the connection that carried the request.
    case tcpConnect
    /// The TLS handshake.
    case tls
    /// Request sent → first response byte (for RTMP, the handshake's first round trip).
    case httpResponse
    /// → `avformat_open_input` returns: the container probed and its header read.
    case formatProbe
    /// → stream parameters known (`avformat_find_stream_info`, or the container's own headers when skipped).
    case streamInfo
    /// → the buffering thresholds are met.
    case buffering
    /// → the first picture comes out of the decoder.
    case decode

    /// The stages the network trace measures; the rest come from the media pipeline.
    public var isNetwork: Bool { [.dns, .tcpConnect, .tls, .httpResponse].contains(self) }
}

/// Stages compare in the order they happen.
extension Stage: Comparable {
    public static func < (lhs: Stage, rhs: Stage) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

extension Stage: CustomStringConvertible {
    /// Its name (`dns`, `tcpConnect`, …), as reports spell it: what `print` and string interpolation show, instead of the qualified case.
    public var description: String { rawValue }
}
