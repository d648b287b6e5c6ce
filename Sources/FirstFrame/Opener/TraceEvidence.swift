import FirstFrameNetwork

/// What the open reads from its network trace besides the hops: when the media's bytes arrived (for the causes),
/// a status line FFmpeg took that no HTTP server sends, and the socket the kept stream reads from.
///
/// Pure: the trace and what the input said of itself in, the answer out.
package enum TraceEvidence {
    /// When the media hop's bytes arrived: its first media byte, and the first keyframe's first and last bytes,
    /// found in the reads that delivered them whichever FFmpeg call was reading. FFmpeg may have read the
    /// keyframe long before handing it out (inside find_stream_info), so the time it was read says little; the
    /// time it arrived is the physical floor. HTTP and HTTPS (chunked or not) and HLS's first segment; files fall
    /// back to the read time.
    /// - Parameters:
    ///   - formatName: the input's demuxer; nil when there is no input (nothing arrived that the open kept).
    ///   - keyframeBytes: where the first keyframe's bytes start and end in the input.
    ///   - exchanges: each hop's RTMP exchange, when the caller has read them already.
    package static func mediaArrival(
        _ trace: NetworkTrace,
        formatName: String?,
        keyframeBytes: Range<Int64>?,
        exchanges: [RTMPExchange?]? = nil
    ) -> CauseTimeline.MediaArrival? {
        guard let formatName else { return nil }
        if formatName == "hls" { return segmentArrival(trace, keyframeBytes: keyframeBytes) }
        guard
            let index = trace.hops.lastIndex(where: { $0.responseStart != nil && ($0.status.map { $0 < 300 } ?? true) })
        else { return nil }
        var arrival = CauseTimeline.MediaArrival(hop: index)
        let hop = trace.hops[index]
        if hop.kind == .rtmp {
            // RTMP's media comes in chunks of messages, not at the demuxer's positions: its own reader finds them.
            guard let exchange = exchanges.map({ $0[index] }) ?? trace.rtmpExchange(of: hop) else { return arrival }
            arrival.isRTMP = true
            arrival.exchangeEnd = exchange.phase(.play)?.end
            arrival.firstMediaByte = exchange.firstMediaByte
            arrival.keyframeFirstByte = exchange.firstKeyframeStart
            arrival.keyframeLastByte = exchange.firstKeyframeEnd
            return arrival
        }
        guard let body = BodyArrival(hop: hop, trace: trace) else { return arrival }
        // The server's time ends with the first byte that only a server holding the stream can send: after FLV's
        // fixed 13-byte file header (which a cold edge may send before it has anything), the first tag — the
        // metadata, a sequence header or media. Whatever the edge then holds back until its next keyframe
        // (audio, with `wait_key`-style edges) is keyframe wait.
        let streamStart: Int64 = ["flv", "live_flv"].contains(formatName) ? 13 : 0
        arrival.firstMediaByte = body.arrival(ofOffset: streamStart)
        if let bytes = keyframeBytes, let first = body.arrival(ofOffset: bytes.lowerBound),
            let last = body.arrival(ofOffset: bytes.upperBound - 1)
        {
            arrival.keyframeFirstByte = first
            arrival.keyframeLastByte = last
        }
        return arrival
    }

    /// HLS: the media comes in the first segment, which starts with a keyframe (segmenters cut at keyframes), so
    /// the keyframe's first byte is the segment's first. The server's time ends with the segment's response head:
    /// a segment is a file the server holds whole, and its body follows the head. The keyframe's last byte is
    /// found from the demuxer's position, which counts from the first segment's first byte (an MPEG-TS packet's
    /// position is its first transport packet; each 188-byte packet carries at most 184 bytes of it). What the
    /// demuxer read after it (FFmpeg's segment demuxer holding packets back while it probes a codec, its 32 KB
    /// reads) is then the client's, as is the time between the head and the client's first read of the body.
    private static func segmentArrival(
        _ trace: NetworkTrace,
        keyframeBytes: Range<Int64>?
    ) -> CauseTimeline.MediaArrival? {
        guard let segment = trace.playlists.firstSegment, trace.hops.indices.contains(segment.hop) else { return nil }
        // A redirected segment is fetched by a later hop: the first segment response that succeeded.
        guard
            let index = trace.hops[segment.hop...].firstIndex(where: { hop in
                hop.role == .segment && hop.status.map { (200..<300).contains($0) } == true
            })
        else { return nil }
        var arrival = CauseTimeline.MediaArrival(hop: index)
        let hop = trace.hops[index]
        let body = BodyArrival(hop: hop, trace: trace)
        arrival.firstMediaByte = hop.responseStart ?? body?.firstByte
        arrival.segmentBodyRead = body?.firstByte
        arrival.keyframeFirstByte = body?.firstByte
        if let body, let bytes = keyframeBytes, bytes.lowerBound >= 0, !bytes.isEmpty {
            let length =
                body.leadingBytes.first == 0x47 ? (Int64(bytes.count) + 183) / 184 * 188 : Int64(bytes.count)
            arrival.keyframeLastByte = body.arrival(ofOffset: bytes.lowerBound + length - 1)
        }
        return arrival
    }

    /// FFmpeg's http reads any number after the first space of the first line as the status (0 for none) and
    /// streams the body of whatever is not 4xx/5xx (3xx it follows): a response whose status line is not HTTP (or
    /// ICY) or whose status is 1xx or past 599 is the server's error, whatever its body held. The response looked at
    /// is the last one the trace read a head of; read from the trace assembled for the report (no second reading).
    package static func statusLineFailure(_ trace: NetworkTrace) -> PipelineFailure? {
        guard let (line, status) = trace.unusableStatusLine else { return nil }
        return PipelineFailure(
            stage: .httpResponse,
            kind: .http,
            message: "invalid HTTP status line '\(line.prefix(80))'" + (status.map { " (status \($0))" } ?? "")
        )
    }

    /// The socket the kept stream reads its media from: the last hop's connection, still open, when the input is a
    /// single connection's stream (FLV or MPEG-TS over HTTP(S) or RTMP). HLS opens a connection per segment, so
    /// it has none.
    /// - Parameter formatName: the input's demuxer.
    package static func mediaSocket(_ trace: NetworkTrace, formatName: String) -> Int32? {
        guard ["flv", "live_flv", "mpegts"].contains(formatName) else { return nil }
        return trace.lastHopOpenSocket
    }
}
