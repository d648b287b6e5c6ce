import FirstFrameFFmpeg
import FirstFrameNetwork
import Foundation

/// Finds an FLV input's file header (signature, version 1, header size 9) and the streams its flags announce:
/// in the file, in the response bytes the trace kept, or in FFmpeg's I/O buffer. The format probe checks the
/// signature with it, and stream information without `avformat_find_stream_info` waits for what it announces.
///
/// It reads the file or the trace once the header is found; until then each question looks again.
package struct FLVHeaderSniffer {
    /// The streams the header's flags announce.
    package struct Streams: Sendable, Hashable {
        package var video: Bool
        package var audio: Bool

        package init(video: Bool, audio: Bool) {
            self.video = video
            self.audio = audio
        }
    }

    private let url: String
    /// The open's network trace, whose response bytes are looked in (nil: only a file is).
    private let trace: LiveTrace?
    /// The flags, once found.
    private var found: Streams?

    init(url: String, trace: LiveTrace?) {
        self.url = url
        self.trace = trace
    }

    /// With the demuxer named rather than probed (`format` `auto` or `flv`), FFmpeg's FLV demuxer reads any
    /// bytes as FLV and fails later, somewhere, or reads on for gigabytes. The probe stage checks what the probe
    /// would have: an FLV signature at the start of the input.
    /// - Parameter format: the `format` knob, for the message.
    mutating func checkSignature(_ input: InputFormatContext, format: String) throws(PipelineFailure) {
        guard announcedStreams() == nil else { return }
        // The trace keeps the first 256 KiB of a response: behind a longer head, FFmpeg's buffer still has the body's
        // first bytes.
        if let start = input.leadingBytes(9), let flags = Self.flags(in: start) {
            found = flags
            return
        }
        if input.bytesRead < 9 {
            throw PipelineFailure(
                stage: .formatProbe,
                kind: .endOfStream,
                message: "the input ended before an FLV header (\(input.bytesRead) bytes)"
            )
        }
        throw PipelineFailure(
            stage: .formatProbe,
            kind: .invalidData,
            message: "not FLV: the input does not start with an FLV header (format \(format))"
        )
    }

    /// The FLV header's audio/video flags, from the file or from the response bytes the trace has seen.
    mutating func announcedStreams() -> Streams? {
        // The probe's signature check and the stream-info stage both ask: read the file or the trace once.
        if let found { return found }
        found = scan()
        return found
    }

    /// The audio/video flags of the last FLV header (signature, version 1, header size 9) in `bytes`.
    package static func flags(in bytes: [UInt8]) -> Streams? {
        guard bytes.count >= 9 else { return nil }
        for offset in stride(from: bytes.count - 9, through: 0, by: -1)
        where bytes[offset] == 0x46 && bytes[offset + 1] == 0x4C && bytes[offset + 2] == 0x56 && bytes[offset + 3] == 1
            && bytes[offset + 5] == 0 && bytes[offset + 6] == 0 && bytes[offset + 7] == 0 && bytes[offset + 8] == 9
        {
            return Streams(video: bytes[offset + 4] & 0x01 != 0, audio: bytes[offset + 4] & 0x04 != 0)
        }
        return nil
    }

    private func scan() -> Streams? {
        if !url.contains("://") || url.hasPrefix("file:") {
            let path = url.hasPrefix("file:") ? String(url.dropFirst(5)) : url
            guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
            defer { try? handle.close() }
            return Self.flags(in: Array(handle.readData(ofLength: 9)))
        }
        for event in (trace?.events() ?? []).reversed()
        where event.kind == .receive || event.kind == .tlsReceive {
            if let found = Self.flags(in: event.data) { return found }
        }
        return nil
    }
}
