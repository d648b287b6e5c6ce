import FirstFrameOrigin
import Foundation
import Testing

/// One case of the origin's content matrix: a channel of `gopSeconds` GOPs, an edge with or without a GOP cache
/// (`gop` or `live` join), whose connections drop `phase` of the way into a GOP.
struct ContentDropCase: Sendable, CustomTestStringConvertible {
    enum Phase: String, Sendable, CaseIterable {
        case early, mid, late

        /// How far into a GOP the drop comes.
        var fraction: Double {
            switch self {
            case .early: 0.1
            case .mid: 0.5
            case .late: 0.9
            }
        }
    }

    var gopSeconds: Double
    var phase: Phase
    /// `.gop`: the edge re-sends the current GOP on a reconnect. `.live` with `waitkey=0`: it sends from "now", and
    /// what the recorder cannot write before the next keyframe is a logged gap.
    var join: JoinMode

    var testDescription: String {
        "\(join == .gop ? "gop join" : "live join, waitkey=0"), \(Int(gopSeconds)) s GOP, \(phase) drop "
            + "(\(Int(phase.fraction * 100)) % into a GOP)"
    }

    /// Every GOP length, phase and join: 18 cases.
    static let all: [ContentDropCase] = [1.0, 2.0, 4.0].flatMap { gop in
        [JoinMode.gop, .live].flatMap { join in
            Phase.allCases.map { ContentDropCase(gopSeconds: gop, phase: $0, join: join) }
        }
    }

    /// The default run's representative few: each GOP length once with a GOP cache at a rotating phase (the
    /// existing content tests cover 2 s GOPs at 25 % and 90 %), and late and early drops without one.
    static let representative: [ContentDropCase] = [
        ContentDropCase(gopSeconds: 1, phase: .late, join: .gop),
        ContentDropCase(gopSeconds: 2, phase: .early, join: .gop),
        ContentDropCase(gopSeconds: 4, phase: .mid, join: .gop),
        ContentDropCase(gopSeconds: 2, phase: .late, join: .live),
        ContentDropCase(gopSeconds: 1, phase: .early, join: .live),
    ]

    /// All 18 when `FIRSTFRAME_LONG_TESTS=1`, else the representative few.
    static var selected: [ContentDropCase] {
        ProcessInfo.processInfo.environment["FIRSTFRAME_LONG_TESTS"] == "1" ? all : representative
    }

    /// A `live` edge answers this late (the first connection too), so that its rejoin is not seamless.
    var responseDelayMilliseconds: Int {
        guard join == .live else { return 0 }
        // Where the rejoin lands in its GOP, counting the delay; a rejoin right at a keyframe would lose nothing sent.
        let gop = gopSeconds * 1000
        let landing = (phase.fraction * gop + 300).truncatingRemainder(dividingBy: gop)
        return landing > gop - 250 ? 600 : 300
    }

    /// `close_after_ms` for a connection whose response head goes out `responseDelayMilliseconds` from now, when
    /// the channel's next keyframe is `nextKeyframe` ms away: the drop comes `phase` into a GOP, at least
    /// `leadMilliseconds` after the first keyframe the connection sends (at once from a GOP cache; else the first
    /// one due after the response head).
    func closeAfterMilliseconds(nextKeyframe: Double, leadMilliseconds: Double = 700) -> Int {
        let gop = gopSeconds * 1000
        let delay = Double(responseDelayMilliseconds)
        var firstKeyframe = join == .gop ? delay : nextKeyframe
        while join != .gop, firstKeyframe < delay + 50 { firstKeyframe += gop }
        var drop = nextKeyframe + phase.fraction * gop
        while drop < firstKeyframe + leadMilliseconds { drop += gop }
        return Int(drop - delay)
    }
}
