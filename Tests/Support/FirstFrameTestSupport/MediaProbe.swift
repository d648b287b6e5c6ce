import Foundation
import Synchronization

/// Debian's `ffprobe` and `ffmpeg` as the judges of files the tests write: stream parameters, every packet, and a
/// full decode's error output.
package enum MediaProbe {
    package struct StreamRow: Decodable, Sendable {
        package let index: Int
        package let codec_type: String
        package let codec_name: String?
        package let width: Int?
        package let height: Int?
        package let pix_fmt: String?
        package let sample_rate: String?
        package let channels: Int?
        package let avg_frame_rate: String?
    }

    package struct PacketRow: Decodable, Sendable {
        package let stream_index: Int
        package let codec_type: String
        package let dts_time: String?
        package let pts_time: String?
        package let size: String
        package let flags: String
        package var dts: Double? { dts_time.flatMap(Double.init) }
        package var isKeyframe: Bool { flags.hasPrefix("K") }
    }

    private struct Output: Decodable {
        let streams: [StreamRow]?
        let packets: [PacketRow]?
    }

    /// The file's streams, as ffprobe sees them.
    package static func streams(_ path: String) throws -> [StreamRow] {
        try decode(["-show_streams", path]).streams ?? []
    }

    /// Every packet in the file, in file order.
    package static func packets(_ path: String) throws -> [PacketRow] {
        try decode(["-show_entries", "packet=stream_index,codec_type,dts_time,pts_time,size,flags", path]).packets ?? []
    }

    /// What `ffmpeg -v error` prints while decoding the whole file: empty for a clean file.
    package static func decodeErrors(_ path: String) throws -> String {
        let (_, errors, _) = try run("/usr/bin/ffmpeg", ["-nostdin", "-v", "error", "-i", path, "-f", "null", "-"])
        return errors
    }

    private static func decode(_ arguments: [String]) throws -> Output {
        let (output, errors, status) = try run("/usr/bin/ffprobe", ["-v", "error", "-of", "json"] + arguments)
        guard status == 0 else {
            throw MediaFixtures.Failure(description: "ffprobe \(arguments.joined(separator: " ")): \(errors)")
        }
        return try JSONDecoder().decode(Output.self, from: Data(output.utf8))
    }

    /// Runs `tool` to its end (in `directory`, if given): standard output, standard error, exit status.
    package static func run(
        _ tool: String,
        _ arguments: [String],
        in directory: URL? = nil
    ) throws -> (String, String, Int32) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        let output = Pipe()
        let errors = Pipe()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // Drain standard error on another thread so that neither pipe can fill up and block the tool.
        let errorText = Mutex<Data>(Data())
        let drained = DispatchSemaphore(value: 0)
        Thread {
            let data = errors.fileHandleForReading.readDataToEndOfFile()
            errorText.withLock { $0 = data }
            drained.signal()
        }.start()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        process.waitUntilExit()
        try? output.fileHandleForReading.close()
        try? errors.fileHandleForReading.close()
        return (
            String(decoding: data, as: UTF8.self), String(decoding: errorText.withLock { $0 }, as: UTF8.self),
            process.terminationStatus
        )
    }
}
