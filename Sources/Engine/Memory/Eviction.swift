import Dispatch
import Synchronization
import Storage

/// maxmemory: measuring what the allocator holds, and evicting keys by Redis's approximated
/// policies (sampling into a pool of the best candidates) until memory is back under the limit.
extension Engine {
    /// used_memory, measured at most once a millisecond (it walks malloc's arenas).
    func usedMemory(fresh: Bool = false) -> Int {
        let now = Int(unixMillis())
        if !fresh && now - measuredAt.load(ordering: .relaxed) < 1 { return measuredMemory.load(ordering: .relaxed) }
        let used = MemoryStats.allocated()
        measuredMemory.store(used, ordering: .relaxed)
        measuredAt.store(now, ordering: .relaxed)
        return used
    }

    /// Evicts until used memory is at most maxmemory. Returns false when it could not (policy
    /// noeviction, nothing evictable): denyoom commands are then refused.
    func performEvictions() -> Bool {
        let limit = settings.maxmemory.load(ordering: .relaxed)
        guard limit > 0 else { return true }
        // A replica leaves eviction to its primary (whose DELs it applies), as Redis's
        // replica-ignore-maxmemory.
        if repl.following.load(ordering: .relaxed) && config.bool("replica-ignore-maxmemory") { return true }
        if usedMemory() <= limit { return true }
        let policy = EvictionPolicy(rawValue: settings.policy.load(ordering: .relaxed)) ?? .noeviction
        if policy == .noeviction { return false }
        // One evicting thread at a time; the others see memory falling and go on.
        let start = unixMicros()
        defer { latencySample("eviction-cycle", ms: Int((unixMicros() - start) / 1000)) }
        return evictionLock.withLock { _ in
            var used = usedMemory(fresh: true)
            var pool: [Candidate] = []
            let started = unixMicros()
            // maxmemory-eviction-tenacity: how long one command may spend evicting.
            let tenacity = settings.tenacity.load(ordering: .relaxed)
            let budget = Int64(500 + tenacity * tenacity * 50)
            var evicted = 0
            // Databases holding keys (volatile keys, for volatile-* policies): the ones to sample.
            let dbs = keyspace.databases.filter { db in
                db.shards.contains { s in s.lock.withLock { policy.volatileOnly ? s.volatileCount > 0 : s.count > 0 } }
            }.map(\.index)
            while used > limit {
                guard let victim = pickVictim(policy, dbs, &pool) else { return false }
                let db = keyspace.databases[victim.db]
                let shard = db.shard(victim.key[...])
                let freed: Int? = shard.lock.withLock {
                    guard let slot = shard.find(victim.key[...], now: unixMillis()) else { return nil }
                    let e = shard.remove(slot: slot)
                    propagateAlone(db: victim.db, [Verb.del, victim.key])
                    return victim.key.count + e.value.memoryUsage + 64
                }
                guard let freed else { continue }
                evicted += 1
                stats.add(stats.evictedKeys)
                if notificationsOn { notify(.evicted, "evicted", victim.key, db: victim.db) }
                invalidate(victim.key, writer: nil)
                used -= freed
                if evicted % 16 == 0 || used <= limit { used = usedMemory(fresh: true) }
                // Out of time: let the command run; the next ones go on evicting (as Redis's
                // EVICT_RUNNING). Only finding nothing to evict refuses commands.
                if unixMicros() - started > budget { return true }
            }
            return true
        }
    }

    struct Candidate {
        var score: UInt64
        var db: Int
        var key: [UInt8]
    }

    /// The next key to evict under `policy`: random ones directly, the others from a pool of
    /// the best of `maxmemory-samples` keys sampled per database, as Redis's evictionPoolPopulate.
    func pickVictim(_ policy: EvictionPolicy, _ dbIndexes: [Int], _ pool: inout [Candidate]) -> Candidate? {
        guard !dbIndexes.isEmpty else { return nil }
        var rng = RandomSource()
        let now = unixMillis()
        let access = accessPolicy
        let samples = max(1, settings.samples.load(ordering: .relaxed))
        let volatile = policy.volatileOnly
        if policy == .allkeysRandom || policy == .volatileRandom {
            for _ in 0..<256 {
                let db = keyspace.databases[dbIndexes.randomElement(using: &rng)!]
                let shard = db.shards[Int.random(in: 0..<db.shards.count, using: &rng)]
                let key: [UInt8]? = shard.lock.withLock {
                    volatile ? shard.randomVolatileKey(using: &rng)
                             : shard.table.randomSlot(using: &rng).map { shard.key(at: $0) }
                }
                if let key { return Candidate(score: 0, db: db.index, key: key) }
            }
            return nil
        }
        for db in dbIndexes.map({ keyspace.databases[$0] }) {
            for _ in 0..<samples {
                let shard = db.shards[Int.random(in: 0..<db.shards.count, using: &rng)]
                let c: Candidate? = shard.lock.withLock {
                    let key: [UInt8]?
                    if volatile { key = shard.randomVolatileKey(using: &rng) } else {
                        key = shard.table.randomSlot(using: &rng).map { shard.key(at: $0) }
                    }
                    guard let key, let slot = shard.table.find(key) else { return nil }
                    let e = shard.entry(at: slot)
                    let score: UInt64
                    switch policy {
                    case .allkeysLFU, .volatileLFU: score = 255 - UInt64(access.decayedCounter(e.access, now: now))
                    case .volatileTTL:
                        let at = shard.expireAt(slot: slot)
                        score = at == 0 ? 0 : UInt64.max - UInt64(at)
                    default: score = UInt64(idleSixteenths(access: e.access, nowMs: now))
                    }
                    return Candidate(score: score, db: db.index, key: key)
                }
                if let c, !pool.contains(where: { $0.db == c.db && $0.key == c.key }) {
                    pool.append(c)
                }
            }
        }
        if pool.isEmpty {
            // Every sample hit an empty shard: look for any key at all before giving up.
            for db in dbIndexes.map({ keyspace.databases[$0] }) {
                for shard in db.shards {
                    let key: [UInt8]? = shard.lock.withLock {
                        volatile ? shard.randomVolatileKey(using: &rng) : shard.table.randomSlot(using: &rng).map { shard.key(at: $0) }
                    }
                    if let key { return Candidate(score: 0, db: db.index, key: key) }
                }
            }
            return nil
        }
        pool.sort { $0.score < $1.score }
        if pool.count > 16 { pool.removeFirst(pool.count - 16) }
        return pool.popLast()
    }

    /// Frees a large value off the command path (UNLINK, FLUSHALL ASYNC, lazyfree-lazy-*),
    /// as Redis's lazyfree: dropping a big collection releases many allocations.
    /// Redis's threshold: a value whose freeing costs more than 64 (its free effort).
    func freeLazily(_ value: Value) {
        guard value.freeEffort > 64 else { return }
        dropInBackground(value)
    }

    /// Releases `object` (its last reference) on the lazy-free thread; it counts as `objects`
    /// in INFO (FLUSHALL ASYNC: the keys of the tables it drops, as Redis counts them).
    func dropInBackground<T: Sendable>(_ object: T, objects: Int = 1) {
        lazyFreePending.wrappingAdd(objects, ordering: .relaxed)
        lazyFreeQueue.async { [self] in
            withExtendedLifetime(object) {}
            lazyFreePending.wrappingAdd(-objects, ordering: .relaxed)
            lazyFreed.wrappingAdd(objects, ordering: .relaxed)
        }
    }
}
