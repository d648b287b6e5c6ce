import ArgumentParser

@main
struct FirstFrameCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "firstframe",
        abstract: "Measure and shorten the time a live stream takes to show its first frame.",
        subcommands: [
            ProbeCommand.self, SweepCommand.self, ServeCommand.self, DemoCommand.self, LoadCommand.self,
            BenchCommand.self, RecordCommand.self, ExporterCommand.self, KnobsCommand.self, FeedCommand.self,
        ]
    )

    /// Logging first (swift-log to stderr, FFmpeg's lines through it: ``CommandLineLogging``), then the command.
    static func main() async {
        CommandLineLogging.setUp()
        await main(nil)
    }
}
