import CFFmpeg
import FirstFrameCore

/// Options handed to FFmpeg as an `AVDictionary` (`avformat_open_input`, `avcodec_open2`, …).
///
/// FFmpeg consumes the entries it recognises and leaves the rest in the dictionary; ``unconsumedKeys``
/// tells which options nobody took, so a caller can catch a misspelt option instead of it being silently ignored.
public final class FFmpegOptions {
    /// The underlying dictionary; FFmpeg may replace it (the address of this property is passed in).
    package var pointer: OpaquePointer?

    public init() {}

    /// Builds the dictionary from key/value pairs, in order.
    public convenience init(_ entries: KeyValuePairs<String, String>) {
        self.init()
        for (key, value) in entries { set(key, value) }
    }

    deinit { av_dict_free(&pointer) }

    /// Sets `key` to `value`, replacing an earlier value.
    public func set(_ key: String, _ value: String) {
        av_dict_set(&pointer, key, value, 0)
    }

    /// The value for `key`, if any.
    public subscript(key: String) -> String? {
        guard let entry = av_dict_get(pointer, key, nil, 0), let value = entry.pointee.value else { return nil }
        return String(cString: value)
    }

    /// All entries in dictionary order.
    public var entries: [(key: String, value: String)] {
        var result: [(String, String)] = []
        var entry: UnsafeMutablePointer<AVDictionaryEntry>? = nil
        while let next = av_dict_get(pointer, "", entry, AV_DICT_IGNORE_SUFFIX) {
            result.append((String(cString: next.pointee.key), String(cString: next.pointee.value)))
            entry = next
        }
        return result
    }

    /// The keys left in the dictionary after FFmpeg consumed what it recognised.
    public var unconsumedKeys: [String] { entries.map(\.key) }
}
