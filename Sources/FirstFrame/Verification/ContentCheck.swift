import Foundation

/// The content verdict on a recording: whether it holds exactly the media the edge sent — every sent packet once,
/// in order, except packets inside a gap its session log names, and no packet twice.
///
/// Packets are compared by ``PacketDigest`` (kind, size and ``PayloadHash`` of the payload, as FFmpeg's demuxers
/// return it), against a ground truth: the origin's sent log (`SentTag.truth(_:)`, FirstFrameOrigin) or the packets
/// of the source file a server the project did not write was fed with (``PacketDigest/read(url:)``). Record to
/// `.flv` or `.mkv` for a content check: both keep the payloads as FLV carries them. MPEG-TS does not (the muxer
/// turns H.264 into Annex B and wraps AAC in ADTS), so a `.ts` recording matches nothing; fragmented MP4 keeps them
/// too, but its muxer may shift timestamps.
///
/// ``compare(recorded:truth:gaps:)`` is the pure core (lists in, verdict out); ``run(paths:truth:sessionLog:)`` reads
/// the files and the session log first. Figures, as ``figures`` prints them:
/// - `sent`: packets in the truth; `written`: packets in the file(s);
/// - `matched`: file packets that are a sent packet, each once, in order;
/// - `in gaps`: sent packets missing from the file inside a hole its session log names as a gap;
/// - `missing-unlogged`: sent packets missing from the file where no gap is logged — a failure;
/// - `duplicated`: file packets that are a sent packet already matched — a failure;
/// - `unknown`: file packets that were never sent — a failure;
/// - `out of order`: file packets that are a sent packet from before one already matched — a failure;
/// - `outside`: sent packets before the recording's first packet of their kind (before its first keyframe; what the
///   edge sent before the recording started) or after its last (after it stopped) — not counted against it, unless
///   an open gap (one that never closed) names the end.
package struct ContentCheck: Sendable, Codable, Equatable {
    /// What became of one gap the session log names.
    package struct GapMatch: Sendable, Codable, Equatable {
        package var fromSeconds: Double
        package var toSeconds: Double?
        /// Sent packets missing inside this gap.
        package var missing: Int
        /// Whether the gap's bounds are those of its missing packets, within one frame: `fromSeconds` the file time of
        /// the last packet before them, `toSeconds` that of the first packet after them (of the kind that resumes
        /// last, video after a wait for a keyframe). Nil when no packet is missing there (a reconnect that lost
        /// nothing).
        package var boundsMatch: Bool?
    }

    /// The files checked, in order.
    package var paths: [String] = []
    package var sent = 0
    package var written = 0
    package var matched = 0
    package var inGaps = 0
    package var missingUnlogged = 0
    package var duplicated = 0
    package var unknown = 0
    package var outOfOrder = 0
    /// Sent packets before the recording's first packet of their kind, and after its last.
    package var beforeStart = 0
    package var afterEnd = 0
    /// The session log's gaps, in order, with what is missing inside each.
    package var gaps: [GapMatch] = []
    /// The first few failures, described (time in the file, the packet, what is wrong).
    package var problems: [String] = []

    package init() {}

    /// Sent packets before the recording's first and after its last packet.
    package var outside: Int { beforeStart + afterEnd }

    /// Gaps whose bounds are not those of their missing packets.
    package var gapsWithOtherBounds: Int { gaps.count { $0.boundsMatch == false } }

    /// Media in the file, every packet of it sent and written once, in order, and nothing missing outside a logged gap.
    package var passed: Bool {
        written > 0 && matched > 0 && missingUnlogged == 0 && duplicated == 0 && unknown == 0 && outOfOrder == 0
    }

    /// One line: `sent 4080, written 3920, matched 3920, in gaps 120, missing-unlogged 0, duplicated 0, unknown 0`,
    /// then what else is not zero.
    package var figures: String {
        var line =
            "sent \(sent), written \(written), matched \(matched), in gaps \(inGaps), missing-unlogged \(missingUnlogged), "
            + "duplicated \(duplicated), unknown \(unknown)"
        if outOfOrder > 0 { line += ", out of order \(outOfOrder)" }
        if outside > 0 { line += ", outside the recording \(outside) (\(beforeStart) before, \(afterEnd) after)" }
        if gapsWithOtherBounds > 0 { line += ", \(gapsWithOtherBounds) of \(gaps.count) gaps with other bounds" }
        return line
    }

    /// Adds another recording's figures to these (problems up to ten); for totals over many files.
    package mutating func add(_ other: ContentCheck) {
        paths += other.paths
        sent += other.sent
        written += other.written
        matched += other.matched
        inGaps += other.inGaps
        missingUnlogged += other.missingUnlogged
        duplicated += other.duplicated
        unknown += other.unknown
        outOfOrder += other.outOfOrder
        beforeStart += other.beforeStart
        afterEnd += other.afterEnd
        gaps += other.gaps
        problems += other.problems.prefix(max(0, Self.problemsKept - problems.count))
    }

    static let problemsKept = 10
}
