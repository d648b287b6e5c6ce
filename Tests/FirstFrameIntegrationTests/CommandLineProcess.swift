import FirstFrameTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `firstframe` run as a process, as a user runs it: its exit, and both output streams read to their end.
struct CommandLineProcess {
    /// The `firstframe` executable next to the test bundle (both are products of the same build).
    static let executable: URL? = {
        let bundle = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        let candidate = bundle.appendingPathComponent("firstframe")
        return FileManager.default.isExecutableFile(atPath: candidate.path) ? candidate : nil
    }()

    var status: Int32
    /// Whether the process was ended by a signal (`status` is then the signal's number).
    var signalled: Bool
    var stdout: String
    var stderr: String

    /// What a test prints when an expectation on the run fails.
    var transcript: String {
        "exit \(signalled ? "signal " : "")\(status)\nstdout: \(stdout.prefix(4000))\nstderr: \(stderr.prefix(4000))"
    }

    /// Runs `firstframe arguments…` with standard input from /dev/null (or `input`) and waits for it; a watchdog
    /// kills it after `timeout` seconds (the run then shows `SIGKILL`).
    static func run(
        _ arguments: [String],
        environment: [String: String] = [:],
        input: FileHandle = .nullDevice,
        timeout: Double = 30
    ) async throws -> CommandLineProcess {
        let executable = try #require(Self.executable, "the firstframe executable is not built next to the tests")
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var variables = ProcessInfo.processInfo.environment
        variables.removeValue(forKey: "FIRSTFRAME_FFMPEG_LOG")
        process.environment = variables.merging(environment) { $1 }
        let output = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        async let stdout = blocking { output.fileHandleForReading.readDataToEndOfFile() }
        async let stderr = blocking { errors.fileHandleForReading.readDataToEndOfFile() }
        let pid = process.processIdentifier
        // A watchdog, not a timing assertion: a process that hangs is killed, and the test fails on its status.
        let watchdog = Task {
            guard (try? await Task.sleep(for: .seconds(timeout))) != nil else { return }
            kill(pid, SIGKILL)
        }
        let (printed, complaints) = try await (stdout, stderr)
        try await blocking { process.waitUntilExit() }
        watchdog.cancel()
        try? output.fileHandleForReading.close()
        try? errors.fileHandleForReading.close()
        return CommandLineProcess(
            status: process.terminationStatus,
            signalled: process.terminationReason == .uncaughtSignal,
            stdout: String(decoding: printed, as: UTF8.self),
            stderr: String(decoding: complaints, as: UTF8.self)
        )
    }

    /// A fresh directory under the temporary directory, for a run's files.
    static func scratchDirectory(_ label: String) throws -> URL { try ScratchDirectory.make(label) }
}
