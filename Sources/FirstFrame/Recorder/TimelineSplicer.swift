import FirstFrameFFmpeg

/// Joins the packets of a recording's connections into one timeline that a muxer takes: it starts the file on a
/// video keyframe at time 0, keeps every stream's timestamps increasing across reconnects, drops the packets a
/// new connection sends again (recognised by their content), and after a real gap resumes video only at a keyframe.
///
/// Timestamps are handled in microseconds, one offset for all streams (audio and video stay in sync). What was
/// written is remembered by content (``PayloadHash`` and time, the last ``historySeconds`` of each kind), and a new
/// connection is placed by its first video packets:
///
/// 1. **Sent again on the same clock** — a packet whose content was written at the time its timestamp maps to (an
///    edge's GOP cache re-sending the current GOP, an HLS playlist serving its segments again): a duplicate, dropped.
///    The connection keeps the recording's offset.
/// 2. **Sent again on another clock** — a video keyframe whose content was written lately (within two of the longest
///    GOPs, at least 4 s: older matches are pictures that recur, a loop or a slate), at a time the old offset cannot
///    explain (an edge that starts each client at 0, a relay restamping), or three inter frames in a row that agree
///    on one offset (a server restarted mid-GOP): the offset is taken from the match, so what follows continues the
///    file seamlessly and the rest of the re-sent packets are dropped too.
/// 3. **New media** — a video keyframe nobody wrote. On the same clock (its timestamp within
///    [last − ``sameClockWindowSeconds``, last + wall-clock gap + ``forwardJumpSeconds``], and ahead of the last
///    video written) the offset stays and the file has a gap as long as the media missed; otherwise (a restarted publisher, a clock that wrapped or jumped)
///    the new clock is placed after the last written packet, advanced by the wall-clock time since it was written.
///
/// Inside a connection, a video keyframe not written at its own time that lands more than ``backwardJumpSeconds``
/// before the last video packet, a packet 2³² ms behind (FLV's 32-bit wrap), or any packet more than
/// ``forwardJumpSeconds`` (plus the wall-clock time since) after the last packet written is a timestamp discontinuity (an MPEG-TS discontinuity, a publisher restarted behind a
/// relay): the clock is placed again right after the last written packet. Other packets behind what was written are
/// dropped (a packet dropped before, sent again). Video that steps forward by more than ``holeSeconds`` without jumping (frames the
/// edge skipped, an HLS segment that expired) is written where its timestamps say: a hole the writer logs as a gap.
struct TimelineSplicer {
    enum Decision: Equatable {
        /// Write it, its timestamps moved by this many ticks of the packet's time base.
        case write(shift: Int64)
        /// Already written (a packet sent again).
        case duplicate
        /// Video after a gap, before a keyframe; or anything before the recording's first keyframe.
        case waitingForKeyframe
        /// No timestamp to place it by.
        case untimed
    }

    /// A break in the timeline found while writing: the writer logs it.
    struct Discontinuity: Equatable {
        enum Kind: Equatable {
            /// Timestamps jumped (back, or far ahead) inside a connection: placed again after the last packet.
            case clockJump
            /// Video stepped over missing frames on its own clock: the file has a hole.
            case hole
        }

        var kind: Kind
        /// File times (µs) of the last video packet before it and the first one after it.
        var from: Int64
        var to: Int64
        /// How far the source timestamps moved, µs.
        var sourceStep: Int64
    }

    /// How long what was written is remembered by content: longer than any GOP cache re-sends.
    static let historySeconds: Int64 = 30
    /// At most this many packets remembered per kind (30 s at 120 fps).
    static let historyLimit = 3600
    /// A first timestamp this far behind the last one written may still be the same clock (a GOP cache of long GOPs).
    static let sameClockWindowSeconds: Int64 = 30
    static let backwardJumpSeconds: Int64 = 1
    static let forwardJumpSeconds: Int64 = 10
    /// A video step longer than this (and than four frames) is a hole.
    static let holeSeconds: Int64 = 1
    /// Source timestamps (µs) beyond this are taken as untimed: offsets added to them could overflow.
    static let largestTimestamp: Int64 = 1 << 52
    /// FLV's timestamps are 32-bit milliseconds: they wrap after 49.7 days (µs).
    static let flvWrap: Int64 = (1 << 32) * 1000
    /// The shortest window back from the last video packet in which a re-send is matched by content on another clock.
    static let minimumMatchWindowSeconds: Int64 = 4
    /// Inter frames matched in a row at one offset before a connection is placed by them.
    static let confirmations = 3
    /// Timestamps that match within this many µs are the same instant (rounding between time bases).
    static let sameInstant: Int64 = 1000

