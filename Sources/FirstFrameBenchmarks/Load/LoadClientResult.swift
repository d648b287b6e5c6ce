/// What one load client saw.
package struct LoadClientResult: Sendable {
    package var status: Int?
    /// Milliseconds from connect start to the response head, and to the first video keyframe.
    package var headAfter: Double?
    package var firstKeyframeAfter: Double?
    package var bodyBytes = 0
    package var mediaTags = 0
    package var error: String?
}
