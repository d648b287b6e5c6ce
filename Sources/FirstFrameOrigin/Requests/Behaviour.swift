/// Faults and delays the origin injects into a response, set per request through the query string
/// (or for every request through ``OriginConfiguration/defaultBehaviour``).
public struct Behaviour: Sendable, Equatable, Codable {
    /// Milliseconds between the end of the request and the first byte of the response (`delay=`).
    public var responseDelayMilliseconds: Int = 0
    /// Answer with this status and a short text body instead of the stream (`status=`).
    public var status: Int?
    /// Redirect once to this path or absolute URL (`redirect=`).
    public var redirectTarget: String?
    /// Redirect this many more times to the same URL before serving (`redirects=`), for multi-hop tests.
    public var redirectHops: Int = 0
    /// Status used for redirects: 301, 302, 303, 307 or 308 (`redirect_status=`).
    public var redirectStatus: Int = 302
    /// Send this many body bytes, then nothing, keeping the connection open (`stall_after=`).
    public var stallAfterBytes: Int?
    /// Send this many body bytes, then close the connection (`close_after=`).
    public var closeAfterBytes: Int?
    /// Invert body bytes from this offset (`corrupt_at=`)…
    public var corruptAtByte: Int?
    /// …for this many bytes (`corrupt_len=`).
    public var corruptLength: Int = 64
    /// In `live` mode, hold video and audio back until the next keyframe (`waitkey=`; on by default):
    /// an edge that forwards inter frames first makes decoders conceal garbage.
    public var waitForKeyframe: Bool = true
    /// Speed of `burst` mode, × real time (`speed=`); `nil` takes the origin's default.
    public var burstSpeed: Double?
    /// Send the body with `Transfer-Encoding: chunked` (`chunked=1`), as many HTTP/1.1 edges do, instead of
    /// close-delimited. Byte offsets of the other behaviours still count FLV bytes, not chunk framing.
    public var chunked: Bool = false
    /// Drop the connection this many milliseconds after the response head went out (`close_after_ms=`): a
    /// dropped connection, not an end. It is closed wherever the stream is at that moment, with no final chunk
    /// and nothing flushed: bytes the connection had not taken yet are lost, which can cut a tag.
    public var closeAfterMilliseconds: Int?
    /// End the response cleanly after this many milliseconds of media (`end_after_ms=`), counted in tag
    /// timestamps from its first frame: every frame before that point is sent whole, then (H.264) the AVC
    /// end-of-sequence tag FFmpeg's FLV muxer writes when a publisher stops, then the final chunk (`chunked=1`)
    /// and the close. The body always ends on a tag boundary.
    public var endAfterMilliseconds: Int?
    /// When ``endAfterMilliseconds`` ends this response, end the whole channel with it (`end_channel=1`): every
    /// viewer's response ends the same clean way and every later request for the channel is answered 404, as
    /// for a broadcast that has stopped. Needs ``endAfterMilliseconds``.
    public var endsChannel: Bool = false
    /// Answer 404 as for a channel that has ended (`ended=1`), without ending it.
    public var channelEnded: Bool = false

    public init(
        responseDelayMilliseconds: Int = 0,
        status: Int? = nil,
        redirectTarget: String? = nil,
        redirectHops: Int = 0,
        redirectStatus: Int = 302,
        stallAfterBytes: Int? = nil,
        closeAfterBytes: Int? = nil,
        corruptAtByte: Int? = nil,
        corruptLength: Int = 64,
        waitForKeyframe: Bool = true,
        burstSpeed: Double? = nil,
        chunked: Bool = false,
        closeAfterMilliseconds: Int? = nil,
        endAfterMilliseconds: Int? = nil,
        endsChannel: Bool = false,
        channelEnded: Bool = false
    ) {
        self.responseDelayMilliseconds = responseDelayMilliseconds
        self.status = status
        self.redirectTarget = redirectTarget
        self.redirectHops = redirectHops
        self.redirectStatus = redirectStatus
        self.stallAfterBytes = stallAfterBytes
        self.closeAfterBytes = closeAfterBytes
        self.corruptAtByte = corruptAtByte
        self.corruptLength = corruptLength
        self.waitForKeyframe = waitForKeyframe
        self.burstSpeed = burstSpeed
        self.chunked = chunked
        self.closeAfterMilliseconds = closeAfterMilliseconds
        self.endAfterMilliseconds = endAfterMilliseconds
        self.endsChannel = endsChannel
        self.channelEnded = channelEnded
    }
}
