import RESP
import Storage

/// MULTI, EXEC, DISCARD, WATCH, UNWATCH.
///
/// EXEC takes the locks of every key its queued commands name (a whole database or all of them
/// when a command names none), in ascending order, for the whole transaction: it is atomic, and
/// no other client sees half of it.
enum TransactionCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("multi", arity: 1, flags: [.runsInMulti, .noscript, .loading, .stale, .fast, .allowBusy], group: "transactions",
                    summary: "Starts a transaction.", acl: ["transaction"], handler: multi),
        CommandSpec("exec", arity: 1, flags: [.runsInMulti, .noscript, .loading, .stale, .skipSlowlog], group: "transactions",
                    summary: "Executes all commands in a transaction.", complexity: "Depends on commands in the transaction",
                    acl: ["transaction"], handler: exec),
        CommandSpec("discard", arity: 1, flags: [.runsInMulti, .noscript, .loading, .stale, .fast, .allowBusy], group: "transactions", summary: "Discards a transaction.", complexity: "O(N), when N is the number of queued commands",
                    acl: ["transaction"], handler: discard),
        CommandSpec("watch", arity: -2, flags: [.runsInMulti, .noscript, .loading, .stale, .fast, .allowBusy], keys: (1, -1, 1),
                    group: "transactions",
                    summary: "Monitors changes to keys to determine the execution of a transaction.",
                    acl: ["transaction"], handler: watch),
        CommandSpec("unwatch", arity: 1, flags: [.noscript, .loading, .stale, .fast, .allowBusy], group: "transactions", summary: "Forgets about watched keys of a transaction.",
                    acl: ["transaction"], handler: { c in unwatchAll(&c); c.ok() }),
    ]

    /// MULTI
    static func multi(_ c: inout CommandContext) {
        guard !c.session.inMulti else { c.error("ERR MULTI calls can not be nested"); return }
        c.session.multiQueue = []
        c.client.multiBytes.store(0, ordering: .relaxed)
        c.session.queuedFlags = []
        c.session.multiFailed = false
        c.client.info.withLock { $0.multi = 0 }
        c.ok()
    }

    /// DISCARD
    static func discard(_ c: inout CommandContext) {
        guard c.session.inMulti else { c.error("ERR DISCARD without MULTI"); return }
        c.session.multiQueue = nil
        c.client.multiBytes.store(0, ordering: .relaxed)
        c.client.info.withLock { $0.multi = -1 }
        c.session.multiFailed = false
        unwatchAll(&c)
        c.ok()
    }

    /// WATCH key [key ...]
    static func watch(_ c: inout CommandContext) {
        guard !c.session.inMulti else { c.error("ERR WATCH inside MULTI is not allowed"); return }
        for i in 1..<c.argc {
            let key = c.args.owned(i)
            if c.session.watches.contains(where: { $0.db == c.dbIndex && $0.key == key }) { continue }
            let shard = c.shard(i)
            _ = shard.find(key[...], now: c.lookupNow)   // an expired key goes now, not as a change later
            c.session.watches.append((c.dbIndex, key, shard.watch(key)))
        }
        c.ok()
    }

    /// Forgets every watched key. Takes each key's shard lock itself: call with no lock held.
    static func unwatchAll(_ c: inout CommandContext) {
        for w in c.session.watches {
            let shard = c.engine.keyspace.databases[w.db].shard(w.key[...])
            shard.lock.withLock { shard.unwatch(w.key) }
        }
        c.session.watches.removeAll()
    }

    /// True when a watched key changed (or expired) since WATCH. The caller holds the locks
    /// of the watched keys' shards, so nothing can change them between this check and EXEC.
    static func watchesBroken(_ c: inout CommandContext) -> Bool {
        for w in c.session.watches {
            let shard = c.engine.keyspace.databases[w.db].shard(w.key[...])
            _ = shard.find(w.key[...], now: c.lookupNow)
            if shard.watchVersion(w.key) != w.version { return true }
        }
        return false
    }

    /// EXEC
    static func exec(_ c: inout CommandContext) {
        guard let queue = c.session.multiQueue else { c.error("ERR EXEC without MULTI"); return }
        c.session.multiQueue = nil
        c.client.multiBytes.store(0, ordering: .relaxed)
        c.client.info.withLock { $0.multi = -1 }
        if c.session.multiFailed {
            c.session.multiFailed = false
            unwatchAll(&c)
            c.error("EXECABORT Transaction discarded because of previous errors.")
            return
        }
        c.engine.runTransaction(queue, &c)
        unwatchAll(&c)
    }
}

