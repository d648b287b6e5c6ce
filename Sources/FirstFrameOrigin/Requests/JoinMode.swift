/// Where in the channel a new client starts.
public enum JoinMode: String, Sendable, CaseIterable, Codable {
    /// Header, metadata and sequence headers, then tags from "now" in real time: the first keyframe
    /// arrives up to one GOP later, as from an edge without a GOP cache.
    case live
    /// As `live`, but starting at the latest keyframe: the cached GOP is sent at once, then real time.
    case gop
    /// The cached GOP, then everything at N× real time until the client reaches the live edge
    /// (a CDN's "fast start").
    case burst
}
