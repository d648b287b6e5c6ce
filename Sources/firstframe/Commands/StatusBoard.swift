import FirstFrame
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `record`'s progress on standard error: on a terminal, one line per channel redrawn every second (bytes,
/// bitrate, reconnects, last first picture); elsewhere, the same lines every `interval` seconds, prefixed with the
/// time, so a log shows every channel's state without escape codes. More than 40 channels on a terminal are
/// summed into one line.
struct StatusBoard: Sendable {
    let names: [String]
    let recorders: [Recorder]
    let interval: Double
    private let isTerminal = isatty(STDERR_FILENO) != 0
    private let start = MonotonicClock.nanoseconds()

    init(names: [String], recorders: [Recorder], interval: Double) {
        self.names = names
        self.recorders = recorders
        self.interval = interval
    }

    /// Draws until cancelled, then once more.
    func run() async {
        var previous = [Int64](repeating: 0, count: recorders.count)
        var previousTime = MonotonicClock.nanoseconds()
        var drawn = 0
        while !Task.isCancelled {
            // Pacing the redraws, not waiting for anything.
            try? await Task.sleep(for: .seconds(isTerminal ? 1 : interval))
            let now = MonotonicClock.nanoseconds()
            let seconds = max(0.001, Double(now - previousTime) / 1e9)
            let progress = recorders.map(\.progress)
            let lines = lines(progress, bitrates: zip(progress, previous).map { Double($0.bytesWritten - $1) * 8 / seconds })
            previous = progress.map(\.bytesWritten)
            previousTime = now
            if isTerminal {
                // Move up over the last drawing and overwrite it.
                var text = drawn > 0 ? "\u{1B}[\(drawn)A" : ""
                text += lines.map { "\u{1B}[2K" + $0 }.joined(separator: "\n") + "\n"
                FileHandle.standardError.write(Data(text.utf8))
                drawn = lines.count
            } else {
                let elapsed = String(format: "%.0f s", Double(now - start) / 1e9)
                FileHandle.standardError.write(Data(lines.map { "record \(elapsed): \($0)\n" }.joined().utf8))
            }
        }
    }

    private func lines(_ progress: [RecorderProgress], bitrates: [Double]) -> [String] {
        if isTerminal, progress.count > 40 {
            let recording = progress.filter { $0.state == .recording }.count
            let bytes = progress.reduce(Int64(0)) { $0 + $1.bytesWritten }
            let reconnects = progress.reduce(0) { $0 + $1.reconnects }
            return ["\(recording)/\(progress.count) recording, \(RecordCommand.megabytes(bytes)), "
                + String(format: "%.0f kbit/s", bitrates.reduce(0, +) / 1000) + ", \(reconnects) reconnects"]
        }
        return zip(names, zip(progress, bitrates)).map { name, pair in
            let (state, bitrate) = pair
            let picture = state.lastFirstPictureMs.map { String(format: "first picture %.0f ms", $0) } ?? "no picture yet"
            return "\(name): \(state.state.rawValue), \(RecordCommand.megabytes(state.bytesWritten)), "
                + String(format: "%.0f kbit/s, %.1f s", bitrate / 1000, state.mediaSeconds)
                + ", \(state.reconnects) reconnects, \(picture)"
        }
    }
}
