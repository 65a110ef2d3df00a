/// One numbered database: a fixed power-of-two set of shards.
public final class Database: Sendable {
    public let index: Int
    public let shards: [Shard]
    private let shardMask: Int
    /// The shards' mutexes, by shard index (see `lockKey`).
    private let mutexes: [MutexRef]

    public init(index: Int, shardCount: Int) {
        precondition(shardCount > 0 && shardCount & (shardCount - 1) == 0, "shard count must be a power of two")
        self.index = index
        self.shards = (0..<shardCount).map { Shard(index: $0) }
        self.shardMask = shardCount - 1
        self.mutexes = shards.map { $0.lock.ref }
    }

    /// Locates a key (as `locate`) and locks its shard; the mutex comes back for the unlock.
    public func lockKey(_ raw: UnsafeRawBufferPointer) -> (shard: Int, hash: UInt64?, mutex: MutexRef) {
        let (shard, hash) = locate(raw)
        let mutex = mutexes[shard]
        mutex.lock()
        return (shard, hash, mutex)
    }

    /// A key's shard, from the top half of its SipHash (of its `{hash tag}` when it has one, so
    /// that keys sharing a tag share a shard, as they share a node in Redis Cluster), and the
    /// hash the shard's table uses for the key when it has no tag: the lookup that follows
    /// need not hash the key again. The table uses the low 32 bits, the shard the high ones.
    @inline(__always) public func locate(_ key: ArraySlice<UInt8>) -> (shard: Int, hash: UInt64?) {
        key.withUnsafeBytes { locate($0) }
    }

    public func locate(_ raw: UnsafeRawBufferPointer) -> (shard: Int, hash: UInt64?) {
        if let tag = KeySlot.hashTag(raw) {
            return (Int(truncatingIfNeeded: Self.tagHash(tag) >> 32) & shardMask, nil)
        }
        let h = KeyHash.hash(raw)
        return (Int(truncatingIfNeeded: h >> 32) & shardMask, h)
    }

    /// A hash tag only picks the shard, and needs no secret seed: whoever chooses keys can
    /// put them all in one shard with one tag anyway. FNV-1a, a quarter of SipHash's cost on
    /// a short tag; the key is still hashed with KeyHash for its table.
    @inline(__always) static func tagHash(_ tag: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in tag { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return h ^ (h >> 29)
    }

    @inline(__always) public func shardIndex(_ key: ArraySlice<UInt8>) -> Int {
        locate(key).shard
    }

    @inline(__always) public func shard(_ key: ArraySlice<UInt8>) -> Shard {
        shards[shardIndex(key)]
    }

    /// Keys in the database. The caller holds every shard lock.
    public var count: Int { shards.reduce(0) { $0 + $1.count } }
    public var volatileCount: Int { shards.reduce(0) { $0 + $1.volatileCount } }

    /// Keeps the keys by cluster slot from now on (a cluster node's database).
    public func indexSlots() { for s in shards { s.lock.withLock { s.indexSlots() } } }
    public var indexesSlots: Bool { shards[0].indexesSlots }

    /// The keys in cluster slot `slot` (expired ones not yet removed included, as Redis),
    /// each shard locked in turn. Needs `indexSlots`.
    public func countKeys(inSlot slot: Int) -> Int {
        shards.reduce(0) { n, s in n + s.lock.withLock { s.countKeys(inSlot: slot) } }
    }

    /// Up to `limit` keys of cluster slot `slot`.
    public func keys(inSlot slot: Int, limit: Int) -> [[UInt8]] {
        var found: [[UInt8]] = []
        for s in shards {
            guard found.count < limit else { break }
            s.lock.lock()
            s.appendKeys(inSlot: slot, limit: limit, to: &found)
            s.lock.unlock()
        }
        return found
    }

    /// Every shard, without waiting while holding one (lockPolitely).
    public func lockAll() { lockPolitely(count: shards.count) { shards[$0].lock.ref } }
    public func unlockAll() { for s in shards.reversed() { s.lock.unlock() } }
}

/// Every database of the server.
public final class Keyspace: Sendable {
    public let databases: [Database]
    public let shardsPerDatabase: Int
    /// Every shard's mutex by its keyspace-wide number (database × shardsPerDatabase + shard),
    /// for lock sets that span several shards or databases: held by address, they are locked
    /// without a retain of the database, the shard and its lock each.
    public let mutexes: [MutexRef]

    public init(databases: Int = 16, shardsPerDatabase: Int = 16) {
        self.shardsPerDatabase = shardsPerDatabase
        self.databases = (0..<databases).map { Database(index: $0, shardCount: shardsPerDatabase) }
        self.mutexes = self.databases.flatMap { db in db.shards.map { $0.lock.ref } }
    }
}
