import FirstFrameFFmpeg

/// A kept stream's packets as an `AsyncSequence` (``OpenedStream/packets(bufferCapacity:)``): read ahead on the
/// stream's own thread, handed to the consumer one by one (`sending`: each packet is the consumer's alone).
/// Cancelling the task that iterates ends the stream's reads, as ``OpenedStream/close()`` does.
///
/// ```swift
/// do {
///     for try await packet in stream.packets() {
///         try output.write(packet, toStream: packet.streamIndex)
///     }
///     // a clean end: stream.end?.reason is .endOfInput or .closed
/// } catch {
///     print("ended: \(error.reason)")        // StreamEnd: connectionDropped, stalled or failed
/// }
/// ```
public struct PacketSequence: AsyncSequence {
    public typealias Element = Packet
    public typealias Failure = StreamEnd

    let pump: PacketPump

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(pump: pump, lifetime: IteratorLifetime(pump: pump))
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let pump: PacketPump
        /// Stops the read-ahead when the last copy of the iterator goes away (a loop left early).
        let lifetime: IteratorLifetime
        var finished = false

        public mutating func next(
            isolation actor: isolated (any Actor)? = #isolation
        ) async throws(StreamEnd) -> Packet? {
            guard !finished else { return nil }
            let pump = pump
            // Cancelling the consuming task stops the stream's reads: the blocked one returns within FFmpeg's poll,
            // and the sequence finishes (the stream's end is `closed`).
            let next = await withTaskCancellationHandler {
                await pump.next()
            } onCancel: {
                pump.cancelReads()
            }
            switch next {
            case .success(let packet):
                return packet
            case .failure(let end):
                finished = true
                if end.isClean { return nil }
                throw end
            case nil:
                finished = true
                return nil
            }
        }

        public mutating func next() async throws(StreamEnd) -> Packet? {
            try await next(isolation: nil)
        }
    }

    /// The iterator's lifetime, as an object whose deinit can stop the pump.
    final class IteratorLifetime: Sendable {
        let pump: PacketPump
        init(pump: PacketPump) { self.pump = pump }
        deinit { pump.stop() }
    }
}
