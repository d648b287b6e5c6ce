import ArgumentParser
import FirstFrameOrigin
import Logging

/// The origin's media options, shared by the commands that start one.
struct OriginOptions: ParsableArguments {
    @Option(help: "Picture size, WxH.")
    var size: String = "640x360"

    @Option(help: "Frames per second.")
    var fps: Int = 25

    @Option(help: "Seconds between keyframes.")
    var gopSeconds: Double = 2

    @Option(help: "Seconds of synthesised media played in a loop.")
    var loopSeconds: Double = 10

    @Option(help: "Video bitrate, kbit/s.")
    var videoKbps: Int = 800

    @Option(help: "B-frames between references (0: none, as the origin's default; 3: x264's and most live encoders').")
    var bFrames: Int = 0

    @Flag(help: "Open GOPs (with --b-frames): B-frames after a keyframe may refer to the GOP before it.")
    var openGOP = false

    @Flag(help: "Serve video only.")
    var noAudio = false

    @Option(help: "Join mode of requests that name none: live, gop or burst.")
    var mode: JoinMode = .live

    @Option(help: "Speed of burst mode, × real time.")
    var burstSpeed: Double = 4

    @Option(help: "Delay before every response, milliseconds (a request's delay= overrides it).")
    var responseDelayMs: Int = 0

    func configuration(host: String, port: Int) throws -> OriginConfiguration {
        let dimensions = size.lowercased().split(separator: "x").compactMap { Int($0) }
        guard dimensions.count == 2 else { throw ValidationError("--size must look like 640x360") }
        let media = MediaConfiguration(
            width: dimensions[0],
            height: dimensions[1],
            framesPerSecond: fps,
            gopSeconds: gopSeconds,
            loopSeconds: loopSeconds,
            audio: !noAudio,
            videoBitrate: videoKbps * 1000,
            bFrames: bFrames,
            openGOP: openGOP
        )
        return OriginConfiguration(
            host: host,
            port: port,
            media: media,
            defaultMode: mode,
            defaultBehaviour: Behaviour(responseDelayMilliseconds: responseDelayMs),
            burstSpeed: burstSpeed
        )
    }
}

extension OriginOptions {
    /// Runs `body` against an origin of its own on 127.0.0.1 (any free port), quiet, shut down whatever happens.
    func withEmbeddedOrigin<Result>(label: String, _ body: (LiveOrigin) async throws -> Result) async throws -> Result {
        var logger = Logger(label: label)
        logger.logLevel = .warning
        return try await LiveOrigin.serving(try configuration(host: "127.0.0.1", port: 0), logger: logger, body)
    }
}

extension JoinMode: ExpressibleByArgument {}
