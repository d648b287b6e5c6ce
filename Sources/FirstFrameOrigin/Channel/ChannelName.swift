/// The name of a channel (`room7` in `/live/room7.flv`), and what it stands for: which synthesised look it plays
/// and at which GOP of the loop it starts.
///
/// Synthesising a look costs an encode (about 0.9 s of CPU for the default 10 s, 640×360 channel), so a hundred
/// names cannot each have their own. Names map onto ``OriginConfiguration/distinctPrograms`` looks by a stable
/// hash (FNV-1a, the same in every process and on every run), and onto a starting GOP by another part of it, so
/// that channels sharing a look still send different frames at any moment. `stream` is always the original
/// look from its first GOP: the channel the origin has always served.
package struct ChannelName: Sendable, Hashable, CustomStringConvertible {
    package let value: String

    /// The channel the origin serves at `/live/stream.flv`, started with the origin.
    package static let standard = ChannelName(validated: "stream")

    /// Longest name accepted: names come from request paths, and each one is a channel with a running clock.
    package static let maximumLength = 100

    /// `nil` unless `value` is 1…100 characters from `A–Z a–z 0–9 - _ . ~` (URL-safe without escaping).
    package init?(_ value: String) {
        guard (1...Self.maximumLength).contains(value.utf8.count),
            value.utf8.allSatisfy({ Self.allowed.contains($0) })
        else { return nil }
        self.value = value
    }

    private init(validated value: String) {
        self.value = value
    }

    package var description: String { value }

    /// The look this channel plays, out of `distinctPrograms`: look 0 for `stream` only (unless there is just
    /// one look), 1…distinctPrograms − 1 for every other name.
    package func look(distinctPrograms: Int) -> ChannelLook {
        guard self != .standard, distinctPrograms > 1 else { return .original }
        return ChannelLook(index: 1 + Int(stableHash % UInt64(distinctPrograms - 1)))
    }

    /// The GOP of the loop the channel starts at, out of `gopsPerLoop`: 0 for `stream`.
    package func firstGOP(gopsPerLoop: Int) -> Int {
        guard self != .standard, gopsPerLoop > 1 else { return 0 }
        // The high half of the hash: independent of the low half that picks the look.
        return Int((stableHash >> 32) % UInt64(gopsPerLoop))
    }

    /// 64-bit FNV-1a of the UTF-8 name. Swift's `Hasher` is seeded per process, and a channel must look the same
    /// in every run and in the CLI and the tests alike.
    package var stableHash: UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in value.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    private static let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~".utf8)
}
