import NIOCore
import NIOHTTP1
import NIOPosix

/// The exporter's HTTP/1.1 listener (SwiftNIO, keep-alive as Prometheus uses it): each request is handed to
/// ``Exporter/respond(to:)``, one at a time per connection, connections served concurrently.
public struct ExporterHTTPServer: Sendable {
    let server: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>

    /// The bound port (the chosen one when asked for 0).
    public var port: Int { server.channel.localAddress?.port ?? 0 }

    /// Binds `host:port` now, so that a bad address fails the command before anything else starts.
    public static func bind(host: String, port: Int) async throws -> ExporterHTTPServer {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                        wrappingChannelSynchronously: channel
                    )
                }
            }
        return ExporterHTTPServer(server: server)
    }

    /// Serves until the task is cancelled.
    public func run(_ exporter: Exporter) async throws {
        try await withThrowingDiscardingTaskGroup { group in
            try await withTaskCancellationHandler {
                try await server.executeThenClose { connections in
                    for try await connection in connections {
                        group.addTask { await Self.serve(connection, exporter: exporter) }
                    }
                }
            } onCancel: {
                server.channel.close(promise: nil)
            }
            group.cancelAll()
        }
    }

    /// Largest request body read (the exporter takes none; a POST to /-/reload may carry a little).
    private static let bodyLimit = 64 * 1024

    private static func serve(
        _ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>,
        exporter: Exporter
    ) async {
        try? await withTaskCancellationHandler {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead?
                var bodyBytes = 0
                for try await part in inbound {
                    switch part {
                    case .head(let requestHead):
                        head = requestHead
                        bodyBytes = 0
                    case .body(let buffer):
                        bodyBytes += buffer.readableBytes
                        if bodyBytes > bodyLimit { return }
                    case .end:
                        guard let requestHead = head else { continue }
                        head = nil
                        let request = Exporter.Request(
                            method: requestHead.method.rawValue,
                            uri: requestHead.uri,
                            headers: requestHead.headers.map { ($0.name, $0.value) }
                        )
                        let response = await exporter.respond(to: request)
                        var headers = HTTPHeaders()
                        headers.add(name: "Content-Type", value: response.contentType)
                        headers.add(name: "Content-Length", value: String(response.body.count))
                        if !requestHead.isKeepAlive { headers.add(name: "Connection", value: "close") }
                        try await outbound.write(
                            .head(
                                HTTPResponseHead(
                                    version: requestHead.version,
                                    status: HTTPResponseStatus(statusCode: response.status),
                                    headers: headers
                                )
                            )
                        )
                        if requestHead.method != .HEAD {
                            try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: response.body))))
                        }
                        try await outbound.write(.end(nil))
                        if !requestHead.isKeepAlive { return }
                    }
                }
            }
        } onCancel: {
            connection.channel.close(promise: nil)
        }
    }
}
