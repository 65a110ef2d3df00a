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
    let acl: ACL
    /// The table without the file's rename-command lines (AOF loading's).
    let originalTable: CommandTable
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
    /// Connections holding a command a CLIENT PAUSE holds (the server layer counts them).
    public let pausedClients = Atomic<Int>(0)
    /// When the current pause ends (ms): the later of CLIENT PAUSE's (`pause`) and a cluster
    /// manual failover's (`failoverPause`), for a lock-free check (`publishPause`).
    let pauseEnds = Atomic<Int>(0)
    /// Writes held on a cluster primary until then (ms) while a replica catches up and takes
    /// over (CLUSTER FAILOVER); apart from CLIENT PAUSE's, as Redis keeps pause purposes apart.
    let failoverPause = Atomic<Int>(0)
    public let pubsub = PubSub()
    /// This node's cluster, with `cluster-enabled yes`.
    public let cluster: Cluster?
    public let memcached = MemcachedState()
    let snapshots = SnapshotState()
    let shutdown = ShutdownState()
    let clientEviction = ClientEviction()
    let aof = AOFState()
    let repl = ReplicationState()
    /// What a connection said in REPLCONF before its PSYNC (by client id).
    let pendingLinks = Locked<[Int: ReplicaRequest]>([:])
    let logSink = Locked<(@Sendable (String) -> Void)?>(nil)
    let tracking = Tracking()
    let settings = Settings()
    /// used_memory as last measured, and when (ms): measuring walks malloc's arenas.
    let measuredMemory = Atomic<Int>(0)
    let measuredAt = Atomic<Int>(0)
    let evictionLock = Locked<Void>(())
    let lazyFreePending = Atomic<Int>(0)
    /// Objects the lazy-free thread has released (INFO's lazyfreed_objects).
    let lazyFreed = Atomic<Int>(0)
    let lazyFreeQueue = DispatchQueue(label: "larder.lazyfree")
    let scripting = Scripting()
    let slowlog = Slowlog()
    let latency = LatencyMonitor()
    /// Memory in use once the engine was built, before any data (used_memory_startup).
    let startupMemory: Int
    let monitors = Monitors()
    /// What the server layer does for TLS (it has SwiftNIO's sockets and swift-nio-ssl).
    let tlsHooks = Locked<TLSHooks?>(nil)
    /// DEBUG SET-ACTIVE-EXPIRE: whether the cron expires keys nobody reads.
    let activeExpireEnabled = Atomic<Bool>(true)

    public init(config: Config) {
        self.config = config
        self.keyspace = Keyspace(databases: config.int("databases"),
                                 shardsPerDatabase: Self.powerOfTwo(config.int("shards-per-database")))
        let renames = config.commandRenames
        let commands = Self.allCommands
        self.table = CommandTable(commands, renames: renames)
        // The AOF holds commands under their own names (the effects Larder writes): loading
        // finds them there even when the file renamed them.
        self.originalTable = renames.isEmpty ? table : CommandTable(commands)
        self.acl = ACL(index: ACLCommandIndex(originalTable))
        self.startupMemory = MemoryStats.allocated()
        self.tcpPort = config.int("port")
        self.cluster = config.bool("cluster-enabled") ? Cluster(config: config) : nil
        if cluster != nil { keyspace.databases[0].indexSlots() }
        for db in keyspace.databases {
            let index = db.index
            for s in db.shards {
                s.onExpire = { [unowned self] key in self.keyExpired(key, db: index) }
            }
        }
        reloadSettings()
    }

    static func powerOfTwo(_ n: Int) -> Int {
        var p = 1
        while p < n { p <<= 1 }
        return p
    }

    /// Every command family's table rows.
    /// Every command's own name, sub-commands aside (rename-command's check).
    public static var commandNames: Set<String> { Set(allCommands.map(\.name)) }

    static var allCommands: [CommandSpec] {
        StringCommands.specs + BitmapCommands.specs + HyperLogLogCommands.specs + StreamCommands.specs + StreamGroupCommands.specs + GeoCommands.specs + KeyCommands.specs + DumpCommands.specs + MigrateCommand.specs + SnapshotCommands.specs + AOFCommands.specs + ReplicationCommands.specs + ReplicationCommands.replicaSpecs + TransactionCommands.specs + PubSubCommands.specs + ListCommands.specs + HashCommands.specs + SetCommands.specs
            + SortedSetCommands.specs + SortCommand.specs
            + ConnectionCommands.specs + ServerCommands.specs + DebugCommand.specs + SlowlogCommands.specs + Monitors.specs
            + IntrospectionCommands.specs + ScriptCommands.specs + FunctionCommands.specs + ACLCommands.specs
            + LatencyCommands.specs + ClusterCommands.specs
    }

    /// A key removed because its TTL passed, by lazy or active expiry.
    func keyExpired(_ key: [UInt8], db: Int) {
        stats.add(stats.expiredKeys)
        propagateAlone(db: db, [Verb.del, key])
        invalidate(key, writer: nil)
        if notificationsOn { notify(.expired, "expired", key, db: db) }
    }

    public func setShutdownHook(_ f: @escaping @Sendable () -> Void) { shutdownHook.withLock { $0 = f } }

    /// What the executable does to the process for the configuration (oom_score_adj, the
    /// process title): run at start, on CONFIG SET of those parameters and when the role changes.
    let processHook = Locked<(@Sendable () throws(ConfigError) -> Void)?>(nil)
    public func setProcessHook(_ f: @escaping @Sendable () throws(ConfigError) -> Void) { processHook.withLock { $0 = f } }
    func applyProcessSettings() throws(ConfigError) {
        guard let hook = processHook.withLock({ $0 }) else { return }
        try hook()
    }

    /// Whether the server follows a primary now.
    public var isReplica: Bool { repl.following.load(ordering: .relaxed) }


    // MARK: background work

    /// One pass of active expiry over every shard, as Redis's activeExpireCycle: sample keys
    /// with a TTL, delete the expired, and go on in a shard while over a quarter of its sample
    /// had expired, within a time budget so that a mass expiry does not stall the server.
    public func activeExpireCycle(budgetMicros: Int64 = 25_000) {
        // Nothing expires while clients are paused (as Redis): a pause holds the data set, and
        // the replication offset a manual failover waits for, still.
        guard activeExpireEnabled.load(ordering: .relaxed), !pauseActive(now: unixMillis()) else { return }
        let start = unixMicros()
        var sampled = 0, expired = 0
        defer {
            let micros = Int(unixMicros() - start)
            stats.add(stats.expireCycleMicros, micros)
            if Int64(micros) > budgetMicros { stats.add(stats.expireTimeCapReached) }
            // INFO's expired_stale_perc: as Redis, a moving average of the expired share of
            // the keys each pass sampled.
            if sampled > 0 {
                let share = Double(expired) * 100 / Double(sampled)
                stats.expiredStalePercent.withLock { $0 = $0 * 0.95 + share * 0.05 }
            }
            latencySample("expire-cycle", ms: micros / 1000)
        }
        let effort = max(1, config.int("active-expire-effort"))
        let samples = 20 + 5 * (effort - 1)
        for db in keyspace.databases {
            for shard in db.shards {
                // A shard held by someone (a long script) is skipped until the next pass,
                // rather than stalling the event loop the cycle runs on.
                guard shard.lock.tryLock() else { continue }
                while shard.volatileCount > 0 {
                    let now = unixMillis()
                    let r = shard.activeExpire(now: now, samples: samples)
                    sampled += r.sampled
                    expired += r.expired
                    if r.expired * 4 <= r.sampled || unixMicros() - start > budgetMicros { break }
                }
                // Between commands no slot is held: the table may close its holes.
                shard.compact()
                shard.lock.unlock()
                if unixMicros() - start > budgetMicros { return }
            }
        }
    }

    /// The pause CLIENT PAUSE or a manual failover set, if it applies to a command with these
    /// flags now.
    func pausedUntil(flags: CommandFlags, now: Int64) -> Int64? {
        guard pauseEnds.load(ordering: .relaxed) > Int(now) else { return nil }
        let p = pause.withLock { $0 }
        let writes = flags.contains(.write) || flags.contains(.mayReplicate)
        var until: Int64? = p.until > now && (writes || !p.writesOnly) ? p.until : nil
        let failover = Int64(failoverPause.load(ordering: .relaxed))
        if writes && failover > now { until = max(until ?? 0, failover) }
        return until
    }

    /// `pauseEnds` after either pause changed.
    func publishPause() {
        let client = pause.withLock { $0.until }
        pauseEnds.store(max(Int(client), failoverPause.load(ordering: .relaxed)), ordering: .relaxed)
    }

    var failoverPauseActive: Bool { failoverPause.load(ordering: .relaxed) > Int(unixMillis()) }

    /// Holds writes until `until` (ms) for a manual failover, or lets them go (0).
    func pauseWritesForFailover(until: Int64) {
        failoverPause.store(Int(until), ordering: .relaxed)
        publishPause()
    }

    /// Whether CLIENT PAUSE is in force now (one atomic load: checked before every command).
    func pauseActive(now: Int64) -> Bool { pauseEnds.load(ordering: .relaxed) > Int(now) }

    /// Whether CLIENT PAUSE was ever used: until then the per-command pause check reads no clock.
    @inline(__always) var pauseEverSet: Bool { pauseEnds.load(ordering: .relaxed) != 0 }

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
        let cls: OutputClass = client.isReplica ? .replica : subscribed ? .pubsub : .normal
        let l = settings.outputLimits[cls.index!]
        return (l.hard.load(ordering: .relaxed), l.soft.load(ordering: .relaxed), l.seconds.load(ordering: .relaxed))
    }
}

