import Dispatch
import NIOCore
import Synchronization
import RESP
import Storage

/// The server's shared state and the dispatcher every request goes through.
public final class Engine: Sendable {
    public let keyspace: Keyspace
    public let config: Config
    public let table: CommandTable
    public let clients = ClientRegistry()
    public let stats = Stats()
    public let startedAt: Int64 = unixMillis()
    public let runID: String = (0..<40).map { _ in String("0123456789abcdef".randomElement()!) }.joined()
    public let tcpPort: Int
    let lastSave = Atomic<Int>(Int(unixMillis() / 1000))
    let peakMemory = Atomic<Int>(0)
    let pause = Locked<(until: Int64, writesOnly: Bool)>((0, false))
    /// Asks the server to stop (SHUTDOWN); set by the server.
    let shutdownHook = Locked<(@Sendable () -> Void)?>(nil)
    let blocking = BlockingState()
    /// When the current CLIENT PAUSE ends (ms), mirrored from `pause` for a lock-free check.
    let pauseEnds = Atomic<Int>(0)
    public let pubsub = PubSub()
    public let memcached = MemcachedState()
    let snapshots = SnapshotState()
    let aof = AOFState()
    let repl = ReplicationState()
    /// What a connection said in REPLCONF before its PSYNC: listening port and address.
    let pendingLinks = Locked<[Int: (port: Int, ip: String?)]>([:])
    let logSink = Locked<(@Sendable (String) -> Void)?>(nil)
    let tracking = Tracking()
    let settings = Settings()
    /// used_memory as last measured, and when (ms): measuring walks malloc's arenas.
    let measuredMemory = Atomic<Int>(0)
    let measuredAt = Atomic<Int>(0)
    let evictionLock = Locked<Void>(())
    let lazyFreePending = Atomic<Int>(0)
    let lazyFreeQueue = DispatchQueue(label: "larder.lazyfree")

    public init(config: Config) {
        self.config = config
        self.keyspace = Keyspace(databases: config.int("databases"),
                                 shardsPerDatabase: Self.powerOfTwo(config.int("shards-per-database")))
        self.table = CommandTable(Self.allCommands)
        self.tcpPort = config.int("port")
        reloadSettings()
        for db in keyspace.databases {
            let index = db.index
            for s in db.shards {
                s.onExpire = { [unowned self] key in self.keyExpired(key, db: index) }
                s.onNewKey = { [unowned self] key in
                    if self.notificationsOn { self.notify(.new, "new", key, db: index) }
                }
            }
        }
    }

    static func powerOfTwo(_ n: Int) -> Int {
        var p = 1
        while p < n { p <<= 1 }
        return p
    }

    /// Every command family's table rows.
    static var allCommands: [CommandSpec] {
        StringCommands.specs + BitmapCommands.specs + HyperLogLogCommands.specs + StreamCommands.specs + StreamGroupCommands.specs + GeoCommands.specs + KeyCommands.specs + DumpCommands.specs + SnapshotCommands.specs + AOFCommands.specs + ReplicationCommands.specs + TransactionCommands.specs + PubSubCommands.specs + ListCommands.specs + HashCommands.specs + SetCommands.specs
            + SortedSetCommands.specs + SortCommand.specs
            + ConnectionCommands.specs + ServerCommands.specs
            + IntrospectionCommands.specs
    }

    /// A key removed because its TTL passed, by lazy or active expiry.
    func keyExpired(_ key: [UInt8], db: Int) {
        stats.add(stats.expiredKeys)
        _ = aofPropagate(db: db, [Array("DEL".utf8), key])
        invalidate(key, writer: nil)
        if notificationsOn { notify(.expired, "expired", key, db: db) }
    }

    public func setShutdownHook(_ f: @escaping @Sendable () -> Void) { shutdownHook.withLock { $0 = f } }

    public var requirePass: String { config.get("requirepass") }

    // MARK: dispatch

    /// Commands that run, rather than queue, inside MULTI.
    static let runInMulti: Set<String> = ["exec", "discard", "multi", "watch", "quit", "reset"]
    /// The only commands a RESP2 client may send while subscribed.
    static let allowedWhileSubscribed: Set<String> = ["subscribe", "psubscribe", "ssubscribe", "unsubscribe",
                                                      "punsubscribe", "sunsubscribe", "ping", "quit", "reset"]

