import FirstFrameCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Media files made once per process with the `ffmpeg` CLI (so they come from a muxer that is not the
/// project's own), FLV helpers to take them apart, and TLS certificates made with the `openssl` CLI.
package enum MediaFixtures {
    package struct Failure: Error, CustomStringConvertible, Sendable {
        package let description: String
        package init(description: String) { self.description = description }
    }

    /// The files, in a temporary directory that lives as long as the process (removed at its exit, with anything
    /// a test put in it).
    package struct Files: Sendable {
        package let directory: URL
        /// 2 s of H.264 (320x240, 25 fps, keyframe every 50 frames) and AAC in FLV.
        package let audioVideoFLV: URL
        /// 2 s of AAC in FLV: the header announces audio only.
        package let audioOnlyFLV: URL
        /// The audio/video file as MPEG-TS.
        package let mpegTS: URL
    }

    package static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/ffmpeg") }

    /// Made on first use; every later call gets the same files (or the same failure).
    package static func files() throws(Failure) -> Files { try made.get() }

    /// This process's directories (media, certificates), removed when it exits.
    private static let mediaDirectory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "firstframe-media-\(getpid())"
    )
    private static let certificateDirectory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "firstframe-pki-\(getpid())"
    )
    private static let removedAtExit: Void = {
        atexit {
            try? FileManager.default.removeItem(at: MediaFixtures.mediaDirectory)
            try? FileManager.default.removeItem(at: MediaFixtures.certificateDirectory)
        }
    }()

    private static let made: Result<Files, Failure> = Result { () throws(Failure) -> Files in
        let directory = mediaDirectory
        removedAtExit
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw Failure(description: "\(error)")
        }
        let video = ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25"]
        let audio = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]
        let h264 = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "50"]
        let files = Files(
            directory: directory,
            audioVideoFLV: directory.appendingPathComponent("av.flv"),
            audioOnlyFLV: directory.appendingPathComponent("audio.flv"),
            mpegTS: directory.appendingPathComponent("av.ts")
        )
        try ffmpeg(video + audio + h264 + ["-c:a", "aac", "-t", "2", "-f", "flv", files.audioVideoFLV.path])
        try ffmpeg(audio + ["-c:a", "aac", "-t", "2", "-f", "flv", files.audioOnlyFLV.path])
        try ffmpeg(video + audio + h264 + ["-c:a", "aac", "-t", "2", "-f", "mpegts", files.mpegTS.path])
        return files
    }

    private static func ffmpeg(_ arguments: [String]) throws(Failure) {
        try run("/usr/bin/ffmpeg", ["-nostdin", "-hide_banner", "-loglevel", "error", "-y"] + arguments)
    }

    /// Runs a tool to its end; throws with its standard error when it fails.
    package static func run(_ tool: String, _ arguments: [String], in directory: URL? = nil) throws(Failure) {
        let errors: String
        let status: Int32
        do {
            (_, errors, status) = try MediaProbe.run(tool, arguments, in: directory)
        } catch {
            throw Failure(description: "\(tool): \(error)")
        }
        guard status == 0 else { throw Failure(description: "\(tool) \(arguments.joined(separator: " ")): \(errors)") }
    }

    // MARK: FLV

    /// One FLV tag as it lies in a file: its offset, type (8 audio, 9 video, 18 script), and whole bytes
    /// (11-byte header, data, 4-byte previous-tag size).
    package struct FLVTagSlice: Sendable {
        package var offset: Int
        package var type: UInt8
        package var bytes: [UInt8]
        package var dataSize: Int { bytes.count - 15 }
        package var timestamp: UInt32 {
            UInt32(bytes[4]) << 16 | UInt32(bytes[5]) << 8 | UInt32(bytes[6]) | UInt32(bytes[7]) << 24
        }
        /// A video tag carrying a keyframe (not the sequence header).
        package var isVideoKeyframe: Bool {
            type == 9 && bytes.count > 12 && bytes[11] >> 4 == 1 && !(bytes[11] & 0x0F == 7 && bytes[12] == 0)
        }

        /// The same tag with another timestamp.
        package func retimed(_ timestamp: UInt32) -> [UInt8] {
            var copy = bytes
            copy[4] = UInt8(timestamp >> 16 & 0xFF)
            copy[5] = UInt8(timestamp >> 8 & 0xFF)
            copy[6] = UInt8(timestamp & 0xFF)
            copy[7] = UInt8(timestamp >> 24 & 0xFF)
            return copy
        }
    }

    /// The 9-byte header plus the first previous-tag size, and the tags that follow.
    package static func flvTags(_ file: [UInt8]) throws(Failure) -> (preamble: [UInt8], tags: [FLVTagSlice]) {
        guard file.count >= 13, file[0] == 0x46, file[1] == 0x4C, file[2] == 0x56 else {
            throw Failure(description: "not FLV")
        }
        let headerSize = Int(file[5]) << 24 | Int(file[6]) << 16 | Int(file[7]) << 8 | Int(file[8])
        var offset = headerSize + 4
        var tags: [FLVTagSlice] = []
        while offset + 11 <= file.count {
            let size = Int(file[offset + 1]) << 16 | Int(file[offset + 2]) << 8 | Int(file[offset + 3])
            let end = offset + 11 + size + 4
            guard end <= file.count else { break }
            tags.append(FLVTagSlice(offset: offset, type: file[offset], bytes: Array(file[offset..<end])))
            offset = end
        }
        return (Array(file[0..<(headerSize + 4)]), tags)
    }

    /// The file cut in the middle of its first video keyframe's data.
    package static func truncatedInFirstVideoKeyframe(_ file: [UInt8]) throws(Failure) -> [UInt8] {
        guard let keyframe = try flvTags(file).tags.first(where: \.isVideoKeyframe) else {
            throw Failure(description: "no video keyframe")
        }
        return Array(file[0..<(keyframe.offset + 11 + keyframe.dataSize / 2)])
    }

    /// An endless live FLV body made of an audio-only file's tags: a header with `flags` (5 = audio and video),
    /// the file's script and audio tags once, then its audio tags again and again with timestamps that keep
    /// growing. For ``ScriptedHTTPServer/Step/stream(_:)``; each chunk is one pass over the tags. Stops after
    /// `limit` bytes (a safety net: an opener that queues everything must not take the machine's memory).
    package static func endlessAudioTags(
        from audioOnly: [UInt8],
        flags: UInt8,
        limit: Int
    ) throws(Failure) -> @Sendable (Int) -> [UInt8]? {
        let (preamble, tags) = try flvTags(audioOnly)
        var flagged = preamble
        flagged[4] = flags
        let header = flagged
        let audio = tags.filter { $0.type == 8 }
        let firstPass = tags.filter { $0.type == 8 || $0.type == 18 }
        // Sequence header (AAC packet type 0) only once, at the start.
        let media = audio.filter { !($0.bytes.count > 12 && $0.bytes[11] >> 4 == 10 && $0.bytes[12] == 0) }
        guard let last = media.last else { throw Failure(description: "no audio tags") }
        let period = last.timestamp + 23
        let passBytes = media.reduce(0) { $0 + $1.bytes.count }
        return { pass in
            if pass == 0 { return header + firstPass.flatMap(\.bytes) }
            guard pass * passBytes <= limit else { return nil }
            let shift = UInt32(pass) * period
            return media.flatMap { $0.retimed($0.timestamp + shift) }
        }
    }

    // MARK: TLS

    /// A test CA and a leaf it signed for `localhost` and 127.0.0.1 (PEM files), made with the openssl CLI.
    package struct Certificates: Sendable {
        package let directory: URL
        package let caCertificate: URL
        package let leafCertificate: URL
        package let leafKey: URL
    }

    package static func certificates() throws(Failure) -> Certificates { try madeCertificates.get() }

    private static let madeCertificates: Result<Certificates, Failure> = Result { () throws(Failure) -> Certificates in
        let directory = certificateDirectory
        removedAtExit
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data(
                """
                basicConstraints = critical, CA:FALSE
                keyUsage = critical, digitalSignature
                extendedKeyUsage = serverAuth
                subjectAltName = DNS:localhost, IP:127.0.0.1

                """.utf8
            ).write(to: directory.appendingPathComponent("leaf.ext"))
        } catch {
            throw Failure(description: "\(error)")
        }
        let openssl = "/usr/bin/openssl"
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try run(
            openssl,
            ["req", "-x509"] + ec + [
                "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
                "-subj", "/CN=FirstFrame Test CA",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ],
            in: directory
        )
        try run(
            openssl,
            ["req"] + ec + ["-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost"],
            in: directory
        )
        try run(
            openssl,
            [
                "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", "leaf.pem", "-days", "2", "-extfile", "leaf.ext",
            ],
            in: directory
        )
        return Certificates(
            directory: directory,
            caCertificate: directory.appendingPathComponent("ca.pem"),
            leafCertificate: directory.appendingPathComponent("leaf.pem"),
            leafKey: directory.appendingPathComponent("leaf.key")
        )
    }
}

