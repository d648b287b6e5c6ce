import FirstFrame
import FirstFrameFFmpeg
import FirstFrameTestSupport
import Foundation
import Testing

extension OriginTests {
    /// Streams that change under a recorder, made with the `ffmpeg` CLI and spliced tag by tag into one FLV body
    /// (served by a plain file server): a new sequence header with another picture size, another codec, timestamps
    /// that jump hours ahead, FLV's 32-bit timestamp wrap. Every file must decode cleanly, keep every packet that was
    /// sent, and the session log must say why each file started and where the timeline broke.
    @Suite struct StreamChanges {
        init() { FFmpegLog.level = .quiet }

        private struct Recorded {
            var summary: RecordingSummary
            var fileReasons: [String]
        }

        /// `seconds` of testsrc2 (or another `pattern`) at `size`, with a sine, as FLV; video `codec` arguments.
        private func flv(
            in directory: URL,
            _ name: String,
            size: String,
            pattern: String = "testsrc2",
            video: [String] = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "50"],
            seconds: Int = 4
        ) throws -> [UInt8] {
            let path = directory.appendingPathComponent(name).path
            try MediaFixtures.run(
                "/usr/bin/ffmpeg",
                [
                    "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", "\(pattern)=size=\(size):rate=25",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
                ] + video + ["-c:a", "aac", "-t", "\(seconds)", "-f", "flv", path]
            )
            return try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        }

        /// The first file whole, then the second's audio and video tags (sequence headers included, script data
        /// left out) with the timestamps `retime` gives them.
        private func splice(_ first: [UInt8], _ second: [UInt8], retime: (UInt32) -> UInt32) throws -> [UInt8] {
            let tags = try MediaFixtures.flvTags(second).tags.filter { $0.type == 8 || $0.type == 9 }
            return first + tags.flatMap { $0.retimed(retime($0.timestamp)) }
        }

        /// Counts of the audio and video packets in an FLV body, as FFmpeg's demuxer sees them (sequence headers
        /// and the AVC end-of-sequence marker are not packets).
        private func mediaTagCounts(_ file: [UInt8]) throws -> (video: Int, audio: Int) {
            let tags = try MediaFixtures.flvTags(file).tags
            let video = tags.filter { $0.type == 9 && !($0.bytes[11] & 0x0F == 7 && $0.bytes[12] != 1) }.count
            let audio = tags.filter { $0.type == 8 && !($0.bytes[11] >> 4 == 10 && $0.bytes[12] == 0) }.count
            return (video, audio)
        }

        /// Records `body` (served whole, with its length) until it ends.
        private func record(_ body: [UInt8], in directory: URL, container: String = "mkv") async throws -> Recorded {
            let server = try StaticFileServer(files: ["room.flv": body])
            defer { server.stop() }
            let path = directory.appendingPathComponent("room.\(container)").path
            let recorder = try Recorder(
                url: "http://127.0.0.1:\(server.port)/room.flv",
                path: path,
                configuration: .init(
                    reconnect: try ReconnectPolicy(initialDelay: 0.05, maximumDelay: 0.2, jitter: 0, maxAttempts: 2),
                    readBatchSeconds: 0,
                    stopAtEndOfInput: true
                )
            )
            let summary = await recorder.run()
            let lines = try String(contentsOfFile: recorder.sessionLogPath, encoding: .utf8).split(separator: "\n").map
            {
                try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
            let reasons = lines.filter { $0["event"] as? String == "file" }.compactMap { $0["reason"] as? String }
            return Recorded(summary: summary, fileReasons: reasons)
        }

        private func directory() throws -> URL {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "changes-\(UUID().uuidString)"
            )
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            return directory
        }