extension Engine {
    /// Ends a client's transaction, watches and subscriptions (RESET, disconnect).
    public func releaseClientState(_ c: inout CommandContext) {
        c.session.multiQueue = nil
        c.client.multiBytes.store(0, ordering: .relaxed)
        c.session.multiFailed = false
        TransactionCommands.unwatchAll(&c)
        PubSubCommands.unsubscribeAll(&c)
        disableTracking(c.client.id)
        c.session.tracking = false
        if c.session.monitoring {
            stopMonitoring(c.client)
            c.session.monitoring = false
        }
        c.session.cachingOverride = false
        c.client.info.withLock { $0.multi = -1 }
    }

    /// Runs queued commands under one LockSet of everything they touch (and the watched keys,
    /// so that no write slips between the WATCH check and the commands).
    func runTransaction(_ queue: [CommandArguments], _ c: inout CommandContext) {
        // EXEC's own arguments, back in the context at the end (MONITOR shows "EXEC" there).
        let execArgs = c.args
        defer { c.args = execArgs }
        let perDb = keyspace.shardsPerDatabase
        var set = LockSet()
        var db = c.dbIndex
        var specs: [CommandSpec?] = []
        var hasScript = false
        for args in queue {
            var probe = CommandContext(engine: self, client: c.client, out: RESPWriter(buffer: .init()))
            probe.args = args
            let spec = resolve(&probe)
            specs.append(spec)
            guard let spec else { continue }
            if spec.flags.contains(.usesScripts) { hasScript = true }
            switch spec.scope {
            case .none:
                if spec.name == "select", let n = Int(args.string(1)), n >= 0, n < keyspace.databases.count { db = n }
            case .keys:
                for i in spec.keyIndexes(args) { set.add(db * perDb + keyspace.databases[db].shardIndex(args[i])) }
            case .database:
                set.addDatabase(db, in: keyspace)
            case .all:
                set.addEverything(in: keyspace)
            }
        }
        for w in c.session.watches {
            set.add(w.db * perDb + keyspace.databases[w.db].shardIndex(w.key[...]))
        }
        // A script's keys are known only as it runs: the transaction takes the script mutex
        // (before any shard lock, as every script does) and every shard (see ScriptRun).
        if hasScript {
            scripting.mutex.lock()
            set.addEverything(in: keyspace)
        }
        set.seal()
        set.lock(keyspace)
        c.holdsEveryShard = hasScript
        defer {
            if hasScript { scripting.mutex.unlock() }
            c.holdsEveryShard = false
        }
        if TransactionCommands.watchesBroken(&c) {
            set.unlock(keyspace)
            c.out.nullArray()
            return
        }
        c.out.array(queue.count)
        c.noBlock = true
        // The transaction's effects leave together, inside MULTI/EXEC when two or more.
        c.transactionEffects = []
        var done: [(spec: CommandSpec, args: CommandArguments, changes: Int, errorsBefore: Int)] = []
        for (args, spec) in zip(queue, specs) {
            c.args = args
            c.startedMicros = unixMicros()
            c.now = c.startedMicros / 1000
            guard let spec else {
                _ = resolve(&c)   // replies the same error it gave when queued
                continue
            }
            let errorsBefore = c.session.counters.errors
            // The user's rules may have changed since the command was queued.
            if c.session.aclRestricted, let denial = aclDenial(spec, args, &c, context: "multi") {
                c.error(Self.execNopermMessage(denial))
                continue
            }
            callLocked(spec, &c)
            done.append((spec, c.args, c.changes, errorsBefore))
        }
        c.noBlock = false
        let effects = c.transactionEffects!
        c.transactionEffects = nil
        if !effects.isEmpty {
            c.session.aofSeq = propagateNow(effects)
            // WAIT after EXEC waits for the whole transaction to reach the replicas.
            if repl.active.load(ordering: .relaxed) { c.session.writeOffset = replicationOffset }
        }
        set.unlock(keyspace)
        // What follows each command (invalidations, statistics, and serving the clients its
        // writes made ready), once the transaction's locks are released.
        let savedArgs = c.args
        for d in done {
            c.args = d.args
            c.changes = d.changes
            afterCommand(d.spec, &c, errorsBefore: d.errorsBefore)
        }
        c.args = savedArgs
        c.changes = 0
    }
}
