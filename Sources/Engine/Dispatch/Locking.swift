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
        var idx = ctx.locks.shardScratch
        ctx.locks.shardScratch = []
        idx.removeAll(keepingCapacity: true)
        // Each key's shard is kept by argument too, so that the handler's ctx.shard(i) does
        // not hash the key a second time.
        var byArgument = ctx.locks.argumentShards
        ctx.locks.argumentShards = []
        byArgument.removeAll(keepingCapacity: true)
        byArgument.append(contentsOf: repeatElement(-1, count: ctx.argc))
        for k in keys {
            let s = db.shardIndex(ctx.args[k])
            idx.append(s)
            byArgument[k] = s
        }
        // Swapped in, not copied: a second reference would make the removeAll below copy.
        swap(&ctx.locks.argumentShards, &byArgument)
        // Insertion sort for the usual few keys: sort() allocated a buffer per call.
        if idx.count <= 32 {
            for i in 1..<idx.count {
                let v = idx[i]
                var j = i
                while j > 0 && idx[j - 1] > v { idx[j] = idx[j - 1]; j -= 1 }
                idx[j] = v
            }
        } else {
            idx.sort()
        }
        var prev = -1
        for i in idx where i != prev { db.shards[i].lock.lock(); prev = i }
        body(spec, &ctx)
        prev = -1
        for i in idx.reversed() where i != prev { db.shards[i].lock.unlock(); prev = i }
        ctx.locks.shardScratch = idx
        ctx.locks.argumentShards.removeAll(keepingCapacity: true)
    }

}
