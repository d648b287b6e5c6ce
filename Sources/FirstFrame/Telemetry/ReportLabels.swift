import Foundation

/// The bounded labels of one open's metrics and spans: the preset, the protocol and (when asked for) the host.
/// Never the URL: a fleet's URLs are unbounded and carry tokens.
struct ReportLabels: Sendable {
    /// The preset's name, or `custom`.
    let preset: String
    /// `http`, `https`, `rtmp`, `rtmps`, `hls`, `file`, another FFmpeg protocol, or `other`.
    let `protocol`: String
    /// The URL's host, lowercased (`none` for a local file); nil unless ``Telemetry/labelsHost``.
    let host: String?
    /// preset, protocol (and host): what every per-open series carries.
    let dimensions: [(String, String)]

    init(_ report: FirstFrameReport, labelsHost: Bool) {
        preset = report.preset ?? "custom"
        `protocol` = Self.protocolName(url: report.url, hops: report.hops)
        host = labelsHost ? Self.host(of: report) : nil
        var dimensions = [(MetricNames.Label.preset, preset), (MetricNames.Label.protocol, `protocol`)]
        if let host { dimensions.append((MetricNames.Label.host, host)) }
        self.dimensions = dimensions
    }

    /// The protocol of an input: HLS when its hops fetched playlists or segments (or its scheme or path says
    /// so), `file` for local inputs, the URL's scheme when FFmpeg knows it, else `other`: a bounded set.
    static func protocolName(url: String, hops: [FirstFrameReport.Hop] = []) -> String {
        if hops.contains(where: { $0.role != nil }) { return "hls" }
        let scheme = Self.scheme(of: url)
        if scheme == "hls" || scheme.hasPrefix("hls+") { return "hls" }
        if InputPolicy.localSchemes.contains(scheme) { return "file" }
        if Self.pathEnds(url, with: ".m3u8") { return "hls" }
        return InputPolicy.ffmpegProtocols.contains(scheme) ? scheme : "other"
    }

    /// The host the open asked for: the first hop's, else the URL's.
    static func host(of report: FirstFrameReport) -> String {
        if let host = report.hops.first?.host ?? report.hops.first?.dns?.host, !host.isEmpty {
            return host.lowercased()
        }
        if InputPolicy.localSchemes.contains(Self.scheme(of: report.url)) { return "none" }
        return URLComponents(string: report.url)?.host?.lowercased() ?? "none"
    }

    /// The URL's scheme, lowercased, as FFmpeg picks its protocol (``InputPolicy/scheme(of:)``, without building
    /// a character set per call): the leading run of scheme characters when a `:` follows it, else `file`.
    static func scheme(of url: String) -> String {
        var utf8 = url.utf8.makeIterator()
        var name: [UInt8] = []
        while let byte = utf8.next() {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."):
                name.append(byte)
            case UInt8(ascii: "A")...UInt8(ascii: "Z"):
                name.append(byte + 32)
            case UInt8(ascii: ":"):
                return name.isEmpty ? "file" : String(decoding: name, as: UTF8.self)
            default:
                return "file"
            }
        }
        return "file"
    }

    /// Whether the URL's path (before any query or fragment) ends with `suffix`, case-insensitively.
    private static func pathEnds(_ url: String, with suffix: String) -> Bool {
        let path = url.prefix { $0 != "?" && $0 != "#" }
        return path.lowercased().hasSuffix(suffix)
    }
}
