import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// FFmpeg's own HTTP server (`ffmpeg -listen 1`) sending a live FLV to one client: an HTTP-FLV server the project
/// did not write, with chunked transfer encoding and FFmpeg's FLV muxer, joined at a chosen GOP phase.
///
/// The stream is a file made with the `ffmpeg` CLI (x264 with its default B-frames, a keyframe every 2 s, AAC),
/// cut at `joinAt` seconds with its non-keyframes kept (`-copyinkf`) and sent in real time (`-re`): what an edge
/// without a GOP cache sends a viewer who joins there, media from the first byte. The next keyframe is at the next multiple of 2 s, so the
/// keyframe wait is known from the phase (``keyframeSendSeconds``).
package final class FFmpegLiveServer: Sendable {
    package let port: Int
    package let joinAt: Double
    /// When `-re` sends the first video keyframe, in seconds after the first packet: the keyframe's dts minus the
    /// first packet's, from ffprobe (x264's B-frames put a keyframe's dts two frames before its pts).
    package let keyframeSendSeconds: Double
    private let process: Process

    /// Seconds between keyframes in the file.
    package static let gopSeconds = 2.0
    package static let fileSeconds = 8.0

    package var url: String { "http://127.0.0.1:\(port)/live.flv" }

    /// Starts the server; it accepts one client and exits when the file ends.
    package init(joinAt: Double) throws {
        precondition(joinAt >= 0 && joinAt < Self.fileSeconds - Self.gopSeconds)
        let file = try Self.file(joinedAt: joinAt)
        self.joinAt = joinAt
        let packets = try MediaProbe.packets(file.path)
        guard let first = packets.compactMap(\.dts).min(),
            let keyframe = packets.first(where: { $0.codec_type == "video" && $0.isKeyframe })?.dts
        else {
            throw MediaFixtures.Failure(description: "no timestamps or no keyframe in \(file.path)")
        }
        keyframeSendSeconds = keyframe - first
        port = try LoopbackSocket.freePort()
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        process.arguments = [
            "-nostdin", "-v", "error", "-re", "-i", file.path, "-c", "copy", "-copyinkf",
            "-f", "flv", "-listen", "1", url,
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Listening is visible in /proc before anyone connects (connecting to check would take the one accept).
        let deadline = Date().addingTimeInterval(10)
        while !LoopbackSocket.isListening(port: port) {
            guard process.isRunning, Date() < deadline else {
                stop()
                throw MediaFixtures.Failure(description: "ffmpeg -listen did not listen on \(port)")
            }
            usleep(5000)
        }
    }

    deinit { stop() }

    package func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// The file from `joinAt` seconds on, non-keyframes first, made once per phase.
    private static func file(joinedAt joinAt: Double) throws(MediaFixtures.Failure) -> URL {
        let whole = try file.get()
        let cut = whole.deletingLastPathComponent().appendingPathComponent("gop8-from-\(joinAt).flv")
        if !FileManager.default.fileExists(atPath: cut.path) {
            try MediaFixtures.run(
                "/usr/bin/ffmpeg",
                [
                    "-nostdin", "-v", "error", "-y", "-i", whole.path, "-ss", String(joinAt),
                    "-c", "copy", "-copyinkf", "-f", "flv", cut.path,
                ]
            )
        }
        return cut
    }

    /// 8 s of 320x240 25 fps H.264 (x264 defaults: B-frames) with a keyframe every 50 frames, and AAC, in FLV.
    private static let file = Result { () throws(MediaFixtures.Failure) -> URL in
        let directory = try MediaFixtures.files().directory
        let file = directory.appendingPathComponent("gop8.flv")
        try MediaFixtures.run(
            "/usr/bin/ffmpeg",
            [
                "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
                "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                "-g", "50", "-keyint_min", "50", "-sc_threshold", "0", "-c:a", "aac", "-t", String(fileSeconds), "-f",
                "flv", file.path,
            ]
        )
        return file
    }
}
