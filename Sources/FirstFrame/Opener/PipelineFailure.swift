/// A failure the opener's media pipeline recognised itself (rather than an error FFmpeg returned): the input
/// ended, it has no video, the decoder could not open. It names its stage and kind directly.
package struct PipelineFailure: Error, Sendable, Hashable {
    package var stage: Stage
    package var kind: FirstFrameReport.Failure.Kind
    package var message: String

    package init(stage: Stage, kind: FirstFrameReport.Failure.Kind, message: String) {
        self.stage = stage
        self.kind = kind
        self.message = message
    }
}

extension PipelineFailure {
    /// Whether this failure is what a read stopped by a deadline looks like (the input seemed to end, or ended
    /// inside a header): when a deadline passed, the failure is the deadline's, a timeout.
    var isConsequenceOfAStop: Bool {
        [.endOfStream, .invalidData, .timeout].contains(kind)
    }
}
