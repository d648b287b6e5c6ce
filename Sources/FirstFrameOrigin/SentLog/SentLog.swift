import NIOCore
import Synchronization

/// A channel's sent log: every media tag its connections handed to the kernel (a write that NIO completed), in
/// the order they went, for the content checks of recordings (``SentTag``).
///
/// Bounded: it keeps the latest ``capacity`` tags of the channel, all connections together, and counts the ones it
/// let go (``OriginConfiguration/sentLogCapacity``; at the default 200 000, about 50 minutes of one viewer of the
/// default 25 fps + AAC channel, some 12 MB).
final class SentLog: Sendable {
    let capacity: Int
    private let state: Mutex<State>

    private struct State {
        var tags = CircularBuffer<SentTag>()
        var dropped = 0
    }

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        state = Mutex(State())
    }

    func append(_ tag: SentTag) {
        state.withLock { state in
            if state.tags.count == capacity {
                state.tags.removeFirst()
                state.dropped += 1
            }
            state.tags.append(tag)
        }
    }

    /// The tags kept, oldest first, and how many older ones the bound let go.
    var snapshot: (tags: [SentTag], dropped: Int) {
        state.withLock { (Array($0.tags), $0.dropped) }
    }
}