        /// Every file decodes without an error, dts increase per stream, and the video packets add up to `video`.
        private func judge(_ files: [String], video expected: Int) throws {
            var video = 0
            for file in files {
                let packets = try MediaProbe.packets(file)
                video += packets.filter { $0.codec_type == "video" }.count
                for index in Set(packets.map(\.stream_index)) {
                    let dts = packets.filter { $0.stream_index == index }.compactMap(\.dts)
                    #expect(
                        zip(dts, dts.dropFirst()).allSatisfy { $0 < $1 },
                        "\(file): stream \(index) dts not increasing"
                    )
                }
                #expect(
                    packets.first { $0.codec_type == "video" }?.isKeyframe == true,
                    "\(file) starts without a keyframe"
                )
                let errors = try MediaProbe.decodeErrors(file)
                #expect(errors.isEmpty, "\(file): \(errors.prefix(300))")
            }
            #expect(video == expected, "video packets in the files vs sent")
        }

        /// A new AVC sequence header (320x240 → 640x360) mid-stream starts a new file that carries it.
        @Test func aResolutionChangeStartsANewFileThatDecodes() async throws {
            let directory = try directory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let small = try flv(in: directory, "small.flv", size: "320x240")
            let large = try flv(in: directory, "large.flv", size: "640x360", pattern: "testsrc")
            let body = try splice(small, large) { $0 + 4000 }
            let recorded = try await record(body, in: directory)
            #expect(recorded.summary.files.count == 2, "\(recorded.summary.files)")
            #expect(recorded.fileReasons == ["first", "newSequenceHeader"])
            let sizes = try recorded.summary.files.map { file in
                try MediaProbe.streams(file).first { $0.codec_type == "video" }.map {
                    "\($0.width ?? 0)x\($0.height ?? 0)"
                }
            }
            #expect(sizes == ["320x240", "640x360"])
            try judge(recorded.summary.files, video: try mediaTagCounts(small).video + mediaTagCounts(large).video)
        }

        /// H.264 then Sorenson H.263 (FLV makes a new stream for it): a new file with the new codec, nothing dropped.
        @Test func aCodecChangeStartsANewFileWithEveryPacket() async throws {
            let directory = try directory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let h264 = try flv(in: directory, "h264.flv", size: "320x240")
            let sorenson = try flv(
                in: directory,
                "flv1.flv",
                size: "320x240",
                pattern: "testsrc",
                video: ["-c:v", "flv", "-g", "50", "-q:v", "5"]
            )
            let body = try splice(h264, sorenson) { $0 + 4000 }
            let recorded = try await record(body, in: directory)
            #expect(recorded.fileReasons == ["first", "codecChanged"])
            let codecs = try recorded.summary.files.map {
                try MediaProbe.streams($0).first { $0.codec_type == "video" }?.codec_name
            }
            #expect(codecs == ["h264", "flv1"])
            try judge(recorded.summary.files, video: try mediaTagCounts(h264).video + mediaTagCounts(sorenson).video)
        }

        /// Timestamps that jump five hours ahead inside the connection: the file goes on right after the jump
        /// (8 s of media, not five hours), and the jump is logged.
        @Test func aJumpOfHoursKeepsTheFileAsLongAsItsMedia() async throws {
            let directory = try directory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let first = try flv(in: directory, "a.flv", size: "320x240")
            let second = try flv(in: directory, "b.flv", size: "320x240", pattern: "testsrc")
            let body = try splice(first, second) { $0 + 4000 + 5 * 3_600_000 }
            let recorded = try await record(body, in: directory)
            #expect(
                recorded.summary.mediaSeconds > 7 && recorded.summary.mediaSeconds < 9,
                "\(recorded.summary.mediaSeconds) s"
            )
            #expect(recorded.summary.gaps.contains { $0.kind == .timestampJump }, "\(recorded.summary.gaps)")
            try judge(recorded.summary.files, video: try mediaTagCounts(first).video + mediaTagCounts(second).video)
        }

        /// FLV's 32-bit millisecond timestamps wrap 2 s into the stream: the file's timeline goes on through it.
        @Test func theThirtyTwoBitWrapIsSplicedThrough() async throws {
            let directory = try directory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let media = try flv(in: directory, "a.flv", size: "320x240")
            let (preamble, tags) = try MediaFixtures.flvTags(media)
            let start = UInt32.max - 1999
            let body = preamble + tags.flatMap { $0.retimed($0.type == 18 ? 0 : start &+ $0.timestamp) }
            let recorded = try await record(body, in: directory)
            #expect(
                recorded.summary.mediaSeconds > 3 && recorded.summary.mediaSeconds < 5,
                "\(recorded.summary.mediaSeconds) s"
            )
            try judge(recorded.summary.files, video: try mediaTagCounts(media).video)
        }

        /// A live HLS playlist that never updates: the recorder writes its segments once, ends each connection as
        /// stalled (one read timeout), drops what the next connections send again, and gives up after `maxAttempts`
        /// connections that added nothing.
        @Test func aPlaylistThatNeverUpdatesIsRecordedOnce() async throws {
            let directory = try directory()
            defer { try? FileManager.default.removeItem(at: directory) }
            try MediaFixtures.run(
                "/usr/bin/ffmpeg",
                [
                    "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "25", "-c:a", "aac", "-t", "4",
                    "-f", "hls", "-hls_time", "1", "-hls_list_size", "0", "-hls_flags", "omit_endlist",
                    "-hls_segment_filename", directory.appendingPathComponent("seg%d.ts").path,
                    directory.appendingPathComponent("live.m3u8").path,
                ]
            )
            var files: [String: [UInt8]] = [:]
            for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
                files[name] = try [UInt8](Data(contentsOf: directory.appendingPathComponent(name)))
            }
            let segments = files.keys.filter { $0.hasSuffix(".ts") }.sorted()
            #expect(segments.count == 4)
            let server = try StaticFileServer(files: files)
            defer { server.stop() }
            var knobs = Preset.instant.knobs
            knobs.readTimeoutMs = 1500
            knobs.allowedProtocols = ["http", "tcp", "hls"]
            let path = directory.appendingPathComponent("room.mkv").path
            let recorder = try Recorder(
                url: "http://127.0.0.1:\(server.port)/live.m3u8",
                path: path,
                configuration: .init(
                    knobs: knobs,
                    reconnect: try ReconnectPolicy(initialDelay: 0.05, maximumDelay: 0.2, jitter: 0, maxAttempts: 2),
                    readBatchSeconds: 0
                )
            )
            let summary = await recorder.run()
            #expect(summary.outcome == .attemptsExhausted)
            #expect(summary.successfulOpens == 3, "one that wrote, two that sent it all again")
            #expect(summary.gaps.first?.end?.reason == .stalled)
            #expect(summary.duplicatesDropped > 0)
            // FFmpeg starts a live playlist three segments from its end: those, once each.
            let sent = try segments.suffix(3).reduce(0) { count, name in
                try count
                    + MediaProbe.packets(directory.appendingPathComponent(name).path).filter {
                        $0.codec_type == "video"
                    }.count
            }
            let written = try MediaProbe.packets(path).filter { $0.codec_type == "video" }
            #expect(written.count == sent, "video packets written vs in the segments read")
            let dts = written.compactMap(\.dts)
            #expect(Set(dts).count == dts.count, "a packet written twice")
        }

        /// MPEG-TS with two audio tracks (AAC and MP2): the one the open chose is recorded; the other, there from the
        /// open, is neither a codec change nor audio joining late (no new files, no track written over another).
        @Test func aSecondAudioTrackIsNotAStreamChange() async throws {
            let directory = try directory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = directory.appendingPathComponent("two.ts").path
            try MediaFixtures.run(
                "/usr/bin/ffmpeg",
                [
                    "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
                    "-f", "lavfi", "-i", "sine=frequency=880",
                    "-map", "0:v", "-map", "1:a", "-map", "2:a", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "50",
                    "-c:a:0", "aac", "-c:a:1", "mp2", "-t", "4", "-f", "mpegts", path,
                ]
            )
            let server = try StaticFileServer(files: [
                "two.ts": try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            ])
            defer { server.stop() }
            let recording = directory.appendingPathComponent("room.mkv").path
            let recorder = try Recorder(
                url: "http://127.0.0.1:\(server.port)/two.ts",
                path: recording,
                configuration: .init(
                    reconnect: try ReconnectPolicy(initialDelay: 0.05, maximumDelay: 0.2, jitter: 0, maxAttempts: 2),
                    readBatchSeconds: 0,
                    stopAtEndOfInput: true
                )
            )
            let summary = await recorder.run()
            #expect(summary.files == [recording], "\(summary.files)")
            let audio = try MediaProbe.streams(recording).filter { $0.codec_type == "audio" }
            #expect(audio.count == 1)
            let errors = try MediaProbe.decodeErrors(recording)
            #expect(errors.isEmpty, "\(errors.prefix(300))")
        }
    }
}
