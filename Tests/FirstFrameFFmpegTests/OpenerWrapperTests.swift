import FirstFrameCore
import FirstFrameFFmpeg
import FirstFrameTestSupport
import Foundation
import Testing

/// What the opener needs from C, as wrapper API: this build's protocols and demuxers, system errors, packet flags,
/// and the codec of each stream read field by field.
@Suite struct OpenerWrappers {
    init() { FFmpegLog.level = .quiet }

    @Test func theBuildNamesItsProtocolsAndDemuxers() {
        #expect(FFmpegBuild.inputProtocols.isSuperset(of: ["file", "http", "tcp"]))
        #expect(!FFmpegBuild.inputProtocols.contains("not-a-protocol"))
        #expect(FFmpegBuild.hasDemuxer(named: "flv") && FFmpegBuild.hasDemuxer(named: "mpegts"))
        #expect(!FFmpegBuild.hasDemuxer(named: "not-a-demuxer"))
    }

    @Test func aSystemErrorIsRecognisedByItsNumber() {
        let error = FFmpegError(code: -ECONNRESET, operation: "av_read_frame")
        #expect(error.code == .system(ECONNRESET))
        #expect(error.code != .system(EIO))
        #expect(FFmpegError(code: -EIO, operation: "x").code != .system(ECONNRESET))
    }

    @Test func flagsAddToTheDemuxers() {
        let packet = Packet()
        #expect(packet.flags.isEmpty)
        packet.addFlags(.discard)
        #expect(packet.flags == .discard)
        packet.addFlags(.key)
        #expect(packet.flags == [.discard, .key] && packet.isKeyframe)
    }

    @Test(.enabled(if: MediaFixtures.isAvailable, "needs the ffmpeg CLI"))
    func eachStreamsCodecReadsAsStreamInfoSaysIt() throws {
        let input = try InputFormatContext(url: try MediaFixtures.files().audioVideoFLV.path)
        try input.findStreamInfo()
        #expect(input.streamCount == 2)
        for stream in input.streams {
            #expect(input.kind(ofStream: stream.index) == stream.kind)
            #expect(input.codecName(ofStream: stream.index) == stream.codec)
            #expect(input.hasCodec(ofStream: stream.index))
            #expect(input.extradataSize(ofStream: stream.index) == stream.extradataSize)
            #expect(input.timeBase(ofStream: stream.index) == stream.timeBase)
        }
        let video = try #require(input.bestStream(.video))
        #expect(input.codecName(ofStream: video) == "h264" && input.extradataSize(ofStream: video) > 0)
    }
}
