import FirstFrameCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// nginx with Debian's `libnginx-mod-rtmp` on loopback, fed by `ffmpeg -re … -f flv rtmp://…` with a looping
/// H.264 (x264 defaults, B-frames included) + AAC file: the RTMP server real deployments run, with no GOP cache,
/// to measure FFmpeg's RTMP client against something that is not the project's own origin.
///
/// Everything lives in a temporary directory (configuration, pid, logs, nginx's temp paths, HLS output) and every
/// child runs in a process group of its own; ``stop()`` (or deinit) kills the groups and removes the directory.
/// The initialiser returns once the stream plays: an `ffprobe` of the RTMP URL has seen its video and audio.
package final class NginxRTMPServer: @unchecked Sendable {
    package struct Failure: Error, CustomStringConvertible, Sendable {
        package let description: String
        package init(_ description: String) { self.description = description }
    }

    package static let nginxPath = "/usr/sbin/nginx"
    package static let modulePath = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
    fileprivate static let ffmpegPath = "/usr/bin/ffmpeg"
    fileprivate static let ffprobePath = "/usr/bin/ffprobe"

    /// Why the fixture cannot run here (nil when it can): for `.enabled(if:)` traits and skip notes.
    package static var unavailableReason: String? {
        let files = FileManager.default
        if !files.isExecutableFile(atPath: nginxPath) {
            return "nginx is not installed (\(nginxPath); Debian: nginx-light)"
        }
        if !files.fileExists(atPath: modulePath) {
            return "the RTMP module is not installed (\(modulePath); Debian: libnginx-mod-rtmp)"
        }
        if !files.isExecutableFile(atPath: ffmpegPath) || !files.isExecutableFile(atPath: ffprobePath) {
            return "ffmpeg/ffprobe are not installed"
        }
        return nil
    }

    package static var isAvailable: Bool { unavailableReason == nil }

    /// The RTMP listener (127.0.0.1) and, with HLS, the HTTP one.
    package let rtmpPort: Int
    package let httpPort: Int?
    package let streamName: String
    /// The temporary directory holding everything the server and publisher write.
    package let directory: URL

    /// `rtmp://127.0.0.1:PORT/live/NAME`: what the publisher feeds and a player opens.
    package var url: String { "rtmp://127.0.0.1:\(rtmpPort)/live/\(streamName)" }
    /// `http://127.0.0.1:PORT/hls/NAME.m3u8`, when the server was started with HLS.
    package var hlsURL: String? { httpPort.map { "http://127.0.0.1:\($0)/hls/\(streamName).m3u8" } }

    private let lock = NSLock()
    private var children: [SpawnedProcess] = []
    private var stopped = false

    /// Starts nginx and the publisher and waits (up to `timeout` seconds) until the stream plays.
    ///
    /// - Parameters:
    ///   - streamName: the stream's name under the `live` application.
    ///   - hls: also write HLS (1 s fragments, 6 s playlist) and serve it over HTTP; ready once the playlist exists.
    ///   - timeout: the deadline for nginx to listen and the stream to play.
    package init(streamName: String = "stream", hls: Bool = false, timeout: Double = 30) throws {
        if let reason = Self.unavailableReason { throw Failure(reason) }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "firstframe-nginx-\(UUID().uuidString)"
        )
        var launch = Launch(directory: directory, streamName: streamName)
        do {
            try launch.run(hls: hls, deadline: MonotonicClock.nanoseconds() + UInt64(timeout * 1e9))
        } catch {
            for child in launch.children.reversed() { child.kill() }
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
        self.directory = directory
        self.streamName = streamName
        rtmpPort = launch.rtmpPort
        httpPort = launch.httpPort
        children = launch.children
    }

    deinit { stop() }

    /// Waits (up to `timeout` seconds) until nginx's HLS playlist lists at least `count` segments: a playlist just
    /// started lists one, and FFmpeg's `live_start_index` (-3) then starts at its last with no next segment.
    package func waitForSegments(_ count: Int, timeout: Double = 30) throws {
        let playlist = directory.appendingPathComponent("hls/\(streamName).m3u8")
        let deadline = MonotonicClock.nanoseconds() + UInt64(timeout * 1e9)
        while MonotonicClock.nanoseconds() < deadline {
            let text = (try? String(contentsOf: playlist, encoding: .utf8)) ?? ""
            if text.components(separatedBy: "#EXTINF").count - 1 >= count { return }
            usleep(50_000)
        }
        throw Failure("nginx's playlist listed fewer than \(count) segments before the deadline\n\(errorLog)")
    }

    /// Kills nginx and the publisher (their whole process groups) and removes the directory. Idempotent.
    package func stop() {
        let running: [SpawnedProcess] = lock.withLock {
            guard !stopped else { return [] }
            stopped = true
            defer { children.removeAll() }
            return children
        }
        guard !running.isEmpty || FileManager.default.fileExists(atPath: directory.path) else { return }
        // The publisher first, so nginx does not log its disconnect as an error while going down.
        for child in running.reversed() { child.kill() }
        try? FileManager.default.removeItem(at: directory)
    }

    /// nginx's error log so far (for a failing test's message).
    package var errorLog: String { Self.tail(directory.appendingPathComponent("logs/error.log"), bytes: 1 << 20) }

    // MARK: Helpers

    fileprivate static func tail(_ file: URL, bytes: Int = 4096) -> String {
        guard let data = try? Data(contentsOf: file) else { return "" }
        return String(decoding: data.suffix(bytes), as: UTF8.self)
    }

    /// The published file, made once per process: 10 s of 320x240 H.264 at 25 fps with a keyframe every 50
    /// frames and x264's default B-frames (what live encoders send), and AAC, in FLV.
    fileprivate static func sourceFile() throws -> URL {
        try madeSource.get()
    }

    private static let sourceDirectory = FileManager.default.temporaryDirectory
        .appendingPathComponent("firstframe-nginx-media-\(getpid())")

    private static let madeSource: Result<URL, Failure> = Result { () throws(Failure) -> URL in
        atexit { try? FileManager.default.removeItem(at: NginxRTMPServer.sourceDirectory) }
        do {
            try FileManager.default.createDirectory(at: sourceDirectory, withIntermediateDirectories: true)
        } catch {
            throw Failure("\(error)")
        }
        let file = sourceDirectory.appendingPathComponent("live.flv")
        do throws(MediaFixtures.Failure) {
            try MediaFixtures.run(
                ffmpegPath,
                [
                    "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "50", "-c:a", "aac", "-t", "10", "-f", "flv",
                    file.path,
                ]
            )
        } catch {
            throw Failure("making the published file: \(error)")
        }
        return file
    }
}

