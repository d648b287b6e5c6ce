import FirstFrame
import Foundation

/// The ffprobe verdict on one recorded file: the first packet and the first video packet keyframes (MPEG-TS may put
/// an audio frame of the same instant first; every AAC frame is one), dts increasing per stream, no
/// packet twice, video holes only where the session log names a gap, and a full decode without an error.
package struct RecordingCheck: Sendable, Codable {
    package var path: String
    package var packets = 0
    package var firstPacketIsKeyframe = false
    package var sawVideo = false
    package var dtsMonotonic = true
    package var duplicates = 0
    /// Video holes (steps over 1.5 frames) and how many of them the session log names.
    package var holes = 0
    package var holesLogged = 0
    package var decodeErrors: [String] = []

    package var passed: Bool {
        packets > 0 && sawVideo && firstPacketIsKeyframe && dtsMonotonic && duplicates == 0 && holes == holesLogged
            && decodeErrors.isEmpty
    }

    /// Checks `path` against the `gaps` its session log recorded.
    package static func run(path: String, gaps: [RecordingGap]) -> RecordingCheck {
        var check = RecordingCheck(path: path)
        let listing = tool(
            "/usr/bin/ffprobe",
            [
                "-v", "error", "-show_entries", "packet=stream_index,codec_type,dts_time,flags",
                "-of", "csv=p=0", path,
            ],
            capturing: .output
        )
        var last: [Int: Double] = [:]
        var seen: Set<String> = []
        for line in listing.split(separator: "\n") {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            // ffprobe's own field order: codec_type, stream_index, dts_time, flags.
            guard fields.count >= 4, let stream = Int(fields[1]), let dts = Double(fields[2]) else { continue }
            let isVideo = fields[0] == "video"
            let isKeyframe = fields[3].hasPrefix("K")
            if check.packets == 0 { check.firstPacketIsKeyframe = isKeyframe }
            if isVideo, !check.sawVideo {
                check.sawVideo = true
                check.firstPacketIsKeyframe = check.firstPacketIsKeyframe && isKeyframe
            }
            check.packets += 1
            if !seen.insert("\(stream)/\(fields[2])").inserted { check.duplicates += 1 }
            if let previous = last[stream] {
                if dts <= previous { check.dtsMonotonic = false }
                if isVideo, dts - previous > 0.06 {
                    check.holes += 1
                    if gaps.contains(where: {
                        abs($0.fromSeconds - previous) < 0.05 && $0.toSeconds.map { abs($0 - dts) < 0.05 } == true
                    }) {
                        check.holesLogged += 1
                    }
                }
            }
            last[stream] = dts
        }
        // The origin's x264 stream carries a buffering-period SEI ahead of the SPS MPEG-TS puts in band: the decoder
        // notes it and decodes on (stock `ffmpeg -c copy` to .ts prints the same), so that line is not an error.
        check.decodeErrors = tool(
            "/usr/bin/ffmpeg",
            ["-nostdin", "-v", "error", "-i", path, "-f", "null", "-"],
            capturing: .errors
        )
        .split(separator: "\n").map(String.init)
        .filter {
            !$0.contains("non-existing SPS 0 referenced in buffering period") && !$0.contains("Last message repeated")
        }
        return check
    }

    private enum Stream { case output, errors }

    /// Runs a tool and returns one of its streams (the other goes to /dev/null: one pipe, nothing to deadlock on).
    private static func tool(_ path: String, _ arguments: [String], capturing stream: Stream) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = stream == .output ? pipe : FileHandle.nullDevice
        process.standardError = stream == .errors ? pipe : FileHandle.nullDevice
        guard (try? process.run()) != nil else { return "\(path) could not start" }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