    /// Microseconds added to source timestamps; nil before the first packet.
    private(set) var offset: Int64?
    /// Per kind: the last written dts, output microseconds.
    private var lastWritten: [StreamInfo.Kind: Int64] = [:]
    /// The last written video dts step, microseconds: what "the next frame" means.
    private var videoStep: Int64?
    /// The last written source dts (µs): where the same clock would go on from.
    private var lastSource: Int64?
    /// When the last packet was written (MonotonicClock ns).
    private(set) var lastWriteTime: UInt64?
    /// What was written, per kind, by content.
    private var history: [StreamInfo.Kind: WrittenHistory] = [:]
    /// Whether video may resume only at a keyframe (at the start and after a gap).
    private var videoNeedsKeyframe = true
    /// Whether the current connection's clock decision has been made.
    private var connectionPlaced = false
    /// Whether the current connection continued the recording's clock; nil until it is placed.
    private(set) var sameClock: Bool?
    /// The last discontinuity found inside a connection, until the writer takes it.
    private var discontinuity: Discontinuity?
    /// The longest interval between written video keyframes (µs, capped at ``historySeconds``), and the last one.
    private var longestGOP: Int64 = 0
    private var lastKeyframeOutput: Int64?
    /// Inter frames of an unplaced connection matched by content on another clock: the offset they agree on, and
    /// how many in a row did.
    private var candidateOffset: Int64?
    private var candidateMatches = 0

    /// A new connection starts: its first video packets will place it.
    mutating func startConnection() {
        connectionPlaced = false
        sameClock = nil
        candidateOffset = nil
        candidateMatches = 0
    }

    /// The output time, in seconds, of the last packet written.
    var lastWrittenSeconds: Double { Double(lastWritten.values.max() ?? 0) / 1e6 }
    var hasWritten: Bool { !lastWritten.isEmpty }

    /// The discontinuity the last decision found, once.
    mutating func takeDiscontinuity() -> Discontinuity? {
        defer { discontinuity = nil }
        return discontinuity
    }

    mutating func decide(
        kind: StreamInfo.Kind,
        dts: Int64?,
        pts: Int64?,
        timeBase: Rational,
        isKeyframe: Bool,
        content: UInt64,
        now: UInt64
    ) -> Decision {
        guard let sourceTicks = dts ?? pts else { return .untimed }
        let source = timeBase.rescale(sourceTicks, to: Rational(1, 1_000_000))
        // av_rescale_q gives INT64_MIN on overflow; anything past ~142 years cannot be placed without overflowing.
        guard abs(source) < Self.largestTimestamp else { return .untimed }
        if !connectionPlaced {
            if let early = placeConnection(
                kind: kind,
                source: source,
                isKeyframe: isKeyframe,
                content: content,
                now: now
            ) {
                return early
            }
        }
        guard var offset else { return .waitingForKeyframe }
        if let last = lastWritten[kind], source + offset <= last {
            if history[kind]?.contains(content, near: source + offset) == true { return .duplicate }
            guard
                isWrap(source: source)
                    || isJumpBack(kind: kind, output: source + offset, last: last, isKeyframe: isKeyframe)
            else {
                // Behind what was written, and not written itself: a packet dropped before (before a keyframe, in a
                // gap) that a new connection sends again, or timestamps that did not increase. Too late to write.
                return .duplicate
            }
            offset = jump(source: source, now: now)
        } else if let last = lastWritten.values.max(),
            source + offset > last + wallGap(now: now) + Self.forwardJumpSeconds * 1_000_000
        {
            // Measured against the whole file, not the kind: audio back after a long silence is not a jump.
            offset = jump(source: source, now: now)
        }
        let output = source + offset
        if kind == .video, videoNeedsKeyframe {
            let seamless = lastWritten[.video].map { last in output - last <= (videoStep ?? 0) * 3 / 2 } ?? false
            guard isKeyframe || seamless else { return .waitingForKeyframe }
            videoNeedsKeyframe = false
        }
        if kind != .video, lastWritten[.video] == nil { return .waitingForKeyframe }
        if output < 0 { return .waitingForKeyframe }
        if kind == .video, let last = lastWritten[.video] {
            let step = output - last
            let frames = 4 * (videoStep ?? 40_000)
            if step > Self.holeSeconds * 1_000_000, step > frames, discontinuity == nil {
                discontinuity = Discontinuity(kind: .hole, from: last, to: output, sourceStep: step)
            }
            if step <= frames || videoStep == nil { videoStep = step }
        }
        if kind == .video, isKeyframe {
            if let previous = lastKeyframeOutput {
                longestGOP = min(max(longestGOP, output - previous), Self.historySeconds * 1_000_000)
            }
            lastKeyframeOutput = output
        }
        lastWritten[kind] = output
        history[kind, default: WrittenHistory()].append(
            output: output,
            content: content,
            isKeyframe: isKeyframe && kind == .video
        )
        lastSource = source
        lastWriteTime = now
        let shift = Rational(1, 1_000_000).rescale(offset, to: timeBase)
        return .write(shift: shift)
    }