/// Starting the server: nginx on free ports, the publisher, and the waits until the stream plays. On failure the
/// caller kills ``children`` and removes the directory.
private struct Launch {
    let directory: URL
    let streamName: String
    var rtmpPort = 0
    var httpPort: Int?
    var children: [SpawnedProcess] = []

    var url: String { "rtmp://127.0.0.1:\(rtmpPort)/live/\(streamName)" }
    var errorLog: String { NginxRTMPServer.tail(directory.appendingPathComponent("logs/error.log"), bytes: 1 << 20) }

    init(directory: URL, streamName: String) {
        self.directory = directory
        self.streamName = streamName
    }

    mutating func run(hls: Bool, deadline: UInt64) throws {
        for sub in ["logs", "tmp", "hls"] {
            try FileManager.default.createDirectory(
                at: directory.appendingPathComponent(sub),
                withIntermediateDirectories: true
            )
        }
        let source = try NginxRTMPServer.sourceFile()
        // The ports are picked free and released before nginx binds them; another process can take one in
        // between, so a failed bind is retried with fresh ports (a few times, then it is an error).
        var lastError = ""
        var listening = false
        for _ in 0..<3 where !listening {
            rtmpPort = try LoopbackSocket.freePort()
            httpPort = hls ? try LoopbackSocket.freePort() : nil
            let configuration = directory.appendingPathComponent("nginx.conf")
            try Self.configuration(directory: directory, rtmpPort: rtmpPort, httpPort: httpPort)
                .write(to: configuration, atomically: true, encoding: .utf8)
            let nginx = try SpawnedProcess(
                NginxRTMPServer.nginxPath,
                ["-c", configuration.path, "-p", directory.path + "/"],
                output: directory.appendingPathComponent("logs/nginx.out")
            )
            children.append(nginx)
            switch try Self.waitForListening(
                nginx,
                ports: [rtmpPort] + (httpPort.map { [$0] } ?? []),
                deadline: deadline
            ) {
            case .listening:
                listening = true
            case .exited:
                lastError = errorLog + NginxRTMPServer.tail(directory.appendingPathComponent("logs/nginx.out"))
                nginx.kill()
                children.removeAll { $0 === nginx }
            }
        }
        guard listening else { throw NginxRTMPServer.Failure("nginx did not start: \(lastError)") }

        let publisher = try SpawnedProcess(
            NginxRTMPServer.ffmpegPath,
            [
                "-nostdin", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", source.path,
                "-c", "copy", "-f", "flv", url,
            ],
            output: directory.appendingPathComponent("logs/publisher.out")
        )
        children.append(publisher)
        try waitUntilPlaying(publisher: publisher, deadline: deadline)
        if hls { try waitForPlaylist(deadline: deadline) }
    }

