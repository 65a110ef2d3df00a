import RESP
import Storage

/// The shard locks of a command, decided from its table row before it runs (DESIGN.md §3):
/// one key's shard, the shards of several keys in ascending order (never deadlocks), a whole
/// database, or every database.
extension Engine {
    /// Takes the shard locks `spec` needs, in ascending order, around `body`. Inlined, so that
    /// the closure is too: called through, its captures (the spec, the engine) were retained
    /// and released around every command (callgrind).
    @inline(__always)
    func withLocks(_ spec: CommandSpec, _ ctx: inout CommandContext, _ body: (CommandSpec, inout CommandContext) -> Void) {
        switch spec.scope {
        case .none:
            body(spec, &ctx)
        case .keys:
            if spec.hasOneKey && spec.firstKey < ctx.argc {
                let mutex = lockOneKey(spec.firstKey, &ctx)
                body(spec, &ctx)
                unlockOneKey(mutex, &ctx)
                return
            }
            if spec.keyFinder == nil {
                // MSET and the like: the keys' places as a stride, not an array per command.
                guard let keys = spec.keyStride(argc: ctx.argc) else { body(spec, &ctx); return }
                withKeyLocks(keys, spec, &ctx, body)
            } else {
                withKeyLocks(spec.keyIndexes(ctx.args), spec, &ctx, body)
            }
        case .database:
            let db = ctx.db
            db.lockAll()
            body(spec, &ctx)
            db.unlockAll()
        case .all:
            for db in keyspace.databases { db.lockAll() }
            body(spec, &ctx)
            for db in keyspace.databases.reversed() { db.unlockAll() }
        }
    }

    /// Locks the shard of the key at argument `i` and notes it (and the key's hash) in the
    /// context, so that the handler neither hashes the key again nor locates its shard. The
    /// shard is noted as its index, and neither the database nor the shard is retained for the
    /// command: both live as long as the server, and their retains and releases were about a
    /// tenth of a GET's instructions (callgrind).
    @inline(__always)
    private func lockOneKey(_ i: Int, _ ctx: inout CommandContext) -> MutexRef {
        let db = Unmanaged.passUnretained(ctx.db)
        let (index, hash, mutex) = ctx.args.withBytes(i) { raw in db._withUnsafeGuaranteedRef { $0.lockKey(raw) } }
        ctx.locks.oneKeyArgument = i
        ctx.locks.oneKeyShardIndex = index
        ctx.locks.oneKeyHash = hash
        return mutex
    }

    @inline(__always)
    private func unlockOneKey(_ mutex: MutexRef, _ ctx: inout CommandContext) {
        ctx.locks.oneKeyArgument = -1
        ctx.locks.oneKeyHash = nil
        mutex.unlock()
    }

    /// Locks the shards of the keys at `keys` (argument places) in ascending order, once each.
    private func withKeyLocks<S: Sequence<Int>>(_ keys: S, _ spec: CommandSpec, _ ctx: inout CommandContext,
                                               _ body: (CommandSpec, inout CommandContext) -> Void) {
        var it = keys.makeIterator()
        guard let firstKey = it.next() else { body(spec, &ctx); return }
        let db = ctx.db
        if it.next() == nil {
            let shard = db.shard(ctx.args[firstKey])
            shard.lock.lock()
            body(spec, &ctx)
            shard.lock.unlock()
            return
        }
        var set = LockSet(reusing: ctx.locks.shardScratch)
        ctx.locks.shardScratch = []
        // Each key's shard is kept by argument too, so that the handler's ctx.shard(i) does
        // not hash the key a second time.
        var byArgument = ctx.locks.argumentShards
        ctx.locks.argumentShards = []
        byArgument.removeAll(keepingCapacity: true)
        byArgument.append(contentsOf: repeatElement(-1, count: ctx.argc))
        let base = ctx.dbIndex * keyspace.shardsPerDatabase
        for k in keys {
            let s = db.shardIndex(ctx.args[k])
            set.add(base + s)
            byArgument[k] = s
        }
        // Swapped in, not copied: a second reference would make the removeAll below copy.
        swap(&ctx.locks.argumentShards, &byArgument)
        set.seal()
        set.lock(keyspace)
        body(spec, &ctx)
        set.unlock(keyspace)
        ctx.locks.shardScratch = set.shards
        ctx.locks.argumentShards.removeAll(keepingCapacity: true)
    }
}

/// The shards a multi-key command or a transaction locks, as keyspace-wide numbers (database
/// × shards per database + shard): sorted and each once, so that they are locked in ascending
/// order (two lock sets never wait on each other in a cycle) and unlocked in reverse. A
/// one-key command skips it (Engine.withLocks locks its one shard directly); a command that
/// names no keys locks whole databases.
struct LockSet {
    private(set) var shards: [Int]

    /// An empty set in `buffer`'s storage: a connection keeps one for its capacity, so that a
    /// multi-key command allocates nothing.
    init(reusing buffer: [Int] = []) {
        shards = buffer
        shards.removeAll(keepingCapacity: true)
    }

    mutating func add(_ shard: Int) { shards.append(shard) }

    /// Every shard of database `db`.
    mutating func addDatabase(_ db: Int, in keyspace: Keyspace) {
        let per = keyspace.shardsPerDatabase
        for s in 0..<per { shards.append(db * per + s) }
    }

    /// Every shard of every database.
    mutating func addEverything(in keyspace: Keyspace) {
        shards.append(contentsOf: 0..<(keyspace.databases.count * keyspace.shardsPerDatabase))
    }

    /// Sorts and drops repeats. Insertion sort for the usual few keys: sort() allocated a
    /// buffer per call.
    mutating func seal() {
        if shards.count <= 32 {
            for i in 1..<max(1, shards.count) {
                let v = shards[i]
                var j = i
                while j > 0 && shards[j - 1] > v { shards[j] = shards[j - 1]; j -= 1 }
                shards[j] = v
            }
        } else {
            shards.sort()
        }
        var kept = 0
        for i in 0..<shards.count where kept == 0 || shards[i] != shards[kept - 1] {
            shards[kept] = shards[i]
            kept += 1
        }
        shards.removeLast(shards.count - kept)
    }

    func lock(_ keyspace: Keyspace) {
        let per = keyspace.shardsPerDatabase
        for n in shards { keyspace.databases[n / per].shards[n % per].lock.lock() }
    }

    func unlock(_ keyspace: Keyspace) {
        let per = keyspace.shardsPerDatabase
        for n in shards.reversed() { keyspace.databases[n / per].shards[n % per].lock.unlock() }
    }
}