    /// The first packets of a connection: places its clock (by a video packet), or decides a packet that comes before
    /// that. Returns nil when the packet is to be decided on the placed clock.
    private mutating func placeConnection(
        kind: StreamInfo.Kind,
        source: Int64,
        isKeyframe: Bool,
        content: UInt64,
        now: UInt64
    ) -> Decision? {
        guard let currentOffset = offset, let lastSource else {
            // The recording's first packet is a video keyframe at time 0: audio and inter frames before it wait.
            guard kind == .video, isKeyframe else { return .waitingForKeyframe }
            offset = -source
            place(sameClock: true)
            sameClock = nil
            return nil
        }
        let sentAgain = history[kind]?.contains(content, near: source + currentOffset) == true
        guard kind == .video else {
            // Audio ahead of the connection's first video: a re-send on either clock is dropped; anything else
            // waits for the video to place the connection (it falls in the gap).
            if sentAgain || history[kind]?.lastMatch(content, keyframesOnly: false, notBefore: matchWindowStart) != nil
            {
                return .duplicate
            }
            return .waitingForKeyframe
        }
        guard !sentAgain else {
            place(sameClock: true)
            return .duplicate
        }
        let sinceLastWrite = wallGap(now: now)
        let plausible =
            source >= lastSource - Self.sameClockWindowSeconds * 1_000_000
            && source <= lastSource + sinceLastWrite + Self.forwardJumpSeconds * 1_000_000
        // Ahead of what was written on the recording's clock, at a plausible distance: new media on the same clock.
        let newOnSameClock = plausible && source + currentOffset > lastWritten[.video] ?? .min
        if newOnSameClock, isKeyframe {
            // New media on the same clock: the file's gap is the media missed.
            place(sameClock: true)
            return nil
        }
        if isKeyframe, let match = history[.video]?.lastMatch(content, keyframesOnly: true, notBefore: matchWindowStart)
        {
            // Sent again on another clock (or restamped): the match says where this clock sits on the file's.
            offset = match - source
            place(sameClock: false)
            return .duplicate
        }
        if !isKeyframe, !newOnSameClock,
            let match = history[.video]?.lastMatch(content, keyframesOnly: false, notBefore: matchWindowStart)
        {
            // Inter frames sent again on another clock (a server restarted mid-GOP): one match could be a picture
            // that repeats, so the clock is taken from ``confirmations`` in a row at the same offset. Each is written
            // already either way; once placed, the frames after them continue the file without waiting for a
            // keyframe (their references are written).
            let candidate = match - source
            if let pending = candidateOffset, abs(pending - candidate) <= Self.sameInstant {
                candidateMatches += 1
            } else {
                candidateOffset = candidate
                candidateMatches = 1
            }
            if candidateMatches >= Self.confirmations {
                offset = candidate
                place(sameClock: false)
            }
            return .duplicate
        }
        // A frame that matches nothing breaks a run of matching inter frames.
        candidateOffset = nil
        candidateMatches = 0
        guard isKeyframe else { return .waitingForKeyframe }
        offset = newClockOffset(source: source, wallGap: sinceLastWrite)
        place(sameClock: false)
        return nil
    }

    private mutating func place(sameClock: Bool) {
        connectionPlaced = true
        videoNeedsKeyframe = true
        self.sameClock = sameClock
    }

    /// Microseconds since the last packet was written.
    private func wallGap(now: UInt64) -> Int64 {
        Int64((now - min(now, lastWriteTime ?? now)) / 1000)
    }

