#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A value guarded by a `pthread_mutex_t`: the project's one lock type, used wherever state is shared between
/// threads, with the same `withLock` as `Synchronization.Mutex`.
///
/// Why not `Synchronization.Mutex`: on Linux it locks with an atomic fast path and, when contended, raw
/// `FUTEX_LOCK_PI`/`FUTEX_UNLOCK_PI` syscalls that ThreadSanitizer does not model, so TSan reports the accesses of
/// successive lock holders as races (`Scripts/sanitizers/tsan-mutex-repro.sh` shows it). TSan intercepts
/// `pthread_mutex_lock`/`unlock`, so the same code under this lock is checked for real.
/// The mutex and the value live in their own allocations, so their addresses never move.
///
/// `@unchecked Sendable` is sound for the same reason as `Mutex`'s `Sendable`: the value is only touched inside
/// `withLock`, between `pthread_mutex_lock` and `pthread_mutex_unlock`, and it enters and leaves the lock only as
/// `sending` (the initial value, the `inout sending` argument, the `sending` result), so no other reference to it
/// escapes to another thread.
public final class PthreadMutex<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let value: UnsafeMutablePointer<Value>

    public init(_ initialValue: sending Value) {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let created = pthread_mutex_init(mutex, nil)
        precondition(created == 0, "pthread_mutex_init failed: \(created)")
        value = .allocate(capacity: 1)
        value.initialize(to: initialValue)
    }

    deinit {
        value.deinitialize(count: 1)
        value.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the value.
    public func withLock<Result, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result {
        let locked = pthread_mutex_lock(mutex)
        precondition(locked == 0, "pthread_mutex_lock failed: \(locked)")
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value.pointee)
    }
}
