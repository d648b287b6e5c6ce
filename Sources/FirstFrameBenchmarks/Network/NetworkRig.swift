import FirstFrame
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The network rig's scripts (`scripts/network-rig/`: `rig.py`, `measure.py`, `table.py`) run as child processes for
/// one namespace, one at a time, so that ``cancel()`` can stop the one running.
///
/// Each child runs in a process group of its own (Foundation's `Process` makes one), so `cancel()` signals the whole
/// group: `measure.py` and the probe it is waiting for. The servers `rig.py` starts are in sessions of their own and
/// outlive it until ``down()`` stops them. Children's output goes to standard error (progress), except what is
/// captured (the table).
package final class NetworkRig: Sendable {
    /// `scripts/network-rig/` of the repository.
    package let scripts: URL
    /// The repository: `scripts/network-rig/../..`, where `.build/link-emulator` and `.build/tuned-open` are built.
    package let repository: URL
    /// The namespace (and the rig's run directory) name.
    package let namespace: String

    private struct Children {
        var running: Process?
        var cancelled = false
    }
    private let children = Locked(Children())

    /// Names `rig.py` accepts (and `netns-link.sh`): 1–32 of A–Z a–z 0–9 _ -.
    package static func validNamespace(_ name: String) -> Bool {
        (1...32).contains(name.count)
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
    }

    package init(scripts: URL, namespace: String) {
        self.scripts = scripts
        self.repository = scripts.deletingLastPathComponent().deletingLastPathComponent()
        self.namespace = namespace
    }

    /// `scripts/network-rig/` in `explicit`, else in the current directory or one above it, else above the
    /// executable (`.build/debug/firstframe` is three levels under the repository).
    package static func locateScripts(explicit: String?) throws(NetworkBenchError) -> URL {
        var candidates: [URL] = []
        if let explicit {
            candidates = [URL(fileURLWithPath: explicit)]
        } else {
            var directory = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
            var executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
                .deletingLastPathComponent()
            for _ in 0..<5 {
                candidates.append(directory.appendingPathComponent("scripts/network-rig"))
                candidates.append(executable.appendingPathComponent("scripts/network-rig"))
                directory.deleteLastPathComponent()
                executable.deleteLastPathComponent()
            }
        }
        if let found = candidates.first(where: {
            FileManager.default.fileExists(atPath: $0.appendingPathComponent("rig.py").path)
        }) {
            return found.standardizedFileURL
        }
        throw .scriptsNotFound(searched: Array(Set(candidates.map(\.path))).sorted())
    }

    /// The link emulator `netns-link.sh` runs: `LINK_EMULATOR`, else the repository's `.build/link-emulator`.
    package var linkEmulator: String {
        ProcessInfo.processInfo.environment["LINK_EMULATOR"]
            ?? repository.appendingPathComponent(".build/link-emulator").path
    }

    /// The `ffmpeg-tuned` contender's program (`make tuned-open`).
    package var tunedOpen: String { repository.appendingPathComponent(".build/tuned-open").path }

    // MARK: - The steps

    /// `rig.py up NAME` with the profile's options: namespace, emulator, servers (~15 s).
    func up(_ profile: NetworkProfile) async throws {
        let status = try await python("rig.py", ["up", namespace] + profile.rigArguments).status
        guard status == 0 else { throw NetworkBenchError.rigFailed(profile: profile.name, status: status) }
    }

    /// `measure.py NAME …` into `output`.
    func measure(_ profile: NetworkProfile, arguments: [String], output: URL) async throws {
        let status = try await python(
            "measure.py",
            [namespace] + arguments + ["--tuned-open", tunedOpen, "--out", output.path]
        ).status
        guard status == 0 else { throw NetworkBenchError.measureFailed(profile: profile.name, status: status) }
    }

    /// `rig.py down NAME`; runs even after ``cancel()``, and its failure is only reported on standard error.
    package func down() async {
        _ = try? await python("rig.py", ["down", namespace], cancellable: false)
    }

    /// `table.py` over the result files: one Markdown table.
    func table(_ files: [URL]) async throws -> String {
        let (status, text, errors) = try await python(
            "table.py",
            files.map(\.path),
            capture: true,
            cancellable: false
        )
        guard status == 0 else { throw NetworkBenchError.resultsUnreadable("table.py: \(errors)") }
        return text
    }

    // MARK: - Preflight

    /// What the rig needs, checked before it makes anything, each missing part a ``NetworkBenchError`` naming it.
    package func preflight(profiles: [NetworkProfile], contenders: [String], binary: String) async throws {
        guard geteuid() == 0 else { throw NetworkBenchError.notRoot }
        var tools = [
            ("python3", "python3"), ("ip", "iproute2"), ("ss", "iproute2"), ("iptables", "iptables"),
            ("ffmpeg", "ffmpeg"), ("ffprobe", "ffmpeg"), ("nginx", "nginx-light"), ("openssl", "openssl"),
        ]
        if contenders.contains("mpv") { tools.append(("mpv", "mpv")) }
        for (program, package) in tools where Self.which(program) == nil {
            throw NetworkBenchError.missingTool(program: program, package: package)
        }
        let rtmpModule = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
        guard FileManager.default.fileExists(atPath: rtmpModule) else {
            throw NetworkBenchError.missingTool(program: rtmpModule, package: "libnginx-mod-rtmp")
        }
        let emulated = profiles.contains(where: \.emulated)
        if emulated, !FileManager.default.isExecutableFile(atPath: linkEmulator) {
            throw NetworkBenchError.notBuilt(what: "the link emulator", path: linkEmulator, makeTarget: "link-emulator")
        }
        if contenders.contains("ffmpeg-tuned"), !FileManager.default.isExecutableFile(atPath: tunedOpen) {
            throw NetworkBenchError.notBuilt(
                what: "the ffmpeg-tuned contender (tuned-open)",
                path: tunedOpen,
                makeTarget: "tuned-open"
            )
        }
        if contenders.contains(where: { NetworkBenchmark.presets.contains($0) }),
            !FileManager.default.isExecutableFile(atPath: binary)
        {
            throw NetworkBenchError.notBuilt(what: "the firstframe binary", path: binary, makeTarget: "build")
        }
        try await checkNamespaces(nfqueue: emulated)
    }

    /// Makes a throwaway namespace (and, for an emulated profile, the emulator's NFQUEUE rule in it) to learn whether
    /// this machine allows them, then deletes it.
    private func checkNamespaces(nfqueue: Bool) async throws {
        let probe = "ffbench-check-\(getpid())"
        let added = try await run("ip", ["netns", "add", probe], capture: true, cancellable: false)
        guard added.status == 0 else { throw NetworkBenchError.namespacesNotAllowed(added.errors) }
        let rule =
            nfqueue
            ? try? await run(
                "ip",
                [
                    "netns", "exec", probe, "iptables", "-w", "5", "-t", "mangle", "-A", "PREROUTING", "-i", "lo",
                    "-j", "NFQUEUE", "--queue-num", "0",
                ],
                capture: true,
                cancellable: false
            )
            : nil
        _ = try? await run("ip", ["netns", "del", probe], capture: true, cancellable: false)
        if nfqueue, rule?.status != 0 {
            throw NetworkBenchError.nfqueueNotAllowed(rule?.errors ?? "iptables did not run")
        }
    }

    // MARK: - Children

    /// Stops the running child (its whole process group) and every later cancellable one.
    package func cancel() {
        children.withLock { children in
            children.cancelled = true
            if let process = children.running, process.isRunning {
                kill(-process.processIdentifier, SIGTERM)
                kill(process.processIdentifier, SIGTERM)
            }
        }
    }

    /// Whether ``cancel()`` was called.
    package var cancelled: Bool { children.withLock { $0.cancelled } }

    private func python(
        _ script: String,
        _ arguments: [String],
        capture: Bool = false,
        cancellable: Bool = true
    ) async throws -> (status: Int32, output: String, errors: String) {
        try await run(
            "python3",
            [scripts.appendingPathComponent(script).path] + arguments,
            capture: capture,
            cancellable: cancellable
        )
    }

    /// Runs `program` (looked up in PATH) to its end, on a thread of its own. Without `capture`, its output goes to
    /// standard error. A cancellable child is not started after ``cancel()``, and one that ends after it throws
    /// ``NetworkBenchError/interrupted``.
    private func run(
        _ program: String,
        _ arguments: [String],
        capture: Bool,
        cancellable: Bool
    ) async throws -> (status: Int32, output: String, errors: String) {
        guard let path = Self.which(program) else {
            throw NetworkBenchError.missingTool(program: program, package: program)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        let output = capture ? Pipe() : nil
        let errors = capture ? Pipe() : nil
        process.standardOutput = output ?? FileHandle.standardError
        process.standardError = errors ?? FileHandle.standardError
        let result = try await DedicatedThread.run(name: "bench.network") {
            [children] () throws -> (status: Int32, output: String, errors: String) in
            // A child starts with its spawner's signal mask, and threads made from Swift's pool block most signals:
            // with SIGTERM blocked, neither `cancel()` nor `rig.py down` could stop what the child starts.
            var unblocked = sigset_t()
            sigemptyset(&unblocked)
            pthread_sigmask(SIG_SETMASK, &unblocked, nil)
            try children.withLock { children in
                if cancellable {
                    guard !children.cancelled else { throw NetworkBenchError.interrupted }
                    children.running = process
                }
                try process.run()
            }
            // Standard error is read on a thread of its own while standard output is read here: either pipe may fill.
            let errorText = Locked("")
            let errorsRead = DispatchSemaphore(value: 0)
            if let errors {
                Thread {
                    let data = errors.fileHandleForReading.readDataToEndOfFile()
                    errorText.withLock { $0 = String(decoding: data, as: UTF8.self) }
                    errorsRead.signal()
                }.start()
            }
            let text = output.map { String(decoding: $0.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }
            process.waitUntilExit()
            if errors != nil { errorsRead.wait() }
            return (process.terminationStatus, text ?? "", errorText.withLock { $0 })
        }
        let interrupted = children.withLock { children in
            if children.running === process { children.running = nil }
            return children.cancelled
        }
        if cancellable, interrupted { throw NetworkBenchError.interrupted }
        return result
    }

    /// The full path of `program` in PATH, or nil.
    package static func which(_ program: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
        return path.split(separator: ":").map { "\($0)/\(program)" }.first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }
}
