import FirstFrameCore
import FirstFrameOrigin

/// One stream response read a piece at a time, so that a test can interleave several clients on one thread
/// (read one until something happens, then start or read another) and still see every byte each received.
/// Blocking: use it from a `DedicatedThread`, one thread at a time, hence unchecked.
package final class StreamReader: @unchecked Sendable {
    package private(set) var stream: ReceivedStream
    private let client: RawHTTPClient
    private var parser = FLVStreamParser()

    /// When the request was written (MonotonicClock nanoseconds).
    package var requestSentAt: UInt64 { client.requestSentAt }

    /// Connects, sends the request and reads the response head (within `timeout` seconds).
    package init(_ url: String, timeout: Double = 10, receiveBuffer: Int? = nil) throws {
        client = try RawHTTPClient(url: url, receiveBuffer: receiveBuffer)
        try client.sendRequest()
        stream = ReceivedStream(head: try client.readHead(timeout: timeout))
    }

    /// Reads until `done` says so, the origin closes, or `timeout` seconds (from now) pass; returns what the
    /// stream holds so far. FLV tags are parsed from plain (not chunked) `video/x-flv` bodies.
    @discardableResult
    package func read(timeout: Double, until done: (ReceivedStream) -> Bool = { _ in false }) throws -> ReceivedStream {
        let deadline = MonotonicClock.nanoseconds() + UInt64(max(0, timeout) * 1e9)
        while !stream.closedByOrigin && !done(stream) {
            let remaining = Double(Int64(deadline) - Int64(MonotonicClock.nanoseconds())) / 1e9
            guard remaining > 0 else { break }
            switch client.read(timeout: remaining) {
            case .bytes(let bytes):
                let now = MonotonicClock.milliseconds(since: client.requestSentAt)
                stream.body += bytes
                if stream.head.headers["content-type"] == "video/x-flv", stream.head.headers["transfer-encoding"] == nil
                {
                    for tag in try parser.append(bytes) {
                        stream.tags.append(ReceivedStream.Arrival(tag: tag, arrivedAfter: now))
                    }
                }
            case .timedOut:
                break
            case .closed:
                stream.closedByOrigin = true
                stream.closedAfter = MonotonicClock.milliseconds(since: client.requestSentAt)
            }
        }
        return stream
    }
}
