import FirstFrameFFmpeg
import Foundation

extension ContentCheck {
    /// Compares the packets of a recording (`recorded`, in file order) with what was sent (`truth`) and with the
    /// `gaps` its session log names. Pure: lists in, verdict out.
    ///
    /// Each kind is its own sequence, and the file is expected to be a subsequence of the truth. The walk goes
    /// through the file in order and keeps the offset between file time and truth time (one for all kinds: a
    /// recorder moves all its streams together). Each file packet is matched to the sent packet with the same
    /// content (kind, size, hash) nearest the truth time the offset predicts for it — never to the first packet with
    /// that hash: a looping source sends the same payload again every loop, and a GOP re-sent on a reconnect is the
    /// same payload seconds earlier. The first packet, with no offset yet, takes the candidate that the most of
    /// the following packets agree with (the earliest among equals: a truth that holds a looping source's pass more
    /// than once, from connections before the recording's, is ambiguous there, so give it the channel's truth from
    /// the recording's start). A recorder that moves its timeline across a reconnect by more than half the source's
    /// loop would be matched to the wrong pass. Then:
    /// - a sent packet already matched: a duplicate;
    /// - an unmatched sent packet from before the last one matched of its kind: out of order;
    /// - no sent packet with that content at all: unknown;
    /// - otherwise a match, and the offset follows it (across a reconnect the recorder may move its timeline).
    ///
    /// Sent packets left unmatched form runs per kind. A run between two matched packets is inside a gap when the
    /// gap starts in that hole of the file (its `fromSeconds` between the file times of the packets around the run,
    /// within one frame); otherwise it is missing and unlogged. Runs before the first match of a kind, and after
    /// its last, are outside the recording (an open gap, one never closed, takes a run after the last match).
    package static func compare(
        recorded: [PacketDigest],
        truth unsorted: [PacketDigest],
        gaps: [RecordingGap]
    ) -> ContentCheck {
        var check = ContentCheck()
        // Stable sort by time: the truth's order within a kind is its time order.
        let truth = unsorted.enumerated().sorted {
            ($0.element.milliseconds, $0.offset) < ($1.element.milliseconds, $1.offset)
        }.map(\.element)
        check.sent = truth.count
        check.written = recorded.count
        let frame = Self.frameMilliseconds(truth)
        var walk = Walk(truth: truth)
        for index in recorded.indices { walk.place(index, of: recorded, into: &check) }

        // Unmatched sent packets, in runs per kind, placed against the gaps.
        var gapMatches = gaps.map {
            GapMatch(fromSeconds: $0.fromSeconds, toSeconds: $0.toSeconds, missing: 0, boundsMatch: nil)
        }
        var gapBounds = Array(repeating: (before: Int64.min, after: Int64.min), count: gaps.count)
        let tolerance = frame + 1
        for kind in Set(truth.map(\.kind)).sorted(by: { $0.rawValue < $1.rawValue }) {
            let indices = truth.indices.filter { truth[$0].kind == kind }
            var previous: Int?  // the last matched truth index of this kind
            var run: [Int] = []
            func close(next: Int?) {
                defer { run = [] }
                guard !run.isEmpty else { return }
                guard let previous else {
                    check.beforeStart += run.count
                    return
                }
                let before = recorded[walk.fileIndex[previous]!].milliseconds
                let after = next.map { recorded[walk.fileIndex[$0]!].milliseconds }
                let gap = gaps.indices.first { index in
                    let from = Int64((gaps[index].fromSeconds * 1000).rounded())
                    guard from >= before - tolerance else { return false }
                    if let after { return from <= after + tolerance }
                    return gaps[index].toSeconds == nil
                }
                guard let gap else {
                    if next == nil {
                        check.afterEnd += run.count
                    } else {
                        check.missingUnlogged += run.count
                        check.note(
                            "missing \(run.count) \(kind.rawValue) packets sent at \(truth[run.first!].milliseconds)–"
                                + "\(truth[run.last!].milliseconds) ms, between file \(Self.seconds(before)) and \(Self.seconds(after!)) s: no gap logged"
                        )
                    }
                    return
                }
                check.inGaps += run.count
                gapMatches[gap].missing += run.count
                gapBounds[gap].before = max(gapBounds[gap].before, before)
                if let after { gapBounds[gap].after = max(gapBounds[gap].after, after) }
            }
            for index in indices {
                if walk.fileIndex[index] != nil {
                    close(next: index)
                    previous = index
                } else {
                    run.append(index)
                }
            }
            close(next: nil)
        }
        for index in gapMatches.indices where gapMatches[index].missing > 0 {
            let from = Int64((gapMatches[index].fromSeconds * 1000).rounded())
            var match = abs(from - gapBounds[index].before) <= tolerance
            if let to = gapMatches[index].toSeconds, gapBounds[index].after != .min {
                match = match && abs(Int64((to * 1000).rounded()) - gapBounds[index].after) <= tolerance
            }
            gapMatches[index].boundsMatch = match
        }
        check.gaps = gapMatches
        return check
    }

