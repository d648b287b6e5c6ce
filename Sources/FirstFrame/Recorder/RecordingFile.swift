import FirstFrameFFmpeg
import Foundation

/// The file (or the current segment) a recorder writes: one output stream per media kind, created from the
/// codec parameters of the connection that starts it; a new file at a video keyframe once `segmentSeconds`
/// have been written, or when the stream changes in a way one file cannot hold (new codec parameters after a
/// reconnect, a new sequence header, another codec, audio that joins late).
///
/// A segment that is due is not started at once: its first ``minimumSegmentSeconds`` are held, and when the
/// recording ends before they are complete they go to the end of the previous file instead, so that no recording
/// ends in a file of a frame or two.
///
/// Lives on the recorder's writing thread (not `Sendable`).
final class RecordingFile {
    /// Why a file was started: the session log's `file` lines carry it.
    enum Reason: String, Sendable, Codable {
        /// The recording's first file.
        case first
        /// The current segment reached `segmentSeconds`.
        case segment
        /// A reconnect brought codec parameters the file cannot go on with.
        case parametersChanged
        /// A new sequence header (resolution, profile, codec configuration) came mid-stream.
        case newSequenceHeader
        /// The video (or audio) switched to another codec mid-stream.
        case codecChanged
        /// Audio started after the file did: a muxer's streams are fixed by its header.
        case audioJoined
    }

    private let basePath: String
    private let segmentSeconds: Double?
    private var output: OutputFormatContext?
    /// The parameters the next file will have, and those of the current one.
    private var parameters: [StreamInfo.Kind: CodecParameters] = [:]
    private var fileParameters: [StreamInfo.Kind: CodecParameters] = [:]
    /// New parameters wait for a video keyframe to start their file; why they differ.
    private var switchPending: Reason?
    private var outputIndex: [StreamInfo.Kind: Int] = [:]
    private var segmentStart: Double = 0
    private var segmentNumber = 0
    /// The packets of a segment that is due, held until it has ``minimumSegmentSeconds``, and when it began.
    private var held: [Packet] = []
    private var heldStart: Double?
    /// Every file started, in order.
    private(set) var paths: [String] = []
    private(set) var bytesWritten: Int64 = 0
    /// Called with each new file's path, its start (seconds of recording time) and why it started.
    var onNewFile: (String, Double, Reason) -> Void = { _, _, _ in }

    init(path: String, segmentSeconds: Double?) {
        basePath = path
        self.segmentSeconds = segmentSeconds
    }

    /// The shortest segment started for `segmentSeconds` alone: a second, or half a segment if that is less.
    var minimumSegmentSeconds: Double { min(1, (segmentSeconds ?? 2) / 2) }

    /// The path of file number `number` (1-based): `path` itself for the first file of an unsegmented
    /// recording, `name-00001.ext`, `name-00002.ext`, … otherwise.
    func path(number: Int) -> String {
        if segmentSeconds == nil, number == 1 { return basePath }
        let url = URL(fileURLWithPath: basePath)
        let name = url.deletingPathExtension().lastPathComponent
        let file = "\(name)-\(String(format: "%05d", number)).\(url.pathExtension)"
        return url.deletingLastPathComponent().appendingPathComponent(file).path
    }

    /// Uses `streams` (per kind) for what follows: when they differ from the current file's, a new file starts at the
    /// next video keyframe (so that every file starts with one), for `reason`.
    func use(_ streams: [StreamInfo.Kind: CodecParameters], reason: Reason) throws(FFmpegError) {
        let same =
            Set(streams.keys) == Set(fileParameters.keys)
            && streams.allSatisfy { kind, value in fileParameters[kind].map { $0.isCompatible(with: value) } ?? false }
        parameters = streams
        guard output != nil else { return }
        // A segment held back was sent under the current configuration: it goes to the current file before a switch.
        if !same { try writeHeld(toNewFile: false) }
        // Parameters that match the file again (a change undone before its keyframe) need no new file.
        switchPending = same ? nil : switchPending ?? reason
    }

    /// Writes `packet` (already placed on the recording's timeline) to the stream of its kind.
    func write(_ packet: Packet, seconds: Double) throws(FFmpegError) {
        let keyframe = packet.mediaKind == .video && packet.flags.contains(.key)
        if output == nil {
            try startFile(at: seconds, reason: .first)
        } else if keyframe, let reason = switchPending {
            // What was held for a segment goes to the file it was due in: the stream changed before it started.
            try writeHeld(toNewFile: false)
            try startFile(at: seconds, reason: reason)
        } else if keyframe, heldStart == nil, segmentSeconds.map({ seconds - segmentStart >= $0 }) == true {
            heldStart = seconds
        }
        if let heldStart {
            held.append(packet)
            if seconds - heldStart >= minimumSegmentSeconds { try writeHeld(toNewFile: true) }
            return
        }
        try writeToCurrent(packet)
    }

    /// Finishes the current file (trailer, flush); a segment still held goes to its end.
    func finish() throws(FFmpegError) {
        try writeHeld(toNewFile: false)
        try closeCurrent()
    }

    private func writeToCurrent(_ packet: Packet) throws(FFmpegError) {
        guard let output, let index = outputIndex[packet.mediaKind] else { return }
        bytesWritten += Int64(packet.size)
        try output.write(packet, toStream: index)
    }

    /// Writes the held packets: into a new segment starting at the first of them, or at the end of the current file.
    private func writeHeld(toNewFile: Bool) throws(FFmpegError) {
        guard let start = heldStart else { return }
        let packets = held
        held = []
        heldStart = nil
        if toNewFile { try startFile(at: start, reason: .segment) }
        for packet in packets { try writeToCurrent(packet) }
    }

    private func closeCurrent() throws(FFmpegError) {
        defer { output = nil }
        try output?.finish()
    }

    private func startFile(at seconds: Double, reason: Reason) throws(FFmpegError) {
        try closeCurrent()
        segmentNumber += 1
        let path = path(number: segmentNumber)
        let file = try OutputFormatContext(path: path)
        outputIndex = [:]
        for kind in [StreamInfo.Kind.video, .audio] {
            guard let parameters = parameters[kind] else { continue }
            outputIndex[kind] = try file.addStream(parameters)
        }
        try file.writeHeader()
        output = file
        fileParameters = parameters
        switchPending = nil
        segmentStart = seconds
        paths.append(path)
        onNewFile(path, seconds, reason)
    }
}
