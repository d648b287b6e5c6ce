import NIOCore
import Synchronization

/// Every client connection the origin has open, so that shutting the origin down closes them all even when
/// the event loop group is the caller's and lives on.
final class OpenConnections: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var closing = false
    }

    private let state = Mutex(State())

    /// Tracks `channel` until it closes; closes it at once if the origin is already shutting down.
    func track(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        let accepted = state.withLock { state -> Bool in
            guard !state.closing else { return false }
            state.channels[id] = channel
            return true
        }
        guard accepted else {
            channel.close(promise: nil)
            return
        }
        channel.closeFuture.whenComplete { _ in
            _ = self.state.withLock { $0.channels.removeValue(forKey: id) }
        }
    }

    /// Closes every tracked connection and refuses new ones; returns when all have closed.
    func closeAll() async {
        let channels = state.withLock { state in
            state.closing = true
            return state.channels
        }
        for (id, channel) in channels {
            try? await channel.close()
            // Wait for the close itself (close() may fail at once on a channel already closing) and forget the
            // channel here: the closeFuture callback that also removes it may not have run yet.
            try? await channel.closeFuture.get()
            _ = state.withLock { $0.channels.removeValue(forKey: id) }
        }
    }

    var count: Int { state.withLock { $0.channels.count } }
}