/// `openssl s_server -WWW` on 127.0.0.1 with a given certificate and key, serving files from a temporary
/// directory (``OpenSSLServer`` makes its own self-signed certificate; this one serves a CA-signed leaf).
package final class CertifiedTLSServer: @unchecked Sendable {
    package let port: Int
    private let process: Process
    private let output: Pipe
    private let directory: URL

    package init(certificate: URL, key: URL, files: [String: [UInt8]]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("firstframe-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, bytes) in files { try Data(bytes).write(to: directory.appendingPathComponent(name)) }
        // A free port: bound, read back and released before s_server binds it.
        let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let bound = Result { () throws(LoopbackSocket.Failure) -> Int in try LoopbackSocket.bind(probe) }
        if probe >= 0 { close(probe) }
        port = try bound.get()
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = [
            "s_server", "-accept", "127.0.0.1:\(port)", "-cert", certificate.path, "-key", key.path,
            "-WWW", "-naccept", "64", "-ign_eof",
        ]
        process.currentDirectoryURL = directory
        output = Pipe()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // s_server prints ACCEPT once it listens.
        var seen = ""
        while !seen.contains("ACCEPT") {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else {
                stop()
                throw OpenSSLServer.Failure.notListening(seen)
            }
            seen += String(decoding: chunk, as: UTF8.self)
        }
    }

    package func stop() {
        // SIGKILL: the child inherits the test process's signal mask, in which dispatch blocks SIGTERM.
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? output.fileHandleForReading.close()
        try? FileManager.default.removeItem(at: directory)
    }
}
