import FirstFrameCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Debian's `prometheus` on loopback, as the real scraper of an exporter under test: a temporary directory
/// holds its configuration and TSDB, it listens on a free 127.0.0.1 port, and ``stop()`` (or deinit) kills it and
/// removes the directory. The initialiser returns once `/-/ready` answers 200.
package final class PrometheusServer: @unchecked Sendable {
    package struct Failure: Error, CustomStringConvertible, Sendable {
        package let description: String
        package init(_ description: String) { self.description = description }
    }

    package static let path = "/usr/bin/prometheus"

    /// Why the fixture cannot run here (nil when it can): for `.enabled(if:)` traits and skip notes.
    package static var unavailableReason: String? {
        FileManager.default.isExecutableFile(atPath: path)
            ? nil : "prometheus is not installed (\(path); Debian: prometheus)"
    }

    package let port: Int
    package let directory: URL
    private let process: SpawnedProcess

    package var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Starts Prometheus with `scrapeConfigs` (YAML, the list under `scrape_configs:`, indented by two spaces)
    /// and a global `scrapeInterval` (seconds; the scrape timeout is the same).
    package init(scrapeConfigs: String, scrapeInterval: Double = 1, timeout: Double = 30) throws {
        if let reason = Self.unavailableReason { throw Failure(reason) }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "firstframe-prometheus-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("data"),
            withIntermediateDirectories: true
        )
        let configuration = directory.appendingPathComponent("prometheus.yml")
        let interval = "\(Int((scrapeInterval * 1000).rounded()))ms"
        try """
        global:
          scrape_interval: \(interval)
          scrape_timeout: \(interval)
          evaluation_interval: 1m
        scrape_configs:
        \(scrapeConfigs)
        """.write(to: configuration, atomically: true, encoding: .utf8)
        let deadline = MonotonicClock.nanoseconds() + UInt64(timeout * 1e9)
        var lastOutput = ""
        // The port is picked free and released before Prometheus binds it: retried should another process take it.
        for attempt in 0..<3 {
            let port = try LoopbackSocket.freePort()
            let output = directory.appendingPathComponent("prometheus-\(attempt).log")
            let process = try SpawnedProcess(
                Self.path,
                [
                    "--config.file=\(configuration.path)",
                    "--storage.tsdb.path=\(directory.appendingPathComponent("data").path)",
                    "--web.listen-address=127.0.0.1:\(port)", "--web.enable-lifecycle", "--log.level=warn",
                ],
                output: output
            )
            while MonotonicClock.nanoseconds() < deadline, !process.hasExited() {
                if let answer = try? LoopbackHTTP.get("http://127.0.0.1:\(port)/-/ready", timeout: 1),
                    answer.status == 200
                {
                    self.port = port
                    self.directory = directory
                    self.process = process
                    return
                }
                usleep(50_000)
            }
            process.kill()
            lastOutput = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            if MonotonicClock.nanoseconds() >= deadline { break }
        }
        try? FileManager.default.removeItem(at: directory)
        throw Failure("prometheus did not become ready: \(lastOutput.suffix(4000))")
    }

    deinit { stop() }

    /// Kills Prometheus and removes its directory. Idempotent.
    package func stop() {
        process.kill()
        try? FileManager.default.removeItem(at: directory)
    }

    /// `GET /api/v1/query?query=…` (an instant query, now): the raw JSON answer.
    package func query(_ promQL: String) throws -> String {
        let encoded = promQL.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? promQL
        let answer = try LoopbackHTTP.get("\(baseURL)/api/v1/query?query=\(encoded)")
        guard answer.status == 200 else { throw Failure("query \(promQL): HTTP \(answer.status): \(answer.body)") }
        return answer.body
    }

    /// The samples of an instant query's vector answer: each series' labels and value.
    package func vector(_ promQL: String) throws -> [(labels: [String: String], value: Double)] {
        try Self.vector(fromAnswer: query(promQL))
    }

    package static func vector(fromAnswer json: String) throws -> [(labels: [String: String], value: Double)] {
        struct Answer: Decodable {
            struct Data: Decodable {
                struct Sample: Decodable {
                    var metric: [String: String]
                    var value: [Value]
                }
                var resultType: String
                var result: [Sample]
            }
            var status: String
            var data: Data
        }
        /// `[1700000000.123, "0.0042"]`: a number then a string.
        enum Value: Decodable {
            case number(Double)
            case text(String)
            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let text = try? container.decode(String.self) {
                    self = .text(text)
                } else {
                    self = .number(try container.decode(Double.self))
                }
            }
        }
        let answer = try JSONDecoder().decode(Answer.self, from: Data(json.utf8))
        guard answer.status == "success", answer.data.resultType == "vector" else {
            throw Failure("not a vector answer: \(json)")
        }
        return answer.data.result.compactMap { sample in
            guard case .text(let text) = sample.value.last, let value = Double(text) else { return nil }
            return (sample.metric, value)
        }
    }

    /// Prometheus' own log so far (for a failing test's message).
    package var log: String {
        let files = (try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)) ?? []
        return files.filter { $0.pathExtension == "log" }.compactMap { try? String(contentsOf: $0, encoding: .utf8) }
            .joined()
    }
}