extension Engine {
    /// Adds a connection's counters to the server's (end of a read batch, INFO).
    public func flushCounters(_ ctx: inout CommandContext) {
        let c = ctx.session.counters
        if c.commands > 0 { stats.add(stats.commands, c.commands) }
        if c.hits > 0 { stats.add(stats.keyspaceHits, c.hits) }
        if c.misses > 0 { stats.add(stats.keyspaceMisses, c.misses) }
        if c.netInput > 0 {
            stats.add(stats.netInputBytes, c.netInput)
            stats.add(stats.readsProcessed)
        }
        if c.netOutput > 0 {
            stats.add(stats.netOutputBytes, c.netOutput)
            stats.add(stats.writesProcessed)
        }
        ctx.session.counters = .init(commands: 0, hits: 0, misses: 0, errors: ctx.session.counters.errors)
    }
}

/// TLS as the server layer provides it: rebuilding the certificates and rules after CONFIG SET,
/// and a TLS connection for the replication link (a file descriptor of plain bytes; see
/// TLSSetup.dial).
public struct TLSHooks: Sendable {
    public let reload: @Sendable () throws -> Void
    public let dial: @Sendable (_ host: String, _ port: Int, _ timeoutMs: Int) throws -> Int32

    public init(reload: @escaping @Sendable () throws -> Void,
                dial: @escaping @Sendable (String, Int, Int) throws -> Int32) {
        self.reload = reload
        self.dial = dial
    }
}

extension Engine {
    public func setTLSHooks(_ hooks: TLSHooks) { tlsHooks.withLock { $0 = hooks } }
}
