import Foundation

/// A link condition of the network bench: a named profile of the rig (`lan`, `wifi`, `4g`, `weak`, the values
/// `scripts/netns-link.sh` and `rig.py` define) or a custom round trip, rate and loss, validated here before any
/// namespace is made.
package struct NetworkProfile: Sendable, Equatable, CustomStringConvertible {
    /// The profile's name: the rig's name for it, `custom` for explicit values.
    package let name: String
    /// Round-trip time, ms (each direction delays half of it).
    package let rttMs: Double
    /// Rate of each direction, kbit/s; 0 is unlimited.
    package let rateKbit: Double
    /// Random loss of each direction, percent.
    package let lossPercent: Double

    /// The rig's profiles, as `scripts/netns-link.sh` defines them (issue 23's table: wifi 20 ms 30 Mbit/s; 4g 60 ms
    /// 8 Mbit/s 0.5 %; weak 150 ms 1.5 Mbit/s 2 %; lan is plain loopback).
    package static let named: [NetworkProfile] = [
        NetworkProfile(name: "lan", rttMs: 0, rateKbit: 0, lossPercent: 0),
        NetworkProfile(name: "wifi", rttMs: 20, rateKbit: 30_000, lossPercent: 0),
        NetworkProfile(name: "4g", rttMs: 60, rateKbit: 8_000, lossPercent: 0.5),
        NetworkProfile(name: "weak", rttMs: 150, rateKbit: 1_500, lossPercent: 2),
    ]

    /// What a custom profile may ask for. Below 100 kbit/s the 1.3 Mbit/s test stream cannot flow at all; above 50 %
    /// loss nothing opens; 10 s is far past any real path's round trip.
    package static let rttRange = 0.0...10_000
    package static let rateRange = 100.0...10_000_000
    package static let lossRange = 0.0...50

    /// A named profile, or `nil` for an unknown name.
    package static func named(_ name: String) -> NetworkProfile? {
        named.first { $0.name == name }
    }

    /// Parses a comma-separated list of profile names (`wifi,4g`): each known, none twice.
    package static func list(_ text: String) throws(NetworkBenchError) -> [NetworkProfile] {
        var profiles: [NetworkProfile] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let name = part.trimmingCharacters(in: .whitespaces)
            guard let profile = named(name) else {
                throw .invalidOption(
                    "--profiles: unknown profile '\(name)' (\(named.map(\.name).joined(separator: ", ")))"
                )
            }
            guard !profiles.contains(profile) else { throw .invalidOption("--profiles: '\(name)' given twice") }
            profiles.append(profile)
        }
        return profiles
    }

    /// A custom profile; every value finite and in range (the rate 0 for unlimited).
    package static func custom(
        rttMs: Double,
        rateKbit: Double,
        lossPercent: Double
    ) throws(NetworkBenchError) -> NetworkProfile {
        guard rttMs.isFinite, rttRange.contains(rttMs) else {
            throw .invalidOption("--rtt-ms \(rttMs): expected a round trip of 0–10000 ms")
        }
        guard rateKbit.isFinite, rateKbit == 0 || rateRange.contains(rateKbit) else {
            throw .invalidOption("--rate-kbit \(rateKbit): expected 100–10000000 kbit/s, or 0 for unlimited")
        }
        guard lossPercent.isFinite, lossRange.contains(lossPercent) else {
            throw .invalidOption("--loss \(lossPercent): expected a loss of 0–50 %")
        }
        return NetworkProfile(name: "custom", rttMs: rttMs, rateKbit: rateKbit, lossPercent: lossPercent)
    }

    /// Whether the profile needs the link emulator (lan is plain loopback).
    package var emulated: Bool { rttMs > 0 || rateKbit > 0 || lossPercent > 0 }

    /// `rig.py up`'s options for this profile.
    var rigArguments: [String] {
        guard name == "custom" else { return ["--profile", name] }
        return [
            "--profile", "custom", "--rtt-ms", Self.decimal(rttMs), "--rate-kbit", Self.decimal(rateKbit),
            "--loss", Self.decimal(lossPercent),
        ]
    }

    package var description: String {
        guard emulated else { return "\(name) (plain loopback)" }
        let rate = rateKbit == 0 ? "unlimited" : "\(Self.decimal(rateKbit)) kbit/s"
        return "\(name) (RTT \(Self.decimal(rttMs)) ms, \(rate), loss \(Self.decimal(lossPercent)) %)"
    }

    /// A plain decimal, as `netns-link.sh` takes it (no exponent), at most three decimals.
    static func decimal(_ value: Double) -> String {
        var text = String(format: "%.3f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}
