// A recorder of three channels: each recorded to a file by remuxing, reconnecting when its connection drops, with
// every attempt's first-frame report, every gap and every file in its session log.
//
//   swift run recorder OUT_DIR URL [URL...]         # e.g. three channels of `firstframe serve`:
//   swift run recorder /tmp/rec "http://127.0.0.1:8080/gop/a.flv?close_after_ms=5000" \
//       http://127.0.0.1:8080/live/b.flv http://127.0.0.1:8080/gop/c.flv
//
// Stops after 20 s (or on Ctrl-C) and prints what each recorder did; the session logs are
// OUT_DIR/channelN.ts.session.jsonl, and each recorder logs its attempts to standard error at `info`.
import Dispatch
import FirstFrame
import FirstFrameFFmpeg
import Foundation
import Logging

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    print("usage: recorder OUT_DIR URL [URL...]")
    exit(2)
}
FFmpegLog.level = .quiet
let directory = arguments[1]
try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)

var configuration = Recorder.Configuration()
// Reopen at once after a drop, then back off 0.5 s, 1 s, 2 s … up to 10 s while opens fail; give up after 5.
configuration.reconnect = try ReconnectPolicy(initialDelay: 0.5, maximumDelay: 10, maxAttempts: 5)
var logger = Logger(label: "recorder")
logger.logLevel = .info
let recorders = try arguments.dropFirst(2).enumerated().map { index, url in
    var channel = configuration
    channel.channel = "channel\(index + 1)"
    return try Recorder(url: url, path: "\(directory)/\(channel.channel!).ts", configuration: channel, logger: logger)
}

// Ctrl-C stops every recorder: each finalises its file and flushes its session log before `run()` returns.
signal(SIGINT, SIG_IGN)
let interrupt = DispatchSource.makeSignalSource(signal: SIGINT)
interrupt.setEventHandler { for recorder in recorders { recorder.stop() } }
interrupt.resume()
let timer = Task {
    try await Task.sleep(for: .seconds(20))
    for recorder in recorders { recorder.stop() }
}

await withTaskGroup(of: RecordingSummary.self) { group in
    for recorder in recorders { group.addTask { await recorder.run() } }
    for await summary in group {
        print(
            "\(summary.files.first ?? "-"): \(summary.outcome.rawValue), \(summary.successfulOpens) opens, "
                + "\(summary.gaps.count) gaps, \(summary.duplicatesDropped) re-sent packets dropped, "
                + String(format: "%.1f s of media", summary.mediaSeconds)
        )
        for gap in summary.gaps {
            print(
                String(
                    format: "  gap %.2f → %@ s (%@)",
                    gap.fromSeconds,
                    gap.toSeconds.map { String(format: "%.2f", $0) } ?? "end",
                    gap.end?.reason.rawValue ?? gap.kind.rawValue
                )
            )
        }
    }
}
timer.cancel()