/// A blocking HTTP/1.1 GET (or POST) over a loopback socket, `Connection: close`, the whole body read: enough to
/// talk to Prometheus and to an exporter. Use it from a `DedicatedThread` (``blocking(_:)``).
package enum LoopbackHTTP {
    package struct Answer: Sendable {
        package var status: Int
        package var headers: [String: String]
        package var body: String
    }

    package static func get(
        _ url: String,
        method: String = "GET",
        headers: [(String, String)] = [],
        timeout: Double = 10
    ) throws -> Answer {
        guard let components = URLComponents(string: url), let host = components.host, let port = components.port else {
            throw PrometheusServer.Failure("bad URL \(url)")
        }
        let target =
            (components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath)
            + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PrometheusServer.Failure("socket: errno \(errno)") }
        defer { close(fd) }
        guard LoopbackSocket.connect(fd, address: host, port: port) == 0 else {
            throw PrometheusServer.Failure("connect \(host):\(port): \(String(cString: strerror(errno)))")
        }
        var request =
            "\(method) \(target) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\nUser-Agent: FirstFrameTests\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        request += method == "GET" ? "\r\n" : "Content-Length: 0\r\n\r\n"
        let bytes = Array(request.utf8)
        guard send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else {
            throw PrometheusServer.Failure("send: errno \(errno)")
        }
        var received: [UInt8] = []
        let deadline = MonotonicClock.nanoseconds() + UInt64(timeout * 1e9)
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let remaining = Int64(deadline) - Int64(MonotonicClock.nanoseconds())
            guard remaining > 0 else {
                throw PrometheusServer.Failure("\(url): no complete answer within \(timeout) s")
            }
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, Int32(remaining / 1_000_000) + 1) > 0 else { continue }
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            received += buffer[0..<count]
        }
        guard let end = received.firstRange(of: [13, 10, 13, 10]) else {
            throw PrometheusServer.Failure("\(url): no response head in \(received.count) bytes")
        }
        let lines = String(decoding: received[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw PrometheusServer.Failure("bad status line \(lines[0])")
        }
        var fields: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(received[end.upperBound...])
        if fields["transfer-encoding"]?.lowercased() == "chunked" { body = dechunk(body) }
        return Answer(status: status, headers: fields, body: String(decoding: body, as: UTF8.self))
    }

    private static func dechunk(_ bytes: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        var index = 0
        while let lineEnd = bytes[index...].firstRange(of: [13, 10]) {
            let sizeText =
                String(decoding: bytes[index..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size > 0 else { break }
            let start = lineEnd.upperBound
            guard start + size <= bytes.count else { break }
            output += bytes[start..<start + size]
            index = start + size + 2
            guard index < bytes.count else { break }
        }
        return output
    }
}
