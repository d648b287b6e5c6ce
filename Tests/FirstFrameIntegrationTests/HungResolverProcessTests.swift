import FirstFrame
import FirstFrameTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension OriginTests {
    /// A resolver that really hangs, for the CLI as a whole: `firstframe probe` runs in a network and mount
    /// namespace of its own where /etc/resolv.conf names 10.255.255.53 and 10/8 is routed to the loopback device,
    /// so every DNS packet is silently dropped and libc's lookup waits its full 2 × 5 s. The `ffmpeg` preset has no
    /// DNS cache (FFmpeg calls getaddrinfo itself, which nothing can interrupt); `instant` goes through the cache.
    /// Either way the open must end at its 1 s deadline.
    @Suite(.serialized) struct HungResolverProcess {
        /// The `firstframe` executable next to the test bundle (both are products of the same build).
        static let executable: URL? = {
            let bundle = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            let candidate = bundle.appendingPathComponent("firstframe")
            return FileManager.default.isExecutableFile(atPath: candidate.path) ? candidate : nil
        }()

        /// Root, unshare(1) and ip(8) present, and a namespace can actually be made here.
        static let namespacesWork: Bool = {
            guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare") else { return false }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
            process.arguments = ["--net", "--mount", "sh", "-c", "ip link set lo up && ip route add 10.0.0.0/8 dev lo"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            guard (try? process.run()) != nil else { return false }
            process.waitUntilExit()
            return process.terminationStatus == 0
        }()

        @Test(
            .enabled(
                if: OriginTests.HungResolverProcess.executable != nil,
                "the firstframe executable is not built next to the tests"
            ),
            .enabled(
                if: OriginTests.HungResolverProcess.namespacesWork,
                "needs root and unshare --net --mount (skipped)"
            ),
            arguments: ["ffmpeg", "instant"]
        )
        func hungSystemResolverEndsAtTheDeadline(_ preset: String) async throws {
            let executable = try #require(Self.executable)
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "firstframe-resolv-\(UUID().uuidString)"
            )
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let resolvConf = directory.appendingPathComponent("resolv.conf")
            try Data("nameserver 10.255.255.53\noptions timeout:5 attempts:2\n".utf8).write(to: resolvConf)

            let script =
                "ip link set lo up && ip route add 10.0.0.0/8 dev lo && mount --bind '\(resolvConf.path)' /etc/resolv.conf"
                + " && exec '\(executable.path)' probe --preset \(preset) --set totalDeadline=1 --json http://hung.example.org/x.flv"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
            process.arguments = ["--net", "--mount", "sh", "-c", script]
            let output = Pipe()
            let errors = Pipe()
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = output
            process.standardError = errors

            let start = MonotonicClock.nanoseconds()
            try process.run()
            // Read both pipes to their end on threads of their own (the process ends when they close).
            async let stdout = blocking { output.fileHandleForReading.readDataToEndOfFile() }
            async let stderr = blocking { errors.fileHandleForReading.readDataToEndOfFile() }
            // A watchdog, not a timing assertion: kill a process that hangs, and fail.
            let pid = process.processIdentifier
            let watchdog = Task {
                guard (try? await Task.sleep(for: .seconds(15))) != nil else { return }
                kill(pid, SIGKILL)
            }
            let (printed, complaints) = try await (stdout, stderr)
            try await blocking { process.waitUntilExit() }
            let elapsed = MonotonicClock.milliseconds(since: start)
            watchdog.cancel()
            try? output.fileHandleForReading.close()
            try? errors.fileHandleForReading.close()

            let text = String(decoding: printed, as: UTF8.self)
            report(
                "hung resolver, \(preset) preset, CLI in a namespace: exit \(process.terminationStatus) after \(String(format: "%.1f", elapsed)) ms"
            )
            let line = try #require(
                text.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
                "no JSON report; stdout: \(text); stderr: \(String(decoding: complaints, as: UTF8.self))"
            )
            let decoded = try JSONDecoder().decode(FirstFrameReport.self, from: Data(line.utf8))
            report("  \(decoded.error.map { "\($0.stage.rawValue)/\($0.kind.rawValue): \($0.message)" } ?? "ok")")
            #expect(decoded.outcome == .failed)
            #expect(decoded.error?.stage == .dns, "\(String(describing: decoded.error))")
            #expect(decoded.error?.kind == .timeout, "\(String(describing: decoded.error))")
            // 1 s deadline + 400 ms for the process: exec, loading Swift and FFmpeg, namespace set-up, exit.
            #expect(elapsed <= 1400, "the process ran \(elapsed) ms")
        }
    }
}
