import FirstFrame
import FirstFrameFFmpeg
import FirstFrameOrigin
import FirstFrameTestSupport
import Foundation
import OriginTestSupport
import Testing

extension OriginTests {
    /// Every preset hands over an input a muxer can take at once: its streams remuxed to FLV, MPEG-TS, Matroska and
    /// fragmented MP4, from the origin (no B-frames) and from a plain file server (x264 with its default B-frames),
    /// each file judged by ffprobe and a full decode.
    @Suite struct Remuxing {
        init() { FFmpegLog.level = .quiet }

        static let containers = ["flv", "ts", "mkv", "mp4"]

        @Test(arguments: Preset.allCases)
        func everyPresetsStreamRemuxesToEveryContainer(_ preset: Preset) async throws {
            let files = try MediaFixtures.files()
            let server = try StaticFileServer(files: ["av.flv": try [UInt8](Data(contentsOf: files.audioVideoFLV))])
            defer { server.stop() }
            try await withOrigin { origin in
                let sources = [
                    ("origin", origin.url(.burst), 640, 360),
                    ("x264", "http://127.0.0.1:\(server.port)/av.flv", 320, 240),
                ]
                for (name, url, width, height) in sources {
                    let stream = try await StreamOpener(preset: preset).open(url)
                    let video = try #require(stream.streams.first { $0.index == stream.videoStreamIndex })
                    #expect(
                        video.width == width && video.height == height && video.format == "yuv420p",
                        "\(preset) \(name)"
                    )
                    #expect(video.isCompleteForMuxing && video.frameRate == 25, "\(preset) \(name): \(video)")
                    #expect(video.profile != nil && video.level != nil, "\(preset) \(name)")
                    let audio = try #require(stream.streams.first { $0.kind == .audio })
                    #expect(audio.isCompleteForMuxing && audio.channelLayout != nil, "\(preset) \(name): \(audio)")

                    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                        "remux-\(UUID().uuidString)"
                    )
                    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                    defer { try? FileManager.default.removeItem(at: directory) }
                    let paths = Self.containers.map { directory.appendingPathComponent("\(name).\($0)").path }
                    let written = try await blocking { try Self.remux(stream, to: paths, seconds: 1.5) }
                    stream.close()
                    #expect(written > 40)
                    for path in paths { try Self.judge(path, width: width, height: height, label: "\(preset) \(name)") }
                }
            }
        }

        /// Writes the stream's video and audio to every path at once, from its first video keyframe, until
        /// `seconds` of video or the end; returns the packets written per file.
        static func remux(_ stream: OpenedStream, to paths: [String], seconds: Double) throws -> Int {
            let kinds: [Int: StreamInfo.Kind] = [stream.videoStreamIndex: .video].merging(
                stream.audioStreamIndex.map { [$0: .audio] } ?? [:]
            ) { a, _ in a }
            var outputs: [(OutputFormatContext, [Int: Int])] = []
            for path in paths {
                let output = try OutputFormatContext(path: path)
                var map: [Int: Int] = [:]
                for index in kinds.keys.sorted() {
                    map[index] = try output.addStream(try #require(stream.codecParameters(ofStream: index)))
                }
                try output.writeHeader()
                outputs.append((output, map))
            }
            var written = 0
            var firstVideo: Double?
            while let packet = try stream.readPacket() {
                guard kinds[packet.streamIndex] != nil else { continue }
                if firstVideo == nil {
                    guard packet.mediaKind == .video, packet.flags.contains(.key) else { continue }
                    firstVideo = packet.dtsSeconds
                }
                if packet.mediaKind == .video, let dts = packet.dtsSeconds, dts - firstVideo! >= seconds { break }
                // Audio queued before the keyframe's time would start the file before its picture.
                if packet.mediaKind == .audio, let dts = packet.dtsSeconds, dts < firstVideo! { continue }
                for (output, map) in outputs {
                    // The muxer takes the packet's payload: each file gets its own reference.
                    try output.write(packet.sharedReference(), toStream: map[packet.streamIndex]!)
                }
                written += 1
            }
            for (output, _) in outputs { try output.finish() }
            return written
        }

        /// ffprobe's view of a remuxed file: the size and codecs, a keyframe first, dts increasing per stream, no
        /// packet twice; and a full decode without an error.
        static func judge(_ path: String, width: Int, height: Int, label: String) throws {
            let streams = try MediaProbe.streams(path)
            let video = try #require(streams.first { $0.codec_type == "video" }, "\(label) \(path)")
            #expect(video.codec_name == "h264" && video.width == width && video.height == height, "\(label) \(path)")
            #expect(
                streams.contains { $0.codec_type == "audio" && $0.codec_name == "aac" && $0.sample_rate == "44100" },
                "\(label) \(path)"
            )
            let packets = try MediaProbe.packets(path)
            let firstVideo = try #require(packets.first { $0.codec_type == "video" }, "\(label) \(path)")
            #expect(firstVideo.isKeyframe, "\(label) \(path): the first video packet is not a keyframe")
            for index in Set(packets.map(\.stream_index)) {
                let dts = packets.filter { $0.stream_index == index }.compactMap(\.dts)
                #expect(
                    zip(dts, dts.dropFirst()).allSatisfy { $0 < $1 },
                    "\(label) \(path): stream \(index) dts not increasing"
                )
            }
            // The origin's x264 stream (CBR, with HRD) carries a buffering-period SEI ahead of the SPS that MPEG-TS
            // puts in band; the decoder notes it and decodes on. Stock `ffmpeg -c copy` to .ts of the same stream
            // gives the same line, so it says nothing about the remux.
            let errors = try MediaProbe.decodeErrors(path).split(separator: "\n").filter {
                !$0.contains("non-existing SPS 0 referenced in buffering period")
                    && !$0.contains("Last message repeated")
            }
            #expect(errors.isEmpty, "\(label) \(path): \(errors.prefix(3))")
        }
    }
}
