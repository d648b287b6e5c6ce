/// Removes credentials from text that may carry URLs: what FirstFrame does to every line of FFmpeg's it logs
/// (FFmpeg names the URLs it opens, userinfo and all: `Opening 'http://user:password@host/…' for reading`).
package enum URLRedaction {
    /// `text` with the userinfo (`user:password@`) of every URL in it replaced by `***@`. A URL's authority runs
    /// from its `://` to the first `/`, `?`, `#`, quote, angle bracket or white space.
    package static func redactingUserinfo(in text: String) -> String {
        guard text.contains("://") else { return text }
        var result = ""
        var rest = Substring(text)
        while let start = rest.range(of: "://") {
            result += rest[..<start.upperBound]
            let authority = rest[start.upperBound...]
            let end = authority.firstIndex { $0.isWhitespace || "/?#'\"<>".contains($0) } ?? authority.endIndex
            if let at = authority[..<end].lastIndex(of: "@") {
                result += "***"
                rest = authority[at...]
            } else {
                rest = authority
            }
        }
        return result + rest
    }
}
