import CFFmpeg
import FirstFrameCore
import FirstFrameFFmpeg
import Foundation
import Testing

@Suite struct FFmpegWrappers {
    init() { FFmpegLog.level = .quiet }

    @Test func errorsCarryCodeOperationAndFFmpegText() {
        let error = FFmpegError(code: .system(ECONNREFUSED), operation: "avformat_open_input")
        #expect(error.message == "Connection refused")
        #expect(error.description == "avformat_open_input: Connection refused (\(cffmpeg_averror(ECONNREFUSED)))")
        #expect(FFmpegError(code: .endOfFile, operation: "x").code == .endOfFile)
        #expect(FFmpegError(code: .interrupted, operation: "x").code == .interrupted)
        #expect(FFmpegError(code: .httpNotFound, operation: "x").httpStatus == 404)
        #expect(FFmpegError(code: .httpServerError, operation: "x").httpStatus == 500)
        #expect(FFmpegError(code: .system(EIO), operation: "x").httpStatus == nil)
    }

    @Test func errorsAreMatchedByCodeInCatchAndSwitch() throws {
        func fail(_ code: FFmpegError.Code) throws { throw FFmpegError(code: code, operation: "av_read_frame") }
        var matched: [String] = []
        for code in [FFmpegError.Code.endOfFile, .system(ECONNRESET), .invalidData] {
            do {
                try fail(code)
            } catch FFmpegError.Code.endOfFile {
                matched.append("end")
            } catch let error as FFmpegError where error.code == .system(ECONNRESET) {
                matched.append("reset")
            } catch {
                matched.append("other")
            }
        }
        #expect(matched == ["end", "reset", "other"])
        // Codable as the bare number, as reports and session logs have always carried it.
        let data = try JSONEncoder().encode(FFmpegError(code: .endOfFile, operation: "x"))
        let json = try #require(String(data: data, encoding: .utf8))
        #expect(json.contains("\"code\":\(CFFMPEG_AVERROR_EOF)"))
        #expect(try JSONDecoder().decode(FFmpegError.self, from: data).code == .endOfFile)
    }

    @Test func shimReExportsMacroConstants() {
        #expect(CFFMPEG_AV_NOPTS_VALUE == Int64.min)
        #expect(CFFMPEG_AV_TIME_BASE == 1_000_000)
        #expect(cffmpeg_time_base_q().num == 1 && cffmpeg_time_base_q().den == 1_000_000)
        #expect(cffmpeg_averror_eagain() == -EAGAIN)
    }

    @Test func optionsReportWhatFFmpegDidNotConsume() throws {
        let options = FFmpegOptions(["fpsprobesize": "0", "not_an_option": "1"])
        #expect(options["fpsprobesize"] == "0")
        #expect(options.entries.count == 2)
        // A missing file fails in the file protocol (a quick local call), after options are applied;
        // the unknown key survives.
        _ = try? InputFormatContext(url: "/nonexistent/firstframe.flv", options: options)
        #expect(options.unconsumedKeys.contains("not_an_option"))
    }

    @Test func openingAMissingFileFailsAtTheProbeWithENOENT() async throws {
        let result = try await DedicatedThread.run(name: "test") {
            PlainOpen.run(url: "/nonexistent/firstframe.flv", timeout: 5)
        }
        #expect(result.failedStage == .formatProbed)
        #expect(result.error?.code == .system(ENOENT))
        #expect(result.milestones.isEmpty)
    }

    @Test func interrupterStopsABlockingOpenAtItsDeadline() async throws {
        // A listening socket that never answers: FFmpeg connects, sends its request and waits for a response.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                guard bind(listener, $0, length) == 0, listen(listener, 8) == 0, getsockname(listener, $0, &length) == 0
                else {
                    throw FFmpegError(code: -errno, operation: "listen")
                }
            }
        }
        let port = UInt16(bigEndian: address.sin_port)
        let started = MonotonicClock.nanoseconds()
        let result = try await DedicatedThread.run(name: "test") {
            PlainOpen.run(url: "http://127.0.0.1:\(port)/silent.flv", timeout: 0.5)
        }
        let elapsed = MonotonicClock.milliseconds(since: started)
        #expect(result.error?.code == .interrupted, "\(String(describing: result.error))")
        #expect(result.failedStage == .formatProbed)
        #expect(elapsed >= 500)
        #expect(elapsed < 500 + 1000, "stopped \(elapsed) ms after a 500 ms deadline")
    }

    @Test func interrupterCanBeCancelledFromAnotherThread() {
        let interrupter = Interrupter(timeout: nil)
        #expect(!interrupter.hasTimedOut)
        #expect(!interrupter.isCancelled)
        interrupter.cancel()
        #expect(interrupter.isCancelled)
    }

    @Test func resultsEncodeMilestonesAsAnObject() throws {
        var result = PlainOpen.Result(url: "x")
        result.milestones[.formatProbed] = 1.5
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(result)) as? [String: Any]
        #expect((json?["milestones"] as? [String: Double])?["formatProbed"] == 1.5)
        let decoded = try JSONDecoder().decode(PlainOpen.Result.self, from: JSONEncoder().encode(result))
        #expect(decoded.milestones == result.milestones)
    }

    @Test func packetsAndFramesStartEmpty() {
        let packet = Packet()
        #expect(packet.size == 0)
        #expect(packet.pts == nil)
        #expect(packet.bytes.isEmpty)
        let frame = Frame()
        #expect(frame.width == 0)
        #expect(frame.pts == nil)
    }

    @Test func encoderAndDecoderRoundTripAPicture() throws {
        let encoder = try CodecContext.encoder(named: "mpeg4") { context in
            context.pointee.width = 64
            context.pointee.height = 48
            context.pointee.pix_fmt = AV_PIX_FMT_YUV420P
            context.pointee.time_base = AVRational(num: 1, den: 25)
        }
        let frame = Frame()
        try frame.allocatePicture(format: AV_PIX_FMT_YUV420P, width: 64, height: 48)
        frame.pointer.pointee.pts = 0
        try encoder.send(frame)
        try encoder.send(nil as Frame?)
        let packet = Packet()
        #expect(try encoder.receive(into: packet))
        #expect(packet.isKeyframe)

        var parameters = avcodec_parameters_alloc()
        defer { avcodec_parameters_free(&parameters) }
        avcodec_parameters_from_context(parameters, encoder.pointer)
        let decoder = try CodecContext.decoder(for: parameters!)
        #expect(decoder.codecName == "mpeg4")
        try decoder.send(packet)
        try decoder.send(nil as Packet?)
        let decoded = Frame()
        #expect(try decoder.receive(into: decoded))
        #expect(decoded.width == 64 && decoded.height == 48)
    }

    @Test func missingEncoderIsATypedError() {
        #expect(!CodecContext.hasEncoder(named: "no-such-encoder"))
        #expect(throws: FFmpegError.self) { try CodecContext.encoder(named: "no-such-encoder") { _ in } }
    }
}