    // MARK: Configuration

    static func configuration(directory: URL, rtmpPort: Int, httpPort: Int?) -> String {
        let root = directory.path
        let hls =
            httpPort == nil
            ? ""
            : """

                    hls on;
                    hls_path \(root)/hls;
                    hls_fragment 1s;
                    hls_playlist_length 6s;
            """
        let http =
            httpPort.map { port in
                """

                http {
                    access_log \(root)/logs/access.log;
                    client_body_temp_path \(root)/tmp/body;
                    proxy_temp_path \(root)/tmp/proxy;
                    fastcgi_temp_path \(root)/tmp/fastcgi;
                    uwsgi_temp_path \(root)/tmp/uwsgi;
                    scgi_temp_path \(root)/tmp/scgi;
                    server {
                        listen 127.0.0.1:\(port);
                        location /hls {
                            types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
                            root \(root);
                            add_header Cache-Control no-cache;
                        }
                    }
                }
                """
            } ?? ""
        // One process, in the foreground, writing nothing outside the directory. As root, nginx would otherwise
        // try to switch to the `nobody` user, which cannot read the temporary directory.
        return """
            load_module \(NginxRTMPServer.modulePath);
            daemon off;
            master_process off;
            \(geteuid() == 0 ? "user root;" : "")
            pid \(root)/nginx.pid;
            error_log \(root)/logs/error.log info;
            events {}
            rtmp {
                server {
                    listen 127.0.0.1:\(rtmpPort);
                    application live {
                        live on;\(hls)
                    }
                }
            }\(http)

            """
    }

    // MARK: Readiness

    enum ListenOutcome { case listening, exited }

    /// Polls the kernel's table of listening sockets until nginx has bound every port, or exited (a failed bind).
    static func waitForListening(_ nginx: SpawnedProcess, ports: [Int], deadline: UInt64) throws -> ListenOutcome {
        while MonotonicClock.nanoseconds() < deadline {
            if ports.allSatisfy { LoopbackSocket.isListening(port: $0) } { return .listening }
            if nginx.hasExited() { return .exited }
            usleep(10_000)
        }
        throw NginxRTMPServer.Failure("nginx did not listen on \(ports) before the deadline")
    }

    /// Opens the stream with `ffprobe` (a real RTMP play, through nginx) until it reports video and audio: only
    /// then do players get media. Each probe has its own deadline; a probe that fails early is retried.
    mutating func waitUntilPlaying(publisher: SpawnedProcess, deadline: UInt64) throws {
        var attempt = 0
        var lastOutput = ""
        while MonotonicClock.nanoseconds() < deadline {
            if publisher.hasExited() {
                throw NginxRTMPServer.Failure(
                    "the publisher exited: \(NginxRTMPServer.tail(directory.appendingPathComponent("logs/publisher.out")))\n\(errorLog)"
                )
            }
            attempt += 1
            let output = directory.appendingPathComponent("logs/probe-\(attempt).out")
            let probe = try SpawnedProcess(
                NginxRTMPServer.ffprobePath,
                ["-v", "error", "-rw_timeout", "5000000", "-show_entries", "stream=codec_type", "-of", "csv=p=0", url],
                output: output
            )
            children.append(probe)
            let finished = probe.wait(until: deadline)
            probe.kill()
            children.removeAll { $0 === probe }
            lastOutput = NginxRTMPServer.tail(output)
            if finished, lastOutput.contains("video"), lastOutput.contains("audio") { return }
            // A probe that failed at once (the publisher not yet in) is not retried in a tight loop.
            usleep(50_000)
        }
        throw NginxRTMPServer.Failure(
            "the stream did not play before the deadline (last probe: \(lastOutput))\n\(errorLog)"
        )
    }

    /// With HLS, waits until nginx has written the stream's first playlist.
    func waitForPlaylist(deadline: UInt64) throws {
        let playlist = directory.appendingPathComponent("hls/\(streamName).m3u8")
        while MonotonicClock.nanoseconds() < deadline {
            if FileManager.default.fileExists(atPath: playlist.path) { return }
            usleep(20_000)
        }
        throw NginxRTMPServer.Failure("nginx wrote no HLS playlist before the deadline\n\(errorLog)")
    }

}
