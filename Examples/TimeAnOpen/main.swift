// Times a plain FFmpeg open of any URL (or file) up to the first decoded picture, using FirstFrame's baseline.
//
//   swift run time-an-open http://127.0.0.1:8080/gop/stream.flv
//
// The open blocks in FFmpeg, so it runs on a thread of its own, never on Swift's cooperative pool.
import FirstFrame
import FirstFrameFFmpeg
import Foundation

let arguments = CommandLine.arguments
guard arguments.count == 2 else {
    print("usage: time-an-open URL")
    exit(2)
}
FFmpegLog.level = .error
let url = arguments[1]
let result = try await DedicatedThread.run(name: "time-an-open") { PlainOpen.run(url: url, timeout: 15) }
for milestone in PlainOpen.Milestone.allCases {
    let value = result.milestones[milestone].map { String(format: "%8.1f ms", $0) } ?? "       -"
    print("\(milestone.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0)) \(value)")
}
for stream in result.streams {
    print(
        "stream \(stream.index): \(stream.kind.rawValue) \(stream.codec)"
            + (stream.kind == .video
                ? " \(stream.width)x\(stream.height) @ \(stream.frameRate) fps" : " \(stream.sampleRate) Hz")
    )
}
if let error = result.error {
    print("failed at \(result.failedStage?.rawValue ?? "?"): \(error)")
    exit(1)
}
