import CFFmpeg
import FirstFrame
import FirstFrameFFmpeg
import FirstFrameOrigin
import FirstFrameTestSupport
import Foundation
import OriginTestSupport
import Testing

/// `decodeKeyframeAlone`: the first picture is the keyframe's, decoded alone, not held in the reorder buffer by
/// B-frames or behind frame threads; the decoder handed on decodes on exactly as one fed in order from the
/// keyframe would, without repeating the first picture.
extension OriginTests {
    @Suite(.enabled(if: MediaFixtures.isAvailable, "needs the ffmpeg CLI")) struct KeyframeAlone {
        init() { FFmpegLog.level = .quiet }

        /// On FFmpeg's own HTTP server (x264's default B-frames, a server the project did not write), the decoder
        /// fed in order holds the keyframe until two more frames have arrived (live: ~80 ms at 25 fps); decoded
        /// alone it comes one decode after the keyframe's last byte. Both opens join at the same phase.
        @Test func aKeyframeDecodedAloneIsNotHeldForReorder() async throws {
            var arrivalToPicture: [Bool: Double] = [:]
            for alone in [true, false] {
                let server = try FFmpegLiveServer(joinAt: 1.0)
                defer { server.stop() }
                var knobs = Preset.instant.knobs
                knobs.decodeKeyframeAlone = alone
                let stream = try await StreamOpener(knobs: knobs).open(server.url)
                defer { stream.close() }
                let opened = stream.report
                let picture = try #require(opened.summary.firstVideoFrameMs)
                let arrival = try #require(opened.milestones.firstKeyframeMs)
                arrivalToPicture[alone] = picture - arrival
                // The report says what held the picture, and what removes it.
                let decode = try #require(opened.firstPictureDecode)
                #expect(decode.reorderDepth == 2, "x264's default pyramid")
                #expect(decode.keyframeAlone == alone)
                if alone {
                    #expect(decode.packetsDecoded == 1)
                } else {
                    #expect(decode.packetsDecoded == 3)
                    #expect(opened.advice.contains { $0.knobs == ["decodeKeyframeAlone=true"] })
                }
                let handOff = try #require(stream.takeVideoDecoder())
                // The first picture is the keyframe's own (x264's keyframe has the lowest pts of its GOP).
                #expect(handOff.firstPicture.isKeyframe)
                report(
                    "ffmpeg -listen (x264 defaults), decodeKeyframeAlone=\(alone): keyframe arrival → picture "
                        + String(format: "%.1f ms", picture - arrival)
                )
            }
            let alone = try #require(arrivalToPicture[true])
            let inOrder = try #require(arrivalToPicture[false])
            // In order, the picture waits for frames that come in real time: at least one frame interval.
            #expect(inOrder >= 40)
            #expect(alone * 3 < inOrder)
        }

        /// The handed-on decoder, fed what the stream hands on after the packets it has seen, gives the pictures a
        /// decoder fed in order from the keyframe gives after the first picture: same timestamps, same pixels,
        /// none repeated, none missing. On FFmpeg's server (closed GOPs, x264's defaults).
        @Test func theDecoderHandedOnDecodesOnInOrder() async throws {
            let server = try FFmpegLiveServer(joinAt: 1.0)
            defer { server.stop() }
            try await expectDecodesOnInOrder(server.url, knobs: Preset.instant.knobs, label: "ffmpeg -listen")
        }

        /// The same with open GOPs (B-frames after the keyframe refer to the GOP before it) and with frame threads
        /// in the decoder handed on, on the project's origin encoding with B-frames.
        @Test(arguments: [(openGOP: false, threads: 2), (openGOP: true, threads: 1), (openGOP: true, threads: 3)])
        func openGOPsAndFrameThreadsDecodeOnInOrder(openGOP: Bool, threads: Int) async throws {
            let media = MediaConfiguration(width: 320, height: 180, audio: false, bFrames: 3, openGOP: openGOP)
            try await withOrigin(OriginConfiguration(media: media)) { origin in
                var knobs = Preset.instant.knobs
                knobs.decoderThreads = threads
                try await expectDecodesOnInOrder(
                    origin.url(.gop),
                    knobs: knobs,
                    label: "origin openGOP=\(openGOP) threads=\(threads)"
                )
            }
        }

        /// An inter frame a broken muxer flagged as key (FLV frame type 1) is not taken for the keyframe: FFmpeg's
        /// H.264 parser clears the flag, so the first picture decoded alone is the real keyframe's, clean, and the
        /// decoder handed on starts there. (Were a flagged frame to reach the decoder and give no clean picture
        /// alone, the open would decode in order from it, as without the knob.)
        @Test func aFalseKeyFlagIsNotTakenForTheKeyframe() async throws {
            let files = try MediaFixtures.files()
            let file = try [UInt8](Data(contentsOf: files.audioVideoFLV))
            let (preamble, tags) = try MediaFixtures.flvTags(file)
            let video = tags.filter { $0.type == 9 }
            let sequenceHeader = try #require(video.first { $0.bytes[11] & 0x0F == 7 && $0.bytes[12] == 0 })
            let frames = video.filter { !($0.bytes[11] & 0x0F == 7 && $0.bytes[12] == 0) }
            try #require(frames.first?.isVideoKeyframe == true && frames.count >= 30)
            // Video only (header flags 1): ten inter frames from the middle, the first flagged key, then the real
            // keyframe and what follows it, timestamps going on at 40 ms a frame.
            var header = preamble
            header[4] = 1
            var body = sequenceHeader.retimed(0)
            for (index, tag) in (Array(frames[10..<20]) + Array(frames[0..<20])).enumerated() {
                var bytes = tag.retimed(UInt32(index * 40))
                if index == 0 { bytes[11] = 0x10 | (bytes[11] & 0x0F) }
                body += bytes
            }
            let server = try StaticFileServer(files: ["flagged.flv": header + body])
            defer { server.stop() }
            let stream = try await StreamOpener(preset: .instant).open("http://127.0.0.1:\(server.port)/flagged.flv")
            defer { stream.close() }
            let decode = try #require(stream.report.firstPictureDecode)
            let handOff = try #require(stream.takeVideoDecoder())
            let picture = handOff.firstPicture
            report(
                "inter frame flagged key: first picture pts \(picture.pts ?? -1) ms, keyframe \(picture.isKeyframe), corrupt \(picture.isCorrupt), decoded alone \(decode.keyframeAlone)"
            )
            #expect(picture.isKeyframe && !picture.isCorrupt)
            // The real keyframe is the eleventh tag (dts 400 ms); x264's B-frames put its pts two frames later.
            #expect(picture.pts == 480)
            #expect(decode.keyframeAlone && decode.packetsDecoded == 1)
        }

        private func expectDecodesOnInOrder(_ url: String, knobs: TuningKnobs, label: String) async throws {
            let stream = try await StreamOpener(knobs: knobs).open(url)
            defer { stream.close() }
            let handOff = try #require(stream.takeVideoDecoder())
            #expect(handOff.packetsAlreadyDecoded == 1)
            // The handed-on video from the first keyframe: the packets the open read, then 30 more.
            var video: [Packet] = []
            for try await packet in stream.packets() where packet.streamIndex == stream.videoStreamIndex {
                guard !video.isEmpty || packet.flags.contains(.key) else { continue }
                video.append(packet)
                if video.count >= 40 { break }
            }
            // Priming marked its own reference to the keyframe, not the packet handed on.
            #expect(video.allSatisfy { !$0.flags.contains(.discard) })
            let parameters = try #require(stream.codecParameters(ofStream: stream.videoStreamIndex))
            let reference = try CodecContext.decoder(for: parameters.pointer, threads: 1)
            let expected = try decodeAll(video, with: reference)
            let decodedOn = try decodeAll(Array(video.dropFirst(handOff.packetsAlreadyDecoded)), with: handOff.decoder)
            let got = [Picture(handOff.firstPicture)] + decodedOn
            report("\(label): \(expected.count) pictures in order, the hand-off gave \(got.count)")
            #expect(expected.count >= 30)
            #expect(got.map(\.pts) == expected.map(\.pts))
            #expect(got.map(\.checksum) == expected.map(\.checksum))
        }

        /// Every picture `decoder` gives for `packets`, drained at the end.
        private func decodeAll(_ packets: [Packet], with decoder: CodecContext) throws -> [Picture] {
            var pictures: [Picture] = []
            let frame = Frame()
            for packet in packets {
                try decoder.send(packet)
                while try decoder.receive(into: frame) { pictures.append(Picture(frame)) }
            }
            try decoder.send(nil as Packet?)
            while try decoder.receive(into: frame) { pictures.append(Picture(frame)) }
            return pictures
        }

        /// A picture's timestamp and a checksum of its luma plane.
        private struct Picture: Equatable {
            var pts: Int64?
            var checksum: UInt64

            init(_ frame: Frame) {
                pts = frame.pts
                var hash: UInt64 = 0xcbf2_9ce4_8422_2325
                let picture = frame.pointer.pointee
                if let luma = picture.data.0 {
                    for row in 0..<Int(picture.height) {
                        let line = luma + row * Int(picture.linesize.0)
                        for column in 0..<Int(picture.width) {
                            hash = (hash ^ UInt64(line[column])) &* 0x100_0000_01b3
                        }
                    }
                }
                checksum = hash
            }
        }
    }
}
