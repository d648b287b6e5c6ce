import FirstFrameCore

/// The first of several values offered from anywhere, awaited once.
///
/// A task group waits for all of its children before it returns, and a resolver blocked in `res_nquery` on a
/// thread of its own cannot be cancelled; racing through a task group would make the winner wait for the
/// slowest loser. Here the losers run on in unstructured tasks and their offers are ignored.
final class FirstAnswer<Value: Sendable>: Sendable {
    private enum State {
        case waiting(CheckedContinuation<Value, Never>?)
        case answered(Value)
    }

    private let state = Locked(State.waiting(nil))

    /// Keeps `value` if it is the first; later offers are dropped.
    func offer(_ value: Value) {
        let waiter: CheckedContinuation<Value, Never>? = state.withLock { state in
            guard case .waiting(let waiter) = state else { return nil }
            state = .answered(value)
            return waiter
        }
        waiter?.resume(returning: value)
    }

    /// The first value offered (at once if it already was). One caller only.
    func value() async -> Value {
        await withCheckedContinuation { continuation in
            let ready: Value? = state.withLock { state in
                switch state {
                case .answered(let value): return value
                case .waiting:
                    state = .waiting(continuation)
                    return nil
                }
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    var isAnswered: Bool {
        state.withLock { if case .answered = $0 { true } else { false } }
    }
}
