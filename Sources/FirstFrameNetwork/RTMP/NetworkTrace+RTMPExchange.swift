extension NetworkTrace {
    /// The RTMP exchange on `hop`'s connection, read from the bytes this trace captured; nil when the hop is not
    /// an RTMP connection the trace saw connect.
    ///
    /// To read as far as the first keyframe, the trace must keep the media turn after `play` whole up to it:
    /// capture with a `captureBytesPerTurn` of a few hundred KiB (``RTMPExchange/isComplete`` says whether it did).
    package func rtmpExchange(of hop: NetworkHop) -> RTMPExchange? {
        guard hop.kind == .rtmp, let fd = hop.establishedConnect?.fd else { return nil }
        return RTMPExchange.analyse(events: events, fd: fd)
    }
}
