import Foundation

/// A live stream's GOP as seen from one kept connection: learned from the wall times at which its video keyframes
/// arrived, it tells the phase (milliseconds after the edge's last keyframe) at any instant, and when a phase comes
/// next.
///
/// An edge with a GOP cache sends the cached GOP at once, so the first keyframes a connection reads arrive in a
/// burst, ahead of real time; only the ones that arrive as the edge sends them tell its clock. A keyframe interval
/// is *live* when its wall time matches its timestamps (within ``tolerance(_:)``), or, for a stream without
/// timestamps, when it is at least ``minimumLiveIntervalMs`` long. The GOP is *regular* once a live interval
/// agrees with the interval before it (by timestamps, which a burst keeps, or by wall time); from then on each
/// live keyframe that keeps the rhythm moves the anchor, and one that breaks it is counted as irregular.
///
/// Times are ``MonotonicClock`` nanoseconds; lengths and phases are milliseconds.
struct GOPClock: Sendable {
    struct Keyframe: Sendable {
        /// When the keyframe's packet was read.
        var wallNs: UInt64
        /// Its decoding timestamp in milliseconds, when the demuxer gave one.
        var timestampMs: Double?
    }

    /// The last keyframes seen (a few are enough).
    private(set) var keyframes: [Keyframe] = []
    /// The GOP's length in ms, once learned.
    private(set) var lengthMs: Double?
    /// The arrival of the last live keyframe that kept the rhythm: phase 0.
    private(set) var anchorNs: UInt64?
    /// Keyframes after learning that broke the rhythm (an extra keyframe at a scene cut, a late one, a burst).
    private(set) var irregularKeyframes = 0
    /// The live, regular intervals (wall ms) the length is the mean of; the last few.
    private var regularIntervalsMs: [Double] = []

    /// A wall interval shorter than this, with no timestamps to compare, is a burst, not the edge's clock.
    static let minimumLiveIntervalMs = 100.0

    var isLearned: Bool { lengthMs != nil }

    /// How far two measures of one keyframe interval may differ and still agree: 5 %, at least 30 ms (a real
    /// network's jitter; loopback's is a few ms).
    static func tolerance(_ intervalMs: Double) -> Double { max(0.05 * intervalMs, 30) }

    /// Notes a video keyframe read at `wallNs`, with its timestamp in ms if it has one.
    mutating func observe(keyframeAt wallNs: UInt64, timestampMs: Double?) {
        keyframes.append(Keyframe(wallNs: wallNs, timestampMs: timestampMs))
        if keyframes.count > 8 { keyframes.removeFirst(keyframes.count - 8) }
        guard keyframes.count >= 2 else { return }
        let last = keyframes[keyframes.count - 1]
        let previous = keyframes[keyframes.count - 2]
        let wallMs = Double(last.wallNs &- previous.wallNs) / 1e6
        let stampedMs = Self.stampedInterval(previous, last)
        let live = stampedMs.map { abs(wallMs - $0) <= Self.tolerance($0) } ?? (wallMs >= Self.minimumLiveIntervalMs)
        if let lengthMs {
            if live && abs(wallMs - lengthMs) <= Self.tolerance(lengthMs) {
                regularIntervalsMs.append(wallMs)
                if regularIntervalsMs.count > 8 { regularIntervalsMs.removeFirst() }
                self.lengthMs = regularIntervalsMs.reduce(0, +) / Double(regularIntervalsMs.count)
                anchorNs = last.wallNs
            } else {
                irregularKeyframes += 1
                // A live keyframe off the rhythm is still the edge's last keyframe: phases count from it.
                if live { anchorNs = last.wallNs }
            }
            return
        }
        guard live, keyframes.count >= 3 else { return }
        let before = keyframes[keyframes.count - 3]
        let current = stampedMs ?? wallMs
        let earlier: Double
        if let stamped = Self.stampedInterval(before, previous) {
            earlier = stamped
        } else {
            let wall = Double(previous.wallNs &- before.wallNs) / 1e6
            guard wall >= Self.minimumLiveIntervalMs else { return }
            earlier = wall
        }
        guard earlier > 0, abs(current - earlier) <= Self.tolerance(earlier) else { return }
        lengthMs = wallMs
        regularIntervalsMs = [wallMs]
        anchorNs = last.wallNs
    }

    /// The timestamp interval between two keyframes, when both have timestamps and the second is later.
    private static func stampedInterval(_ first: Keyframe, _ second: Keyframe) -> Double? {
        guard let from = first.timestampMs, let to = second.timestampMs, to > from else { return nil }
        return to - from
    }

    /// The phase at `instantNs` (before or after the anchor): ms after the edge's last keyframe, in [0, length).
    func phaseMs(at instantNs: UInt64) -> Double? {
        guard let lengthMs, let anchorNs else { return nil }
        let sinceAnchor = (Double(instantNs) - Double(anchorNs)) / 1e6
        let phase = sinceAnchor.truncatingRemainder(dividingBy: lengthMs)
        return phase < 0 ? phase + lengthMs : phase
    }

    /// The first instant at or after `notBeforeNs` whose phase is `phaseMs`.
    func nextInstant(ofPhaseMs phaseMs: Double, notBefore notBeforeNs: UInt64) -> UInt64? {
        guard let lengthMs, let anchorNs else { return nil }
        let sinceAnchor = (Double(notBeforeNs) - Double(anchorNs)) / 1e6
        let cycles = ((sinceAnchor - phaseMs) / lengthMs).rounded(.up)
        let targetMs = cycles * lengthMs + phaseMs
        return UInt64(max(0, Double(anchorNs) + targetMs * 1e6))
    }

    /// The phase round `round` (from 0) aims at, for a GOP of `lengthMs`: a golden-ratio sequence from 0.1 of the
    /// GOP, so that the first rounds, and every prefix of them, are spread over the whole GOP (rounds 0, 1, 2 at
    /// 0.1, 0.72, 0.34 of it), kept `margin` away from the keyframe itself (within a few ms of it, jitter decides
    /// whether an open joins just before the keyframe or just after, which on a GOP-cache edge is the whole GOP
    /// apart).
    static func targetPhaseMs(round: Int, lengthMs: Double) -> Double {
        let golden = 0.618_033_988_749_894_8
        let position = (0.1 + Double(round) * golden).truncatingRemainder(dividingBy: 1)
        let margin = min(50, 0.05 * lengthMs)
        return margin + position * (lengthMs - 2 * margin)
    }
}
