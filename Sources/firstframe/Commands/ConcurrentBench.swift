import ArgumentParser
import FirstFrame
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `firstframe bench concurrent`: many opens at once against an origin in its own process, against their CPU
/// bound measured in the same run: opens × CPU per open (the client's and the origin's, from opens one at a time)
/// ÷ cores. What a synthetic probe or a recorder starting its rooms meets.
struct ConcurrentBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "concurrent",
        abstract:
            "Many opens at once (origin in its own process) against their CPU bound: opens × CPU per open ÷ cores."
    )

    @Option(help: "Opens started at once in each round.")
    var opens = 100

    @Option(help: "Rounds of concurrent opens.")
    var rounds = 3

    @Option(help: "Opens one at a time that measure the CPU per open.")
    var sequential = 40

    @Option(help: "Preset of every open.")
    var preset: Preset = .instant

    @Option(help: "Join mode: gop (the keyframe at once: the open is all CPU and loopback) or live.")
    var mode = "gop"

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    struct Result: Codable {
        var opens: Int
        var cores: Int
        /// CPU per open from opens one at a time, ms: the client's, the origin's, and both.
        var clientCPUPerOpenMs: Double
        var originCPUPerOpenMs: Double
        var cpuPerOpenMs: Double
        /// Opens one at a time: first picture p50, ms.
        var sequentialP50Ms: Double
        /// opens × CPU per open ÷ cores, ms.
        var cpuBoundMs: Double
        /// Every concurrent open's first picture (from its own start), ms, all rounds.
        var concurrentMs: [Double]
        var concurrentP50Ms: Double
        var concurrentP95Ms: Double
        var concurrentMaxMs: Double
        /// CPU per open while they ran at once (client and origin), ms: above the sequential figure is contention.
        var concurrentCPUPerOpenMs: Double
        var concurrentClientCPUPerOpenMs: Double
        var failures: Int
        /// p95 ÷ the CPU bound.
        var ratioP95: Double
        /// Where the time went, one at a time and at once: each stage's p50 (ms), and the p50 of the time from the
        /// batch's start to each report being back (the open's own first picture plus its thread's start, the
        /// report and the hand-back).
        var sequentialStageP50Ms: [String: Double]
        var concurrentStageP50Ms: [String: Double]
        var concurrentWallP50Ms: Double
        var concurrentWallP95Ms: Double
        /// From each open's first picture to its report being back with the caller (wall clock), p50 and p95, ms.
        var pictureToReturnP50Ms: Double
        var pictureToReturnP95Ms: Double
    }

    func validate() throws {
        guard opens >= 1, rounds >= 1, sequential >= 1 else {
            throw ValidationError("--opens, --rounds and --sequential must be positive")
        }
        guard ["gop", "live"].contains(mode) else { throw ValidationError("--mode is gop or live") }
    }

    func run() async throws {
        FFmpegLog.level = .quiet
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
        let result = Result(
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
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
            return
        }
        print(
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
        print(String(format: "CPU bound for %d at once on %d cores: %.1f ms", opens, cores, bound))
        print(
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
        print(
            String(
                format:
                    "batch start → report back: p50 %.1f ms, p95 %.1f ms; first picture → report back: p50 %.1f ms, p95 %.1f ms",
                result.concurrentWallP50Ms,
                result.concurrentWallP95Ms,
                result.pictureToReturnP50Ms,
                result.pictureToReturnP95Ms
            )
        )
        print("stage p50, ms:  " + Stage.allCases.map { $0.rawValue }.joined(separator: " "))
        print(
            "  one at a time "
                + Stage.allCases.map { String(format: "%.1f", result.sequentialStageP50Ms[$0.rawValue] ?? 0) }.joined(
                    separator: " "
                )
        )
        print(
            "  at once       "
                + Stage.allCases.map { String(format: "%.1f", result.concurrentStageP50Ms[$0.rawValue] ?? 0) }.joined(
                    separator: " "
                )
        )
        print(String(format: "target: p95 ≤ 1.5× the CPU bound: %.2fx", result.ratioP95))
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
    private func measureCPU<Value>(
        _ origin: OriginProcess,
        _ body: () async throws -> Value
    ) async throws -> (Value, (client: Double, origin: Double)) {
        let clientBefore = RecordBench.cpuSeconds()
        let originBefore = origin.cpuSeconds()
        let value = try await body()
        return (value, (RecordBench.cpuSeconds() - clientBefore, origin.cpuSeconds() - originBefore))
    }
}

extension Preset: ExpressibleByArgument {}
