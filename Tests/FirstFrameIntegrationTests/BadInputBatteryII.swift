import FirstFrame
import FirstFrameRendering
import FirstFrameTestSupport
import Foundation
import Testing

// The second round of the bad-input battery: inputs that were opened, or failed under the wrong name, before it.
// Each case runs through the same checks as the first round's (outcome, stage, kind, time against the deadline,
// no descriptor or thread left behind), plus its own.

extension OriginTests.BadInputBattery {
    static let secondBattery: [BadInputCase] = [
        // A trickle is a timeout in the stage it was in, not an end of stream or a bad status line.
        fails(
            "trickle: the response head at a byte per 100 ms, 1 s deadline",
            .trickle(head: true),
            .httpResponse,
            .timeout,
            knobs: { $0.totalDeadline = 1 },
            check: { measured in
                #expect(
                    measured.report.error?.message.contains("totalDeadline 1.0 s") == true,
                    "\(String(describing: measured.report.error))"
                )
            }
        ),
        fails(
            "trickle: an FLV body at a byte per 100 ms, 1 s deadline",
            .trickle(head: false),
            .formatProbe,
            .timeout,
            knobs: { $0.totalDeadline = 1 }
        ),

        // HLS: a segment's HTTP error ends the open at once, named by its status.
        fails(
            "hls: every segment answers 404",
            .playlistWithMissingSegments,
            .httpResponse,
            .http,
            check: { measured in
                #expect(measured.elapsedMs < 1000, "\(measured.elapsedMs) ms: the 404 was waited out")
                #expect(
                    measured.report.error?.message.contains("404") == true,
                    "\(String(describing: measured.report.error))"
                )
            }
        ),

        // Status lines FFmpeg reads as success.
        fails(
            "http: status line GARBAGE, then a valid FLV body",
            .flvBehind(statusLine: "GARBAGE"),
            .httpResponse,
            .http
        ),
        fails(
            "http: status 999, then a valid FLV body",
            .flvBehind(statusLine: "HTTP/1.1 999 Nope"),
            .httpResponse,
            .http,
            check: { measured in
                #expect(
                    measured.report.error?.message.contains("999") == true,
                    "\(String(describing: measured.report.error))"
                )
            }
        ),
        // The trace keeps 256 KiB of a response: the signature check reads the body's start from FFmpeg's buffer.
        opens("http: a valid FLV behind 1 MB of response headers", .flvBehind(headerBytes: 1 << 20)),

        // URLs FFmpeg cannot use: refused before any I/O.
        // Foundation on Linux keeps the brackets of an IPv6 literal in the host: still an address, not refused.
        fails(
            "url: IPv6 literal [::1] to a closed port",
            .closedPort { "http://[::1]:\($0)/x.flv" },
            .tcpConnect,
            .connect
        ),
        fails("url: IPv6 zone id", .url("http://[fe80::1%25eth0]:8080/x.flv"), .dns, .invalidURL),
        fails(
            "url: 2000-character host",
            .url("http://\(String(repeating: "a", count: 2000)).example/x.flv"),
            .dns,
            .invalidURL
        ),
        fails(
            "url: 70-character host label",
            .url("http://\(String(repeating: "b", count: 70)).example/x.flv"),
            .dns,
            .invalidURL
        ),

        // The failure names the stage that ran and the deadline that fired.
        fails(
            "deadline: live join waiting for its keyframe, total 0.5 s",
            .liveJoinFarFromKeyframe,
            .streamInfo,
            .timeout,
            knobs: { $0.totalDeadline = 0.5 },
            check: { measured in
                let failure = measured.report.error
                #expect(failure?.message.contains("totalDeadline 0.5 s") == true, "\(String(describing: failure))")
                #expect(
                    failure.map { $0.message.contains($0.stage.rawValue) } == true,
                    "\(String(describing: failure))"
                )
            }
        ),
        opens(
            "literal: 127.0.0.1 has no lookup, and its dns stage says what its time was",
            .origin("/gop/stream.flv"),
            check: { measured in
                let dns = measured.report.stages.first { $0.name == .dns }
                #expect(dns?.note?.contains("no lookup") == true, "\(String(describing: dns))")
                #expect(ReportRendering.waterfall(measured.report).contains("no lookup"))
            }
        ),
        fails(
            "dns: a name that does not exist has no server-response cause",
            .url("http://nonexistent.invalid/x.flv"),
            .dns,
            .dns,
            check: { measured in
                let causes = measured.report.causes?.spans.map(\.cause) ?? []
                #expect(!causes.contains(.serverResponse), "\(causes)")
            }
        ),
    ]
}

