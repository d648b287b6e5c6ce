import FirstFrame
import FirstFrameTestSupport
import Foundation
import OriginTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
import FirstFrameNetwork
#endif

extension OriginTests {
    /// The first keyframe's arrival, checked against a raw-socket relay that parses the FLV itself and knows when
    /// the keyframe's last byte went out. The relay holds back the tag's last 16 bytes (the tag header and AVC
    /// packet header that `pos + size` used to leave out) for 30 ms, so an arrival taken from `pos + size`
    /// comes out 30 ms early and the true one does not.
    @Suite struct KeyframeArrival {
        /// A one-connection relay between FFmpeg and the origin, writing the first video keyframe's tag in two
        /// parts with a pause between them.
        final class SplittingRelay: Sendable {
            let port: Int
            private let listener: Int32
            /// MonotonicClock ns: the first response byte written, the early part's write, the last byte's write.
            let times = Mutex<(firstByte: UInt64, early: UInt64, last: UInt64)>((0, 0, 0))
            static let heldBack = 16
            static let pause: UInt64 = 30_000_000

            init(originPort: Int) throws {
                listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                port = try LoopbackSocket.bind(listener)
                listen(listener, 1)
                let listener = self.listener
                Thread { [self] in
                    let client = accept(listener, nil, nil)
                    guard client >= 0 else { return }
                    defer { close(client) }
                    let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                    defer { close(upstream) }
                    guard LoopbackSocket.connect(upstream, port: originPort) == 0 else { return }
                    relay(client: client, upstream: upstream)
                }.start()
            }

            deinit { close(listener) }

            private func relay(client: Int32, upstream: Int32) {
                var buffer = [UInt8](repeating: 0, count: 65536)
                // The request, forwarded whole (FFmpeg sends it in one write).
                let count = recv(client, &buffer, buffer.count, 0)
                guard count > 0, send(upstream, buffer, count, 0) == count else { return }
                var response: [UInt8] = []
                var sent = 0
                var split: (early: Int, end: Int)?
                var splitDone = false
                while true {
                    let got = recv(upstream, &buffer, buffer.count, 0)
                    guard got > 0 else { return }
                    response += buffer[0..<got]
                    if split == nil { split = Self.keyframeSplit(response) }
                    var limit = response.count
                    if let split, !splitDone { limit = min(limit, split.early) }
                    if limit > sent {
                        guard write(client, Array(response[sent..<limit])) else { return }
                        if sent == 0 { times.withLock { $0.firstByte = MonotonicClock.nanoseconds() } }
                        sent = limit
                    }
                    if let split, !splitDone, sent == split.early, response.count >= split.end {
                        times.withLock { $0.early = MonotonicClock.nanoseconds() }
                        // The stimulus under test: the tag's last bytes arrive later than its data.
                        usleep(useconds_t(Self.pause / 1000))
                        guard write(client, Array(response[sent..<split.end])) else { return }
                        times.withLock { $0.last = MonotonicClock.nanoseconds() }
                        sent = split.end
                        splitDone = true
                    }
                }
            }

            private func write(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
                var offset = 0
                while offset < bytes.count {
                    let written = bytes[offset...].withUnsafeBytes {
                        send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                    }
                    guard written > 0 else { return false }
                    offset += written
                }
                return true
            }

            /// Where the first AVC keyframe tag (not the sequence header) ends in the response, and where the held
            /// back part starts: parsed from the bytes, independently of FFmpeg.
            static func keyframeSplit(_ response: [UInt8]) -> (early: Int, end: Int)? {
                guard
                    let headEnd = (0..<max(0, response.count - 3)).first(where: {
                        response[$0] == 13 && response[$0 + 1] == 10 && response[$0 + 2] == 13 && response[$0 + 3] == 10
                    }).map({ $0 + 4 })
                else { return nil }
                var offset = headEnd + 9 + 4  // FLV header, PreviousTagSize0
                while offset + 11 <= response.count {
                    let type = response[offset] & 0x1F
                    let size =
                        Int(response[offset + 1]) << 16 | Int(response[offset + 2]) << 8 | Int(response[offset + 3])
                    let end = offset + 11 + size
                    if type == 9, offset + 13 <= response.count, response[offset + 11] >> 4 == 1,
                        response[offset + 12] == 1
                    {
                        return (end - heldBack, end)
                    }
                    offset = end + 4
                }
                return nil
            }
        }

        @Test(.enabled(if: NetworkTrace.isAvailable))
        func firstKeyframeArrivalIsTheTagsLastByte() async throws {
            try await withOrigin { origin in
                let relay = try SplittingRelay(originPort: origin.port)
                var knobs = Preset.instant.knobs
                knobs.totalDeadline = 5
                let opened = try await StreamOpener(knobs: knobs).open("http://127.0.0.1:\(relay.port)/gop/stream.flv")
                    .report
                let times = relay.times.withLock { $0 }
                try #require(times.last > 0, "the relay split the keyframe")
                let firstByte = try #require(opened.milestones.firstByteMs)
                let keyframe = try #require(opened.milestones.firstKeyframeMs)
                let truth = Double(times.last - times.firstByte) / 1e6
                let measured = keyframe - firstByte
                // What `pos + size` gave: the time the byte 16 before the tag's end arrived, the early write.
                let formerly = Double(times.early - times.firstByte) / 1e6
                report(
                    "Keyframe arrival after the first byte: relay \(truth) ms; report \(measured) ms (error \(measured - truth) ms); pos + size would give \(formerly) ms (error \(formerly - truth) ms)"
                )
                #expect(abs(measured - truth) < 5, "within a few ms of the relay's write of the last byte")
                #expect(formerly - truth < -20, "the stimulus separates the two formulas")
            }
        }
    }
}