    /// Runs the command in `ctx.args`, writing its reply into `ctx.out`.
    public func execute(_ ctx: inout CommandContext) {
        guard !ctx.args.isEmpty else { return }
        ctx.now = unixMillis()
        ctx.counters.commands += 1

        guard let spec = resolve(&ctx) else {
            if ctx.inMulti { ctx.multiFailed = true }
            return
        }
        let mode = ctx.replyMode
        // CLIENT LIST's cmd= and idle= (and the idle timeout) read these under the client's
        // lock; a lock per command showed in profiles, so they are published when the command
        // changes or 100 ms have passed.
        if spec !== ctx.publishedCommand || ctx.now - ctx.publishedAt >= 100 {
            ctx.publishedCommand = spec
            ctx.publishedAt = ctx.now
            ctx.client.info.withLock { info in
                info.lastCommand = spec.name
                info.lastInteraction = ctx.now
            }
        }
        if !spec.flags.contains(.noAuth) && !isAuthenticated(ctx.client) {
            if ctx.inMulti { ctx.multiFailed = true }
            ctx.error(Errors.noAuth)
            return
        }
        if ctx.subscriptionCount > 0 && !ctx.out.resp3 && !Self.allowedWhileSubscribed.contains(spec.name) {
            ctx.error("ERR Can't execute '\(spec.name)': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
            return
        }
        // maxmemory: evict first; a command that may grow memory is refused if that failed.
        if settings.maxmemory.load(ordering: .relaxed) > 0 && !aof.loading.load(ordering: .relaxed)
            && !performEvictions() && spec.flags.contains(.denyoom) {
            if ctx.inMulti { ctx.multiFailed = true }
            ctx.error("OOM command not allowed when used memory > 'maxmemory'.")
            return
        }
        if ctx.inMulti && !Self.runInMulti.contains(spec.name) {
            if spec.flags.contains(.noMulti) {
                ctx.multiFailed = true
                ctx.error("ERR Command not allowed inside a transaction")
            } else {
                ctx.multiQueue!.append(ctx.args)
                ctx.out.raw("+QUEUED\r\n")
            }
            return
        }
        let replyStart = ctx.out.buffer.writerIndex
        let errorsBefore = ctx.counters.errors
        ctx.changes = 0
        withLocks(spec, &ctx) { c in
            spec.handler!(&c)
            if !spec.flags.isDisjoint(with: [.write, .rewritesValue]) { propagate(spec, &c) }
        }
        afterCommand(spec, &ctx, errorsBefore: errorsBefore)
        // A client's invalidations of its own writes follow the command's reply, as in Redis 7.
        for var m in ctx.ownInvalidations { ctx.out.buffer.writeBuffer(&m) }
        ctx.ownInvalidations.removeAll()
        // CLIENT REPLY OFF / SKIP: the reply is written, then taken back.
        if mode != .on {
            if ctx.replyMode == .skip && mode == .skip { ctx.replyMode = .on }
            if mode == .skip || ctx.replyMode == .off { ctx.out.buffer.moveWriterIndex(to: replyStart) }
        }
    }

    /// The spec for `ctx.args` (a sub-command where there is one), or nil after replying
    /// Redis's unknown-command, unknown-subcommand or arity error.
    func resolve(_ ctx: inout CommandContext) -> CommandSpec? {
        guard var spec = table.lookup(ctx.args[0]) else {
            rejectUnknown(&ctx)
            return nil
        }
        if !spec.subcommands.isEmpty && ctx.argc >= 2 {
            guard let sub = CommandTable.subcommand(of: spec, ctx.args[1]) else {
                ctx.error(Errors.unknownSubcommand(ctx.args.string(1), spec.name))
                return nil
            }
            spec = sub
        }
        let argc = ctx.argc
        if (spec.arity > 0 && argc != spec.arity) || argc < -spec.arity || spec.handler == nil {
            ctx.error(Errors.arity(spec.name))
            return nil
        }
        return spec
    }

    /// What follows every command once its locks are released: parking a blocked client,
    /// serving clients its writes unblocked, invalidating tracked keys, and statistics.
    func afterCommand(_ spec: CommandSpec, _ ctx: inout CommandContext, errorsBefore: Int) {
        if let w = ctx.blockedOn {
            let id = ctx.client.id
            blocking.byClient.withLock {
                if !w.done { $0[id] = w }
                blocking.count.store($0.count, ordering: .relaxed)
            }
        }
        if !ctx.readyKeys.isEmpty {
            let ready = ctx.readyKeys
            ctx.readyKeys.removeAll()
            serveReadyKeys(ready)
        }
        trackAfterCommand(spec, &ctx)
        spec.calls.wrappingAdd(1, ordering: .relaxed)
        if ctx.counters.errors != errorsBefore {
            spec.failedCalls.wrappingAdd(1, ordering: .relaxed)
        }
    }

    public func isAuthenticated(_ client: Client) -> Bool {
        client.authenticated.load(ordering: .relaxed) || !passwordSet
    }

    private func rejectUnknown(_ ctx: inout CommandContext) {
        var args = ""
        var i = 1
        while i < ctx.argc && args.utf8.count < 128 {
            let room = 128 - args.utf8.count
            args += "'\(String(decoding: ctx.args[i].prefix(room), as: UTF8.self))' "
            i += 1
        }
        let name = String(decoding: ctx.args[0].prefix(128), as: UTF8.self)
        ctx.error("ERR unknown command '\(name)', with args beginning with: \(args)")
    }

    /// Takes the shard locks `spec` needs, in ascending order, around `body`. Inlined, so that
    /// the closure is too: called through, its captures (the spec, the engine) were retained
    /// and released around every command (callgrind).
    @inline(__always)
    func withLocks(_ spec: CommandSpec, _ ctx: inout CommandContext, _ body: (inout CommandContext) -> Void) {
        switch spec.scope {
        case .none:
            body(&ctx)
        case .keys:
            if spec.hasOneKey && spec.firstKey < ctx.argc {
                let mutex = lockOneKey(spec.firstKey, &ctx)
                body(&ctx)
                unlockOneKey(mutex, &ctx)
                return
            }
            if spec.keyFinder == nil {
                // MSET and the like: the keys' places as a stride, not an array per command.
                guard let keys = spec.keyStride(argc: ctx.argc) else { body(&ctx); return }
                withKeyLocks(keys, &ctx, body)
            } else {
                withKeyLocks(spec.keyIndexes(ctx.args), &ctx, body)
            }
        case .database:
            let db = ctx.db
            db.lockAll()
            body(&ctx)
            db.unlockAll()
        case .all:
            for db in keyspace.databases { db.lockAll() }
            body(&ctx)
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
        ctx.lockedKeyArgument = i
        ctx.lockedKeyShardIndex = index
        ctx.lockedKeyHash = hash
        return mutex
    }

    @inline(__always)
    private func unlockOneKey(_ mutex: MutexRef, _ ctx: inout CommandContext) {
        ctx.lockedKeyArgument = -1
        ctx.lockedKeyHash = nil
        mutex.unlock()
    }

    /// Locks the shards of the keys at `keys` (argument places) in ascending order, once each.
    private func withKeyLocks<S: Sequence<Int>>(_ keys: S, _ ctx: inout CommandContext, _ body: (inout CommandContext) -> Void) {
        var it = keys.makeIterator()
        guard let firstKey = it.next() else { body(&ctx); return }
        let db = ctx.db
        if it.next() == nil {
            let shard = db.shard(ctx.args[firstKey])
            shard.lock.lock()
            body(&ctx)
            shard.lock.unlock()
            return
        }
        var idx = ctx.shardScratch
        ctx.shardScratch = []
        idx.removeAll(keepingCapacity: true)
        // Each key's shard is kept by argument too, so that the handler's ctx.shard(i) does
        // not hash the key a second time.
        var byArgument = ctx.argumentShards
        ctx.argumentShards = []
        byArgument.removeAll(keepingCapacity: true)
        byArgument.append(contentsOf: repeatElement(-1, count: ctx.argc))
        for k in keys {
            let s = db.shardIndex(ctx.args[k])
            idx.append(s)
            byArgument[k] = s
        }
        // Swapped in, not copied: a second reference would make the removeAll below copy.
        swap(&ctx.argumentShards, &byArgument)
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
        body(&ctx)
        prev = -1
        for i in idx.reversed() where i != prev { db.shards[i].lock.unlock(); prev = i }
        ctx.shardScratch = idx
        ctx.argumentShards.removeAll(keepingCapacity: true)
    }

    // MARK: background work

    /// One pass of active expiry over every shard, as Redis's activeExpireCycle: sample keys
    /// with a TTL, delete the expired, and go on in a shard while over a quarter of its sample
    /// had expired, within a time budget so that a mass expiry does not stall the server.
    public func activeExpireCycle(budgetMicros: Int64 = 25_000) {
        let start = unixMicros()
        let effort = max(1, config.int("active-expire-effort"))
        let samples = 20 + 5 * (effort - 1)
        for db in keyspace.databases {
            for shard in db.shards {
                shard.lock.lock()
                while shard.volatileCount > 0 {
                    let now = unixMillis()
                    let r = shard.activeExpire(now: now, samples: samples)
                    if r.expired * 4 <= r.sampled || unixMicros() - start > budgetMicros { break }
                }
                // Between commands no slot is held: the table may close its holes.
                shard.compact()
                shard.lock.unlock()
                if unixMicros() - start > budgetMicros { return }
            }
        }
    }

    /// The pause CLIENT PAUSE set, if it applies to a command with these flags now.
    public func pausedUntil(flags: CommandFlags, now: Int64) -> Int64? {
        guard pauseEnds.load(ordering: .relaxed) > Int(now) else { return nil }
        let p = pause.withLock { $0 }
        guard p.until > now else { return nil }
        if p.writesOnly && !flags.contains(.write) && !flags.contains(.mayReplicate) { return nil }
        return p.until
    }

    /// Whether CLIENT PAUSE is in force now (one atomic load: checked before every command).
    public func pauseActive(now: Int64) -> Bool { pauseEnds.load(ordering: .relaxed) > Int(now) }

    /// Whether CLIENT PAUSE was ever used: until then the per-command pause check reads no clock.
    @inline(__always) public var pauseEverSet: Bool { pauseEnds.load(ordering: .relaxed) != 0 }

    /// The flags of the command named by `args[0]`, for the pause check before execution.
    public func flags(of args: CommandArguments) -> CommandFlags {
        guard !args.isEmpty, let spec = table.lookup(args[0]) else { return [] }
        return spec.flags
    }
}

extension Engine {
    /// The `client-output-buffer-limit` of a class: hard and soft bytes, soft seconds; nil when
    /// the class has no limit.
    /// Whether the client's class has an output buffer limit (normal clients have none by default).
    public func hasOutputLimit(_ client: Client, subscribed: Bool) -> Bool {
        let cls: OutputClass = client.isReplica ? .replica : subscribed ? .pubsub : .normal
        return settings.limitedOutputClasses.load(ordering: .relaxed) & cls.rawValue != 0
    }

    public func outputLimit(for client: Client, subscribed: Bool) -> (hard: Int, soft: Int, seconds: Int)? {
        guard hasOutputLimit(client, subscribed: subscribed) else { return nil }
        let words = config.get("client-output-buffer-limit").split(separator: " ").map(String.init)
        let want = client.isReplica ? "slave" : subscribed ? "pubsub" : "normal"
        var i = 0
        while i + 3 < words.count {
            if words[i] == want {
                let hard = parseMemory(words[i + 1]) ?? 0, soft = parseMemory(words[i + 2]) ?? 0
                let secs = Int(words[i + 3]) ?? 0
                return hard == 0 && soft == 0 ? nil : (hard, soft, secs)
            }
            i += 4
        }
        return nil
    }
}

extension Engine {
    /// Adds a connection's counters to the server's (end of a read batch, INFO).
    public func flushCounters(_ ctx: inout CommandContext) {
        let c = ctx.counters
        if c.commands > 0 { stats.add(stats.commands, c.commands) }
        if c.hits > 0 { stats.add(stats.keyspaceHits, c.hits) }
        if c.misses > 0 { stats.add(stats.keyspaceMisses, c.misses) }
        if c.netInput > 0 { stats.add(stats.netInputBytes, c.netInput) }
        if c.netOutput > 0 { stats.add(stats.netOutputBytes, c.netOutput) }
        ctx.counters = .init(commands: 0, hits: 0, misses: 0, errors: ctx.counters.errors)
    }
}
