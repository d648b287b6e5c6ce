import FirstFrame
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `firstframe bench concurrent`: many opens at once against an origin in its own process, against their CPU
/// bound measured in the same run: opens × CPU per open (the client's and the origin's, from opens one at a time)
/// ÷ cores. What a synthetic probe or a recorder starting its rooms meets.
package enum ConcurrentBenchmark {
    package struct Parameters: Sendable {
        /// Opens started at once in each round.
        package var opens: Int
        /// Rounds of concurrent opens.
        package var rounds: Int
        /// Opens one at a time that measure the CPU per open.
        package var sequential: Int
        /// Preset of every open.
        package var preset: Preset
        /// Join mode: gop or live.
        package var mode: String

        package init(opens: Int, rounds: Int, sequential: Int, preset: Preset, mode: String) {
            self.opens = opens
            self.rounds = rounds
            self.sequential = sequential
            self.preset = preset
            self.mode = mode
        }
    }

    package struct Result: Codable {
        package var opens: Int
        package var cores: Int
        /// CPU per open from opens one at a time, ms: the client's, the origin's, and both.
        package var clientCPUPerOpenMs: Double
        package var originCPUPerOpenMs: Double
        package var cpuPerOpenMs: Double
        /// Opens one at a time: first picture p50, ms.
        package var sequentialP50Ms: Double
        /// opens × CPU per open ÷ cores, ms.
        package var cpuBoundMs: Double
        /// Every concurrent open's first picture (from its own start), ms, all rounds.
        package var concurrentMs: [Double]
        package var concurrentP50Ms: Double
        package var concurrentP95Ms: Double
        package var concurrentMaxMs: Double
        /// CPU per open while they ran at once (client and origin), ms: above the sequential figure is contention.
        package var concurrentCPUPerOpenMs: Double
        package var concurrentClientCPUPerOpenMs: Double
        package var failures: Int
        /// p95 ÷ the CPU bound.
        package var ratioP95: Double
        /// Where the time went, one at a time and at once: each stage's p50 (ms), and the p50 of the time from the
        /// batch's start to each report being back (the open's own first picture plus its thread's start, the
        /// report and the hand-back).
        package var sequentialStageP50Ms: [String: Double]
        package var concurrentStageP50Ms: [String: Double]
        package var concurrentWallP50Ms: Double
        package var concurrentWallP95Ms: Double
        /// From each open's first picture to its report being back with the caller (wall clock), p50 and p95, ms.
        package var pictureToReturnP50Ms: Double
        package var pictureToReturnP95Ms: Double
    }

    /// Starts the origin process (throws ``OriginProcess/Failure`` when it does not listen), opens one at a time,
    /// then `opens` at once for each round.
    package static func run(_ parameters: Parameters) async throws -> Result {
        let (opens, rounds, sequential, preset, mode) = (
            parameters.opens, parameters.rounds, parameters.sequential, parameters.preset, parameters.mode
        )
        let origin = try OriginProcess.start()
        defer { origin.stop() }
        let url = "http://127.0.0.1:\(origin.port)/\(mode)/stream.flv"
        let opener = StreamOpener(preset: preset)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        // Warm: the origin's first request encodes nothing more, the client's first open loads what it loads.
        for _ in 0..<5 { _ = await opener.report(opening: url) }

        let (sequentialReports, sequentialCPU) = try await measureCPU(origin) {
            var reports: [FirstFrameReport] = []
            for _ in 0..<sequential { reports.append(await opener.report(opening: url)) }
            return reports
        }
        let sequentialMs = sequentialReports.compactMap(\.summary.firstVideoFrameMs)
        let clientPerOpen = sequentialCPU.client / Double(sequential) * 1000
        let originPerOpen = sequentialCPU.origin / Double(sequential) * 1000
        let perOpen = clientPerOpen + originPerOpen
        let bound = Double(opens) * perOpen / Double(cores)

        var concurrentReports: [FirstFrameReport] = []
        var wallMs: [Double] = []
        var pictureToReturn: [Double] = []
        var concurrentCPU = 0.0
        var concurrentClientCPU = 0.0
        for _ in 0..<rounds {
            let (values, cpu) = try await measureCPU(origin) {
                let start = MonotonicClock.nanoseconds()
                return await withTaskGroup(of: (FirstFrameReport, Double, Double).self) { group in
                    for _ in 0..<opens {
                        group.addTask {
                            let report = await opener.report(opening: url)
                            let returned = Date().timeIntervalSince1970
                            return (report, MonotonicClock.milliseconds(since: start), returned)
                        }
                    }
                    var values: [(FirstFrameReport, Double, Double)] = []
                    for await value in group { values.append(value) }
                    return values
                }
            }
            concurrentReports += values.map(\.0)
            wallMs += values.map(\.1)
            pictureToReturn += values.compactMap { report, _, returned in
                guard let started = report.startedAt, let picture = report.summary.firstVideoFrameMs else { return nil }
                return (returned - started) * 1000 - picture
            }
            concurrentCPU += cpu.client + cpu.origin
            concurrentClientCPU += cpu.client
        }
        let concurrentMs = concurrentReports.compactMap(\.summary.firstVideoFrameMs)
        let failures = concurrentReports.count - concurrentMs.count
        let wall = ReportAggregate.Distribution(wallMs)
        let distribution = ReportAggregate.Distribution(concurrentMs)
        return Result(
            opens: opens,
            cores: cores,
            clientCPUPerOpenMs: clientPerOpen,
            originCPUPerOpenMs: originPerOpen,
            cpuPerOpenMs: perOpen,
            sequentialP50Ms: ReportAggregate.Distribution(sequentialMs)?.p50 ?? .nan,
            cpuBoundMs: bound,
            concurrentMs: concurrentMs,
            concurrentP50Ms: distribution?.p50 ?? .nan,
            concurrentP95Ms: distribution?.p95 ?? .nan,
            concurrentMaxMs: distribution?.max ?? .nan,
            concurrentCPUPerOpenMs: concurrentCPU / Double(opens * rounds) * 1000,
            concurrentClientCPUPerOpenMs: concurrentClientCPU / Double(opens * rounds) * 1000,
            failures: failures,
            ratioP95: (distribution?.p95 ?? .nan) / bound,
            sequentialStageP50Ms: Self.stageMedians(sequentialReports),
            concurrentStageP50Ms: Self.stageMedians(concurrentReports),
            concurrentWallP50Ms: wall?.p50 ?? .nan,
            concurrentWallP95Ms: wall?.p95 ?? .nan,
            pictureToReturnP50Ms: ReportAggregate.Distribution(pictureToReturn)?.p50 ?? .nan,
            pictureToReturnP95Ms: ReportAggregate.Distribution(pictureToReturn)?.p95 ?? .nan
        )
    }

    /// The result as the command prints it.
    package static func table(_ result: Result, parameters: Parameters) -> String {
        let (rounds, sequential, preset, mode) = (
            parameters.rounds, parameters.sequential, parameters.preset, parameters.mode
        )
        let (opens, cores, bound, failures) = (result.opens, result.cores, result.cpuBoundMs, result.failures)
        let (perOpen, clientPerOpen, originPerOpen) = (
            result.cpuPerOpenMs, result.clientCPUPerOpenMs, result.originCPUPerOpenMs
        )
        var lines: [String] = []
        lines.append(
            String(
                format:
                    "one at a time (%d opens, preset %@, %@): first picture p50 %.1f ms; CPU per open %.2f ms (client %.2f + origin %.2f)",
                sequential,
                preset.rawValue,
                mode,
                result.sequentialP50Ms,
                perOpen,
                clientPerOpen,
                originPerOpen
            )
        )
        lines.append(String(format: "CPU bound for %d at once on %d cores: %.1f ms", opens, cores, bound))
        lines.append(
            String(
                format:
                    "%d at once × %d rounds: p50 %.1f ms, p95 %.1f ms, max %.1f ms; CPU per open %.2f ms (client %.2f); %d failed",
                opens,
                rounds,
                result.concurrentP50Ms,
                result.concurrentP95Ms,
                result.concurrentMaxMs,
                result.concurrentCPUPerOpenMs,
                result.concurrentClientCPUPerOpenMs,
                failures
            )
        )
        lines.append(
            String(
                format:
                    "batch start → report back: p50 %.1f ms, p95 %.1f ms; first picture → report back: p50 %.1f ms, p95 %.1f ms",
                result.concurrentWallP50Ms,
                result.concurrentWallP95Ms,
                result.pictureToReturnP50Ms,
                result.pictureToReturnP95Ms
            )
        )
        lines.append("stage p50, ms:  " + Stage.allCases.map { $0.rawValue }.joined(separator: " "))
        lines.append(
            "  one at a time "
                + Stage.allCases.map { String(format: "%.1f", result.sequentialStageP50Ms[$0.rawValue] ?? 0) }.joined(
                    separator: " "
                )
        )
        lines.append(
            "  at once       "
                + Stage.allCases.map { String(format: "%.1f", result.concurrentStageP50Ms[$0.rawValue] ?? 0) }.joined(
                    separator: " "
                )
        )
        lines.append(String(format: "target: p95 ≤ 1.5× the CPU bound: %.2fx", result.ratioP95))
        return lines.joined(separator: "\n")
    }

    /// Each stage's p50 over the reports that reached the first picture.
    private static func stageMedians(_ reports: [FirstFrameReport]) -> [String: Double] {
        let opened = reports.filter { $0.summary.firstVideoFrameMs != nil }
        var medians: [String: Double] = [:]
        for stage in Stage.allCases {
            medians[stage.rawValue] = ReportAggregate.Distribution(opened.map { $0.summary[stage] })?.p50
        }
        return medians
    }

    /// Runs `body` and returns its value with the CPU seconds this process and the origin's spent meanwhile.
    private static func measureCPU<Value>(
        _ origin: OriginProcess,
        _ body: () async throws -> Value
    ) async throws -> (Value, (client: Double, origin: Double)) {
        let clientBefore = RecordBenchmark.cpuSeconds()
        let originBefore = origin.cpuSeconds()
        let value = try await body()
        return (value, (RecordBenchmark.cpuSeconds() - clientBefore, origin.cpuSeconds() - originBefore))
    }
}
