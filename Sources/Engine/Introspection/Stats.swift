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
    public let evictedClients = Atomic<Int>(0)
    public let syncFull = Atomic<Int>(0)
    public let syncPartialOK = Atomic<Int>(0)
    public let syncPartialErr = Atomic<Int>(0)
    /// Writes since the last save, as Redis's server.dirty.
    public let dirty = Atomic<Int>(0)
    public let errorCodes = Locked<[String: Int]>([:])
    /// Read batches and reply writes of connections (total_reads_processed / _writes_).
    public let readsProcessed = Atomic<Int>(0)
    public let writesProcessed = Atomic<Int>(0)
    /// Bytes of replication streams: read from a primary, sent to replicas.
    public let replInputBytes = Atomic<Int>(0)
    public let replOutputBytes = Atomic<Int>(0)
    /// Active expiry: passes that ran out of time, milliseconds spent, and the share of the
    /// keys sampled that had expired (a moving average, in percent), as Redis reports them.
    public let expireTimeCapReached = Atomic<Int>(0)
    public let expireCycleMicros = Atomic<Int>(0)
    let expiredStalePercent = Locked<Double>(0)
    /// The last 16 samples, 100 ms apart, of the rates INFO calls instantaneous.
    let instantaneous = Locked(Instantaneous())

    struct Instantaneous {
        static let samples = 16
        /// Per metric (ops, net in, net out, repl in, repl out): the last total and when, and
        /// the rates (per second) of the last samples.
        var lastTotals = [Int](repeating: 0, count: 5)
        var lastAt: Int64 = 0
        var rates = [[Double]](repeating: [Double](repeating: 0, count: Instantaneous.samples), count: 5)
        var next = 0

        func average(_ metric: Int) -> Double { rates[metric].reduce(0, +) / Double(Self.samples) }
    }

    /// Takes a sample of each rate (the cron calls it about every 100 ms).
    public func sampleInstantaneous(now: Int64) {
        let totals = [commands.load(ordering: .relaxed), netInputBytes.load(ordering: .relaxed),
                      netOutputBytes.load(ordering: .relaxed), replInputBytes.load(ordering: .relaxed),
                      replOutputBytes.load(ordering: .relaxed)]
        instantaneous.withLock { s in
            defer { s.lastTotals = totals; s.lastAt = now }
            guard s.lastAt > 0, now > s.lastAt else { return }
            for m in 0..<5 {
                s.rates[m][s.next] = Double(totals[m] - s.lastTotals[m]) * 1000 / Double(now - s.lastAt)
            }
            s.next = (s.next + 1) % Instantaneous.samples
        }
    }

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
        readsProcessed.store(0, ordering: .relaxed)
        writesProcessed.store(0, ordering: .relaxed)
        replInputBytes.store(0, ordering: .relaxed)
        replOutputBytes.store(0, ordering: .relaxed)
        expireTimeCapReached.store(0, ordering: .relaxed)
        expireCycleMicros.store(0, ordering: .relaxed)
        expiredStalePercent.withLock { $0 = 0 }
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
        evictedClients.store(0, ordering: .relaxed)
        errorCodes.withLock { $0.removeAll() }
    }
}
