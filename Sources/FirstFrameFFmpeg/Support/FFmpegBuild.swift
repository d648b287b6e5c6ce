import CFFmpeg

/// What this FFmpeg build was built with: the protocols an input may use and the demuxers it has. The opener's
/// knobs and input policy check names against these before anything is opened.
package enum FFmpegBuild {
    /// The input protocols this FFmpeg was built with (`avio_enum_protocols`): `file`, `http`, `rtmp`, …
    package static let inputProtocols: Set<String> = {
        var names: Set<String> = []
        var opaque: UnsafeMutableRawPointer?
        while let name = avio_enum_protocols(&opaque, 0) { names.insert(String(cString: name)) }
        return names
    }()

    /// Whether this FFmpeg has a demuxer called `name` (`av_find_input_format`).
    package static func hasDemuxer(named name: String) -> Bool {
        av_find_input_format(name) != nil
    }
}
