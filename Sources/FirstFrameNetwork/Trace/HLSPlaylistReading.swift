import FirstFrameCore

/// What the hops of an HLS open fetched, read from the playlists in their captured response bodies: which hop
/// was the multivariant ("master") playlist and its variants, which were media playlists (target duration,
/// media sequence, segment durations, live or not), which were segments, and how far from the live edge the
/// first segment of each playlist was.
///
/// Bodies come from the reads the interpreter gave each hop (a socket's receives for plain HTTP, its gnutls
/// session's plaintext for HTTPS), after the response head, with chunked framing taken off. Only what the trace
/// captured can be read: a playlist longer than the capture budget left for its response turn is read up to
/// there and marked incomplete (``NetworkTrace/capture(captureBytesPerTurn:_:)``: 4 KiB by default, head
/// included, which holds a few dozen segments with short URIs but fewer with long signed ones).
package struct HLSPlaylistReading: Sendable, Hashable {
    /// A variant a multivariant playlist offered (`#EXT-X-STREAM-INF` and the URI after it).
    package struct Variant: Sendable, Hashable {
        /// `BANDWIDTH`, bits per second.
        package var bandwidth: Int?
        /// `RESOLUTION`, as written (`1280x720`).
        package var resolution: String?
        /// `CODECS`, as written.
        package var codecs: String?
        /// The URI as the playlist wrote it, and resolved against the playlist's URL.
        package var uri: String
        package var url: String
        /// The hop that fetched this variant's media playlist first (following redirects); nil when the player
        /// did not fetch it while tracing.
        package var playlistHop: Int?
    }

    package struct MasterPlaylist: Sendable, Hashable {
        package var hop: Int
        package var variants: [Variant]
        /// Whether the whole body was captured.
        package var complete: Bool

        /// The variants the player fetched, in the order it fetched them. FFmpeg 5.1's hls demuxer fetches
        /// every variant's playlist at the open and a segment of each that has a stream not discarded.
        package var fetchedVariants: [Variant] {
            variants.filter { $0.playlistHop != nil }.sorted { $0.playlistHop! < $1.playlistHop! }
        }
    }

    /// A segment a media playlist listed (`#EXTINF` and the URI after it).
    package struct Segment: Sendable, Hashable {
        package var uri: String
        package var url: String
        /// `#EXTINF` duration, seconds.
        package var duration: Double
        /// Media sequence number: `#EXT-X-MEDIA-SEQUENCE` plus its position.
        package var sequence: Int
    }

    package struct MediaPlaylist: Sendable, Hashable {
        package var hop: Int
        /// `#EXT-X-TARGETDURATION`, seconds.
        package var targetDuration: Double?
        /// `#EXT-X-MEDIA-SEQUENCE` (0 when absent).
        package var mediaSequence: Int
        package var segments: [Segment]
        /// No `#EXT-X-ENDLIST`: the playlist grows (a live stream, or an event still going on).
        package var isLive: Bool
        /// Whether the whole body was captured; when not, the segments are those listed before the cut, and
        /// distances from the live edge are unknown.
        package var complete: Bool

        package var totalDuration: Double { segments.reduce(0) { $0 + $1.duration } }
    }

    /// A segment hop, matched to the latest media playlist read before it that listed its URL.
    package struct SegmentFetch: Sendable, Hashable {
        package var hop: Int
        package var playlistHop: Int
        /// 0-based position in that playlist.
        package var position: Int
        package var sequence: Int
        /// The playlist's `#EXTINF` for it, seconds.
        package var duration: Double
        /// The position counted from the end, as FFmpeg's `live_start_index` counts it: -1 is the last segment
        /// (FFmpeg starts a live playlist at -3 by default). Nil when the playlist was not captured whole.
        package var indexFromEnd: Int?
        /// Seconds from the start of this segment to the end of the playlist (its own duration and those of
        /// the segments after it): how far behind the live edge playback starts when it starts here. Nil when
        /// the playlist was not captured whole.
        package var secondsFromLiveEdge: Double?
    }

    /// Per hop (by ``NetworkHop/index``): its role, or nil for every hop when the trace read no playlist.
    package var roles: [NetworkHop.Role?]
    package var masterPlaylists: [MasterPlaylist] = []
    package var mediaPlaylists: [MediaPlaylist] = []
    /// Every segment hop matched to a playlist, in hop order.
    package var segments: [SegmentFetch] = []

    /// Whether the trace read a playlist.
    package var isHLS: Bool { !masterPlaylists.isEmpty || !mediaPlaylists.isEmpty }

    /// The first segment fetched, of any playlist.
    package var firstSegment: SegmentFetch? { segments.first }

    /// The first segment fetched that the playlist read by `hop` listed.
    package func firstSegment(ofPlaylistHop hop: Int) -> SegmentFetch? {
        segments.first { $0.playlistHop == hop }
    }

    /// The reading of a trace's hops.
    package init(trace: NetworkTrace) {
        self = trace.playlists
    }

    /// The reading of raw events (they are read into hops first, as ``NetworkTrace`` does).
    package init(events: [NetworkEvent]) {
        let interpreter = TraceInterpreter(events: events)
        self.init(hops: interpreter.hops, responseReads: interpreter.responseReads, events: events)
    }

    /// - Parameter responseReads: per hop, the indices in `events` of the reads that carried its response.
    init(hops: [NetworkHop], responseReads: [[Int]], events: [NetworkEvent]) {
        roles = Array(repeating: nil, count: hops.count)
        // Playlists first: a hop whose body starts with #EXTM3U.
        var playlists: [(hop: Int, text: Substring, complete: Bool)] = []
        var heads: [Int: ResponseBody] = [:]
        for hop in hops.indices {
            let reads = responseReads[hop].lazy.map { events[$0] }
            guard !reads.isEmpty, let peek = ResponseBody(reads: reads, wanted: 16) else { continue }
            heads[hop] = peek
            guard Self.startsPlaylist(peek.bytes), let body = ResponseBody(reads: reads, wanted: nil) else { continue }
            playlists.append((hop, String(decoding: body.bytes, as: UTF8.self)[...], body.complete))
        }
        guard !playlists.isEmpty else { return }
        for (hop, text, complete) in playlists {
            let base = hops[hop].url ?? ""
            let parsed = Parsed(text, complete: complete, base: base)
            if !parsed.variants.isEmpty {
                roles[hop] = .masterPlaylist
                var variants = parsed.variants
                for index in variants.indices {
                    variants[index].playlistHop = Self.hop(fetching: variants[index].url, after: hop, in: hops)
                }
                masterPlaylists.append(MasterPlaylist(hop: hop, variants: variants, complete: complete))
            } else if parsed.isMediaPlaylist {
                roles[hop] = .mediaPlaylist
                mediaPlaylists.append(
                    MediaPlaylist(
                        hop: hop,
                        targetDuration: parsed.targetDuration,
                        mediaSequence: parsed.mediaSequence,
                        segments: parsed.segments,
                        isLive: !parsed.endList,
                        complete: complete
                    )
                )
            } else {
                roles[hop] = .other
            }
        }
        // Segments: a hop whose URL the latest media playlist read before its request listed.
        var listings: [String: [(playlist: Int, position: Int)]] = [:]
        for (index, playlist) in mediaPlaylists.enumerated() {
            for (position, segment) in playlist.segments.enumerated()
            where listings[segment.url]?.last?.playlist != index {
                listings[segment.url, default: []].append((index, position))
            }
        }
        for hop in hops.indices where roles[hop] == nil {
            let request = hops[hop].requestStart ?? .max
            let listing = hops[hop].url.flatMap { listings[Self.normalized($0)] }?.last {
                (hops[mediaPlaylists[$0.playlist].hop].responseStart ?? .max) < request
            }
            if let listing {
                roles[hop] = .segment
                let playlist = mediaPlaylists[listing.playlist]
                let position = listing.position
                let segment = playlist.segments[position]
                let after = playlist.segments[(position + 1)...]
                segments.append(
                    SegmentFetch(
                        hop: hop,
                        playlistHop: playlist.hop,
                        position: position,
                        sequence: segment.sequence,
                        duration: segment.duration,
                        indexFromEnd: playlist.complete ? position - playlist.segments.count : nil,
                        secondsFromLiveEdge: playlist.complete
                            ? after.reduce(segment.duration) { $0 + $1.duration } : nil
                    )
                )
            } else if let head = heads[hop], Self.looksLikeSegment(head) {
                roles[hop] = .segment
            } else {
                roles[hop] = .other
            }
        }
    }

    // MARK: Reading

    private static func startsPlaylist(_ body: [UInt8]) -> Bool {
        var bytes = body[...]
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        bytes = bytes.drop { $0 == 32 || $0 == 9 || $0 == 13 || $0 == 10 }
        return bytes.starts(with: Array("#EXTM3U".utf8))
    }

    /// A response that is not a listed segment but carries one: a segment content type, or MPEG-TS's sync byte.
    private static func looksLikeSegment(_ body: ResponseBody) -> Bool {
        let types = ["video/mp2t", "video/mp4", "video/iso.segment", "audio/aac", "audio/mp4", "audio/mpeg"]
        if let type = body.contentType?.lowercased(), types.contains(where: { type.hasPrefix($0) }) { return true }
        // MPEG-TS packets start with 0x47; fragmented MP4 segments with a styp or moof box.
        let box = body.bytes.count >= 8 ? String(decoding: body.bytes[4..<8], as: UTF8.self) : ""
        return body.bytes.first == 0x47 || box == "styp" || box == "moof"
    }

    /// The first hop after `after` that requested `url`, following its redirects to the hop that answered.
    private static func hop(fetching url: String, after: Int, in hops: [NetworkHop]) -> Int? {
        var target = url
        var from = after
        for _ in 0..<9 {
            guard let hop = hops.indices.first(where: { $0 > from && hops[$0].url.map(normalized) == target }) else {
                return nil
            }
            guard let status = hops[hop].status, (300..<400).contains(status), let location = hops[hop].redirectTo
            else {
                return hop
            }
            target = normalized(resolve(location, against: hops[hop].url ?? ""))
            from = hop
        }
        return nil
    }

    /// One playlist's text, parsed.
    private struct Parsed {
        var variants: [Variant] = []
        var segments: [Segment] = []
        var targetDuration: Double?
        var mediaSequence = 0
        var endList = false
        var isMediaPlaylist = false

        init(_ text: Substring, complete: Bool, base: String) {
            var lines = text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }).map {
                $0.trimmingWhitespace()
            }
            // A cut body's last line may be part of a URI.
            if !complete, text.unicodeScalars.last != "\n", !lines.isEmpty { lines.removeLast() }
            var pendingVariant: [String: String]?
            var pendingDuration: Double?
            var uris: [(uri: String, duration: Double)] = []
            for line in lines where !line.isEmpty {
                if line.hasPrefix("#") {
                    if let value = line.value(of: "#EXT-X-STREAM-INF:") {
                        pendingVariant = HLSPlaylistReading.attributes(value)
                    } else if let value = line.value(of: "#EXTINF:") {
                        isMediaPlaylist = true
                        // An unreadable duration still keeps the segment's place in the list.
                        pendingDuration = Double(value.prefix { $0 != "," }.trimmingWhitespace()) ?? 0
                    } else if let value = line.value(of: "#EXT-X-TARGETDURATION:") {
                        isMediaPlaylist = true
                        targetDuration = Double(value.trimmingWhitespace())
                    } else if let value = line.value(of: "#EXT-X-MEDIA-SEQUENCE:") {
                        mediaSequence = Int(value.trimmingWhitespace()) ?? 0
                    } else if line.hasPrefix("#EXT-X-ENDLIST") {
                        endList = true
                    }
                    continue
                }
                // A URI line: the variant or segment its tags described.
                if let attributes = pendingVariant {
                    variants.append(
                        Variant(
                            bandwidth: attributes["BANDWIDTH"].flatMap { Int($0) },
                            resolution: attributes["RESOLUTION"],
                            codecs: attributes["CODECS"],
                            uri: line,
                            url: HLSPlaylistReading.normalized(HLSPlaylistReading.resolve(line, against: base))
                        )
                    )
                    pendingVariant = nil
                } else if let duration = pendingDuration {
                    uris.append((line, duration))
                    pendingDuration = nil
                }
            }
            segments = uris.enumerated().map { position, entry in
                Segment(
                    uri: entry.uri,
                    url: HLSPlaylistReading.normalized(HLSPlaylistReading.resolve(entry.uri, against: base)),
                    duration: entry.duration,
                    sequence: mediaSequence + position
                )
            }
        }
    }

    /// An attribute list (`BANDWIDTH=800000,RESOLUTION=320x240,CODECS="avc1.64001e,mp4a.40.2"`), quotes taken off.
    static func attributes(_ list: Substring) -> [String: String] {
        var result: [String: String] = [:]
        var name = ""
        var value = ""
        var inValue = false
        var quoted = false
        func flush() {
            let key = name.trimmingWhitespace()
            if !key.isEmpty { result[key.uppercased()] = value.trimmingWhitespace() }
            name = ""
            value = ""
            inValue = false
        }
        for character in list {
            if quoted {
                if character == "\"" { quoted = false } else { value.append(character) }
            } else if character == "\"" && inValue {
                quoted = true
            } else if character == "," {
                flush()
            } else if character == "=" && !inValue {
                inValue = true
            } else if inValue {
                value.append(character)
            } else {
                name.append(character)
            }
        }
        flush()
        return result
    }

    // MARK: URLs

    /// `uri` resolved against `base` (RFC 3986 §5.2, for the forms playlists use: absolute, scheme-relative,
    /// absolute path, relative path with `.` and `..`).
    package static func resolve(_ uri: String, against base: String) -> String {
        if uri.contains("://") { return uri }
        guard let schemeEnd = base.range(of: "://") else { return uri }
        let scheme = base[..<schemeEnd.lowerBound]
        if uri.hasPrefix("//") { return "\(scheme):\(uri)" }
        let afterScheme = base[schemeEnd.upperBound...]
        let authority = afterScheme.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        let origin = "\(scheme)://\(authority)"
        var basePath = String(afterScheme.dropFirst(authority.count).prefix { $0 != "?" && $0 != "#" })
        if basePath.isEmpty { basePath = "/" }
        let reference = uri.prefix { $0 != "?" && $0 != "#" }
        let suffix = uri.dropFirst(reference.count)
        if reference.isEmpty {
            // Only a query or fragment: the base's path with it.
            return origin + basePath + suffix
        }
        let merged =
            reference.hasPrefix("/")
            ? String(reference) : String(basePath[...basePath.lastIndex(of: "/")!]) + reference
        // Remove dot segments.
        var output: [Substring] = []
        let parts = merged.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        for (index, part) in parts.enumerated() {
            let last = index == parts.count - 1
            if part == "." {
                if last { output.append("") }
            } else if part == ".." {
                if !output.isEmpty { output.removeLast() }
                if last { output.append("") }
            } else {
                output.append(part)
            }
        }
        return origin + "/" + output.joined(separator: "/") + suffix
    }

    /// Without the fragment, a lower-case scheme and host, and without the scheme's default port: URLs as a
    /// playlist writes them and as the trace rebuilds them from the request line and `Host` compare equal.
    package static func normalized(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return url }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        let rest = url[schemeEnd.upperBound...].prefix { $0 != "#" }
        var authority = rest.prefix { $0 != "/" && $0 != "?" }.lowercased()
        let path = rest.dropFirst(authority.count)
        if (scheme == "http" && authority.hasSuffix(":80")) || (scheme == "https" && authority.hasSuffix(":443")) {
            authority = String(authority[..<authority.lastIndex(of: ":")!])
        }
        return "\(scheme)://\(authority)\(path.isEmpty ? "/" : path)"
    }
}

extension StringProtocol {
    fileprivate func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }
        return String(drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    }
}

extension String {
    /// The rest of the line after `tag`, if it starts with it.
    fileprivate func value(of tag: String) -> Substring? {
        hasPrefix(tag) ? dropFirst(tag.count) : nil
    }
}
