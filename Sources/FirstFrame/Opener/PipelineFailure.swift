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
