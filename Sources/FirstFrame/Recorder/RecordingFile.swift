import Foundation

/// The file (or the current segment) a recorder writes: one output stream per media kind, created from the
/// codec parameters of the connection that starts it; a new segment at a video keyframe once `segmentSeconds`
/// have been written, or when a reconnect brings codec parameters the file cannot go on with.
///
/// Lives on the recorder's writing thread (not `Sendable`).
final class RecordingFile {
    private let basePath: String
    private let segmentSeconds: Double?
    private var output: OutputFormatContext?
    /// The parameters the next file will have, and those of the current one.
    private var parameters: [StreamInfo.Kind: CodecParameters] = [:]
    private var fileParameters: [StreamInfo.Kind: CodecParameters] = [:]
    /// New parameters wait for a video keyframe to start their file.
    private var switchPending = false
    private var outputIndex: [StreamInfo.Kind: Int] = [:]
    private var segmentStart: Double = 0
    private var segmentNumber = 0
    /// Every file started, in order.
    private(set) var paths: [String] = []
    private(set) var bytesWritten: Int64 = 0
    /// Called with each new file's path and its start (seconds of recording time).
    var onNewFile: (String, Double) -> Void = { _, _ in }

    init(path: String, segmentSeconds: Double?) {
        basePath = path
        self.segmentSeconds = segmentSeconds
    }

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
    /// next video keyframe (so that every file starts with one).
    func use(_ streams: [StreamInfo.Kind: CodecParameters], at seconds: Double) throws(FFmpegError) {
        let same = Set(streams.keys) == Set(fileParameters.keys)
            && streams.allSatisfy { kind, value in fileParameters[kind].map { $0.isCompatible(with: value) } ?? false }
        parameters = streams
        if !same, output != nil { switchPending = true }
    }

    /// Writes `packet` (already placed on the recording's timeline) to the stream of its kind.
    func write(_ packet: Packet, seconds: Double) throws(FFmpegError) {
        let keyframe = packet.mediaKind == .video && packet.flags.contains(.key)
        if output == nil {
            try startFile(at: seconds)
        } else if keyframe, switchPending || segmentSeconds.map({ seconds - segmentStart >= $0 }) == true {
            try startFile(at: seconds)
        }
        guard let output, let index = outputIndex[packet.mediaKind] else { return }
        bytesWritten += Int64(packet.size)
        try output.write(packet, toStream: index)
    }

    /// Finishes the current file (trailer, flush).
    func finish() throws(FFmpegError) {
        defer { output = nil }
        try output?.finish()
    }

    private func startFile(at seconds: Double) throws(FFmpegError) {
        try finish()
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
        switchPending = false
        segmentStart = seconds
        paths.append(path)
        onNewFile(path, seconds)
    }
}