    /// FLV's 32-bit millisecond timestamps wrapped: a packet 2³² ms behind lands right after the last one.
    private func isWrap(source: Int64) -> Bool {
        guard let lastSource else { return false }
        let unwrapped = source + Self.flvWrap
        return unwrapped >= lastSource - Self.backwardJumpSeconds * 1_000_000
            && unwrapped <= lastSource + Self.forwardJumpSeconds * 1_000_000
    }

    /// Whether a packet behind what was written starts a new clock: only a video keyframe nobody wrote, more than
    /// ``backwardJumpSeconds`` back, says so. Audio and inter frames behind the last packet are often packets
    /// dropped before (audio ahead of the first keyframe, video after a gap) that a new connection sends again:
    /// taking one of them for a jump would place the whole connection wrongly.
    private func isJumpBack(kind: StreamInfo.Kind, output: Int64, last: Int64, isKeyframe: Bool) -> Bool {
        // (Not written at its own time — the caller checked — so even a picture that repeats, a slate or a loop,
        // is a new clock here.)
        kind == .video && isKeyframe && output < last - Self.backwardJumpSeconds * 1_000_000
    }

    /// The earliest output time a re-send may match by content on another clock: two of the longest GOPs written
    /// (at least ``minimumMatchWindowSeconds``) before the last video packet. A GOP cache re-sends one GOP; an older
    /// match is a picture that recurs (a looping source, a slate), not a re-send.
    private var matchWindowStart: Int64 {
        let last = lastWritten[.video] ?? lastWritten.values.max() ?? 0
        return last - max(2 * longestGOP, Self.minimumMatchWindowSeconds * 1_000_000)
    }

    /// A discontinuity inside a connection: the clock is placed again right after the last written packet.
    private mutating func jump(source: Int64, now: UInt64) -> Int64 {
        let old = offset ?? 0
        let lastVideo = lastWritten[.video] ?? 0
        // Nothing is missing across a jump inside a connection (a wrap, a restamp): video goes on without waiting.
        let new = newClockOffset(source: source, wallGap: wallGap(now: now))
        offset = new
        sameClock = false
        discontinuity = Discontinuity(
            kind: .clockJump,
            from: lastVideo,
            to: source + new,
            sourceStep: (source + old) - lastVideo
        )
        return new
    }

    /// The offset that puts `source` after the last written packet, advanced by the wall-clock gap (at least a frame).
    private func newClockOffset(source: Int64, wallGap: Int64) -> Int64 {
        let lastOutput = lastWritten.values.max() ?? 0
        return lastOutput + max(wallGap, videoStep ?? 40_000) - source
    }
}

/// What one kind of a recording wrote lately: output time, content hash and keyframe flag, oldest first, bounded by
/// ``TimelineSplicer/historySeconds`` and ``TimelineSplicer/historyLimit``.
struct WrittenHistory {
    private struct Entry {
        var output: Int64
        var content: UInt64
        var isKeyframe: Bool
    }

    private var entries: [Entry] = []
    private var start = 0

    mutating func append(output: Int64, content: UInt64, isKeyframe: Bool) {
        entries.append(Entry(output: output, content: content, isKeyframe: isKeyframe))
        let oldest = output - TimelineSplicer.historySeconds * 1_000_000
        while start < entries.count,
            entries.count - start > TimelineSplicer.historyLimit || entries[start].output < oldest
        {
            start += 1
        }
        // Compact once the dropped front is as large as what is kept.
        if start > 256, start * 2 > entries.count {
            entries.removeFirst(start)
            start = 0
        }
    }

    /// Whether `content` was written within ``TimelineSplicer/sameInstant`` of `output`.
    func contains(_ content: UInt64, near output: Int64) -> Bool {
        var low = start
        var high = entries.count
        let from = output - TimelineSplicer.sameInstant
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].output < from { low = middle + 1 } else { high = middle }
        }
        var index = low
        while index < entries.count, entries[index].output <= output + TimelineSplicer.sameInstant {
            if entries[index].content == content { return true }
            index += 1
        }
        return false
    }

    /// The output time of the latest entry with `content`, not before `notBefore`.
    func lastMatch(_ content: UInt64, keyframesOnly: Bool, notBefore: Int64) -> Int64? {
        var index = entries.count - 1
        while index >= start, entries[index].output >= notBefore {
            let entry = entries[index]
            if entry.content == content, !keyframesOnly || entry.isKeyframe { return entry.output }
            index -= 1
        }
        return nil
    }
}
