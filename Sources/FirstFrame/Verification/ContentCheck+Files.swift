import FirstFrameFFmpeg
import Foundation

extension ContentCheck {
    /// Reads the recording `paths` (one file, or a recording's segments in order) and the gaps of its session log
    /// (`sessionLog`, nil for none), and compares them with `truth` (see ``compare(recorded:truth:gaps:)``).
    /// Blocking: FFmpeg reads every packet of every file; call it on a thread of its own.
    package static func run(paths: [String], truth: [PacketDigest], sessionLog: String?) throws -> ContentCheck {
        var recorded: [PacketDigest] = []
        for path in paths { recorded += try PacketDigest.read(url: path) }
        let gaps = try sessionLog.map { try Self.gaps(sessionLog: $0) } ?? []
        var check = compare(recorded: recorded, truth: truth, gaps: gaps)
        check.paths = paths
        return check
    }

    /// The gaps a recorder's session log (JSON Lines, ``SessionLog``) names, in order.
    package static func gaps(sessionLog path: String) throws -> [RecordingGap] {
        struct Line: Decodable {
            var event: String
            var gap: RecordingGap?
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let decoder = JSONDecoder()
        return try data.split(separator: UInt8(ascii: "\n")).compactMap { line in
            let entry = try decoder.decode(Line.self, from: Data(line))
            return entry.event == "gap" ? entry.gap : nil
        }
    }
}
