import FirstFrame
import FirstFrameTestSupport
import Foundation
import OriginTestSupport
import Testing

extension OriginTests {
    /// `probe --repeat` and `sweep` place their opens in the GOP of a GOP-cache edge (the origin's `/gop/`), where
    /// an open's time depends on the phase it joins at: the ffmpeg preset's frame-rate probing reads 40 frames, at
    /// once when the cache already holds them, in real time otherwise. Each test runs the built `firstframe`.
    @Suite struct PhaseAlignment {
        /// A probe of the ffmpeg preset joining early in the GOP advises `fpsprobesize=0` and prints the sweep that
        /// confirms it; that command, run as printed, ranks `fpsprobesize=0` first by at least 300 ms (medians of
        /// the client-attributable time it ranks by, and of the first picture), with no warning that the ranking
        /// is unreliable. Back to back, it ranked 6–9 ms against 8–15 ms: the phase the opens happened to meet.
        @Test(
            .enabled(
                if: CommandLineProcess.executable != nil,
                "the firstframe executable is not built next to the tests"
            )
        )
        func theAdvicesConfirmCommandConfirmsIt() async throws {
            try await withOrigin { origin in
                // The scenario: join 240 ms after a keyframe, when the cache holds 7 of the 40 frames probed.
                let lead = origin.millisecondsToNextKeyframe + 240
                try await Task.sleep(for: .milliseconds(Int(lead)))
                let probe = await StreamOpener(preset: .ffmpeg).report(opening: origin.url(.gop))
                let command = try #require(
                    probe.advice.compactMap(\.sweep).first { $0.contains("fpsprobesize") },
                    "no confirm command in \(probe.advice.map(\.message))"
                )
                let words = Self.shellWords(command)
                try #require(Array(words.prefix(2)) == ["firstframe", "sweep"], "\(command)")
                #expect(words.contains("--preset") && words.contains("fpsprobesize=-1,0"), "\(command)")

                let started = MonotonicClock.nanoseconds()
                let run = try await CommandLineProcess.run(Array(words.dropFirst()), timeout: 60)
                report(
                    String(
                        format: "confirm sweep: %.1f s\n%@",
                        ms(MonotonicClock.nanoseconds() - started) / 1000,
                        run.stdout
                    )
                )
                #expect(run.status == 0, "\(run.transcript)")
                let rows = run.stdout.split(separator: "\n").filter { $0.hasPrefix("fpsprobesize=") }
                    .map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
                try #require(rows.count == 2, "\(run.transcript)")
                #expect(rows[0][0] == "fpsprobesize=0" && rows[1][0] == "fpsprobesize=-1", "\(run.stdout)")
                // combination, client, client95, picture, picture95, …
                let client = rows.map { Double($0[1]) ?? .nan }
                let picture = rows.map { Double($0[3]) ?? .nan }
                #expect(client[1] - client[0] >= 300, "client-attributable medians \(client)")
                #expect(picture[1] - picture[0] >= 300, "first picture medians \(picture)")
                #expect(run.stdout.contains("each round's opens started at a phase of its own"), "\(run.stdout)")
                #expect(!run.stdout.contains("not reliable"), "\(run.stdout)")
            }
        }

        /// `probe --repeat 6`: aligned (the default), the phases met cover at least half the GOP and the ffmpeg
        /// preset's first picture follows them; with `--no-align-phase`, back to back, at least half of the opens
        /// meet the GOP within a tenth of it, and a plain warning line says the figures are that phase's. (After
        /// an open that waits, the ffmpeg preset's opens join at ≥ 1560 ms and take ~15 ms each.)
        @Test(
            .enabled(
                if: CommandLineProcess.executable != nil,
                "the firstframe executable is not built next to the tests"
            )
        )
        func probeRepeatSpreadsItsOpensOverTheGOP() async throws {
            try await withOrigin { origin in
                let url = origin.url(.gop)
                let started = MonotonicClock.nanoseconds()
                async let aligned = CommandLineProcess.run(
                    ["probe", url, "--preset", "ffmpeg", "--repeat", "6", "--json"],
                    timeout: 60
                )
                async let backToBack = CommandLineProcess.run(
                    ["probe", url, "--preset", "ffmpeg", "--repeat", "6", "--no-align-phase"],
                    timeout: 60
                )
                let (spread, together) = try await (aligned, backToBack)
                report(
                    String(
                        format: "probe runs: %.1f s (both at once)",
                        ms(MonotonicClock.nanoseconds() - started) / 1000
                    )
                )

                #expect(spread.status == 0, "\(spread.transcript)")
                struct Aggregate: Decodable {
                    struct GOP: Decodable {
                        var lengthMs: Double?
                        var aligned: Bool
                        var phasesMs: [Double?]
                        var coverage: Double?
                    }
                    var gop: GOP?
                    var notes: [String]?
                }
                let last = try #require(spread.stdout.split(separator: "\n").last.map(String.init))
                let aggregate = try JSONDecoder().decode(Aggregate.self, from: Data(last.utf8))
                let gop = try #require(aggregate.gop, "\(last)")
                let length = try #require(gop.lengthMs, "\(last)")
                let phases = gop.phasesMs.compactMap { $0 }
                report(
                    "aligned: GOP \(length) ms, phases \(phases), coverage \(gop.coverage ?? -1), notes \(aggregate.notes ?? [])"
                )
                #expect(abs(length - 2000) <= 100, "GOP \(length) ms")
                #expect(gop.aligned)
                #expect(phases.count == 6, "\(last)")
                #expect((gop.coverage ?? 0) >= 0.5, "\(last)")
                #expect((aggregate.notes ?? []).contains { $0.contains("follows the GOP phase") }, "\(last)")
                // Each open's own line carries its phase.
                let opens = spread.stdout.split(separator: "\n").dropLast().filter { $0.contains("\"gopPhaseMs\":") }
                #expect(opens.count == 6, "\(spread.stdout)")

                #expect(together.status == 0, "\(together.transcript)")
                let lines = together.stdout.split(separator: "\n").map(String.init)
                report(
                    "back to back: "
                        + lines.filter { $0.hasPrefix("GOP phases met") || $0.hasPrefix("warning:") }.joined(
                            separator: "\n"
                        )
                )
                #expect(lines.contains { $0.hasPrefix("GOP phases met") }, "\(together.stdout)")
                #expect(
                    lines.contains { $0.hasPrefix("warning: ") && $0.contains("opens met the GOP within") },
                    "\(together.stdout)"
                )
                #expect(
                    lines.filter { $0.hasPrefix("GOP phase ") && $0.contains("aimed at") }.isEmpty,
                    "\(together.stdout)"
                )
            }
        }

        /// A POSIX shell's words of a command line: blanks separate, single quotes quote (`'\''` included).
        static func shellWords(_ line: String) -> [String] {
            var words: [String] = []
            var word = ""
            var inWord = false
            var quoted = false
            for character in line {
                if quoted {
                    if character == "'" { quoted = false } else { word.append(character) }
                } else if character == "'" {
                    quoted = true
                    inWord = true
                } else if character == " " {
                    if inWord { words.append(word) }
                    word = ""
                    inWord = false
                } else {
                    word.append(character)
                    inWord = true
                }
            }
            if inWord { words.append(word) }
            return words
        }
    }
}
