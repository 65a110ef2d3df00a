#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Storage

/// Configuration values read on every command, kept parsed in atomics so the hot path does
/// not go through the configuration's locked dictionary of strings. Reloaded on CONFIG SET.
final class Settings: Sendable {
    let maxmemory = Atomic<Int>(0)
    let policy = Atomic<Int>(0)
    let samples = Atomic<Int>(5)
    let tenacity = Atomic<Int>(10)
    let lfu = Atomic<Bool>(false)
    let lfuLogFactor = Atomic<Int>(10)
    let lfuDecayTime = Atomic<Int>(1)
    let protoMaxBulkLen = Atomic<Int>(512 << 20)
    let queryBufferLimit = Atomic<Int>(1 << 30)
    let hashMaxEntries = Atomic<Int>(512)
    let hashMaxValue = Atomic<Int>(64)
    let zsetMaxEntries = Atomic<Int>(128)
    let zsetMaxValue = Atomic<Int>(64)
    let intsetMaxEntries = Atomic<Int>(512)
    let notifyFlags = Atomic<Int>(0)
    let hllSparseMaxBytes = Atomic<Int>(3000)
    let streamNodeMaxBytes = Atomic<Int>(4096)
    let streamNodeMaxEntries = Atomic<Int>(100)
    /// The classes of `client-output-buffer-limit` that have a limit (OutputClass bits), so that
    /// a connection need not count its unsent bytes when nothing would be enforced.
    let limitedOutputClasses = Atomic<Int>(7)
    /// `client-output-buffer-limit` per class (normal, replica, pubsub): hard bytes, soft bytes,
    /// soft seconds, parsed once per change rather than on every flush to a subscriber.
    let outputLimits: [OutputLimit] = [OutputLimit(), OutputLimit(), OutputLimit()]
    /// Read for every accepted connection: looked up by name, they were a sixth of the cost of
    /// taking one in (callgrind).
    let maxclients = Atomic<Int>(10000)
    let protectedMode = Atomic<Bool>(true)
    let passwordSet = Atomic<Bool>(false)
    /// latency-tracking: each command's duration goes into its histogram.
    /// and latency-monitor-threshold (ms), in one word read once a command:
    /// threshold << 1 | tracking.
    let latencyWatch = Atomic<Int>(1)
    let tcpKeepalive = Atomic<Int>(300)
}

/// One class's `client-output-buffer-limit`: hard and soft bytes, soft seconds.
final class OutputLimit: Sendable {
    let hard = Atomic<Int>(0)
    let soft = Atomic<Int>(0)
    let seconds = Atomic<Int>(0)
}

/// The client classes of `client-output-buffer-limit`, as bits.
struct OutputClass: OptionSet {
    let rawValue: Int
    static let normal = OutputClass(rawValue: 1)
    static let replica = OutputClass(rawValue: 2)
    static let pubsub = OutputClass(rawValue: 4)

    init(rawValue: Int) { self.rawValue = rawValue }
    /// The class's place in Settings.outputLimits.
    var index: Int? { self == .normal ? 0 : self == .replica ? 1 : self == .pubsub ? 2 : nil }
    init<S: StringProtocol>(_ name: S) {
        switch name.lowercased() {
        case "normal": self = .normal
        case "slave", "replica": self = .replica
        case "pubsub": self = .pubsub
        default: self = []
        }
    }
}

/// `maxmemory-policy`, as Redis names them.
enum EvictionPolicy: Int, Sendable {
    case noeviction, allkeysLRU, volatileLRU, allkeysLFU, volatileLFU, allkeysRandom, volatileRandom, volatileTTL

    init(_ name: String) {
        switch name {
        case "allkeys-lru": self = .allkeysLRU
        case "volatile-lru": self = .volatileLRU
        case "allkeys-lfu": self = .allkeysLFU
        case "volatile-lfu": self = .volatileLFU
        case "allkeys-random": self = .allkeysRandom
        case "volatile-random": self = .volatileRandom
        case "volatile-ttl": self = .volatileTTL
        default: self = .noeviction
        }
    }

    var volatileOnly: Bool { [.volatileLRU, .volatileLFU, .volatileRandom, .volatileTTL].contains(self) }
    var isLFU: Bool { self == .allkeysLFU || self == .volatileLFU }
}

extension Engine {
    /// Runs a configuration change's hook (CONFIG SET, once per hook however many of its
    /// parameters changed).
    func applyConfig(_ hook: ConfigApply) throws(ConfigError) {
        switch hook {
        case .none: break
        case .settings: reloadSettings()
        case .workingDirectory:
            let dir = config.get("dir")
            if chdir(dir) != 0 { throw ConfigError(message: String(cString: strerror(errno))) }
        case .appendOnly: try aofConfigChanged()
        case .replication: applyReplicaMode()
        case .process: try applyProcessSettings()
        case .cluster: cluster?.reloadSettings(config, port: tcpPort)
        case .tls:
            guard let hooks = tlsHooks.withLock({ $0 }) else { return }
            do { try hooks.reload() } catch {
                if let e = error as? ConfigError { throw e }
                throw ConfigError(message: "Unable to update TLS configuration. Check server logs.")
            }
        }
    }

