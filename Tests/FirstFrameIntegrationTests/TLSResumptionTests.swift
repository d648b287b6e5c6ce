import FirstFrame
import FirstFrameNetwork
import FirstFrameOrigin
import FirstFrameTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
import FirstFrameFFmpeg
#endif

/// Warm or cold TLS: whether a hop's handshake resumed an earlier session (`NetworkHop.tlsResumed`, from
/// `gnutls_session_is_resumed` in the handshake hook).
extension OriginTests {
    @Suite(
        .enabled(
            if: NetworkTrace.isAvailable && OpenSSLServer.isAvailable,
            "needs the hooks (Linux, no sanitizer) and the openssl binary (make deps installs it)"
        )
    )
    struct TLSResumption {
        init() { FFmpegLog.level = .quiet }

        private static func flv() throws -> [UInt8] {
            let program = try ChannelProgram.synthesized(MediaConfiguration())
            var flv = program.header.encoded()
            for tag in [program.metadata].compactMap({ $0 }) + program.sequenceHeaders + program.media.prefix(60) {
                flv += tag.encoded()
            }
            return flv
        }

        /// Two stock FFmpeg opens of the same HTTPS URL against a server that does resume (shown with
        /// `openssl s_client -sess_out`/`-sess_in`): libavformat 5.1's tls_gnutls never calls
        /// gnutls_session_get_data/set_data, so the second open's handshake is as full as the first's.
        @Test(arguments: ["-tls1_2", "-tls1_3"])
        func stockFFmpegDoesNotResumeAcrossOpens(_ version: String) async throws {
            let server = try OpenSSLServer(version: version, files: ["stream.flv": try Self.flv()])
            defer { server.stop() }
            let cache = DNSCache(
                configuration: .init(resolver: StaticResolver(["tls.test": [IPAddress("127.0.0.1")!]]))
            )
            let url = "https://tls.test:\(server.port)/stream.flv"
            let opens = try await withInstalledCache(cache) {
                [try await TracedOpen.run(url), try await TracedOpen.run(url)]
            }
            var handshakes: [String] = []
            for open in opens {
                #expect(open.error == nil)
                let hop = try #require(open.trace.hops.first)
                #expect(open.trace.hops.count == 1 && hop.kind == .tls)
                let start = try #require(hop.secureConnectionStart)
                let end = try #require(hop.secureConnectionEnd)
                handshakes.append(
                    String(
                        format: "%.2f ms resumed %@",
                        Double(end - start) / 1e6,
                        hop.tlsResumed.map(String.init) ?? "?"
                    )
                )
                #expect(hop.tlsResumed == false)
            }
            // The server would have resumed a client that offered its session.
            let resumed = try Self.serverResumes(port: server.port)
            report(
                "TLS \(version), two stock FFmpeg opens: \(handshakes.joined(separator: "; ")); openssl s_client against the same server: \(resumed)"
            )
            #expect(resumed.hasPrefix("Reused"))
        }

        /// The hook's positive case: a gnutls client in this process that keeps its session and offers it again
        /// (what FFmpeg does not do) is seen resuming.
        @Test(arguments: ["-tls1_2", "-tls1_3"])
        func theHookSeesAResumedHandshake(_ version: String) async throws {
            let server = try OpenSSLServer(version: version, files: ["small.txt": Array("hello\n".utf8)])
            defer { server.stop() }
            let port = server.port
            let (failure, trace) = try await blocking {
                NetworkTrace.capture { () -> String? in
                    do throws(GnuTLSClient.Failure) {
                        let client = try GnuTLSClient()
                        let session = try client.fetch(port: port, path: "/small.txt", session: nil)
                        _ = try client.fetch(port: port, path: "/small.txt", session: session)
                        return nil
                    } catch {
                        return error.description
                    }
                }
            }
            #expect(failure == nil)
            let hops = trace.hops
            report(
                "TLS \(version), gnutls keeping its session: resumed \(hops.map { $0.tlsResumed.map(String.init) ?? "?" }.joined(separator: ", "))"
            )
            #expect(hops.count == 2)
            #expect(hops.map(\.tlsResumed) == [false, true])
        }

        /// What `openssl s_client` prints for a second connection that offers the first one's session:
        /// "Reused, TLSv1.x, …" when the server resumed it.
        private static func serverResumes(port: Int) throws -> String {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "firstframe-sess-\(UUID().uuidString)"
            )
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let session = directory.appendingPathComponent("session.pem").path
            var last = ""
            for flag in ["-sess_out", "-sess_in"] {
                let client = Process()
                client.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
                client.arguments = ["s_client", "-connect", "127.0.0.1:\(port)", flag, session, "-ign_eof"]
                let input = Pipe()
                let output = Pipe()
                client.standardInput = input
                client.standardOutput = output
                client.standardError = FileHandle.nullDevice
                try client.run()
                input.fileHandleForWriting.write(Data("GET /stream.flv HTTP/1.0\r\n\r\n".utf8))
                try input.fileHandleForWriting.close()
                let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                client.waitUntilExit()
                last =
                    printed.split(separator: "\n").first { $0.hasPrefix("New,") || $0.hasPrefix("Reused,") }.map(
                        String.init
                    ) ?? "?"
            }
            return last
        }
    }
}