extension BadInput {
    /// A server that sends the response head (`head`) or, after a whole head, an FLV body a byte every 100 ms:
    /// bytes keep coming, so only the open's deadline ends it.
    static func trickle(head: Bool) -> BadInput {
        BadInput { environment in
            let flv = Array(try Data(contentsOf: environment.media.audioVideoFLV))
            let headBytes = ScriptedHTTPServer.Response.head(200, headers: [("Content-Type", "video/x-flv")])
            let trickled = head ? headBytes : Array(flv.prefix(400))
            let server = try ScriptedHTTPServer { _ in
                ScriptedHTTPServer.Response(
                    (head ? [] : [.send(headBytes)]) + [
                        .stream { index in
                            guard index < trickled.count else { return nil }
                            // The pace of the trickle is what is under test, not a wait for something else.
                            usleep(100_000)
                            return [trickled[index]]
                        }
                    ]
                )
            }
            return PreparedInput(url: server.baseURL + "/x.flv", stop: { server.stop() })
        }
    }

    /// The audio/video FLV file behind `statusLine` and `headerBytes` of filler headers.
    static func flvBehind(statusLine: String = "HTTP/1.1 200 OK", headerBytes: Int = 0) -> BadInput {
        BadInput { environment in
            let flv = Array(try Data(contentsOf: environment.media.audioVideoFLV))
            var head = statusLine + "\r\nContent-Type: video/x-flv\r\nContent-Length: \(flv.count)\r\n"
            let filler = "X-Filler: " + String(repeating: "f", count: 1000) + "\r\n"
            for _ in 0..<(headerBytes / filler.utf8.count) { head += filler }
            let response = Array((head + "\r\n").utf8) + flv
            let server = try ScriptedHTTPServer { _ in .bytes(response) }
            return PreparedInput(url: server.baseURL + "/x.flv", stop: { server.stop() })
        }
    }

    /// A live join on the shared origin started just after a keyframe, so the next one (2 s GOPs) is 1.9 s away:
    /// a 0.5 s deadline always falls while the edge holds the video back. (Waiting for that phase is the scenario.)
    static let liveJoinFarFromKeyframe = BadInput { environment in
        let origin = environment.origin
        let gop =
            Double(origin.program.configuration.gopFrames) * 1000 / Double(origin.program.configuration.framesPerSecond)
        let untilKeyframe = origin.millisecondsToNextKeyframe
        if gop - untilKeyframe > 100 { try await Task.sleep(for: .milliseconds(Int(untilKeyframe) + 100)) }
        return PreparedInput(url: origin.baseURL + "/live/stream.flv")
    }

    /// A live media playlist whose segments all answer 404.
    static let playlistWithMissingSegments = BadInput { _ in
        let playlist =
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n"
            + "#EXTINF:2.0,\nseg7.ts\n#EXTINF:2.0,\nseg8.ts\n#EXTINF:2.0,\nseg9.ts\n"
        let server = try StaticFileServer(files: ["live.m3u8": Array(playlist.utf8)])
        return PreparedInput(url: "http://127.0.0.1:\(server.port)/live.m3u8", stop: { server.stop() })
    }
}
