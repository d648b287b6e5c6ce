import FirstFrameCore
import FirstFrameNetwork
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `openssl s_server -WWW` on 127.0.0.1 serving files from a temporary directory over HTTPS, with a fresh
/// self-signed certificate: a real TLS peer (OpenSSL) for FFmpeg's client (gnutls).
package final class OpenSSLServer: @unchecked Sendable {
    package let port: Int
    private let process: Process
    private let directory: URL

    package static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") }

    package enum Failure: Error {
        case certificate
        case notListening(String)
    }

    /// - Parameter version: `-tls1_2` or `-tls1_3`.
    package init(version: String, files: [String: [UInt8]]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("firstframe-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, bytes) in files { try Data(bytes).write(to: directory.appendingPathComponent(name)) }

        let certificate = Process()
        certificate.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        certificate.arguments = [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "key.pem", "-out", "cert.pem", "-days", "2", "-subj", "/CN=tls.test",
        ]
        certificate.currentDirectoryURL = directory
        certificate.standardOutput = FileHandle.nullDevice
        certificate.standardError = FileHandle.nullDevice
        try certificate.run()
        certificate.waitUntilExit()
        guard certificate.terminationStatus == 0 else { throw Failure.certificate }

        port = try LoopbackSocket.freePort()
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = [
            "s_server", "-accept", "127.0.0.1:\(port)", "-cert", "cert.pem", "-key", "key.pem",
            "-WWW", version, "-naccept", "64",
        ]
        process.currentDirectoryURL = directory
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // s_server prints ACCEPT once it listens.
        var seen = ""
        while !seen.contains("ACCEPT") {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { throw Failure.notListening(seen) }
            seen += String(decoding: chunk, as: UTF8.self)
        }
    }

    package func stop() {
        // SIGKILL: the child inherits the test process's signal mask, in which dispatch blocks SIGTERM.
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: directory)
    }
}
