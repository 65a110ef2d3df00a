import Synchronization
import Storage

/// Server-wide counters for INFO stats; relaxed atomics, as they are only ever read for reporting.
public final class Stats: Sendable {
    public let commands = Atomic<Int>(0)
    public let connectionsReceived = Atomic<Int>(0)
    public let rejectedConnections = Atomic<Int>(0)
    public let keyspaceHits = Atomic<Int>(0)
    public let keyspaceMisses = Atomic<Int>(0)
    public let errorReplies = Atomic<Int>(0)
    public let netInputBytes = Atomic<Int>(0)
    public let netOutputBytes = Atomic<Int>(0)
    public let expiredKeys = Atomic<Int>(0)
    public let evictedKeys = Atomic<Int>(0)
    public let syncFull = Atomic<Int>(0)
    public let syncPartialOK = Atomic<Int>(0)
    public let syncPartialErr = Atomic<Int>(0)
    /// Writes since the last save, as Redis's server.dirty.
    public let dirty = Atomic<Int>(0)
    public let errorCodes = Locked<[String: Int]>([:])

    public init() {}

    @inline(__always) public func add(_ a: borrowing Atomic<Int>, _ n: Int = 1) {
        a.wrappingAdd(n, ordering: .relaxed)
    }

    func countError(_ message: String) {
        add(errorReplies)
        let code = message.prefix { $0 != " " }
        errorCodes.withLock { $0[String(code), default: 0] += 1 }
    }

    func reset() {
        commands.store(0, ordering: .relaxed)
        connectionsReceived.store(0, ordering: .relaxed)
        rejectedConnections.store(0, ordering: .relaxed)
        keyspaceHits.store(0, ordering: .relaxed)
        keyspaceMisses.store(0, ordering: .relaxed)
        errorReplies.store(0, ordering: .relaxed)
        netInputBytes.store(0, ordering: .relaxed)
        netOutputBytes.store(0, ordering: .relaxed)
        expiredKeys.store(0, ordering: .relaxed)
        evictedKeys.store(0, ordering: .relaxed)
        errorCodes.withLock { $0.removeAll() }
    }
}
