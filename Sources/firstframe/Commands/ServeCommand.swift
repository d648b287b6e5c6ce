import ArgumentParser
import Dispatch
import FirstFrame
import FirstFrameOrigin
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
import FirstFrameFFmpeg
#endif

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the loopback live origin (HTTP-FLV) until interrupted."
    )

    @Option(help: "Address to listen on (loopback only by default).")
    var host: String = "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free one.")
    var port: Int = 8080

    @OptionGroup var origin: OriginOptions

    @Option(
        help:
            "Distinct synthesised programs (picture and tone) that named channels share; each is an encode the first time a name needs it."
    )
    var programs: Int = 4

    @Flag(
        help:
            "Log every media tag each channel sends (time, kind, key, size, payload hash), served as JSON Lines at /sent/NAME: the ground truth for recording checks."
    )
    var logSentTags = false

    @Option(help: "With --log-sent-tags: the latest tags each channel's log keeps (about 60 bytes each).")
    var sentLogCapacity: Int = 200_000

    func run() async throws {
        // x264 and the AAC encoder report their statistics at info level; keep the terminal for the URLs.
        FFmpegLog.level = .warning
        var logger = Logger(label: "firstframe.serve")
        logger.logLevel = .info
        var configuration = try origin.configuration(host: host, port: port)
        configuration.distinctPrograms = programs
        configuration.logsSentTags = logSentTags
        configuration.sentLogCapacity = sentLogCapacity
        let server = try await LiveOrigin.start(configuration, logger: logger)
        let program = server.program
        let media = program.configuration
        var lines = [
            "FirstFrame origin: \(program.videoCodec) \(media.width)x\(media.height)@\(media.framesPerSecond)"
                + (media.audio ? " + aac" : "")
                + ", GOP \(media.gopSeconds) s, loop \(Double(program.loopMilliseconds) / 1000) s, "
                + "\(Int(program.bitsPerSecond / 1000)) kbit/s on the wire"
        ]
        for mode in JoinMode.allCases {
            lines.append("  \(mode.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0)) \(server.url(mode))")
        }
        lines.append(
            "  named  \(server.url(.live, channel: "NAME")) (any NAME: a channel of its own on \(programs) programs)"
        )
        lines.append("  stats  \(server.baseURL)/stats")
        if logSentTags { lines.append("  sent   \(server.baseURL)/sent/NAME (JSON Lines: what the channel NAME sent)") }
        lines.append("  query  \(OriginRequest.parameterSummary)")
        lines.append("Ctrl-C to stop.")
        // Whoever started the origin reads its port here, often through a pipe or a file: stdout is block-buffered
        // there, so print() alone would keep the URLs back until exit. One unbuffered write instead.
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        await Self.waitForInterrupt()
        try await server.shutdown()
    }

    /// Suspends until SIGINT or SIGTERM.
    static func waitForInterrupt() async {
        let (signals, continuation) = AsyncStream<Void>.makeStream()
        var sources: [any DispatchSourceSignal] = []
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { continuation.yield() }
            source.resume()
            sources.append(source)
        }
        for await _ in signals { break }
        for source in sources { source.cancel() }
    }
}
