/// How a benchmark says how far it got while it runs: the slow parts it is in, and the units (opens, measurements,
/// clients) it has done. The CLI shows it on standard error (its `Progress`); a benchmark never writes there itself.
package protocol BenchmarkProgress: Sendable {
    /// Runs `work`, one slow part of the benchmark, under `label`.
    func step<Result>(_ label: String, _ work: () async throws -> Result) async rethrows -> Result

    /// Marks `count` more units done.
    func advance(by count: Int)
}
