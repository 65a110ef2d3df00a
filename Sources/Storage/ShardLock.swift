#if canImport(Glibc)
import Glibc
#endif

/// A plain mutex. Shards are locked and unlocked explicitly because a multi-key command holds
/// several at once, taken in ascending order, which a closure-scoped lock cannot express.
public final class ShardLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    public init() {
        mutex = .allocate(capacity: 1)
        // Adaptive: a waiter spins briefly before sleeping. Critical sections here are a few
        // microseconds, so two event loops on one hot key (a single list, set or sorted set)
        // otherwise pay a futex sleep and wake-up per collision.
        var attr = pthread_mutexattr_t()
        pthread_mutexattr_init(&attr)
        pthread_mutexattr_settype(&attr, Int32(PTHREAD_MUTEX_ADAPTIVE_NP))
        pthread_mutex_init(mutex, &attr)
        pthread_mutexattr_destroy(&attr)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inline(__always) public func lock() { pthread_mutex_lock(mutex) }
    @inline(__always) public func unlock() { pthread_mutex_unlock(mutex) }

    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// A value behind a pthread mutex. Used instead of Synchronization.Mutex, whose futex-based
/// lock ThreadSanitizer cannot see on Linux (it reports every access under it as a race).
public final class Locked<Value>: @unchecked Sendable {
    private let lock = ShardLock()
    private var value: Value

    public init(_ value: Value) { self.value = value }

    public func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

extension ShardLock {
    /// The mutex by address, for a path that must not retain the lock (see MutexRef).
    public var ref: MutexRef { MutexRef(pointer: mutex) }
}

/// A shard's mutex held by address: the dispatcher's one-key path locks and unlocks through
/// this, where reaching the mutex through the Shard and its ShardLock cost a retain and a
/// release of each per command (callgrind). Valid as long as its ShardLock, which lives as
/// long as its database, that is, as long as the server.
public struct MutexRef: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<pthread_mutex_t>
    @inline(__always) public func lock() { pthread_mutex_lock(pointer) }
    @inline(__always) public func unlock() { pthread_mutex_unlock(pointer) }
}
