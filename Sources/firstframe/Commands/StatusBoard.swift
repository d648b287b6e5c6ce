import FirstFrame
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `record`'s progress on standard error: on a terminal, one line per channel redrawn every second (bytes,
/// bitrate, reconnects, last first picture); elsewhere, the same lines every `interval` seconds, prefixed with the
/// time, so a log shows every channel's state without escape codes. More than 40 channels on a terminal are
/// summed into one line.
///
/// Each line's bitrate is the bytes written since an earlier line over the time between them. The last lines are
/// drawn once, at the stop (``markStopped()``, then cancelling ``run()``), and measured up to the stop's instant:
/// what the recorders write while they finalise their files after it is not part of any interval. An interval
/// shorter than ``minimumWindow`` (a stop just after a line) is measured from the line before, so that the bytes
/// of one read never stand for a rate.
final class StatusBoard: Sendable {
    let names: [String]
    let recorders: [Recorder]
    let interval: Double
    private let isTerminal = isatty(STDERR_FILENO) != 0
    private let start = MonotonicClock.nanoseconds()
    /// `MonotonicClock` ns of the stop; 0 while recording.
    private let stoppedAt = Atomic<UInt64>(0)

    init(names: [String], recorders: [Recorder], interval: Double) {
        self.names = names
        self.recorders = recorders
        self.interval = interval
    }

    /// Seconds between two drawings.
    private var pace: Double { isTerminal ? 1 : interval }

    /// The shortest interval a bitrate is measured over: a second, or the pace when it is shorter.
    var minimumWindow: Double { min(1, pace) }

    /// Notes the stop's instant (the first call counts); the caller then cancels ``run()``, which draws the last
    /// lines measured up to it.
    func markStopped() {
        _ = stoppedAt.compareExchange(expected: 0, desired: MonotonicClock.nanoseconds(), ordering: .relaxed)
    }

    /// Bytes per channel at an instant.
    private struct Snapshot {
        var time: UInt64
        var bytes: [Int64]
    }

    /// Draws every `interval` until cancelled, then once more: the lines at the stop.
    func run() async {
        var previous = Snapshot(time: start, bytes: [Int64](repeating: 0, count: recorders.count))
        var beforePrevious = previous
        var drawn = 0
        while true {
            // Pacing the redraws, not waiting for anything: a stop cancels the sleep.
            try? await Task.sleep(for: .seconds(pace))
            let stop = stoppedAt.load(ordering: .relaxed)
            let isLast = Task.isCancelled || stop != 0
            let now = stop != 0 ? stop : MonotonicClock.nanoseconds()
            let progress = recorders.map(\.progress)
            // Measured from the last line, or from the one before when the last is too recent.
            let base = Double(now - min(now, previous.time)) / 1e9 >= minimumWindow ? previous : beforePrevious
            let seconds = max(0.001, Double(now - min(now, base.time)) / 1e9)
            let bitrates = zip(progress, base.bytes).map { Double(max(0, $0.bytesWritten - $1)) * 8 / seconds }
            let lines = lines(progress, bitrates: bitrates)
            beforePrevious = previous
            previous = Snapshot(time: now, bytes: progress.map(\.bytesWritten))
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
            if isLast { return }
        }
    }

    private func lines(_ progress: [RecorderProgress], bitrates: [Double]) -> [String] {
        if isTerminal, progress.count > 40 {
            let recording = progress.filter { $0.state == .recording }.count
            let bytes = progress.reduce(Int64(0)) { $0 + $1.bytesWritten }
            let reconnects = progress.reduce(0) { $0 + $1.reconnects }
            return [
                "\(recording)/\(progress.count) recording, \(RecordCommand.megabytes(bytes)), "
                    + String(format: "%.0f kbit/s", bitrates.reduce(0, +) / 1000) + ", \(reconnects) reconnects"
            ]
        }
        return zip(names, zip(progress, bitrates)).map { name, pair in
            let (state, bitrate) = pair
            let picture =
                state.lastFirstPictureMs.map { String(format: "first picture %.0f ms", $0) } ?? "no picture yet"
            return "\(name): \(state.state.rawValue), \(RecordCommand.megabytes(state.bytesWritten)), "
                + String(format: "%.0f kbit/s, %.1f s", bitrate / 1000, state.mediaSeconds)
                + ", \(state.reconnects) reconnects, \(picture)"
        }
    }
}
