import ArgumentParser
import CFFmpeg
import FirstFrame
import FirstFrameBenchmarks
import FirstFrameFFmpeg
import FirstFrameOrigin
import FirstFrameRendering
import Foundation
import Logging

/// Starts the origin in-process and opens it with the `ffmpeg` preset (stock behaviour) and with `instant`, at
/// the same point of the GOP, showing both waterfalls and what instant saves.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract:
            "Open the embedded live origin with stock FFmpeg settings and with instant; show both waterfalls and the saving."
    )

    @Option(help: "Rounds per join mode (each at a random point of the GOP).")
    var runs: Int = 1

    @Option(help: "Seconds before an open is abandoned.")
    var timeout: Double = 15

    @Flag(help: "Print the reports as JSON Lines.")
    var json = false

    @OptionGroup var origin: OriginOptions

    func validate() throws {
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
    }

    func run() async throws {
        FFmpegLog.level = .quiet
        let failed = try await origin.withEmbeddedOrigin(label: "firstframe.demo") { server in
            try await compare(on: server)
        }
        if failed { throw ExitCode(1) }
    }

    /// Every round, each join mode: ffmpeg then instant at one GOP phase. Returns whether any open failed.
    private func compare(on server: LiveOrigin) async throws -> Bool {
        let program = server.program
        let media = program.configuration
        if !json {
            print(
                "FirstFrame demo: libavformat \(Self.version(avformat_version())) against the loopback origin \(server.baseURL)"
            )
            print(
                "\(program.videoCodec) \(media.width)x\(media.height)@\(media.framesPerSecond), GOP \(media.gopSeconds) s"
                    + (media.audio ? ", aac \(media.audioSampleRate) Hz" : "")
                    + ", \(Int(program.bitsPerSecond / 1000)) kbit/s"
            )
        }
        var failed = false
        for round in 1...runs {
            for mode in [JoinMode.live, .gop] {
                let lead = Double.random(in: 100...1900)
                var reports: [FirstFrameReport] = []
                for preset in [Preset.ffmpeg, .instant] {
                    try await OpenBenchmark.waitForPhase(server, millisecondsBeforeKeyframe: lead)
                    var knobs = preset.knobs
                    knobs.totalDeadline = timeout
                    let opener = try StreamOpener(
                        knobs: knobs,
                        presetName: preset.rawValue,
                        logger: CommandLineLogging.opens
                    )
                    let report = await Progress.run("\(mode.rawValue): opening with \(preset.rawValue)") {
                        await opener.report(opening: server.url(mode))
                    }
                    reports.append(report)
                    failed = failed || report.outcome == .failed
                }
                if json {
                    for report in reports { print(try ReportRendering.jsonLine(report)) }
                    continue
                }
                print("")
                print("— \(mode.rawValue) join, round \(round), \(Int(lead)) ms before the next keyframe —")
                for report in reports {
                    print(ReportRendering.waterfall(report))
                    print("")
                }
                if let stock = reports[0].summary.firstVideoFrameMs, let instant = reports[1].summary.firstVideoFrameMs
                {
                    print(
                        String(
                            format: "saving: %.1f ms → %.1f ms, %.0f ms less (%.0f%%)",
                            stock,
                            instant,
                            stock - instant,
                            (stock - instant) / stock * 100
                        )
                    )
                }
            }
        }
        return failed
    }

    private static func version(_ packed: UInt32) -> String {
        "\(packed >> 16).\(packed >> 8 & 0xFF).\(packed & 0xFF)"
    }
}
