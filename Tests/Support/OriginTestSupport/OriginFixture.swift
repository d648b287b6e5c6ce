import FirstFrameCore
import FirstFrameFFmpeg
import FirstFrameOrigin
import FirstFrameTestSupport
import Foundation
import Testing

/// Starts an origin for one test and always shuts it down, whatever the test does.
@discardableResult
package func withOrigin<T>(
    _ configuration: OriginConfiguration = OriginConfiguration(),
    _ body: (LiveOrigin) async throws -> T
) async throws -> T {
    try await LiveOrigin.serving(configuration, body)
}

extension LiveOrigin {
    /// This origin's URL with the host replaced by a name (resolved through the DNS cache in tests).
    package func url(host name: String, _ mode: JoinMode = .gop, query: String = "") -> String {
        "http://\(name):\(port)/\(mode.rawValue)/stream.flv\(query.isEmpty ? "" : "?" + query)"
    }
}
