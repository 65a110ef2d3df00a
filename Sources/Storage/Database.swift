/// One numbered database: a fixed power-of-two set of shards.
public final class Database: Sendable {
    public let index: Int
    public let shards: [Shard]
    private let shardMask: Int

    public init(index: Int, shardCount: Int) {
        precondition(shardCount > 0 && shardCount & (shardCount - 1) == 0, "shard count must be a power of two")
        self.index = index
        self.shards = (0..<shardCount).map { Shard(index: $0) }
        self.shardMask = shardCount - 1
    }

    @inline(__always) public func shardIndex(_ key: ArraySlice<UInt8>) -> Int {
        KeySlot.of(key) & shardMask
    }

    @inline(__always) public func shard(_ key: ArraySlice<UInt8>) -> Shard {
        shards[shardIndex(key)]
    }

    /// Keys in the database. The caller holds every shard lock.
    public var count: Int { shards.reduce(0) { $0 + $1.count } }
    public var volatileCount: Int { shards.reduce(0) { $0 + $1.volatileCount } }

    public func lockAll() { for s in shards { s.lock.lock() } }
    public func unlockAll() { for s in shards.reversed() { s.lock.unlock() } }
}

/// Every database of the server.
public final class Keyspace: Sendable {
    public let databases: [Database]
    public let shardsPerDatabase: Int

    public init(databases: Int = 16, shardsPerDatabase: Int = 16) {
        self.shardsPerDatabase = shardsPerDatabase
        self.databases = (0..<databases).map { Database(index: $0, shardCount: shardsPerDatabase) }
    }
}
