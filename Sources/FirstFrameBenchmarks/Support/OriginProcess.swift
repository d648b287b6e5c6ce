import FirstFrame
import Foundation

/// `firstframe serve` in a process of its own: the recorder's (or the opener's) CPU is measured without the
/// origin's. It runs the executable this process runs, so only the `firstframe` command can start one.
package struct OriginProcess: Sendable {
    /// Why the origin process gave no port.
    package struct Failure: Error, CustomStringConvertible {
        package let description: String
    }

    package let process: Process
    package let port: Int

    /// Starts `firstframe serve --port 0` with `arguments` added.
    package static func start(arguments: [String] = []) throws -> OriginProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = ["serve", "--port", "0"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // `serve` prints its URLs, with the port it got, as soon as it listens.
        var text = ""
        while !text.contains("\n  gop") {
            let data = output.fileHandleForReading.availableData
            guard !data.isEmpty else { throw Failure(description: "the origin process ended before listening") }
            text += String(decoding: data, as: UTF8.self)
        }
        guard let range = text.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression),
            let port = Int(text[range].split(separator: ":").last!)
        else {
            throw Failure(description: "no port in the origin's output: \(text)")
        }
        return OriginProcess(process: process, port: port)
    }

    /// The origin process's CPU time, seconds: the sum over its threads of the scheduler's nanoseconds on a CPU
    /// (`/proc/PID/task/*/schedstat`; `stat`'s clock ticks are too coarse for a few hundred µs per open).
    package func cpuSeconds() -> Double {
        let tasks = "/proc/\(process.processIdentifier)/task"
        let threads = (try? FileManager.default.contentsOfDirectory(atPath: tasks)) ?? []
        let nanoseconds = threads.compactMap { thread -> Double? in
            guard let text = try? String(contentsOfFile: "\(tasks)/\(thread)/schedstat", encoding: .utf8) else {
                return nil
            }
            return text.split(separator: " ").first.flatMap { Double($0) }
        }.reduce(0, +)
        return nanoseconds / 1e9
    }

    /// Asks for a channel once (its first request makes the origin encode its program), reading only the head.
    package func warm(channel: String) async throws {
        let port = port
        _ = try await DedicatedThread.run(name: "bench.warm") {
            try LoopbackGet(port: port, path: "/gop/\(channel).flv?close_after=1")
        }
    }

    package func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}
