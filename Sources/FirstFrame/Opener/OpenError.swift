/// An open that did not reach its first frame: which stage, what kind of failure, and the report of everything
/// it did reach.
public struct OpenError: Error, Sendable, CustomStringConvertible {
    public var stage: Stage { report.error?.stage ?? .formatProbe }
    public var kind: FirstFrameReport.Failure.Kind { report.error?.kind ?? .ffmpeg }
    public var message: String { report.error?.message ?? "unknown failure" }
    /// The partial report: stages and hops up to the failure.
    public var report: FirstFrameReport

    public var description: String { "\(stage.rawValue): \(kind.rawValue): \(message)" }
}