    /// Re-reads the hot configuration values after a change.
    func reloadSettings() {
        let s = settings
        s.maxmemory.store(config.int("maxmemory"), ordering: .relaxed)
        let policy = EvictionPolicy(config.get("maxmemory-policy"))
        s.policy.store(policy.rawValue, ordering: .relaxed)
        s.lfu.store(policy.isLFU, ordering: .relaxed)
        s.samples.store(config.int("maxmemory-samples"), ordering: .relaxed)
        s.tenacity.store(config.int("maxmemory-eviction-tenacity"), ordering: .relaxed)
        s.lfuLogFactor.store(config.int("lfu-log-factor"), ordering: .relaxed)
        s.lfuDecayTime.store(config.int("lfu-decay-time"), ordering: .relaxed)
        s.protoMaxBulkLen.store(config.int("proto-max-bulk-len"), ordering: .relaxed)
        s.queryBufferLimit.store(config.int("client-query-buffer-limit"), ordering: .relaxed)
        s.hashMaxEntries.store(config.int("hash-max-listpack-entries"), ordering: .relaxed)
        s.hashMaxValue.store(config.int("hash-max-listpack-value"), ordering: .relaxed)
        s.zsetMaxEntries.store(config.int("zset-max-listpack-entries"), ordering: .relaxed)
        s.zsetMaxValue.store(config.int("zset-max-listpack-value"), ordering: .relaxed)
        s.intsetMaxEntries.store(config.int("set-max-intset-entries"), ordering: .relaxed)
        s.streamNodeMaxBytes.store(config.int("stream-node-max-bytes"), ordering: .relaxed)
        s.streamNodeMaxEntries.store(config.int("stream-node-max-entries"), ordering: .relaxed)
        s.hllSparseMaxBytes.store(config.int("hll-sparse-max-bytes"), ordering: .relaxed)
        scripting.busyThresholdMs.store(config.int("busy-reply-threshold"), ordering: .relaxed)
        slowlog.threshold.store(config.int("slowlog-log-slower-than"), ordering: .relaxed)
        slowlog.maxLength.store(config.int("slowlog-max-len"), ordering: .relaxed)
        s.latencyWatch.store(config.int("latency-monitor-threshold") << 1 | (config.bool("latency-tracking") ? 1 : 0),
                             ordering: .relaxed)
        tracking.maxKeys.store(config.int("tracking-table-max-keys"), ordering: .relaxed)
        reloadClientEviction()
        let limits = config.get("client-output-buffer-limit").split(separator: " ")
        var limited = 0
        for i in stride(from: 0, to: limits.count - 3, by: 4) {
            let cls = OutputClass(limits[i])
            guard let slot = cls.index else { continue }
            let hard = parseMemory(String(limits[i + 1])) ?? 0, soft = parseMemory(String(limits[i + 2])) ?? 0
            s.outputLimits[slot].hard.store(hard, ordering: .relaxed)
            s.outputLimits[slot].soft.store(soft, ordering: .relaxed)
            s.outputLimits[slot].seconds.store(Int(limits[i + 3]) ?? 0, ordering: .relaxed)
            if hard > 0 || soft > 0 { limited |= cls.rawValue }
        }
        s.limitedOutputClasses.store(limited, ordering: .relaxed)
        let notify = NotifyClass.parse(config.get("notify-keyspace-events")) ?? []
        s.notifyFlags.store(notify.rawValue, ordering: .relaxed)
        reportNewKeys(notify.contains(.new))
        s.maxclients.store(config.int("maxclients"), ordering: .relaxed)
        s.protectedMode.store(config.bool("protected-mode"), ordering: .relaxed)
        applyRequirePass()
        acl.pubsubAll.store(config.get("acl-pubsub-default") == "allchannels", ordering: .relaxed)
        acl.logMaxLength.store(config.int("acllog-max-len"), ordering: .relaxed)
        s.tcpKeepalive.store(config.int("tcp-keepalive"), ordering: .relaxed)
    }

    /// "new" keyspace events need every shard to report the keys it adds; with them off no
    /// shard does (the report copied each new key into an array). Set under each shard's lock,
    /// which writers hold when they read it.
    private func reportNewKeys(_ on: Bool) {
        for db in keyspace.databases {
            let index = db.index
            var report: (@Sendable ([UInt8]) -> Void)? = nil
            if on {
                report = { [unowned self] key in self.notify(.new, "new", key, db: index) }
            }
            for shard in db.shards {
                shard.lock.lock()
                shard.onNewKey = report
                shard.lock.unlock()
            }
        }
    }

    public var accessPolicy: AccessPolicy {
        AccessPolicy(lfu: settings.lfu.load(ordering: .relaxed),
                     logFactor: settings.lfuLogFactor.load(ordering: .relaxed),
                     decayMinutes: settings.lfuDecayTime.load(ordering: .relaxed))
    }

    public var protoMaxBulkLen: Int { settings.protoMaxBulkLen.load(ordering: .relaxed) }
    public var queryBufferLimit: Int { settings.queryBufferLimit.load(ordering: .relaxed) }
    public var maxClients: Int { settings.maxclients.load(ordering: .relaxed) }
    public var protectedMode: Bool { settings.protectedMode.load(ordering: .relaxed) }
    /// Whether a new connection must log in (the default user has a password or is off).
    public var passwordSet: Bool { settings.passwordSet.load(ordering: .relaxed) }
    /// `tcp-keepalive`, in seconds (0: off), for each accepted connection.
    public var tcpKeepalive: Int { settings.tcpKeepalive.load(ordering: .relaxed) }
}