/// A minimal gnutls client reached through `dlsym` (the test target has no gnutls headers): connects, handshakes
/// (through the hook, which the executable's definition is), sends a GET, reads to the end, and keeps the
/// session data to offer on the next connection.
private struct GnuTLSClient {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private typealias Session = OpaquePointer
    private struct Datum {
        var data: UnsafeMutablePointer<UInt8>?
        var size: UInt32
    }

    private typealias AllocateCredentials = @convention(c) (UnsafeMutablePointer<OpaquePointer?>) -> Int32
    private typealias Initialise = @convention(c) (UnsafeMutablePointer<OpaquePointer?>, UInt32) -> Int32
    private typealias SessionCall = @convention(c) (Session) -> Int32
    private typealias SetCredentials = @convention(c) (Session, Int32, OpaquePointer) -> Int32
    private typealias SetTransport = @convention(c) (Session, Int32, Int32) -> Void
    private typealias Send = @convention(c) (Session, UnsafeRawPointer, Int) -> Int
    private typealias Receive = @convention(c) (Session, UnsafeMutableRawPointer, Int) -> Int
    private typealias GetData = @convention(c) (Session, UnsafeMutableRawPointer) -> Int32
    private typealias SetData = @convention(c) (Session, UnsafeRawPointer, Int) -> Int32
    private typealias Deinitialise = @convention(c) (Session) -> Void

    private let initialise: Initialise
    private let setDefaultPriority: SessionCall
    private let setCredentials: SetCredentials
    private let setTransport: SetTransport
    private let handshake: SessionCall
    private let send: Send
    private let receive: Receive
    private let getData: GetData
    private let setData: SetData
    private let deinitialise: Deinitialise
    private let credentials: OpaquePointer

    init() throws(Failure) {
        func symbol<T>(_ name: String, as: T.Type) throws(Failure) -> T {
            // RTLD_DEFAULT: the executable's definitions first, so gnutls_handshake is the hook.
            guard let pointer = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else {
                throw Failure(description: "no \(name)")
            }
            return unsafeBitCast(pointer, to: T.self)
        }
        let allocateCredentials = try symbol("gnutls_certificate_allocate_credentials", as: AllocateCredentials.self)
        initialise = try symbol("gnutls_init", as: Initialise.self)
        setDefaultPriority = try symbol("gnutls_set_default_priority", as: SessionCall.self)
        setCredentials = try symbol("gnutls_credentials_set", as: SetCredentials.self)
        setTransport = try symbol("gnutls_transport_set_int2", as: SetTransport.self)
        handshake = try symbol("gnutls_handshake", as: SessionCall.self)
        send = try symbol("gnutls_record_send", as: Send.self)
        receive = try symbol("gnutls_record_recv", as: Receive.self)
        getData = try symbol("gnutls_session_get_data2", as: GetData.self)
        setData = try symbol("gnutls_session_set_data", as: SetData.self)
        deinitialise = try symbol("gnutls_deinit", as: Deinitialise.self)
        var credentials: OpaquePointer?
        guard allocateCredentials(&credentials) == 0, let credentials else { throw Failure(description: "credentials") }
        self.credentials = credentials
    }

    /// One connection: handshake (offering `session` when given), GET `path`, read to the end; returns the
    /// session data to resume with.
    func fetch(port: Int, path: String, session offered: [UInt8]?) throws(Failure) -> [UInt8] {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw Failure(description: "connect: errno \(errno)") }
        var pointer: OpaquePointer?
        // 1 << 1: GNUTLS_CLIENT.
        guard initialise(&pointer, 1 << 1) == 0, let session = pointer else {
            throw Failure(description: "gnutls_init")
        }
        defer { deinitialise(session) }
        _ = setDefaultPriority(session)
        // 1: GNUTLS_CRD_CERTIFICATE.
        _ = setCredentials(session, 1, credentials)
        setTransport(session, fd, fd)
        if let offered {
            let status = offered.withUnsafeBytes { setData(session, $0.baseAddress!, $0.count) }
            guard status == 0 else { throw Failure(description: "gnutls_session_set_data \(status)") }
        }
        let shaken = handshake(session)
        guard shaken == 0 else { throw Failure(description: "gnutls_handshake \(shaken)") }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: tls.test\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(session, $0.baseAddress!, $0.count) }) == request.count else {
            throw Failure(description: "gnutls_record_send")
        }
        // To the end (0, or the server closing without close_notify): a TLS 1.3 ticket arrives on the way.
        var buffer = [UInt8](repeating: 0, count: 4096)
        while buffer.withUnsafeMutableBytes({ receive(session, $0.baseAddress!, $0.count) }) > 0 {}
        var datum = Datum(data: nil, size: 0)
        let status = withUnsafeMutablePointer(to: &datum) { getData(session, UnsafeMutableRawPointer($0)) }
        guard status == 0, let data = datum.data else {
            throw Failure(description: "gnutls_session_get_data2 \(status)")
        }
        defer { free(data) }
        return Array(UnsafeBufferPointer(start: data, count: Int(datum.size)))
    }
}
