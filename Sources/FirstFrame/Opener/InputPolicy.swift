import FirstFrameFFmpeg
import Foundation

/// What one open may touch, decided from its URL and knobs before any I/O: the URL is well formed, its protocol
/// is allowed, a local input is a regular file; and the protocol list FFmpeg enforces on everything the input
/// leads to (redirects, playlist entries, the TCP and TLS under HTTP).
///
/// URLs may come from strangers, so the defaults are narrow (``TuningKnobs/allowedProtocols``) and `file` is
/// never allowed below a network URL: an HLS playlist from a CDN cannot make the open read `/etc/passwd`.
package struct InputPolicy: Sendable, Hashable {
    /// The protocol FFmpeg would pick for the URL (`http`, `hls`, `file`, `concat`, …).
    package let scheme: String
    /// Whether the input is a local file (a path or a `file:` URL).
    package let isLocal: Bool
    /// FFmpeg's `protocol_whitelist` for the open: the allowed protocols, less `file` for a network input.
    package let protocols: [String]

    /// FFmpeg keeps at most this many bytes of a URL (`MAX_URL_SIZE` less its NUL) and silently truncates the rest.
    package static let maximumURLLength = 4095

    /// Checks `url` against `knobs`.
    ///
    /// - Throws: ``PipelineFailure`` of kind `invalidURL` or `protocolNotAllowed`, at the first stage the input
    ///   would have run (`dns` for a network URL, `formatProbe` for a local file).
    package init(url: String, knobs: TuningKnobs) throws(PipelineFailure) {
        let allowed = Set(knobs.allowedProtocols.map { $0.lowercased() })
        let shown = Self.redacted(url)
        func refuse(_ kind: FirstFrameReport.Failure.Kind, _ stage: Stage, _ why: String) -> PipelineFailure {
            PipelineFailure(stage: stage, kind: kind, message: "\(why): \(shown.prefix(200))")
        }
        guard !url.isEmpty else { throw refuse(.invalidURL, .dns, "empty URL") }
        guard url.utf8.count <= Self.maximumURLLength else {
            throw refuse(
                .invalidURL,
                .dns,
                "URL of \(url.utf8.count) bytes; FFmpeg keeps \(Self.maximumURLLength) and would request another resource"
            )
        }
        guard !url.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
            throw refuse(.invalidURL, .dns, "control characters in the URL")
        }

        let scheme = Self.scheme(of: url)
        self.scheme = scheme
        isLocal = Self.localSchemes.contains(scheme)
        if scheme == "file" {
            guard allowed.contains("file") else {
                throw refuse(.protocolNotAllowed, .formatProbe, "local files are not allowed")
            }
            try Self.requireRegularFile(url, refuse)
            protocols = knobs.allowedProtocols
            return
        }

        guard !Self.carrierSchemes.contains(scheme) else {
            throw refuse(
                .protocolNotAllowed,
                .dns,
                "'\(scheme)' only carries other protocols (HTTP, RTMP) and is not an input of its own"
            )
        }
        let nested = scheme.split(separator: "+").map(String.init)
        guard nested.allSatisfy(Self.ffmpegProtocols.contains) || Self.ffmpegProtocols.contains(scheme) else {
            throw refuse(.invalidURL, .dns, "unknown scheme '\(scheme)'")
        }
        guard let outer = nested.first, allowed.contains(outer), nested.dropFirst().allSatisfy(allowed.contains) else {
            throw refuse(
                .protocolNotAllowed,
                .dns,
                "protocol '\(scheme)' is not in allowedProtocols (\(knobs.allowedProtocols.joined(separator: ",")))"
            )
        }
        if url.dropFirst(scheme.count).hasPrefix("://") {
            let withoutNesting = nested.count > 1 ? String(url.dropFirst(nested[0].count + 1)) : url
            guard let components = URLComponents(string: withoutNesting) else {
                throw refuse(.invalidURL, .dns, "malformed URL")
            }
            guard let host = components.host, !host.isEmpty else { throw refuse(.invalidURL, .dns, "no host") }
            if let why = Self.hostProblem(host) { throw refuse(.invalidURL, .dns, why) }
            if let port = components.port, !(1...65535).contains(port) {
                throw refuse(.invalidURL, .dns, "port \(port) out of range")
            }
            // URLComponents accepts "host:abc" as a host with an empty port; FFmpeg would quietly use port 80.
            let authority = withoutNesting.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)
            if authority.count > 2, let last = authority[2].split(separator: "@").last,
                let colon = last.lastIndex(of: ":"), !last.hasSuffix("]")
            {
                let portText = last[last.index(after: colon)...]
                guard !portText.isEmpty, portText.allSatisfy(\.isNumber) else {
                    throw refuse(.invalidURL, .dns, "bad port '\(portText)'")
                }
            }
        }
        // The files an allowed wrapper opens (concat:a|b, subfile,…:path, cache:path) obey the same rule as a file
        // input: FFmpeg opens each with a blocking open() and read() its deadline cannot end.
        if Self.wrapperSchemes.contains(scheme) { try Self.requireRegularFiles(under: url, depth: 0, refuse) }
        protocols = isLocal ? knobs.allowedProtocols : knobs.allowedProtocols.filter { $0 != "file" }
    }

    /// Why `host` (as URLComponents gives it: an IPv6 literal with or without brackets) is not one FFmpeg can look up or
    /// connect to, if it is not: a name longer than DNS allows (253 bytes, 63 a label), characters outside a host
    /// name's, an IPv6 literal with a zone id (FFmpeg's URL splitting refuses `%`).
    static func hostProblem(_ bracketed: String) -> String? {
        // Foundation on Linux keeps an IPv6 literal's brackets in `host`; Darwin's drops them.
        let host =
            bracketed.hasPrefix("[") && bracketed.hasSuffix("]") ? String(bracketed.dropFirst().dropLast()) : bracketed
        if host.contains(":") {
            if host.contains("%") { return "an IPv6 zone id in the host (FFmpeg cannot use it)" }
            var address = in6_addr()
            return inet_pton(AF_INET6, host, &address) == 1 ? nil : "'\(host.prefix(60))' is not an IPv6 address"
        }
        guard host.utf8.count <= 253 else { return "a host name of \(host.utf8.count) bytes (DNS allows 253)" }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        for (index, label) in labels.enumerated() {
            // One empty label is allowed, at the end: a fully qualified name (`example.com.`).
            if label.isEmpty, index < labels.count - 1 || labels.count == 1 { return "an empty label in the host name" }
            if label.utf8.count > 63 { return "a host name label of \(label.utf8.count) bytes (DNS allows 63)" }
        }
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
        guard host.allSatisfy(allowed.contains) else {
            return "characters a host name cannot have in '\(host.prefix(60))'"
        }
        return nil
    }

    /// A local path (or `file:` URL) that is a regular file: a FIFO without a writer, a terminal or a device would
    /// block the open in `open()` or `read()`, where FFmpeg never polls its interrupt callback (or never end).
    private static func requireRegularFile(
        _ url: String,
        _ refuse: (FirstFrameReport.Failure.Kind, Stage, String) -> PipelineFailure
    ) throws(PipelineFailure) {
        let path = url.hasPrefix("file:") ? String(url.dropFirst(5)) : url
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw refuse(.invalidURL, .formatProbe, "no such file (\(String(cString: strerror(errno))))")
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw refuse(
                .protocolNotAllowed,
                .formatProbe,
                "not a regular file (FIFOs, devices and directories block or never end)"
            )
        }
    }

    /// Every local file a wrapper URL leads to is a regular file: `concat:` parts, `concatf:`'s list and its
    /// entries, the inner URL of `subfile`, `cache` and `async` (wrappers nest, a few deep).
    private static func requireRegularFiles(
        under url: String,
        depth: Int,
        _ refuse: (FirstFrameReport.Failure.Kind, Stage, String) -> PipelineFailure
    ) throws(PipelineFailure) {
        guard depth < 4 else { throw refuse(.invalidURL, .dns, "protocols nested more than 4 deep") }
        let scheme = scheme(of: url)
        guard let colon = url.firstIndex(of: ":") else { return }
        let inner = String(url[url.index(after: colon)...])
        var parts: [String]
        switch scheme {
        case "concat": parts = inner.split(separator: "|").map(String.init)
        case "concatf":
            try requireRegularFile(inner, refuse)
            let path = inner.hasPrefix("file:") ? String(inner.dropFirst(5)) : inner
            let list = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            parts = list.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.isEmpty }
        case "subfile", "cache", "async": parts = [inner]
        default: return
        }
        for part in parts {
            let partScheme = Self.scheme(of: part)
            if partScheme == "file" {
                try requireRegularFile(part, refuse)
            } else if wrapperSchemes.contains(partScheme) {
                try requireRegularFiles(under: part, depth: depth + 1, refuse)
            }
        }
    }

    /// Protocols that open other URLs, local files among them.
    static let wrapperSchemes: Set<String> = ["concat", "concatf", "subfile", "cache", "async"]

    /// Protocols whose inputs are local files (`concat:a.flv|b.flv`, `subfile:`): `file` stays allowed under them.
    static let localSchemes: Set<String> = ["file", "concat", "subfile", "pipe", "fd"]
    /// Protocols that carry others and are never an input of their own, whatever the allow-list says.
    static let carrierSchemes: Set<String> = ["tcp", "tls", "udp", "crypto"]

    /// The options `avformat_open_input` is given: the knobs' format options, and the protocol list, which applies
    /// to everything the input opens (redirects, playlist entries, TCP and TLS), and TLS verification.
    package func formatOptions(_ knobs: TuningKnobs) -> FFmpegOptions {
        let options = FFmpegOptions()
        for (key, value) in knobs.formatOptions { options.set(key, value) }
        options.set("protocol_whitelist", protocols.joined(separator: ","))
        options.set("tls_verify", knobs.verifyTLS ? "1" : "0")
        if !knobs.caFile.isEmpty { options.set("ca_file", knobs.caFile) }
        return options
    }

    /// The protocol FFmpeg picks for `url`, as its `url_find_protocol` does: the leading run of scheme characters
    /// when a `:` follows it (`subfile,` options included), else `file`.
    package static func scheme(of url: String) -> String {
        let schemeCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.")
        let name = url.prefix { schemeCharacters.contains($0) }
        let rest = url.dropFirst(name.count)
        if rest.hasPrefix(":"), !name.isEmpty { return name.lowercased() }
        if url.hasPrefix("subfile,"), url.contains(":") { return "subfile" }
        return "file"
    }

    /// The input protocols this FFmpeg was built with.
    package static var ffmpegProtocols: Set<String> { FFmpegBuild.inputProtocols }

    /// `url` with its userinfo (`user:password@`) replaced by `***@`: what reports, logs and traces show.
    package static func redacted(_ url: String) -> String {
        guard let start = url.range(of: "://") else { return url }
        let authorityEnd = url[start.upperBound...].firstIndex { "/?#".contains($0) } ?? url.endIndex
        guard let at = url[start.upperBound..<authorityEnd].lastIndex(of: "@") else { return url }
        return String(url[..<start.upperBound]) + "***" + String(url[at...])
    }
}
