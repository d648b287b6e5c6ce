import FirstFrame
import FirstFrameTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension OriginTests {
    /// Work bounded from user input: `sweep` counts its combinations before it builds any, and no allowed protocol
    /// can make an open outlive its deadline. Each run has a watchdog well above what it should take: a build
    /// without the bounds is killed by it and fails on its status.
    @Suite struct BoundedWork {
        /// `--set knob=v0,…,v9` for `axes` knobs that take small integers.
        private static func tenValues(_ axes: Int) -> [String] {
            let knobs = [
                "fpsprobesize", "minVideoFrames", "minAudioFrames", "decoderThreads", "bufferCheckIntervalMs",
                "streamWaitMs",
            ]
            return (0..<axes).flatMap {
                ["--set", "\(knobs[$0 % knobs.count])=" + (0..<10).map(String.init).joined(separator: ",")]
            }
        }

        @Test(
            .enabled(
                if: CommandLineProcess.executable != nil,
                "the firstframe executable is not built next to the tests"
            )
        )
        func aMillionCombinationsAreRefusedWithTheirCount() async throws {
            let run = try await CommandLineProcess.run(
                ["sweep", "http://127.0.0.1:9/x.flv"] + Self.tenValues(6),
                timeout: 20
            )
            #expect(!run.signalled && run.status == 64, "\(run.transcript)")
            #expect(run.stderr.contains("1000000 combinations (10 × 10 × 10 × 10 × 10 × 10)"), "\(run.transcript)")
            #expect(run.stderr.contains("--max-combinations 1000"))
            // 10^20 overflows Int: still a count, never a trap.
            let huge = try await CommandLineProcess.run(
                ["sweep", "http://127.0.0.1:9/x.flv"] + Self.tenValues(20),
                timeout: 20
            )
            #expect(
                !huge.signalled && huge.status == 64
                    && huge.stderr.contains("more than 9223372036854775807 combinations"),
                "\(huge.transcript)"
            )
        }

        /// 2 × 3 combinations: refused under `--max-combinations 5`, run under 6, each exactly once.
        @Test(
            .enabled(
                if: CommandLineProcess.executable != nil,
                "the firstframe executable is not built next to the tests"
            )
        )
        func maxCombinationsRaisesTheLimitAndEveryCombinationRuns() async throws {
            let closed = try ClosedPort()
            let arguments = [
                "sweep", "http://127.0.0.1:\(closed.port)/x.flv", "--set", "fpsprobesize=0,-1",
                "--set", "minVideoFrames=1,2,3", "--repeat", "1", "--timeout", "2",
            ]
            let refused = try await CommandLineProcess.run(arguments + ["--max-combinations", "5"], timeout: 20)
            #expect(refused.status == 64 && refused.stderr.contains("6 combinations (2 × 3)"), "\(refused.transcript)")
            let run = try await CommandLineProcess.run(arguments + ["--max-combinations", "6"], timeout: 30)
            #expect(run.status == 0, "\(run.transcript)")
            // The phase watcher cannot open a refused port either: the sweep says so and runs as without it.
            #expect(
                run.stderr.contains("GOP phase unknown") && run.stdout.contains("GOP phase unknown"),
                "\(run.transcript)"
            )
            let rows = run.stdout.split(separator: "\n").filter { $0.hasPrefix("fpsprobesize=") }
                .map { $0.split(separator: " ").prefix(2).joined(separator: " ") }
            let expected = ["0", "-1"].flatMap { fps in
                ["1", "2", "3"].map { "fpsprobesize=\(fps) minVideoFrames=\($0)" }
            }
            #expect(rows.sorted() == expected.sorted(), "\(run.stdout)")
            for bad in [["--max-combinations", "0"], ["--repeat", "0"], ["--timeout", "nan"]] {
                let rejected = try await CommandLineProcess.run(arguments + bad, timeout: 20)
                #expect(rejected.status == 64 && rejected.stderr.contains(bad[0]), "\(rejected.transcript)")
            }
        }

        /// `pipe:` reads standard input with a blocking read() no deadline reaches: allowing it is refused, at once,
        /// saying why (standard input here is a pipe nobody writes to, which hung the open past its deadline).
        @Test(
            .enabled(
                if: CommandLineProcess.executable != nil,
                "the firstframe executable is not built next to the tests"
            )
        )
        func pipeCannotBeAllowed() async throws {
            let silent = Pipe()
            defer { try? silent.fileHandleForWriting.close() }
            let run = try await CommandLineProcess.run(
                ["probe", "pipe:", "--set", "allowedProtocols=pipe", "--timeout", "2"],
                input: silent.fileHandleForReading,
                timeout: 12
            )
            #expect(!run.signalled && run.status == 64, "\(run.transcript)")
            #expect(
                run.stderr.contains("allowedProtocols") && run.stderr.contains("pipe")
                    && run.stderr.contains("interrupt"),
                "\(run.transcript)"
            )

            var knobs = TuningKnobs()
            #expect(throws: KnobError.self) { try knobs.set("allowedProtocols", "http,fd") }
            knobs.allowedProtocols = ["http", "pipe"]  // set in code: the opener checks it too
            #expect(throws: KnobError.self) { _ = try StreamOpener(knobs: knobs) }
        }

        /// A FIFO behind `concat:`, `subfile` or `cache:` blocked the open in open() until a writer came (past the
        /// deadline): it is refused like a FIFO given as the input itself.
        @Test(
            .enabled(
                if: CommandLineProcess.executable != nil,
                "the firstframe executable is not built next to the tests"
            ),
            arguments: ["concat:FIFO", "concat:REGULAR|FIFO", "subfile,,start,0,end,100,,:FIFO", "cache:FIFO"]
        )
        func aFIFOBehindAWrapperIsRefused(_ pattern: String) async throws {
            let directory = try CommandLineProcess.scratchDirectory("wrapped-fifo")
            defer { try? FileManager.default.removeItem(at: directory) }
            let fifo = directory.appendingPathComponent("fifo").path
            let regular = directory.appendingPathComponent("regular.flv").path
            try #require(mkfifo(fifo, 0o600) == 0)
            try Data("FLV".utf8).write(to: URL(fileURLWithPath: regular))
            let url = pattern.replacingOccurrences(of: "REGULAR", with: regular).replacingOccurrences(
                of: "FIFO",
                with: fifo
            )
            let run = try await CommandLineProcess.run(
                ["probe", url, "--json", "--set", "allowedProtocols=concat,subfile,cache,file", "--timeout", "2"],
                timeout: 12
            )
            #expect(!run.signalled && run.status == 1, "\(run.transcript)")
            #expect(run.stdout.contains("not a regular file"), "\(run.transcript)")
        }
    }
}
