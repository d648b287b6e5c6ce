import CFFmpeg
// In this target the socket constants come through CNetworkHooks' header (it includes <sys/socket.h>).
import CNetworkHooks
import FirstFrame
import FirstFrameOrigin
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
import FirstFrameNetwork
import FirstFrameFFmpeg
#endif

/// `firstframe bench`: the floor, stock FFmpeg and each preset, side by side in one run on the embedded origin,
/// every contender of a round started at the same phase of the channel's GOP.
package enum OpenBenchmark {
    package enum Contender: Hashable, Sendable, CustomStringConvertible {
        /// A raw socket reader: until the first keyframe's bytes have arrived, plus one decode of it.
        case floor
        /// Plain libavformat calls with no options (`PlainOpen`).
        case stock
        case preset(Preset)

        package var description: String {
            switch self {
            case .floor: "floor"
            case .stock: "stock ffmpeg"
            case .preset(let preset): "preset \(preset.rawValue)"
            }
        }

        package static let all: [Contender] = [.floor, .stock] + Preset.allCases.map { .preset($0) }
    }

    /// One contender's first pictures in one join mode.
    package struct Row: Sendable, Codable {
        /// The origin's stream: `bframes=0` (its default) or `bframes=N` (x264's pyramid, as most live encoders).
        package var stream: String
        package var mode: String
        package var contender: String
        package var samplesMs: [Double]
        package var failures: Int
        package var p50Ms: Double?
        package var p95Ms: Double?
        /// p50 and p95 over the floor's p50 and p95 in the same run.
        package var ratioP50: Double?
        package var ratioP95: Double?
        /// From the first keyframe's last byte to the first picture: the report's milestones for the presets, one
        /// decode for the floor; none for stock FFmpeg (it has no trace).
        package var keyToPictureMs: [Double]
        package var keyToPictureP50Ms: Double?
        package var keyToPictureP95Ms: Double?
    }

    /// A first picture measured, and its keyframe arrival → picture time when the contender knows it.
    package struct Sample: Sendable {
        package var firstPictureMs: Double
        package var keyToPictureMs: Double?
    }

    /// Opens one ``run(origin:modes:repeats:timeout:measured:)`` makes: every contender, every round, every mode.
    package static func opens(modes: [JoinMode] = [.gop, .live], repeats: Int) -> Int {
        modes.count * repeats * Contender.all.count
    }

    /// Runs `repeats` rounds per mode. A round picks a random GOP phase and starts every contender at it.
    /// `measured` is called after each open (of ``opens(modes:repeats:)``), whatever its outcome.
    package static func run(
        origin: LiveOrigin,
        modes: [JoinMode] = [.gop, .live],
        repeats: Int,
        timeout: Double = 15,
        measured: @Sendable () -> Void = {}
    ) async throws -> [Row] {
        var rows: [Row] = []
        let stream = "bframes=\(origin.program.configuration.bFrames)"
        for mode in modes {
            var samples: [Contender: [Double]] = [:]
            var keyToPicture: [Contender: [Double]] = [:]
            var failures: [Contender: Int] = [:]
            for _ in 0..<repeats {
                let lead = Double.random(in: 100...1900)
                for contender in Contender.all {
                    try await waitForPhase(origin, millisecondsBeforeKeyframe: lead)
                    let url = origin.url(mode)
                    if let sample = await measure(contender, url: url, timeout: timeout) {
                        samples[contender, default: []].append(sample.firstPictureMs)
                        if let ms = sample.keyToPictureMs { keyToPicture[contender, default: []].append(ms) }
                    } else {
                        failures[contender, default: 0] += 1
                    }
                    measured()
                }
            }
            let floor = ReportAggregate.Distribution(samples[.floor] ?? [])
            for contender in Contender.all {
                let values = samples[contender] ?? []
                let distribution = ReportAggregate.Distribution(values)
                let p50 = distribution?.p50
                let p95 = distribution?.p95
                let keyToPictureValues = keyToPicture[contender] ?? []
                let keyToPictureDistribution = ReportAggregate.Distribution(keyToPictureValues)
                rows.append(
                    Row(
                        stream: stream,
                        mode: mode.rawValue,
                        contender: contender.description,
                        samplesMs: values,
                        failures: failures[contender] ?? 0,
                        p50Ms: p50,
                        p95Ms: p95,
                        ratioP50: p50.flatMap { value in floor.map { value / $0.p50 } },
                        ratioP95: p95.flatMap { value in floor.map { value / $0.p95 } },
                        keyToPictureMs: keyToPictureValues,
                        keyToPictureP50Ms: keyToPictureDistribution?.p50,
                        keyToPictureP95Ms: keyToPictureDistribution?.p95
                    )
                )
            }
        }
        return rows
    }

    /// Sleeps until the next keyframe is `lead` ms away (the scenario's phase, not synchronisation).
    package static func waitForPhase(_ origin: LiveOrigin, millisecondsBeforeKeyframe lead: Double) async throws {
        let gop =
            Double(origin.program.configuration.gopFrames) * 1000 / Double(origin.program.configuration.framesPerSecond)
        var wait = origin.millisecondsToNextKeyframe - lead
        if wait < 0 { wait += gop }
        try await Task.sleep(for: .milliseconds(Int(wait)))
    }

    private static func measure(_ contender: Contender, url: String, timeout: Double) async -> Sample? {
        switch contender {
        case .floor:
            return try? await DedicatedThread.run(name: "bench.floor") { try floor(url: url, timeout: timeout) }
        case .stock:
            let result = try? await DedicatedThread.run(name: "bench.stock") {
                PlainOpen.run(url: url, timeout: timeout)
            }
            return result?.milestones[.firstVideoFrame].map { Sample(firstPictureMs: $0) }
        case .preset(let preset):
            var knobs = preset.knobs
            knobs.totalDeadline = timeout
            guard let opener = try? StreamOpener(knobs: knobs, presetName: preset.rawValue) else { return nil }
            let report = await opener.report(opening: url)
            guard let picture = report.summary.firstVideoFrameMs else { return nil }
            return Sample(
                firstPictureMs: picture,
                keyToPictureMs: report.milestones.firstKeyframeMs.map { picture - $0 }
            )
        }
    }

    // MARK: The floor

    package enum FloorError: Error, CustomStringConvertible {
        case unsupported(String)
        case network(String)
        case decode(String)

        package var description: String {
            switch self {
            case .unsupported(let why), .network(let why), .decode(let why): why
            }
        }
    }

    /// The first picture, in ms from the request, if nothing but the bytes and one decode took time, and that one
    /// decode (the floor's keyframe arrival → picture): a raw socket reads until the first video keyframe tag is
    /// complete, then that keyframe (H.264) is decoded once. Blocking.
    package static func floor(url: String, timeout: Double = 15) throws -> Sample {
        guard let parsed = URL(string: url), let host = parsed.host, let address = IPAddress(host),
            address.family == .ipv4, let port = parsed.port
        else {
            throw FloorError.unsupported("the floor reader takes http://IPv4:port/ URLs, got \(url)")
        }
        let start = MonotonicClock.nanoseconds()
        let deadline = start + UInt64(timeout * 1e9)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var storage = SocketAddress(address: address, port: port).storage
        let connected = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw FloorError.network("connect: \(String(cString: strerror(errno)))") }
        let path = parsed.path + (parsed.query.map { "?" + $0 } ?? "")
        let request = Array("GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n\r\n".utf8)
        guard send(fd, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else {
            throw FloorError.network("send: \(String(cString: strerror(errno)))")
        }

        var head: [UInt8] = []
        var inBody = false
        var parser = FLVStreamParser()
        var sequenceHeader: FLVTag?
        var keyframe: FLVTag?
        var buffer = [UInt8](repeating: 0, count: 65536)
        while keyframe == nil {
            let now = MonotonicClock.nanoseconds()
            guard now < deadline else { throw FloorError.network("no keyframe before the deadline") }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32(min(100, (deadline - now) / 1_000_000 + 1))) >= 0 else {
                throw FloorError.network("poll: \(String(cString: strerror(errno)))")
            }
            guard poller.revents != 0 else { continue }
            let count = recv(fd, &buffer, buffer.count, 0)
            guard count > 0 else { throw FloorError.network("the connection closed before a keyframe") }
            var bytes = buffer[0..<count]
            if !inBody {
                head += bytes
                guard let end = HTTPHead.headLength(head) else { continue }
                inBody = true
                bytes = head[end...]
            }
            let tags: [FLVTag]
            do { tags = try parser.append(bytes) } catch { throw FloorError.network("not FLV: \(error)") }
            for tag in tags where tag.kind == .video {
                if tag.isSequenceHeader {
                    sequenceHeader = tag
                } else if tag.isKeyframe {
                    keyframe = tag
                    break
                }
            }
        }
        let arrival = MonotonicClock.nanoseconds()
        guard let sequenceHeader, let keyframe, keyframe.payload.first.map({ $0 & 0x0F == 7 }) == true else {
            throw FloorError.unsupported("the floor decodes H.264 in FLV only")
        }
        let decodeTime = try decodeOnce(
            configuration: Array(sequenceHeader.payload.dropFirst(5)),
            keyframe: Array(keyframe.payload.dropFirst(5))
        )
        return Sample(firstPictureMs: Double(arrival - start) / 1e6 + decodeTime, keyToPictureMs: decodeTime)
    }

    /// Milliseconds one H.264 decode of `keyframe` takes (decoder opened beforehand, one thread).
    private static func decodeOnce(configuration: [UInt8], keyframe: [UInt8]) throws -> Double {
        guard let parameters = avcodec_parameters_alloc() else { throw FloorError.decode("out of memory") }
        var owned: UnsafeMutablePointer<AVCodecParameters>? = parameters
        defer { avcodec_parameters_free(&owned) }
        parameters.pointee.codec_type = AVMEDIA_TYPE_VIDEO
        parameters.pointee.codec_id = AV_CODEC_ID_H264
        let padding = Int(AV_INPUT_BUFFER_PADDING_SIZE)
        guard let extradata = av_mallocz(configuration.count + padding)?.assumingMemoryBound(to: UInt8.self) else {
            throw FloorError.decode("out of memory")
        }
        extradata.update(from: configuration, count: configuration.count)
        parameters.pointee.extradata = extradata
        parameters.pointee.extradata_size = Int32(configuration.count)
        let decoder: CodecContext
        do { decoder = try CodecContext.decoder(for: parameters, threads: 1) } catch {
            throw FloorError.decode("\(error)")
        }
        let packet = Packet()
        guard av_new_packet(packet.pointer, Int32(keyframe.count)) == 0 else {
            throw FloorError.decode("out of memory")
        }
        packet.pointer.pointee.data.update(from: keyframe, count: keyframe.count)
        packet.pointer.pointee.flags |= AV_PKT_FLAG_KEY
        let frame = Frame()
        let start = MonotonicClock.nanoseconds()
        do {
            try decoder.send(packet)
            if try !decoder.receive(into: frame) {
                try decoder.send(nil as Packet?)
                guard try decoder.receive(into: frame) else { throw FloorError.decode("no picture from the keyframe") }
            }
        } catch let error as FloorError {
            throw error
        } catch {
            throw FloorError.decode("\(error)")
        }
        return Double(MonotonicClock.nanoseconds() - start) / 1e6
    }
}