    /// The walk through the file: which sent packet each file packet is, and the offset it follows.
    private struct Walk {
        let truth: [PacketDigest]
        /// Truth indices of each content, in time order.
        private let candidates: [Content: [Int]]
        /// Truth index by content and time: for the agreement count of the first packet.
        private let byTime: [Timed: Int]
        /// Which file packet each sent packet was matched to.
        private(set) var fileIndex: [Int?]
        private var lastMatched: [StreamInfo.Kind: Int] = [:]
        /// Truth time minus file time, milliseconds; nil before the first placed packet.
        private var offset: Int64?

        private struct Content: Hashable {
            let kind: StreamInfo.Kind
            let size: Int
            let hash: UInt64
            init(_ packet: PacketDigest) {
                kind = packet.kind
                size = packet.size
                hash = packet.hash
            }
        }

        private struct Timed: Hashable {
            let content: Content
            let milliseconds: Int64
        }

        init(truth: [PacketDigest]) {
            self.truth = truth
            var candidates: [Content: [Int]] = [:]
            var byTime: [Timed: Int] = [:]
            for (index, packet) in truth.enumerated() {
                let content = Content(packet)
                candidates[content, default: []].append(index)
                // The first of the same content at the same time: the agreement count only asks whether there is one.
                let timed = Timed(content: content, milliseconds: packet.milliseconds)
                if byTime[timed] == nil { byTime[timed] = index }
            }
            self.candidates = candidates
            self.byTime = byTime
            fileIndex = Array(repeating: nil, count: truth.count)
        }

        mutating func place(_ index: Int, of recorded: [PacketDigest], into check: inout ContentCheck) {
            let packet = recorded[index]
            guard let options = candidates[Content(packet)] else {
                check.unknown += 1
                check.note("unknown: \(packet) at file \(ContentCheck.seconds(packet.milliseconds)) s was never sent")
                return
            }
            let chosen =
                offset.map { nearest(in: options, to: packet.milliseconds + $0) }
                ?? anchor(options, at: index, of: recorded)
            offset = truth[chosen].milliseconds - packet.milliseconds
            if let earlier = fileIndex[chosen] {
                check.duplicated += 1
                check.note(
                    "duplicate: \(packet) at file \(ContentCheck.seconds(packet.milliseconds)) s was already written at file "
                        + "\(ContentCheck.seconds(recorded[earlier].milliseconds)) s"
                )
                return
            }
            fileIndex[chosen] = index
            if let last = lastMatched[packet.kind], chosen < last {
                check.outOfOrder += 1
                check.note(
                    "out of order: \(packet) at file \(ContentCheck.seconds(packet.milliseconds)) s was sent at "
                        + "\(truth[chosen].milliseconds) ms, before \(truth[last].milliseconds) ms already written"
                )
                return
            }
            lastMatched[packet.kind] = chosen
            check.matched += 1
        }

        /// The candidate whose truth time is nearest `predicted`; between two as near, the one not matched yet, then
        /// the later.
        private func nearest(in options: [Int], to predicted: Int64) -> Int {
            // The first candidate at or after the prediction, and the one before it.
            var low = 0
            var high = options.count
            while low < high {
                let middle = (low + high) / 2
                if truth[options[middle]].milliseconds < predicted { low = middle + 1 } else { high = middle }
            }
            let contenders = [low - 1, low].filter { options.indices.contains($0) }.map { options[$0] }
            return contenders.min { a, b in
                let distanceA = abs(truth[a].milliseconds - predicted)
                let distanceB = abs(truth[b].milliseconds - predicted)
                if distanceA != distanceB { return distanceA < distanceB }
                if (fileIndex[a] == nil) != (fileIndex[b] == nil) { return fileIndex[a] == nil }
                return a > b
            }!
        }

        /// For the first packet: the candidate that the most of the next packets agree with (the same content at the
        /// time its offset predicts); the earliest among equals.
        private func anchor(_ options: [Int], at index: Int, of recorded: [PacketDigest]) -> Int {
            let following = recorded[(index + 1)...].prefix(32)
            var best = (option: options[0], agreeing: -1)
            for option in options.prefix(256) {
                let offset = truth[option].milliseconds - recorded[index].milliseconds
                let agreeing = following.count { next in
                    byTime[Timed(content: Content(next), milliseconds: next.milliseconds + offset)] != nil
                }
                if agreeing > best.agreeing { best = (option, agreeing) }
            }
            return best.option
        }
    }

    /// The sources' frame duration, milliseconds: the median step between video packets (audio's without video),
    /// 40 when there is none.
    private static func frameMilliseconds(_ truth: [PacketDigest]) -> Int64 {
        for kind in [StreamInfo.Kind.video, .audio] {
            let times = truth.filter { $0.kind == kind }.map(\.milliseconds)
            let steps = zip(times, times.dropFirst()).map { $1 - $0 }.filter { $0 > 0 }.sorted()
            if !steps.isEmpty { return steps[steps.count / 2] }
        }
        return 40
    }

    static func seconds(_ milliseconds: Int64) -> String { String(format: "%.3f", Double(milliseconds) / 1000) }

    mutating func note(_ problem: String) {
        if problems.count < Self.problemsKept { problems.append(problem) }
    }
}
