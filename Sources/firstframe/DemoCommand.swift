import ArgumentParser
import CFFmpeg
import FirstFrame
import FirstFrameOrigin
import Foundation
import Logging

/// Starts the origin in-process and opens it with stock FFmpeg calls in each join mode, printing where
/// the time to the first picture went.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Open the embedded live origin with FFmpeg in each join mode and print the timings."
    )

    @Option(help: "Opens per join mode.")
    var runs: Int = 3

    @Option(help: "Seconds before an open is abandoned.")
    var timeout: Double = 15

    @Flag(help: "Print the results as JSON.")
    var json = false

    @OptionGroup var origin: OriginOptions

    func run() async throws {
        FFmpegLog.level = .error
        var logger = Logger(label: "firstframe.demo")
        logger.logLevel = .warning
        let server = try await LiveOrigin.start(try origin.configuration(host: "127.0.0.1", port: 0), logger: logger)
        let program = server.program
        let media = program.configuration

        if !json {
            print("FirstFrame demo: stock FFmpeg (libavformat \(Self.version(avformat_version()))) against the loopback origin")
            print("origin \(server.url())  \(program.videoCodec) \(media.width)x\(media.height)@\(media.framesPerSecond), "
                  + "GOP \(media.gopSeconds) s\(media.audio ? ", aac \(media.audioSampleRate) Hz" : ""), "
                  + "\(Int(program.bitsPerSecond / 1000)) kbit/s")
            print("")
            print("milliseconds from the open request: probed = avformat_open_input returned, stream info =")
            print("avformat_find_stream_info returned, keyframe = av_read_frame returned the first video keyframe (already")
            print("buffered by stream info), picture = first decoded frame. Each open joins at a random point of the GOP.")
            print(Self.row(["mode", "run", "probed", "stream info", "keyframe", "picture", "KiB read", "streams"]))
        }
        var results: [String: [PlainOpen.Result]] = [:]
        var failures = 0
        do {
            try await openEachMode(server, results: &results, failures: &failures)
        } catch {
            try? await server.shutdown()
            throw error
        }
        try await server.shutdown()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(results), as: UTF8.self))
        } else {
            print("")
            print("median first picture: " + JoinMode.allCases.map { "\($0.rawValue) \(Self.medianFirstPicture(results[$0.rawValue] ?? []))" }
                .joined(separator: ", "))
            print("live waits for the next keyframe (up to one GOP); gop and burst start on the cached one.")
            print("Most of what remains is avformat_find_stream_info waiting for frames to estimate the frame rate.")
        }
        if failures > 0 { throw ExitCode(1) }
    }

    /// Opens the origin `runs` times in each mode, modes interleaved, each open at a random point of the GOP
    /// (as a viewer would arrive), so that `live`'s wait for the next keyframe shows its real spread.
    private func openEachMode(_ server: LiveOrigin, results: inout [String: [PlainOpen.Result]], failures: inout Int) async throws {
        let gopMilliseconds = Int(server.program.configuration.gopSeconds * 1000)
        for run in 1...max(1, runs) {
            for mode in JoinMode.allCases {
                try await Task.sleep(for: .milliseconds(Int.random(in: 0..<gopMilliseconds)))
                let url = server.url(mode)
                let timeout = self.timeout
                let result = try await DedicatedThread.run(name: "firstframe.demo.open") {
                    PlainOpen.run(url: url, timeout: timeout)
                }
                results[mode.rawValue, default: []].append(result)
                if !result.succeeded { failures += 1 }
                if !json { print(Self.row(mode: mode, run: run, result)) }
            }
        }
    }

    /// Median of the first-picture times of `results`, formatted.
    private static func medianFirstPicture(_ results: [PlainOpen.Result]) -> String {
        let values = results.compactMap { $0.milestones[.firstVideoFrame] }.sorted()
        guard !values.isEmpty else { return "-" }
        return String(format: "%.0f ms", values[values.count / 2])
    }

    private static func row(mode: JoinMode, run: Int, _ result: PlainOpen.Result) -> String {
        func ms(_ milestone: PlainOpen.Milestone) -> String {
            result.milestones[milestone].map { String(format: "%.1f", $0) } ?? "-"
        }
        let streams = result.streams.map { stream in
            stream.kind == .video ? "\(stream.codec) \(stream.width)x\(stream.height)" : stream.codec
        }.joined(separator: ", ")
        var cells = [mode.rawValue, "\(run)", ms(.formatProbed), ms(.streamInfoFound), ms(.firstKeyframe),
                     ms(.firstVideoFrame), String(format: "%.0f", Double(result.bytesRead) / 1024), streams]
        if let error = result.error {
            cells[7] = "failed at \(result.failedStage?.rawValue ?? "?"): \(error)"
        }
        return row(cells)
    }

    private static func row(_ cells: [String]) -> String {
        let widths = [6, 4, 8, 12, 10, 9, 9, 0]
        return zip(cells, widths).map { cell, width in
            width == 0 ? cell : cell.padding(toLength: max(width, cell.count + 1), withPad: " ", startingAt: 0)
        }.joined()
    }

    private static func version(_ packed: UInt32) -> String {
        "\(packed >> 16).\(packed >> 8 & 0xFF).\(packed & 0xFF)"
    }
}
