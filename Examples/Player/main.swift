// A player's loop, without the screen: open a live stream with the `instant` preset, show the first picture's
// timing, then keep decoding with the decoder the open primed — frames per second, and every stall.
//
//   swift run player http://127.0.0.1:8080/live/stream.flv [seconds]
//
// Packets are read ahead on the stream's own thread (`stream.packets()`); decoding here runs in this task, which is
// fine for a sketch (a real player decodes on a thread of its own and renders on the main one).
import FirstFrame
import FirstFrameFFmpeg
import FirstFrameRendering
import Foundation
import Logging

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    print("usage: player URL [seconds]")
    exit(2)
}
FFmpegLog.level = .error
// FFmpeg's lines through swift-log (stderr), those of the open and of the stream's reads to the opener's logger: it
// logs at debug what FFmpeg says about a packet that `close()` cut short (the parser's "Invalid NAL unit size"),
// which FFmpeg's own printer would show as errors.
FFmpegLog.routeToSwiftLog()
var logger = Logger(label: "player")
logger.logLevel = .error
let url = arguments[1]
let seconds = arguments.count > 2 ? Double(arguments[2]) ?? 10 : 10

var knobs = Preset.instant.knobs
knobs.readTimeoutMs = 3000  // a stall longer than this ends the stream; shorter ones are counted below
let stream: OpenedStream
do {
    stream = try await StreamOpener(knobs: knobs, presetName: "instant", logger: logger).open(url)
} catch {
    print("open failed: \(error)")
    exit(1)
}
print(ReportRendering.waterfall(stream.report))

// The open's decoder is already primed: it has been fed the first `packetsAlreadyDecoded` video packets (from the
// first keyframe), which the stream hands on again (a recorder needs them); a player skips them. It never gives the
// first picture again.
guard let video = stream.takeVideoDecoder() else { exit(1) }
var skip = video.packetsAlreadyDecoded
var sawKeyframe = false
let frame = Frame()
var frames = 1
var lastFrame = Date()
var stalls: [Double] = []
let start = Date()
do {
    for try await packet in stream.packets() {
        guard packet.streamIndex == stream.videoStreamIndex else { continue }
        // The handed-on packets start with whatever came before the first keyframe; the decoder started there.
        if !sawKeyframe {
            guard packet.flags.contains(.key) else { continue }
            sawKeyframe = true
        }
        if skip > 0 {
            skip -= 1
            continue
        }
        try video.decoder.send(packet)
        while try video.decoder.receive(into: frame) {
            frames += 1
            let now = Date()
            // A gap between pictures of more than 200 ms is a stall a viewer sees.
            if now.timeIntervalSince(lastFrame) > 0.2 { stalls.append(now.timeIntervalSince(lastFrame)) }
            lastFrame = now
        }
        if Date().timeIntervalSince(start) >= seconds { break }
    }
} catch let end as StreamEnd {
    print("stream ended: \(end)")
} catch {
    print("decode failed: \(error)")
}
stream.close()
let elapsed = Date().timeIntervalSince(start)
print(
    String(
        format: "%d pictures in %.1f s: %.1f fps; %d stalls",
        frames,
        elapsed,
        Double(frames) / elapsed,
        stalls.count
    )
        + (stalls.isEmpty
            ? "" : " (" + stalls.map { String(format: "%.0f ms", $0 * 1000) }.joined(separator: ", ") + ")")
)
