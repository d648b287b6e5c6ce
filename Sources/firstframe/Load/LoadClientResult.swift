import FirstFrame
import FirstFrameOrigin
import NIOCore

/// What one load client saw.
struct LoadClientResult: Sendable {
    var status: Int?
    /// Milliseconds from connect start to the response head, and to the first video keyframe.
    var headAfter: Double?
    var firstKeyframeAfter: Double?
    var bodyBytes = 0
    var mediaTags = 0
    var error: String?
}
