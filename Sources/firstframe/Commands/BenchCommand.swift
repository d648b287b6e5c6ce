import ArgumentParser
import FirstFrame
import FirstFrameOrigin
import Foundation
import Logging

/// `firstframe bench`: figures measured side by side in one run.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks, each comparing its variants within one run.",
        subcommands: [OpenBench.self, HooksBench.self, RecordBench.self, RTMPBench.self, ConcurrentBench.self],
        defaultSubcommand: OpenBench.self
    )
}
