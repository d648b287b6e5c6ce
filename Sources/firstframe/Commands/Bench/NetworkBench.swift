import ArgumentParser
import FirstFrameBenchmarks
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `firstframe bench network`: first-picture times over emulated links (issue 23), every contender interleaved on
/// the network rig, as multiples of each open's floor (``NetworkBenchmark``).
struct NetworkBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "network",
        abstract:
            "First picture over emulated links (namespace, link emulator, real servers): p50/p90 and × floor per protocol, contender and profile.",
        discussion: """
            Needs root, network namespaces with iptables NFQUEUE, `make deps`, `make link-emulator` and, for the \
            ffmpeg-tuned contender, `make tuned-open`. The servers and the floor model are documented in \
            scripts/network-rig/README.md. The table goes to standard output, progress to standard error.
            """
    )

    @Option(
        help:
            "Comma-separated profiles: lan, wifi (20 ms, 30 Mbit/s), 4g (60 ms, 8 Mbit/s, 0.5 %), weak (150 ms, 1.5 Mbit/s, 2 %). Default wifi,4g,weak, or only the custom profile when --rtt-ms, --rate-kbit or --loss is given."
    )
    var profiles: String?

    @Option(name: .customLong("rtt-ms"), help: "A custom profile's round trip, ms (0–10000).")
    var rttMs: Double?

    @Option(
        name: .customLong("rate-kbit"),
        help: "A custom profile's rate per direction, kbit/s (100–10000000; 0 = unlimited)."
    )
    var rateKbit: Double?

    @Option(name: .customLong("loss"), help: "A custom profile's loss per direction, percent (0–50).")
    var lossPercent: Double?

    @Option(help: "Comma-separated protocols: \(NetworkBenchmark.protocols.joined(separator: ", ")).")
    var protocols = NetworkBenchmark.protocols.joined(separator: ",")

    @Option(help: "Comma-separated contenders: \(NetworkBenchmark.contenders.joined(separator: ", ")).")
    var contenders = NetworkBenchmark.defaultContenders.joined(separator: ",")

    @Option(
        name: .customLong("repeat"),
        help: "Rounds per profile (1–1000); each opens every protocol × contender once."
    )
    var repeats = 10

    @Option(help: "Directory for each profile's results (PROFILE.json). Default: network-bench-<time> here.")
    var out: String?

    @Option(help: "The rig's network namespace name (1–32 of A–Z a–z 0–9 _ -).")
    var namespace = "ffbench"

    @Option(help: "The firstframe binary the preset contenders run. Default: this executable.")
    var binary: String?

    @Option(
        name: .customLong("rig-scripts"),
        help: "scripts/network-rig of the repository. Default: found from here or the executable."
    )
    var rigScripts: String?

    @Flag(name: .customLong("keep-up"), help: "Leave the (last) rig up at the end and on failure.")
    var keepUp = false

    @Flag(help: "Print each profile's rig, floors and summary rows as one JSON document instead of the table.")
    var json = false

    func validate() throws {
        _ = try options()
        guard NetworkRig.validNamespace(namespace) else {
            throw ValidationError("--namespace '\(namespace)': 1–32 of A–Z a–z 0–9 _ -")
        }
    }

    /// The options, checked: every name known, every number finite and in range.
    private func options() throws -> NetworkBenchmark.Options {
        do {
            var chosen: [NetworkProfile] = []
            if let profiles { chosen = try NetworkProfile.list(profiles) }
            if rttMs != nil || rateKbit != nil || lossPercent != nil {
                chosen.append(
                    try NetworkProfile.custom(rttMs: rttMs ?? 0, rateKbit: rateKbit ?? 0, lossPercent: lossPercent ?? 0)
                )
            } else if profiles == nil {
                chosen = try NetworkProfile.list("wifi,4g,weak")
            }
            guard (1...1000).contains(repeats) else { throw NetworkBenchError.invalidOption("--repeat must be 1–1000") }
            let stamp = ISO8601DateFormatter.string(
                from: Date(),
                timeZone: .current,
                formatOptions: [.withFullDate, .withTime]
            )
            return NetworkBenchmark.Options(
                profiles: chosen,
                protocols: try NetworkBenchmark.list(
                    protocols,
                    known: NetworkBenchmark.protocols,
                    option: "--protocols"
                ),
                contenders: try NetworkBenchmark.list(
                    contenders,
                    known: NetworkBenchmark.contenders,
                    option: "--contenders"
                ),
                repeats: repeats,
                outDirectory: URL(fileURLWithPath: out ?? "network-bench-\(stamp)"),
                binary: binary ?? URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path,
                keepUp: keepUp
            )
        } catch let error as NetworkBenchError {
            throw ValidationError(error.description)
        }
    }

    func run() async throws {
        let options = try options()
        let rig = try NetworkRig(scripts: NetworkRig.locateScripts(explicit: rigScripts), namespace: namespace)
        // SIGINT and SIGTERM stop the running script (its whole process group: Foundation starts each child in a
        // group of its own, so the terminal's ^C reaches only this process) and tear the rig down.
        let start = ContinuousClock.now
        let outcome: NetworkBenchmark.Outcome
        let stop: @Sendable (Int32) -> Void = { _ in
            FileHandle.standardError.write(Data("\nbench network: interrupted; stopping\n".utf8))
            rig.cancel()
        }
        do {
            outcome = try await InterruptSignals.handling(stop) {
                try await NetworkBenchmark.run(options, rig: rig) { line in
                    FileHandle.standardError.write(Data((line + "\n").utf8))
                }
            }
        } catch NetworkBenchError.interrupted {
            FileHandle.standardError.write(Data("bench network: interrupted\n".utf8))
            throw ExitCode(130)
        }
        if json {
            print(try outcome.json())
        } else {
            print(outcome.table, terminator: "")
        }
        let seconds = (ContinuousClock.now - start).components.seconds
        FileHandle.standardError.write(
            Data("bench network: \(seconds) s; results in \(options.outDirectory.path)\n".utf8)
        )
    }
}