// MARK: `firstframe bench open`

extension OpenBenchmark {
    /// Runs ``run(origin:modes:repeats:timeout:measured:)`` on an embedded origin of each configuration in turn
    /// (quiet, shut down whatever happens); `progress` counts ``opens(modes:repeats:)`` per origin.
    package static func run(
        origins: [OriginConfiguration],
        repeats: Int,
        progress: some BenchmarkProgress
    ) async throws -> [Row] {
        var rows: [Row] = []
        for configuration in origins {
            var logger = Logger(label: "firstframe.bench")
            logger.logLevel = .warning
            rows += try await LiveOrigin.serving(configuration, logger: logger) { server in
                try await progress.step("benchmarking bframes=\(configuration.media.bFrames)") {
                    try await run(origin: server, repeats: repeats, measured: { progress.advance(by: 1) })
                }
            }
        }
        return rows
    }

    /// The rows as the command prints them, then the targets each stream is held to.
    package static func table(_ rows: [Row], repeats: Int) -> String {
        func ms(_ value: Double?) -> String { value.map { String(format: "%9.1f", $0) } ?? "        -" }
        func ratio(_ value: Double?) -> String { value.map { String(format: "%8.2fx", $0) } ?? "        -" }
        var lines = [
            "first picture, ms (\(repeats) rounds per mode; every contender of a round at the same GOP phase);",
            "key→pic: the first keyframe's last byte → the picture (the floor's: one decode)",
            "stream     mode  contender                 p50       p95   p50/floor p95/floor  key→pic p50    p95  failed",
        ]
        for row in rows {
            lines.append(
                row.stream.padding(toLength: 11, withPad: " ", startingAt: 0)
                    + row.mode.padding(toLength: 6, withPad: " ", startingAt: 0)
                    + row.contender.padding(toLength: 20, withPad: " ", startingAt: 0)
                    + ms(row.p50Ms) + " " + ms(row.p95Ms) + "  " + ratio(row.ratioP50) + " " + ratio(row.ratioP95)
                    + "  " + ms(row.keyToPictureP50Ms) + ms(row.keyToPictureP95Ms)
                    + String(format: "  %6d", row.failures)
            )
        }
        let instant = "preset instant"
        for stream in Array(Set(rows.map(\.stream))).sorted() {
            let rows = rows.filter { $0.stream == stream }
            if let gop = rows.first(where: { $0.mode == "gop" && $0.contender == instant }) {
                lines.append(
                    String(
                        format: "target gop (%@): instant p50 ≤ 1.25× floor: %.2fx; p95 ≤ 2× floor: %.2fx",
                        stream,
                        gop.ratioP50 ?? .nan,
                        gop.ratioP95 ?? .nan
                    )
                )
            }
            if let live = rows.first(where: { $0.mode == "live" && $0.contender == instant }),
                let floor = rows.first(where: { $0.mode == "live" && $0.contender == "floor" }),
                let instantP50 = live.p50Ms, let floorP50 = floor.p50Ms
            {
                lines.append(
                    String(
                        format:
                            "target live (%@): instant p50 ≤ keyframe arrival + one decode (the floor) + 5 ms: +%.1f ms",
                        stream,
                        instantP50 - floorP50
                    )
                )
            }
            // Both modes: keyframe arrival → picture against one decode of it, measured in the same run.
            let instantKey = rows.filter { $0.contender == instant }.flatMap(\.keyToPictureMs)
            let decodes = rows.filter { $0.contender == "floor" }.flatMap(\.keyToPictureMs)
            if let key = ReportAggregate.Distribution(instantKey), let decode = ReportAggregate.Distribution(decodes) {
                lines.append(
                    String(
                        format:
                            "target decode (%@): instant key→picture ≤ one decode + 3 ms: p50 %.1f ms, p95 %.1f ms against one decode p50 %.1f ms (+%.1f / +%.1f ms)",
                        stream,
                        key.p50,
                        key.p95,
                        decode.p50,
                        key.p50 - decode.p50,
                        key.p95 - decode.p50
                    )
                )
            }
        }
        return lines.joined(separator: "\n")
    }
}
