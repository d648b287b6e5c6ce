/// Why time passed before the first picture, whichever FFmpeg call was blocked at the time.
///
/// Stages (``Stage``) are FFmpeg's calls: the same physical wait lands in `streamInfo` on one server and in
/// `buffering` on another. Causes are computed from when the bytes arrived (the network trace) and what the
/// media pipeline did with them, so one situation gets one name on every server. Like stages, the causes of an
/// open tile the time from the open being asked for to the first picture.
public enum Cause: String, Sendable, Codable, CaseIterable, CodingKeyRepresentable {
    /// Lookups, connect attempts and TLS handshakes, of every hop (redirects and playlists included).
    case networkSetup
    /// Request sent → the first byte of the stream (for FLV, the first tag after the fixed file header: metadata,
    /// sequence headers or media): the server's time (a stream that is cold at the edge, a slow origin). For a
    /// redirect, playlist or HLS segment hop, request → the response's first byte; for RTMP, `play`'s answer →
    /// the first media message. The time between two hops (reading a response, parsing a playlist) counts towards
    /// the next hop's set-up or response.
    case serverResponse
    /// RTMP's exchange from the handshake's first byte to `play`'s answer (the handshake, `connect`,
    /// `createStream`, `play`): the protocol's four round trips, the round trips a server adds when its answers
    /// come in pieces (its small writes waiting under Nagle for this client's ACK), and on a fast network the
    /// stalls of small writes meeting delayed ACKs.
    case protocolExchange
    /// The first byte of the stream → the first byte of a keyframe the server had not yet sent: the edge's GOP
    /// phase, whether the edge sent audio meanwhile or held everything back for the keyframe. An edge with a GOP
    /// cache sends the current GOP at once and makes this ~0.
    case keyframeWait
    /// The first keyframe's bytes in flight, its first byte to its last: bandwidth and the keyframe's size.
    case keyframeTransfer
    /// The first keyframe had arrived whole, and the client went on reading: probing the format, estimating the
    /// frame rate, waiting for buffering thresholds; on HLS, a segment demuxer holding packets back while it probes
    /// a codec, and fetching the next segment before reading the first one's body.
    case clientWait
    /// Decoder open, decoding, and the frames a decoder holds back before its first picture (B-frame reorder,
    /// frame threads), including waiting for the bytes of those frames.
    case decode

    /// Whether the client (its knobs, its protocol choice) can take this time away. Network set-up, the server's
    /// response and the keyframe wait belong to the network and the server: a sweep on a URL it does not control
    /// ranks settings without them.
    public var isClientAttributable: Bool {
        switch self {
        case .networkSetup, .serverResponse, .keyframeWait: false
        case .protocolExchange, .keyframeTransfer, .clientWait, .decode: true
        }
    }
}

extension Cause: CustomStringConvertible {
    /// Its name, as reports spell it: what `print` and string interpolation show, instead of the qualified case.
    public var description: String { rawValue }
}
