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
    @inline(__always) public func tryLock() -> Bool { pthread_mutex_trylock(mutex) == 0 }

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
    @inline(__always) public func tryLock() -> Bool { pthread_mutex_trylock(pointer) == 0 }
}

/// Locks `count` mutexes, given in ascending order, without ever waiting while holding one:
/// each after the first is tried, and when one is taken the ones held are released, that one
/// is waited for holding nothing, and the set is tried again. Uncontended, it costs what
/// locking them in order costs (a trylock is a lock).
///
/// Why not simply in ascending order: a running script takes the locks of the keys it touches
/// as it goes, in any order (Redis lets a script reach keys it did not declare), so it may
/// wait for a lower shard while holding a higher one. That is safe only if nobody else ever
/// waits while holding: one-key commands hold one lock, and every set of locks is taken here.
/// Scripts themselves run one at a time (Scripting's mutex).
@inline(__always)
public func lockPolitely(count: Int, _ mutex: (Int) -> MutexRef) {
    guard count > 0 else { return }
    outer: while true {
        mutex(0).lock()
        var i = 1
        while i < count {
            if !mutex(i).tryLock() {
                var j = i - 1
                while j >= 0 { mutex(j).unlock(); j -= 1 }
                let busy = mutex(i)
                busy.lock()
                busy.unlock()
                continue outer
            }
            i += 1
        }
        return
    }
}
