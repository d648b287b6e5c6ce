/// Carries a non-`Sendable` value across the one hand-off the region checker cannot follow: out of a lock-protected
/// queue that held the only reference to it.
///
/// Packets and decoders are not `Sendable`: each has one owner at a time and moves with `sending`. A kept stream
/// keeps read packets in a queue behind a `Mutex` and removes each one before handing it on, so the receiver gets the
/// only reference; Swift 6.3 cannot see that a value taken out of an `inout` queue is no longer reachable from it.
/// Use this only where the value has just been removed from the structure that held it.
package struct OwnershipTransfer<Value>: @unchecked Sendable {
    private let value: Value

    /// Wraps `value`, which nothing else may reference.
    package init(unique value: Value) { self.value = value }

    /// The value, for its new owner.
    package consuming func take() -> sending Value {
        nonisolated(unsafe) let taken = value
        return taken
    }
}
