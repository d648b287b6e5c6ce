import Synchronization

/// At most `limit` opens at once: `/probe` takes a slot or is refused (429), the schedule waits for one (first
/// come, first served; a waiting task that is cancelled leaves the queue).
package final class OpenSlots: Sendable {
    package let limit: Int

    private struct State {
        var used = 0
        var nextTicket: UInt64 = 0
        var waiters: [(ticket: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
        /// Tickets handed out whose continuation is not queued yet.
        var unqueued: Set<UInt64> = []
        /// Of those, the ones cancelled already.
        var cancelled: Set<UInt64> = []
    }
    private let state = Mutex(State())

    package init(limit: Int) {
        precondition(limit >= 1)
        self.limit = limit
    }

    package var inUse: Int { state.withLock { $0.used } }

    /// Takes a slot if one is free.
    package func tryAcquire() -> Bool {
        state.withLock { state in
            guard state.used < limit else { return false }
            state.used += 1
            return true
        }
    }

    /// Waits for a slot. Throws `CancellationError` when the task is cancelled first.
    package func acquire() async throws {
        let ticket: UInt64? = state.withLock { state in
            if state.used < limit {
                state.used += 1
                return nil
            }
            defer { state.nextTicket += 1 }
            state.unqueued.insert(state.nextTicket)
            return state.nextTicket
        }
        guard let ticket else { return }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let cancelledAlready = state.withLock { state in
                    state.unqueued.remove(ticket)
                    if state.cancelled.remove(ticket) != nil { return true }
                    // A slot may have come free between taking the ticket and now.
                    if state.used < limit {
                        state.used += 1
                        continuation.resume()
                        return false
                    }
                    state.waiters.append((ticket, continuation))
                    return false
                }
                if cancelledAlready { continuation.resume(throwing: CancellationError()) }
            }
        } onCancel: {
            let waiter: CheckedContinuation<Void, any Error>? = state.withLock { state in
                if let index = state.waiters.firstIndex(where: { $0.ticket == ticket }) {
                    return state.waiters.remove(at: index).continuation
                }
                // Not queued yet: the continuation will see it. Already granted a slot: nothing to undo.
                if state.unqueued.contains(ticket) { state.cancelled.insert(ticket) }
                return nil
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// Gives a slot back: to the first waiter if any.
    package func release() {
        let next: CheckedContinuation<Void, any Error>? = state.withLock { state in
            if state.waiters.isEmpty {
                state.used -= 1
                return nil
            }
            return state.waiters.removeFirst().continuation  // the slot passes on: `used` stays
        }
        next?.resume()
    }
}
