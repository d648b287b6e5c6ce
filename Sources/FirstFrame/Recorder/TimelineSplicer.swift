import CFFmpeg

/// Joins the packets of a recording's connections into one timeline that a muxer takes: it starts the file on a
/// video keyframe at time 0, keeps every stream's timestamps increasing across reconnects, drops the packets a
/// new connection re-sends (an edge's GOP cache), and after a real gap resumes video only at a keyframe.
///
/// Timestamps are handled in microseconds, one offset for all streams (audio and video stay in sync). At the first
/// packet of a new connection the splicer decides whether its clock continues the old one: a first timestamp
/// within [last − 10 s, last + wall-clock gap + 10 s] is the same channel clock (the offset stays, and what was
/// already written is recognised by its timestamps: an edge's GOP cache re-sends a few seconds at most); anything
/// else is a new clock (a restarted publisher, an edge that starts each client at 0), and the file's timeline
/// advances by the wall-clock gap. Inside a connection, video that jumps back more than a second or ahead more than
/// ten (an MPEG-TS discontinuity, a relay across a publisher restart) is placed again as a new clock.
struct TimelineSplicer {
    enum Decision: Equatable {
        /// Write it, its timestamps moved by this many ticks of the packet's time base.
        case write(shift: Int64)
        /// Already written (a re-sent packet).
        case duplicate
        /// Video after a gap, before a keyframe; or anything before the recording's first keyframe.
        case waitingForKeyframe
        /// No timestamp to place it by.
        case untimed
    }

    /// Microseconds added to source timestamps; nil before the first packet.
    private(set) var offset: Int64?
    /// Per kind: the last written dts, output microseconds.
    private var lastWritten: [StreamInfo.Kind: Int64] = [:]
    /// The last written video dts step, microseconds: what "the next frame" means.
    private var videoStep: Int64?
    /// The last written source dts (µs) and when it was written (MonotonicClock ns): for the next connection.
    private var lastSource: Int64?
    private var lastWriteTime: UInt64?
    /// Whether video may resume only at a keyframe (at the start and after a gap).
    private var videoNeedsKeyframe = true
    /// Whether the current connection's clock decision has been made.
    private var connectionPlaced = false
    private(set) var sameClock: Bool?

    /// A new connection starts: its first packet will place it.
    mutating func startConnection() {
        connectionPlaced = false
        sameClock = nil
    }

    /// The output time, in seconds, of the last packet written.
    var lastWrittenSeconds: Double { Double(lastWritten.values.max() ?? 0) / 1e6 }
    var hasWritten: Bool { !lastWritten.isEmpty }

    mutating func decide(kind: StreamInfo.Kind, dts: Int64?, pts: Int64?, timeBase: Rational, isKeyframe: Bool,
                         now: UInt64) -> Decision {
        guard let sourceTicks = dts ?? pts else { return .untimed }
        let source = timeBase.rescale(sourceTicks, to: Rational(1, 1_000_000))
        if !connectionPlaced {
            // Placed by the first video keyframe (or any video packet after the first connection): audio alone
            // does not start a file.
            guard kind == .video else { return hasWritten ? placeLater(kind: kind, source: source) : .waitingForKeyframe }
            // The recording's first packet is a keyframe at time 0: inter frames before it do not place it.
            guard offset != nil || isKeyframe else { return .waitingForKeyframe }
            place(source: source, now: now)
        }
        guard var offset else { return .waitingForKeyframe }
        if kind == .video, let last = lastWritten[.video], source + offset < last - 1_000_000 || source + offset > last + 10_000_000 {
            place(source: source, now: now, newClock: true)
            offset = self.offset!
        }
        let output = source + offset
        if let last = lastWritten[kind], output <= last { return .duplicate }
        if kind == .video, videoNeedsKeyframe {
            let seamless = lastWritten[.video].map { last in output - last <= (videoStep ?? 0) * 3 / 2 } ?? false
            guard isKeyframe || seamless else { return .waitingForKeyframe }
            videoNeedsKeyframe = false
        }
        if kind != .video, lastWritten[.video] == nil { return .waitingForKeyframe }
        if output < 0 { return .waitingForKeyframe }
        if kind == .video, let last = lastWritten[.video] { videoStep = output - last }
        lastWritten[kind] = output
        lastSource = source
        lastWriteTime = now
        let shift = Rational(1, 1_000_000).rescale(offset, to: timeBase)
        return .write(shift: shift)
    }

    /// Audio that arrives on a new connection before its first video packet: held to the old offset's duplicate
    /// rule when the clock is likely the same, otherwise dropped until video places the connection.
    private func placeLater(kind: StreamInfo.Kind, source: Int64) -> Decision {
        guard let offset, let last = lastWritten[kind] else { return .waitingForKeyframe }
        return source + offset <= last ? .duplicate : .waitingForKeyframe
    }

    private mutating func place(source: Int64, now: UInt64, newClock: Bool = false) {
        connectionPlaced = true
        videoNeedsKeyframe = true
        guard let currentOffset = offset, let lastSource, let lastWriteTime else {
            // The recording's first packet: the file starts at 0.
            offset = -source
            return
        }
        let wallGap = Int64((now - min(now, lastWriteTime)) / 1000)
        let continues = !newClock && source >= lastSource - 10_000_000 && source <= lastSource + wallGap + 10_000_000
        sameClock = continues
        if !continues {
            let lastOutput = lastWritten.values.max() ?? 0
            offset = lastOutput + max(wallGap, videoStep ?? 40_000) - source
        } else {
            offset = currentOffset
        }
    }
}
