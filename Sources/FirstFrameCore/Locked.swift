#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value behind a pthread mutex, for state that ThreadSanitizer must be able to check.
///
/// `Synchronization.Mutex` is the house choice, but on Linux it locks with futexes inside the (uninstrumented)
/// Swift runtime, so ThreadSanitizer sees no ordering between two `withLock` bodies and reports every access as a
/// race. The DNS cache is exercised under TSan (`make tsan`), so its state uses this instead; pthread mutexes are
/// intercepted by TSan.
package final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    package init(_ value: Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    package func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
