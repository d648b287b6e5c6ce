import FirstFrame
import FirstFrameExporter
import FirstFrameTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// An ``Exporter`` in this process, with its configuration in a temporary file: what the tests ask through
/// ``respond(_:method:headers:)``, exactly what ``ExporterHTTPServer`` hands it for each request.
struct ExporterFixture {
    let exporter: Exporter
    let directory: URL
    let configFile: URL

    /// One kept probe as `/reports` writes it.
    struct Record: Decodable {
        var target: String
        var preset: String
        var trigger: String
        var endedAt: Double
        var firstPictureSeconds: Double?
        var report: FirstFrameReport
    }

    /// `config`: the JSON configuration (nil: no `--config`, no targets).
    init(config: String?, options: Exporter.Options = Exporter.Options()) throws {
        directory = try ScratchDirectory.make("exporter-tests")
        configFile = directory.appendingPathComponent("exporter.json")
        var options = options
        if let config {
            try config.write(to: configFile, atomically: true, encoding: .utf8)
            options.configPath = configFile.path
        }
        exporter = try Exporter(options: options)
    }

    func remove() {
        exporter.finish()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Replaces the configuration file (a reload reads it).
    func rewrite(_ config: String) throws {
        try config.write(to: configFile, atomically: true, encoding: .utf8)
    }

    /// The answer to `method uri`, its body as text.
    func respond(
        _ uri: String,
        method: String = "GET",
        headers: [(String, String)] = []
    ) async -> (status: Int, contentType: String, body: String) {
        let response = await exporter.respond(to: Exporter.Request(method: method, uri: uri, headers: headers))
        return (response.status, response.contentType, String(decoding: response.body, as: UTF8.self))
    }

    /// `/metrics`, parsed.
    func metrics() async throws -> Exposition {
        let answer = await respond("/metrics")
        #expect(answer.status == 200)
        return try Exposition(answer.body)
    }

    /// `/reports` with `query`, one record per line.
    func reports(_ query: String = "") async throws -> [Record] {
        let answer = await respond("/reports" + query)
        guard answer.status == 200 else { throw Failure("/reports\(query): \(answer.status) \(answer.body)") }
        return try answer.body.split(separator: "\n").map {
            try JSONDecoder().decode(Record.self, from: Data($0.utf8))
        }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    // MARK: Configurations and URLs

    /// A configuration of `targets` (name, URL, interval), each labelled `region: test`.
    static func config(_ targets: [(String, String, Double?)], concurrency: Int = 2, jitter: Double = 0.1) -> String {
        let entries = targets.map { name, url, interval in
            "{\"name\": \"\(name)\", \"url\": \"\(url)\", \"preset\": \"instant\", \"labels\": {\"region\": \"test\"}"
                + (interval.map { ", \"interval\": \($0)" } ?? "") + "}"
        }
        return "{\"targets\": [\(entries.joined(separator: ", "))], \"concurrency\": \(concurrency), "
            + "\"jitter\": \(jitter)}\n"
    }

    static func encoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
    }

    /// An HTTP-FLV URL on a loopback port nothing listens on: an open of it fails at once (connection refused).
    static func refusedURL() throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        let port = try LoopbackSocket.bind(fd)
        return "http://127.0.0.1:\(port)/live/closed.flv"
    }
}
