import ArgumentParser
import Dispatch
import FirstFrame
import FirstFrameOrigin
import Logging

#if canImport(Glibc)
import Glibc
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

    func run() async throws {
        // x264 and the AAC encoder report their statistics at info level; keep the terminal for the URLs.
        FFmpegLog.level = .warning
        var logger = Logger(label: "firstframe.serve")
        logger.logLevel = .info
        let server = try await LiveOrigin.start(try origin.configuration(host: host, port: port), logger: logger)
        let program = server.program
        let media = program.configuration
        print("FirstFrame origin: \(program.videoCodec) \(media.width)x\(media.height)@\(media.framesPerSecond)"
              + (media.audio ? " + aac" : "") + ", GOP \(media.gopSeconds) s, loop \(Double(program.loopMilliseconds) / 1000) s, "
              + "\(Int(program.bitsPerSecond / 1000)) kbit/s on the wire")
        for mode in JoinMode.allCases {
            print("  \(mode.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0)) \(server.url(mode))")
        }
        print("  stats  \(server.baseURL)/stats")
        print("  query  \(OriginRequest.parameterSummary)")
        print("Ctrl-C to stop.")
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
        sources.forEach { $0.cancel() }
    }
}
