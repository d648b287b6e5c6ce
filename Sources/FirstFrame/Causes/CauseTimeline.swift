import FirstFrameNetwork

/// Splits one open's time by cause (``Cause``), from when the bytes arrived rather than which FFmpeg call was
/// blocked: each boundary is an event (a lookup's end, the first media byte, the keyframe's last byte, the
/// decoder being fed), and each cause runs from the boundary before it to its own, so the spans tile
/// [0, first picture] as the stages do. Time between events counts towards the cause it leads into.
package struct CauseTimeline {
    /// What the trace says about the hop that carried the media.
    package struct MediaArrival: Sendable, Hashable {
        /// The hop's index in the trace.
        package var hop: Int
        /// The first byte only a server holding the stream can send: the first FLV tag after the file header
        /// (HTTP-FLV), the body's first byte (other containers), the first message after `play` (RTMP).
        package var firstMediaByte: UInt64?
        /// The first keyframe's first and last bytes' arrival.
        package var keyframeFirstByte: UInt64?
        package var keyframeLastByte: UInt64?
        /// RTMP: the time from the handshake's first answer to `play`'s answer is the command exchange; from
        /// there to the first media byte the server's.
        package var isRTMP = false
        /// RTMP: when `play` was answered.
        package var exchangeEnd: UInt64?
        /// HLS: when the client first read the media segment's body. From the segment's response (its head: a
        /// segment is a file the server holds whole, its body follows the head) to this read the client was busy
        /// elsewhere (FFmpeg's `http_multiple` fetching the next segment first): client time, not the server's.
        package var segmentBodyRead: UInt64?

        package init(hop: Int) { self.hop = hop }
    }

    /// The media pipeline's instants (`MonotonicClock` nanoseconds), nil when not reached.
    package struct MediaInstants: Sendable, Hashable {
        /// When the demuxer handed out the first keyframe.
        package var keyframeRead: UInt64?
        /// When the decoder was about to be opened and fed (the thresholds met).
        package var decodeStart: UInt64?
        package var firstPicture: UInt64?

        package init(keyframeRead: UInt64? = nil, decodeStart: UInt64? = nil, firstPicture: UInt64? = nil) {
            self.keyframeRead = keyframeRead
            self.decodeStart = decodeStart
            self.firstPicture = firstPicture
        }
    }

    private struct Boundary {
        var cause: Cause
        var time: UInt64?
        var hop: Int?
    }

    private let origin: UInt64
    private var cursor: UInt64
    private(set) var spans: [FirstFrameReport.CauseSpan] = []

    private init(origin: UInt64) {
        self.origin = origin
        self.cursor = origin
    }

    private func milliseconds(_ time: UInt64) -> Double { Double(Int64(bitPattern: time &- origin)) / 1e6 }

    /// The cause spans of an open that started at `origin` and ended (first picture or failure) at `end`.
    /// `stages` are the open's stage spans, to say where each cause's time fell.
    package static func spans(
        origin: UInt64,
        end: UInt64,
        hops: [NetworkHop],
        media: MediaArrival?,
        instants: MediaInstants,
        stages: [FirstFrameReport.StageSpan]
    ) -> [FirstFrameReport.CauseSpan] {
        var timeline = CauseTimeline(origin: origin)
        timeline.lay(boundaries(hops: hops, media: media, instants: instants), until: end)
        return timeline.spans.map { span in
            var span = span
            span.stages = stages.filter { min($0.endMs, span.endMs) - max($0.startMs, span.startMs) > 0.0005 }.map(
                \.name
            )
            .reduce(into: []) { if $0.last != $1 { $0.append($1) } }
            return span
        }
    }

    /// The boundaries in the order they happen; a nil time is a boundary not reached.
    private static func boundaries(hops: [NetworkHop], media: MediaArrival?, instants: MediaInstants) -> [Boundary] {
        var result: [Boundary] = []
        // Hops up to the one that carried the media (all of them when no hop is known to: a file has none, and
        // then the media causes start at once).
        let last =
            media?.hop
            ?? (instants.keyframeRead.map { read in hops.lastIndex { ($0.requestStart ?? 0) <= read } ?? -1 } ?? hops
                .count - 1)
        for (index, hop) in hops.enumerated() where index <= last {
            // On the last hop, a set-up step that failed or never finished is where the open stopped: what follows
            // is still set-up (a lookup that failed has no server response after it). An earlier hop's failed step
            // (a segment FFmpeg gave up on and moved past) ends nothing.
            let stopsHere = index == hops.count - 1
            if let lookup = hop.lookup {
                if stopsHere, lookup.error != nil || lookup.end == nil {
                    return result + [.init(cause: .networkSetup, time: nil, hop: index)]
                }
                result.append(.init(cause: .networkSetup, time: lookup.end, hop: index))
            }
            if !hop.connects.isEmpty {
                let connected = hop.establishedConnect?.end
                if stopsHere, connected == nil { return result + [.init(cause: .networkSetup, time: nil, hop: index)] }
                result.append(.init(cause: .networkSetup, time: connected, hop: index))
            }
            if hop.secureConnectionStart != nil {
                if stopsHere, hop.secureConnectionEnd == nil {
                    return result + [.init(cause: .networkSetup, time: nil, hop: index)]
                }
                result.append(.init(cause: .networkSetup, time: hop.secureConnectionEnd, hop: index))
            }
            if let media, media.hop == index {
                if media.isRTMP {
                    // The handshake's first answer is the protocol's first round trip, like the commands after it.
                    result.append(.init(cause: .protocolExchange, time: media.exchangeEnd, hop: index))
                }
                result.append(
                    .init(
                        cause: .serverResponse,
                        time: media.firstMediaByte ?? (media.isRTMP ? nil : hop.responseStart),
                        hop: index
                    )
                )
                if let read = media.segmentBodyRead { result.append(.init(cause: .clientWait, time: read)) }
            } else {
                result.append(.init(cause: .serverResponse, time: hop.responseStart, hop: index))
            }
        }
        if media == nil, instants.keyframeRead == nil, let last = hops.indices.last {
            // No hop carried media (a 404, a failed redirect) and nothing was read: what remains is the last
            // response's, not a keyframe wait.
            return result + [.init(cause: .serverResponse, time: nil, hop: last)]
        }
        let keyframeFirst = media?.keyframeFirstByte ?? instants.keyframeRead
        let keyframeLast = media?.keyframeLastByte ?? instants.keyframeRead
        if hops.isEmpty || last < 0 {
            // No network: reading the file up to the keyframe is the client's own work.
            result.append(.init(cause: .clientWait, time: keyframeLast))
        } else {
            result.append(.init(cause: .keyframeWait, time: keyframeFirst))
            result.append(.init(cause: .keyframeTransfer, time: keyframeLast))
        }
        result.append(.init(cause: .clientWait, time: instants.decodeStart))
        result.append(.init(cause: .decode, time: instants.firstPicture))
        return result
    }

    /// Closes each boundary reached before `end`; the first one not reached (or past `end`) runs to `end`.
    private mutating func lay(_ boundaries: [Boundary], until end: UInt64) {
        var unreached: Boundary?
        for boundary in boundaries {
            guard let time = boundary.time else {
                unreached = unreached ?? boundary
                continue
            }
            if time >= end {
                close(unreached ?? boundary, at: end)
                return
            }
            // A boundary reached after one that was not (a keyframe read with no arrival known): the time
            // up to it is its own.
            unreached = nil
            close(boundary, at: time)
        }
        if cursor < end { close(unreached ?? boundaries.last!, at: end) }
    }

    private mutating func close(_ boundary: Boundary, at time: UInt64) {
        let end = max(time, cursor)
        if let last = spans.last, last.cause == boundary.cause, last.hop == boundary.hop {
            spans[spans.count - 1].endMs = milliseconds(end)
        } else if end > cursor || spans.isEmpty {
            spans.append(
                .init(cause: boundary.cause, startMs: milliseconds(cursor), endMs: milliseconds(end), hop: boundary.hop)
            )
        }
        cursor = end
    }
}
