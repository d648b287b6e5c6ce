// A swipe feed, without the screen: the rooms of a feed, each shown for a few seconds, with a `StreamPreloader`
// opening the next one ahead so that the swipe shows its picture at once.
//
//   swift run feed URL URL [URL...]
//
// The app's side of preloading is two calls: `setCandidates` whenever the feed scrolls (the rooms that may come
// next, most likely first), and `open` when the user lands on a room. Whatever state the room was in (preloaded,
// resolved, cold), `open` returns the same `OpenedStream`, and its report says which and how long the switch took.
import FirstFrame
import FirstFrameFFmpeg
import Foundation
import Logging

let rooms = Array(CommandLine.arguments.dropFirst())
guard rooms.count >= 2 else {
    print("usage: feed URL URL [URL...]")
    exit(2)
}
FFmpegLog.level = .error
// FFmpeg's lines through swift-log (stderr), those of the open and of the stream's reads to the opener's logger: it
// logs at debug what FFmpeg says about a packet that `close()` cut short (the parser's "Invalid NAL unit size"),
// which FFmpeg's own printer would show as errors.
FFmpegLog.routeToSwiftLog()
var logger = Logger(label: "feed")
logger.logLevel = .error

// One room ahead kept hot (its newest GOP held, at most 4 MiB); the rest resolved; an unused room closed after 30 s.
let preloader = try StreamPreloader(
    opener: StreamOpener(preset: .instant, logger: logger),
    configuration: .init(preloadedStreams: 1, bytesPerStream: 4 << 20, idleTimeout: .seconds(30))
)
for (index, url) in rooms.enumerated() {
    let stream: OpenedStream
    do {
        stream = try await preloader.open(url)
    } catch {
        print("room \(index): open failed: \(error)")
        continue
    }
    // The user is on this room now: prepare the ones after it while it plays.
    preloader.setCandidates(Array(rooms[(index + 1)...]))

    let preload = stream.report.preload!
    // The first picture is there at once: the preloaded room's newest keyframe, already decoded.
    guard let video = stream.takeVideoDecoder() else { continue }
    print(
        String(
            format: "room %d: %@ in %.1f ms, first picture %dx%d",
            index,
            preload.state.rawValue,
            preload.switchMs,
            video.firstPicture.width,
            video.firstPicture.height
        )
    )

    // Play it for three seconds: decode on with the primed decoder (it has seen the first keyframe already).
    var skip = video.packetsAlreadyDecoded
    var sawKeyframe = false
    var frames = 1
    let frame = Frame()
    let end = Date().addingTimeInterval(3)
    do {
        for try await packet in stream.packets() where packet.streamIndex == stream.videoStreamIndex {
            if !sawKeyframe {
                guard packet.flags.contains(.key) else { continue }
                sawKeyframe = true
            }
            if skip > 0 {
                skip -= 1
                continue
            }
            try video.decoder.send(packet)
            while try video.decoder.receive(into: frame) { frames += 1 }
            if Date() >= end { break }
        }
    } catch {
        print("room \(index): the stream ended: \(error)")
    }
    stream.close()
    print("room \(index): \(frames) pictures")
}
let stats = preloader.stats
print("preloaded rooms never opened: \(stats.unusedRooms), \(stats.unusedBytes / 1000) kB read for them")
preloader.close()
