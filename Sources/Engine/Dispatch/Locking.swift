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
            let mutexes = keyspace.mutexes
            lockPolitely(count: mutexes.count) { mutexes[$0] }
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
        var set = LockSet(takingStorageOf: &ctx.locks.shardScratch)
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
        set.giveStorage(to: &ctx.locks.shardScratch)
        ctx.locks.argumentShards.removeAll(keepingCapacity: true)
    }
}

/// The shards a multi-key command or a transaction locks, as keyspace-wide numbers (database
/// × shards per database + shard): sorted and each once, so that they are locked in ascending
/// order (two lock sets never wait on each other in a cycle) and unlocked in reverse. A
/// one-key command skips it (Engine.withLocks locks its one shard directly); a command that
/// names no keys locks whole databases.
struct LockSet {
    private(set) var shards: [Int] = []

    /// An empty set in `buffer`'s storage, which it takes (leaving `buffer` empty): a
    /// connection keeps one for its capacity, so that a multi-key command allocates nothing.
    /// (Copied rather than taken, the storage was shared, and emptying it allocated.)
    init(takingStorageOf buffer: inout [Int]) {
        swap(&shards, &buffer)
        shards.removeAll(keepingCapacity: true)
    }

    init() {}

    /// Hands the storage back for the next command.
    mutating func giveStorage(to buffer: inout [Int]) { swap(&shards, &buffer) }

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

    /// Sorts and drops repeats, in place through one buffer pointer (subscripting the array
    /// checked its uniqueness on every write: about 700 instructions a 10-key MSET). Insertion
    /// sort for the usual few keys: sort() allocated a buffer per call.
    @inline(__always)
    mutating func seal() {
        let kept: Int = shards.withUnsafeMutableBufferPointer { p in
            if p.count <= 32 {
                var i = 1
                while i < p.count {
                    let v = p[i]
                    var j = i
                    while j > 0 && p[j - 1] > v { p[j] = p[j - 1]; j -= 1 }
                    p[j] = v
                    i += 1
                }
            } else {
                p.sort()
            }
            var kept = 0
            for i in 0..<p.count where kept == 0 || p[i] != p[kept - 1] {
                p[kept] = p[i]
                kept += 1
            }
            return kept
        }
        if kept < shards.count { shards.removeLast(shards.count - kept) }
    }

    /// Locks in ascending order without waiting while holding one (lockPolitely: a script may
    /// take locks out of order), each mutex by address (Keyspace.mutexes).
    @inline(__always)
    func lock(_ keyspace: Keyspace) {
        let mutexes = keyspace.mutexes
        shards.withUnsafeBufferPointer { p in lockPolitely(count: p.count) { mutexes[p[$0]] } }
    }

    /// Unlocks in descending order.
    @inline(__always)
    func unlock(_ keyspace: Keyspace) {
        let mutexes = keyspace.mutexes
        shards.withUnsafeBufferPointer { p in for n in p.reversed() { mutexes[n].unlock() } }
    }
}
