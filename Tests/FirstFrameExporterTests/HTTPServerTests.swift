import FirstFrame
import FirstFrameExporter
import FirstFrameTestSupport
import Foundation
import Testing

/// ``ExporterHTTPServer`` in this process: each request reaches ``Exporter/respond(to:)`` and its answer goes back
/// with the status, the content type and the length; a HEAD answer has no body.
@Suite struct HTTPServerTests {
    @Test func theListenerHandsEachRequestToTheExporter() async throws {
        let fixture = try ExporterFixture(config: nil)
        defer { fixture.remove() }
        let server = try await ExporterHTTPServer.bind(host: "127.0.0.1", port: 0)
        #expect(server.port > 0)
        let exporter = fixture.exporter
        let serving = Task { try await server.run(exporter) }
        defer { serving.cancel() }
        let base = "http://127.0.0.1:\(server.port)"

        let healthy = try await blocking { try LoopbackHTTP.get(base + "/-/healthy") }
        #expect(healthy.status == 200 && healthy.body == "OK\n")
        #expect(healthy.headers["content-type"] == "text/plain; charset=utf-8")
        #expect(healthy.headers["content-length"] == "3")

        let head = try await blocking { try LoopbackHTTP.get(base + "/metrics", method: "HEAD") }
        #expect(head.status == 200 && head.body.isEmpty)
        #expect(head.headers["content-type"] == Exporter.Response.prometheusText)
        #expect(Int(head.headers["content-length"] ?? "") ?? 0 > 0)

        let missing = try await blocking { try LoopbackHTTP.get(base + "/nothing-here") }
        #expect(missing.status == 404 && missing.body.contains("not found"))

        let reload = try await blocking { try LoopbackHTTP.get(base + "/-/reload", method: "POST") }
        #expect(reload.status == 400 && reload.body.contains("no --config"), "\(reload.body)")

        serving.cancel()
        _ = await serving.result
    }
}
