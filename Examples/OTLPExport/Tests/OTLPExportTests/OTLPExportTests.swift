import FirstFrameOrigin
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

/// `firstframe-otlp` against a collector on loopback that decodes what it receives: the open's span tree arrives
/// over OTLP/HTTP with the report's times, and its metrics arrive too.
@Suite struct OTLPExportTests {
    /// An OTLP/HTTP collector: keeps every POST body by path.
    final class Collector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        static let received = Mutex<[(path: String, body: [UInt8])]>([])
        private var path = ""
        private var body: [UInt8] = []

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                path = head.uri
                body = []
            case .body(var buffer):
                body += buffer.readBytes(length: buffer.readableBytes) ?? []
            case .end:
                let (path, body) = (self.path, self.body)
                Self.received.withLock { $0.append((path, body)) }
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: "application/x-protobuf")
                headers.add(name: "Content-Length", value: "0")
                context.write(
                    wrapOutboundOut(.head(.init(version: .http1_1, status: .ok, headers: headers))),
                    promise: nil
                )
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }

    struct Span {
        var name: String
        var parent: [UInt8]
        var id: [UInt8]
        var start: UInt64
        var end: UInt64
    }

    /// Every span in the trace exports received: ExportTraceServiceRequest.resource_spans(1) → scope_spans(2) →
    /// spans(2): span_id(2), parent_span_id(4), name(5), start(7), end(8).
    static func spans(_ bodies: [[UInt8]]) throws -> [Span] {
        var spans: [Span] = []
        for body in bodies {
            for resource in try ProtobufReader.messages(body, 1) {
                for scope in try ProtobufReader.messages(resource, 2) {
                    for span in try ProtobufReader.messages(scope, 2) {
                        spans.append(
                            Span(
                                name: try ProtobufReader.string(span, 5) ?? "",
                                parent: try ProtobufReader.messages(span, 4).first ?? [],
                                id: try ProtobufReader.messages(span, 2).first ?? [],
                                start: try ProtobufReader.fixed64(span, 7) ?? 0,
                                end: try ProtobufReader.fixed64(span, 8) ?? 0
                            )
                        )
                    }
                }
            }
        }
        return spans
    }

    /// Metric names in the metrics exports received: resource_metrics(1) → scope_metrics(2) → metrics(2): name(1).
    static func metricNames(_ bodies: [[UInt8]]) throws -> Set<String> {
        var names: Set<String> = []
        for body in bodies {
            for resource in try ProtobufReader.messages(body, 1) {
                for scope in try ProtobufReader.messages(resource, 2) {
                    for metric in try ProtobufReader.messages(scope, 2) {
                        names.insert(try ProtobufReader.string(metric, 1) ?? "")
                    }
                }
            }
        }
        return names
    }

    /// The example's executable, next to the test runner (both are products of the same build).
    static var executable: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("firstframe-otlp")
    }

    @Test func theOpensSpanTreeAndMetricsReachTheCollector() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap { channel.pipeline.addHandler(Collector()) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = server.localAddress!.port!
        // The collector goes down however the test ends.
        let outcome = await Result { () async throws -> Void in try await self.openAndCheck(collectorPort: port) }
        try? await server.close()
        try? await group.shutdownGracefully()
        try outcome.get()
    }

    private func openAndCheck(collectorPort port: Int) async throws {
        try await LiveOrigin.serving(OriginConfiguration()) { origin in
            let process = Process()
            process.executableURL = Self.executable
            process.arguments = [
                "http://127.0.0.1:\(origin.port)/gop/stream.flv", "--otlp-endpoint", "http://127.0.0.1:\(port)",
            ]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            let printed = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            let report = try #require(try JSONSerialization.jsonObject(with: printed) as? [String: Any])
            let summary = try #require(report["summary"] as? [String: Any])
            let firstPicture = try #require(summary["firstVideoFrameMs"] as? Double)

            let received = Collector.received.withLock { $0 }
            let spans = try Self.spans(received.filter { $0.path == "/v1/traces" }.map(\.body))
            let open = try #require(spans.first { $0.name == "firstframe.open" }, "spans: \(spans.map(\.name))")
            print("[measured] OTLP: \(spans.count) spans: " + spans.map(\.name).joined(separator: ", "))
            // The open span lasts as long as the report says, to the microsecond.
            #expect(abs(Double(open.end - open.start) / 1e6 - firstPicture) < 0.002)
            // Hops, connects and stages are its children.
            #expect(spans.filter { $0.parent == open.id }.count >= 4)
            #expect(spans.contains { $0.name.hasPrefix("socket connect 127.0.0.1:") })
            let metrics = try Self.metricNames(received.filter { $0.path == "/v1/metrics" }.map(\.body))
            print("[measured] OTLP metrics: " + metrics.sorted().joined(separator: ", "))
            #expect(metrics.contains { $0.hasPrefix("firstframe_open") })
        }
    }
}

extension Result where Failure == any Error {
    fileprivate init(_ body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
