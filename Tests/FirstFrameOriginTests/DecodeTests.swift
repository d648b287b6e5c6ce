import FirstFrameCore
import FirstFrameFFmpeg
import FirstFrameOrigin
import FirstFrameTestSupport
import Foundation
import OriginTestSupport
import Testing

extension OriginTests {
    /// The channel opens and decodes with stock FFmpeg, and ffprobe agrees with the origin about it.
    @Suite struct Decoding {
        init() { FFmpegLog.level = .error }

        @Test(arguments: JoinMode.allCases)
        func opensAndDecodesWithFFmpeg(_ mode: JoinMode) async throws {
            try await withOrigin { origin in
                let url = origin.url(mode)
                let result = try await blocking { PlainOpen.run(url: url, timeout: 10) }
                #expect(result.error == nil, "\(String(describing: result.error))")
                #expect(result.formatName == "flv")
                let video = try #require(result.streams.first { $0.kind == .video })
                let audio = try #require(result.streams.first { $0.kind == .audio })
                #expect(video.codec == "h264")
                #expect(video.width == 640 && video.height == 360)
                #expect(abs(video.frameRate - 25) < 0.01)
                #expect(audio.codec == "aac")
                #expect(audio.sampleRate == 44_100)
                #expect(result.streams.count == 2, "no spurious data stream: \(result.streams)")
                #expect(result.pictureWidth == 640 && result.pictureHeight == 360)
                let milestones = PlainOpen.Milestone.allCases.compactMap { result.milestones[$0] }
                #expect(milestones.count == 4)
                #expect(milestones == milestones.sorted(), "milestones in order")
            }
        }

        @Test func sorensonFallbackDecodesWithoutLibx264() async throws {
            let media = MediaConfiguration(width: 320, height: 240, videoEncoder: .sorensonH263)
            try await withOrigin(OriginConfiguration(media: media)) { origin in
                #expect(origin.program.videoCodec == "flv1")
                let url = origin.url(.gop)
                let result = try await blocking { PlainOpen.run(url: url, timeout: 10) }
                #expect(result.succeeded, "\(String(describing: result.error))")
                #expect(result.streams.first { $0.kind == .video }?.codec == "flv1")
                #expect(result.pictureWidth == 320 && result.pictureHeight == 240)
            }
        }

        @Test(.enabled(if: Self.hasIPv6Loopback, "::1 is not configured on this machine"))
        func servesOverIPv6Loopback() async throws {
            try await withOrigin(OriginConfiguration(host: "::1")) { origin in
                let url = origin.url(.gop)
                #expect(url.hasPrefix("http://[::1]:"))
                let result = try await blocking { PlainOpen.run(url: url, timeout: 10) }
                #expect(result.succeeded, "\(String(describing: result.error))")
            }
        }

        static var hasIPv6Loopback: Bool {
            (try? String(contentsOfFile: "/proc/sys/net/ipv6/conf/lo/disable_ipv6", encoding: .utf8))?.hasPrefix("0")
                ?? false
        }

        @Test func ffprobeAgreesWithTheOrigin() async throws {
            let media = MediaConfiguration(width: 480, height: 270, framesPerSecond: 30, gopSeconds: 1)
            try await withOrigin(OriginConfiguration(media: media)) { origin in
                let url = origin.url(.gop)
                let json = try await blocking { try Self.ffprobe(url) }
                let output = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
                let streams = try #require(output["streams"] as? [[String: Any]])
                #expect(streams.count == 2)
                let video = try #require(streams.first { $0["codec_type"] as? String == "video" })
                let audio = try #require(streams.first { $0["codec_type"] as? String == "audio" })
                #expect(video["codec_name"] as? String == origin.program.videoCodec)
                #expect(video["width"] as? Int == media.width)
                #expect(video["height"] as? Int == media.height)
                // FLV stamps in whole milliseconds, so 30 fps comes back as 1000/33: agree within 2%.
                let rate = try #require(
                    (video["avg_frame_rate"] as? String)?.split(separator: "/").compactMap { Double($0) }
                )
                #expect(
                    rate.count == 2
                        && abs(rate[0] / rate[1] - Double(media.framesPerSecond)) < 0.02 * Double(media.framesPerSecond)
                )
                #expect(audio["codec_name"] as? String == "aac")
                #expect(audio["sample_rate"] as? String == String(media.audioSampleRate))
                #expect(audio["channels"] as? Int == 1)
            }
        }

        /// Runs the ffprobe from Debian's ffmpeg package on `url` and returns its JSON output.
        static func ffprobe(_ url: String) throws -> Data {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/ffprobe")
            process.arguments = ["-v", "error", "-rw_timeout", "10000000", "-show_streams", "-of", "json", url]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            return data
        }
    }
}
