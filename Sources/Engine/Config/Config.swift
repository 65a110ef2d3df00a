import Synchronization
import Glibc
import Storage

/// How a configuration value is read and printed, as Redis's config.c types.
public enum ConfigKind: Sendable {
    case bool
    /// An integer (a 64-bit one, as Redis parses it first) within the bounds.
    case int(min: Int, max: Int)
    /// Bytes, accepting Redis's units (1k = 1000, 1kb = 1024 ... 1gb), within the bounds.
    case memory(min: Int, max: Int)
    /// `maxmemory`: bytes up to 2^64 - 1, as Redis's unsigned long long.
    case unsignedMemory
    case string
    /// One word of these, in the order Redis's error lists them.
    case choice([String])
    /// Several words of these (shutdown-on-sigterm's "nosave now"), printed in this order;
    /// the first is the empty set's name.
    case flags([String])
    /// maxmemory-clients: bytes, or a percentage of maxmemory ("10%").
    case memoryOrPercent
    /// Space-separated words with a syntax of their own (bind, save, client-output-buffer-limit).
    case list
}

/// What a change must do besides storing its value; CONFIG SET runs each hook once, after
/// every value is stored, and undoes the whole change if one fails.
public enum ConfigApply: Sendable, Hashable, Comparable {
    case none
    /// A value the hot path reads as a typed atomic (Settings): reload them.
    case settings
    /// The working directory: the server moves into it.
    case workingDirectory
    /// appendonly / appendfsync: open or close the AOF, change its fsync policy.
    case appendOnly
    /// replica-read-only: whether a replica keeps expired keys for its primary to delete;
    /// min-replicas-*: whether writes are refused now.
    case replication
    /// tls-*: certificates, keys and rules rebuilt; new connections use them.
    case tls
    /// oom-score-adj*, proc-title-template: what the process shows the kernel and `ps`.
    case process
    /// cluster-*: the cluster's state takes them at once (the bus's cron reads them again too).
    case cluster
}

public struct ConfigParameter: Sendable {
    public let name: String
    public let kind: ConfigKind
    public let defaultValue: String
    /// Set only at start (port, bind, databases ...): CONFIG SET refuses it.
    public let immutable: Bool
    /// Changed by CONFIG SET only with `enable-protected-configs` (dir, dbfilename), as Redis 7.
    public let protected: Bool
    public let aliases: [String]
    public let apply: ConfigApply
    /// A Redis directive Larder keeps but does not act on (jemalloc's, cluster's before Larder
    /// has a cluster ...): the log says so when it is set at start.
    public let noEffect: Bool
    /// Set, the directive may only keep its default: this says why (replicaof ...).
    public let unsupported: String?

    init(_ name: String, _ kind: ConfigKind, _ def: String, immutable: Bool = false, protected: Bool = false,
         aliases: [String] = [], apply: ConfigApply = .none, noEffect: Bool = false, unsupported: String? = nil) {
        self.noEffect = noEffect
        self.unsupported = unsupported
        self.name = name
        self.kind = kind
        self.defaultValue = def
        self.immutable = immutable
        self.protected = protected
        self.aliases = aliases
        self.apply = apply
    }
}

public struct ConfigError: Error, Sendable {
    public let message: String
    public init(message: String) { self.message = message }
}

private let int32Max = Int(Int32.max)

/// Every configuration directive Larder knows, declared once: Redis's names, aliases, types,
/// bounds and defaults (bounds and the order of choices as redis-server 7.0 reports them in
/// its errors), whether CONFIG SET may change it, and what a change must do (`apply`).
/// Values are kept in Redis's canonical printed form, which is what CONFIG GET returns.
public final class Config: Sendable {
    public static let parameters: [ConfigParameter] = [
        .init("bind", .list, "127.0.0.1 -::1", immutable: true),
        .init("port", .int(min: 0, max: 65535), "6379", immutable: true),
        .init("protected-mode", .bool, "yes", apply: .settings),
        .init("databases", .int(min: 1, max: int32Max), "16", immutable: true),
        .init("timeout", .int(min: 0, max: int32Max), "0"),
        .init("tcp-keepalive", .int(min: 0, max: int32Max), "300", apply: .settings),
        .init("tcp-backlog", .int(min: 0, max: int32Max), "511", immutable: true),
        .init("maxclients", .int(min: 1, max: Int(UInt32.max)), "10000", apply: .settings),
        .init("requirepass", .string, "", apply: .settings),
        .init("dir", .string, "./data", protected: true, apply: .workingDirectory),
        .init("dbfilename", .string, "dump.rdb", protected: true),
        .init("appendonly", .bool, "no", apply: .appendOnly),
        .init("appendfilename", .string, "appendonly.aof", immutable: true),
        .init("appenddirname", .string, "appendonlydir", immutable: true),
        .init("appendfsync", .choice(["everysec", "always", "no"]), "everysec", apply: .appendOnly),
        .init("aof-load-truncated", .bool, "yes"),
        .init("aof-use-rdb-preamble", .bool, "yes"),
        .init("auto-aof-rewrite-percentage", .int(min: 0, max: int32Max), "100"),
        .init("auto-aof-rewrite-min-size", .memory(min: 0, max: Int.max), "67108864"),
        .init("save", .list, "3600 1 300 100 60 10000"),
        .init("rdbcompression", .bool, "yes"),
        .init("rdbchecksum", .bool, "yes", immutable: true),
        .init("stop-writes-on-bgsave-error", .bool, "yes"),
        .init("maxmemory", .unsignedMemory, "0", apply: .settings),
        .init("maxmemory-policy", .choice(["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
                                            "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"]),
              "noeviction", apply: .settings),
        .init("maxmemory-samples", .int(min: 1, max: int32Max), "5", apply: .settings),
        .init("maxmemory-eviction-tenacity", .int(min: 0, max: 100), "10", apply: .settings),
        .init("lfu-log-factor", .int(min: 0, max: int32Max), "10", apply: .settings),
        .init("lfu-decay-time", .int(min: 0, max: int32Max), "1", apply: .settings),
        .init("proto-max-bulk-len", .memory(min: 1 << 20, max: Int.max), "536870912", apply: .settings),
        .init("client-query-buffer-limit", .memory(min: 1 << 20, max: Int.max), "1073741824", apply: .settings),
        .init("client-output-buffer-limit", .list, "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
              apply: .settings),
        .init("hz", .int(min: 0, max: int32Max), "10"),
        .init("dynamic-hz", .bool, "yes"),
        .init("active-expire-effort", .int(min: 1, max: 10), "1"),
        .init("loglevel", .choice(["debug", "verbose", "notice", "warning"]), "notice"),
        .init("logfile", .string, "", immutable: true),
        .init("daemonize", .bool, "no", immutable: true),
        .init("pidfile", .string, "", immutable: true),
        .init("io-threads", .int(min: 1, max: 128), "1", immutable: true),
        .init("unixsocket", .string, "", immutable: true),
        .init("notify-keyspace-events", .string, "", apply: .settings),
        .init("enable-debug-command", .choice(["no", "yes", "local"]), "no", immutable: true),
        .init("enable-protected-configs", .choice(["no", "yes", "local"]), "no", immutable: true),
        .init("lazyfree-lazy-eviction", .bool, "no"),
        .init("lazyfree-lazy-expire", .bool, "no"),
        .init("lazyfree-lazy-server-del", .bool, "no"),
        .init("lazyfree-lazy-user-del", .bool, "no"),
        .init("lazyfree-lazy-user-flush", .bool, "no"),
        .init("slowlog-log-slower-than", .int(min: -1, max: Int.max), "10000", apply: .settings),
        .init("slowlog-max-len", .int(min: 0, max: Int.max), "128", apply: .settings),
        .init("latency-monitor-threshold", .int(min: 0, max: Int.max), "0", apply: .settings),
        .init("hash-max-listpack-entries", .int(min: 0, max: Int.max), "512", aliases: ["hash-max-ziplist-entries"], apply: .settings),
        .init("hash-max-listpack-value", .memory(min: 0, max: Int.max), "64", aliases: ["hash-max-ziplist-value"], apply: .settings),
        .init("list-max-listpack-size", .int(min: Int(Int32.min), max: int32Max), "-2", aliases: ["list-max-ziplist-size"]),
        .init("list-compress-depth", .int(min: 0, max: int32Max), "0"),
        .init("set-max-intset-entries", .int(min: 0, max: Int.max), "512", apply: .settings),
        .init("zset-max-listpack-entries", .int(min: 0, max: Int.max), "128", aliases: ["zset-max-ziplist-entries"], apply: .settings),
        .init("zset-max-listpack-value", .memory(min: 0, max: Int.max), "64", aliases: ["zset-max-ziplist-value"], apply: .settings),
        .init("stream-node-max-bytes", .memory(min: 0, max: Int.max), "4096", apply: .settings),
        .init("hll-sparse-max-bytes", .memory(min: 0, max: Int.max), "3000", apply: .settings),
        .init("stream-node-max-entries", .int(min: 0, max: Int.max), "100", apply: .settings),
        .init("activerehashing", .bool, "yes"),
        .init("busy-reply-threshold", .int(min: 0, max: Int.max), "5000", aliases: ["lua-time-limit"], apply: .settings),
        .init("replica-read-only", .bool, "yes", aliases: ["slave-read-only"], apply: .replication),
        .init("repl-backlog-size", .memory(min: 1, max: Int.max), "1048576"),
        .init("repl-backlog-ttl", .int(min: 0, max: Int.max), "3600"),
        .init("repl-ping-replica-period", .int(min: 1, max: int32Max), "10", aliases: ["repl-ping-slave-period"]),
        .init("cluster-enabled", .bool, "no", immutable: true),
        // Redis 7.0's other directives: accepted, kept, shown and rewritten; they change
        // nothing in Larder (the log says so at start when one is set), or, where acting as if
        // they were not there could mislead (replicaof, TLS, min-replicas), only their defaults.
        .init("acl-pubsub-default", .choice(["allchannels", "resetchannels"]), "resetchannels", apply: .settings),
        .init("aclfile", .string, "", immutable: true),
        .init("acllog-max-len", .int(min: 0, max: Int.max), "128", apply: .settings),
        .init("active-defrag-cycle-max", .int(min: 1, max: 99), "25", noEffect: true),
        .init("active-defrag-cycle-min", .int(min: 1, max: 99), "1", noEffect: true),
        .init("active-defrag-ignore-bytes", .memory(min: 1, max: Int.max), "104857600", noEffect: true),
        .init("active-defrag-max-scan-fields", .int(min: 1, max: Int.max), "1000", noEffect: true),
        .init("active-defrag-threshold-lower", .int(min: 0, max: 1000), "10", noEffect: true),
        .init("active-defrag-threshold-upper", .int(min: 0, max: 1000), "100", noEffect: true),
        .init("activedefrag", .bool, "no", unsupported: "Active defragmentation cannot be enabled: it requires a Redis server compiled with a modified Jemalloc like the one shipped by default with the Redis source distribution"),
        .init("always-show-logo", .bool, "no", immutable: true),
        .init("aof-disable-auto-gc", .bool, "no", noEffect: true),
        .init("aof-rewrite-incremental-fsync", .bool, "yes", noEffect: true),
        .init("aof-timestamp-enabled", .bool, "no", noEffect: true),
        .init("aof_rewrite_cpulist", .string, "", immutable: true, noEffect: true),
        .init("bgsave_cpulist", .string, "", immutable: true, noEffect: true),
        .init("bind-source-addr", .string, "", noEffect: true),
        .init("bio_cpulist", .string, "", immutable: true, noEffect: true),
        .init("cluster-allow-pubsubshard-when-down", .bool, "yes"),
        .init("cluster-allow-reads-when-down", .bool, "no"),
        .init("cluster-allow-replica-migration", .bool, "yes", apply: .cluster),
        .init("cluster-announce-bus-port", .int(min: 0, max: 65535), "0", apply: .cluster),
        .init("cluster-announce-hostname", .string, "", apply: .cluster),
        .init("cluster-announce-ip", .string, "", apply: .cluster),
        .init("cluster-announce-port", .int(min: 0, max: 65535), "0", apply: .cluster),
        .init("cluster-announce-tls-port", .int(min: 0, max: 65535), "0", noEffect: true),
        .init("cluster-config-file", .string, "nodes.conf", immutable: true),
        .init("cluster-link-sendbuf-limit", .unsignedMemory, "0"),
        .init("cluster-migration-barrier", .int(min: 0, max: 2147483647), "1", apply: .cluster),
        .init("cluster-node-timeout", .int(min: 0, max: Int.max), "15000", apply: .cluster),
        .init("cluster-port", .int(min: 0, max: 65535), "0", immutable: true),
        .init("cluster-preferred-endpoint-type", .choice(["ip", "hostname", "unknown-endpoint"]), "ip", apply: .cluster),
        .init("cluster-replica-no-failover", .bool, "no", aliases: ["cluster-slave-no-failover"], apply: .cluster),
        .init("cluster-replica-validity-factor", .int(min: 0, max: 2147483647), "10", aliases: ["cluster-slave-validity-factor"], apply: .cluster),
        .init("cluster-require-full-coverage", .bool, "yes", apply: .cluster),
        .init("crash-log-enabled", .bool, "yes", noEffect: true),
        .init("crash-memcheck-enabled", .bool, "yes", noEffect: true),
        .init("disable-thp", .bool, "yes", immutable: true),
        .init("enable-module-command", .bool, "no", immutable: true, noEffect: true),
        .init("ignore-warnings", .string, "", noEffect: true),
        .init("io-threads-do-reads", .bool, "no", immutable: true, noEffect: true),
        .init("jemalloc-bg-thread", .bool, "yes", noEffect: true),
        .init("latency-tracking", .bool, "yes", apply: .settings),
        .init("latency-tracking-info-percentiles", .list, "50 99 99.9"),
        .init("masterauth", .string, ""),
        .init("masteruser", .string, ""),
        .init("maxmemory-clients", .memoryOrPercent, "0", apply: .settings),
        .init("min-replicas-max-lag", .int(min: 0, max: 2147483647), "10", aliases: ["min-slaves-max-lag"], apply: .replication),
        .init("min-replicas-to-write", .int(min: 0, max: 2147483647), "0", aliases: ["min-slaves-to-write"], apply: .replication),
        .init("no-appendfsync-on-rewrite", .bool, "no", noEffect: true),
        .init("oom-score-adj", .choice(["no", "yes", "relative", "absolute"]), "no", apply: .process),
        .init("oom-score-adj-values", .list, "0 200 800", apply: .process),
        .init("proc-title-template", .string, "{title} {listen-addr} {server-mode}", apply: .process),
        .init("propagation-error-behavior", .choice(["ignore", "panic", "panic-on-replicas"]), "ignore", noEffect: true),
        .init("rdb-del-sync-files", .bool, "no", noEffect: true),
        .init("rdb-save-incremental-fsync", .bool, "yes", noEffect: true),
        .init("repl-disable-tcp-nodelay", .bool, "no", noEffect: true),
        .init("repl-diskless-load", .choice(["disabled", "on-empty-db", "swapdb"]), "disabled", noEffect: true),
        .init("repl-diskless-sync", .bool, "yes", noEffect: true),
        .init("repl-diskless-sync-delay", .int(min: 0, max: 2147483647), "5", noEffect: true),
        .init("repl-diskless-sync-max-replicas", .int(min: 0, max: 2147483647), "0", noEffect: true),
        .init("repl-timeout", .int(min: 1, max: 2147483647), "60"),
        .init("replica-announce-ip", .string, "", aliases: ["slave-announce-ip"]),
        .init("replica-announce-port", .int(min: 0, max: 65535), "0", aliases: ["slave-announce-port"]),
        .init("replica-announced", .bool, "yes"),
        .init("replica-ignore-disk-write-errors", .bool, "no", noEffect: true),
        .init("replica-ignore-maxmemory", .bool, "yes", aliases: ["slave-ignore-maxmemory"]),
        .init("replica-lazy-flush", .bool, "no", aliases: ["slave-lazy-flush"], noEffect: true),
        .init("replica-priority", .int(min: 0, max: 2147483647), "100", aliases: ["slave-priority"]),
        .init("replica-serve-stale-data", .bool, "yes", aliases: ["slave-serve-stale-data"]),
        .init("replicaof", .list, "", immutable: true, aliases: ["slaveof"]),
        .init("sanitize-dump-payload", .choice(["no", "yes", "clients"]), "no", noEffect: true),
        .init("server_cpulist", .string, "", immutable: true, noEffect: true),
        .init("set-proc-title", .bool, "yes", immutable: true),
        .init("shutdown-on-sigint", .flags(["default", "save", "nosave", "now", "force"]), "default"),
        .init("shutdown-on-sigterm", .flags(["default", "save", "nosave", "now", "force"]), "default"),
        .init("shutdown-timeout", .int(min: 0, max: 2147483647), "10"),
        .init("socket-mark-id", .int(min: 0, max: Int(UInt32.max)), "0", immutable: true, noEffect: true),
        .init("supervised", .choice(["upstart", "systemd", "auto", "no"]), "no", immutable: true),
        .init("syslog-enabled", .bool, "no", immutable: true),
        .init("syslog-facility", .choice(["user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"]), "local0", immutable: true),
        .init("syslog-ident", .string, "redis", immutable: true),
        .init("tls-auth-clients", .choice(["no", "yes", "optional"]), "yes", apply: .tls),
        .init("tls-ca-cert-dir", .string, "", apply: .tls),
        .init("tls-ca-cert-file", .string, "", apply: .tls),
        .init("tls-cert-file", .string, "", apply: .tls),
        .init("tls-ciphers", .string, "", apply: .tls),
        .init("tls-ciphersuites", .string, "", noEffect: true),
        .init("tls-client-cert-file", .string, "", apply: .tls),
        .init("tls-client-key-file", .string, "", apply: .tls),
        .init("tls-client-key-file-pass", .string, "", apply: .tls),
        .init("tls-cluster", .bool, "no", apply: .tls, noEffect: true),
        .init("tls-dh-params-file", .string, "", noEffect: true),
        .init("tls-key-file", .string, "", apply: .tls),
        .init("tls-key-file-pass", .string, "", apply: .tls),
        .init("tls-port", .int(min: 0, max: 65535), "0", apply: .tls),
        .init("tls-prefer-server-ciphers", .bool, "no", noEffect: true),
        .init("tls-protocols", .string, "", apply: .tls),
        .init("tls-replication", .bool, "no", apply: .tls),
        .init("tls-session-cache-size", .int(min: 0, max: 2147483647), "20480", noEffect: true),
        .init("tls-session-cache-timeout", .int(min: 0, max: 2147483647), "300", noEffect: true),
        .init("tls-session-caching", .bool, "yes", noEffect: true),
        .init("tracking-table-max-keys", .int(min: 0, max: Int.max), "1000000", apply: .settings),
        .init("unixsocketperm", .string, "0", immutable: true),
        // Larder's own: event loops (0 = one per core) and keyspace shards per database.
        .init("threads", .int(min: 0, max: 256), "0", immutable: true),
        .init("shards-per-database", .int(min: 1, max: 256), "16", immutable: true),
        // The memcached listener: off (0) unless a port is given; items live in one database.
        .init("memcached-port", .int(min: 0, max: 65535), "0", immutable: true),
        .init("memcached-tls", .bool, "no", immutable: true),
        .init("metrics-port", .int(min: 0, max: 65535), "0", immutable: true),
        .init("memcached-db", .int(min: 0, max: int32Max), "0", immutable: true),
        .init("memcached-item-size-max", .memory(min: 0, max: Int.max), "1048576"),
    ]

    private static let byName: [String: ConfigParameter] = {
        var m: [String: ConfigParameter] = [:]
        for p in parameters {
            m[p.name] = p
            for a in p.aliases { m[a] = p }
        }
        return m
    }()

    private let values: Locked<[String: String]>
    /// rename-command lines of the file: command -> new name ("" disables it). Read once,
    /// when the engine builds its command table.
    private let renames = Locked<[String: String]>([:])
    public var commandRenames: [String: String] { renames.withLock { $0 } }

    /// The file's `user` lines (name, then rules), applied once the engine is built.
    private let users = Locked<[[String]]>([])
    public var userLines: [[String]] { users.withLock { $0 } }
    public func addUserLine(_ words: [String]) { users.withLock { $0.append(words) } }

    /// rename-command old new: checked against the command names (`known`) as Redis does.
    public func renameCommand(_ old: String, _ new: String, known: Set<String>) throws(ConfigError) {
        let o = old.lowercased(), n = new.lowercased()
        guard known.contains(o) else { throw ConfigError(message: "No such command in rename-command") }
        let taken = renames.withLock { r -> Bool in
            if !n.isEmpty && (r.values.contains(n) || (known.contains(n) && r[n] == nil)) { return true }
            r[o] = n
            return false
        }
        if taken { throw ConfigError(message: "Target command name already exists") }
    }
    /// The file the server was started with, for CONFIG REWRITE.
    public let configFile: String?

    public init(configFile: String? = nil) {
        self.configFile = configFile
        var v: [String: String] = [:]
        for p in Self.parameters { v[p.name] = p.defaultValue }
        values = Locked(v)
    }

    public static func parameter(_ name: String) -> ConfigParameter? { byName[name.lowercased()] }

    public func get(_ name: String) -> String {
        let canonical = Self.byName[name]?.name ?? name
        return values.withLock { $0[canonical] ?? "" }
    }

    public func int(_ name: String) -> Int { Int(get(name)) ?? 0 }
    public func bool(_ name: String) -> Bool { get(name) == "yes" }

    /// All parameters whose name or alias matches `pattern`, as CONFIG GET returns them.
    public func matching(_ pattern: String) -> [(String, String)] {
        let snapshot = values.withLock { $0 }
        var out: [(String, String)] = []
        // A name without glob characters is answered under the spelling given, as Redis does.
        if !pattern.contains(where: { "*?[\\".contains($0) }) {
            guard let p = Self.byName[pattern.lowercased()] else { return [] }
            return [(pattern, snapshot[p.name] ?? "")]
        }
        for p in Self.parameters {
            for n in [p.name] + p.aliases where globMatch(Array(pattern.utf8), Array(n.utf8), nocase: true) {
                out.append((n, snapshot[p.name] ?? ""))
            }
        }
        return out
    }

    /// Sets a parameter by name; `atStartup` allows the immutable ones. Throws Redis's reason text.
    public func set(_ name: String, _ rawArgs: [String], atStartup: Bool) throws(ConfigError) {
        guard let p = Self.byName[name.lowercased()] else {
            throw ConfigError(message: "Bad directive or wrong number of arguments")
        }
        if p.immutable && !atStartup { throw ConfigError(message: "can't set immutable config") }
        let value = try Self.canonical(p, rawArgs)
        if let why = p.unsupported, value != p.defaultValue { throw ConfigError(message: why) }
        store(p, value, atStartup: atStartup)
    }

    /// Stores a canonical value (from `canonical`): what CONFIG SET does once every value given
    /// is valid, and what undoing a failed one does with the old values.
    func store(_ p: ConfigParameter, _ value: String, atStartup: Bool = false) {
        values.withLock { v in
            // `save` lines in a file accumulate; an empty one clears them.
            if atStartup, p.name == "save", let old = v[p.name], !old.isEmpty, old != p.defaultValue, !value.isEmpty {
                v[p.name] = old + " " + value
            } else if p.name == "client-output-buffer-limit" {
                // Each class given replaces that class only, as Redis.
                var classes: [String: [String]] = [:]
                var order: [String] = []
                for text in [v[p.name] ?? "", value] {
                    let w = text.split(separator: " ").map(String.init)
                    for i in stride(from: 0, to: w.count - 3, by: 4) {
                        if classes[w[i]] == nil { order.append(w[i]) }
                        classes[w[i]] = Array(w[(i + 1)...(i + 3)])
                    }
                }
                v[p.name] = order.map { ([$0] + classes[$0]!).joined(separator: " ") }.joined(separator: " ")
            } else {
                v[p.name] = value
            }
        }
    }

    /// Stores a value the server changed itself (REPLICAOF's `replicaof`, which CONFIG
    /// REWRITE then writes).
    func setInternal(_ name: String, _ value: String) {
        guard let p = Self.byName[name] else { return }
        store(p, value)
    }

    /// Marks that the file or flags gave `save`, so later `save` lines add to it, not to the default.
    public func clearSaveDefault() { values.withLock { $0["save"] = "" } }

    static func canonical(_ p: ConfigParameter, _ args: [String]) throws(ConfigError) -> String {
        let joined = args.joined(separator: " ")
        switch p.kind {
        case .bool:
            switch joined.lowercased() {
            case "yes": return "yes"
            case "no": return "no"
            default: throw ConfigError(message: "argument must be 'yes' or 'no'")
            }
        case .int(let lo, let hi):
            guard let v = Int(joined) else { throw ConfigError(message: "argument couldn't be parsed into an integer") }
            guard v >= lo && v <= hi else {
                throw ConfigError(message: "argument must be between \(lo) and \(hi) inclusive")
            }
            // Values Redis takes but raises or lowers to what it can use.
            if p.name == "hz" { return String(min(max(v, 1), 500)) }
            return String(v)
        case .memory(let lo, let hi):
            guard let v = parseMemoryBytes(joined) else { throw ConfigError(message: "argument must be a memory value") }
            guard v >= UInt64(lo) && v <= UInt64(hi) else {
                throw ConfigError(message: "argument must be between \(lo) and \(hi) inclusive")
            }
            if p.name == "repl-backlog-size" { return String(max(v, 16 * 1024)) }
            return String(v)
        case .unsignedMemory:
            guard let v = parseMemoryBytes(joined) else { throw ConfigError(message: "argument must be a memory value") }
            return String(v)
        case .memoryOrPercent:
            // Kept as Redis keeps it, one signed number: a percentage is its negative, so a
            // byte count past 2^63 - 1 prints as a percentage, as on redis-server.
            if joined.hasSuffix("%"), let pct = Int(joined.dropLast()), pct >= 0 {
                guard pct <= 100 else { throw ConfigError(message: "percentage argument must be less or equal to 100") }
                return pct == 0 ? "0" : "\(pct)%"
            }
            guard let v = parseMemoryBytes(joined) else { throw ConfigError(message: "argument must be a memory or percent value") }
            let signed = Int64(bitPattern: v)
            return signed < 0 ? "\(-signed)%" : String(signed)
        case .flags(let options):
            let words = joined.split(separator: " ").map { $0.lowercased() }
            guard !words.isEmpty, words.allSatisfy({ options.contains($0) }) else {
                throw ConfigError(message: "argument(s) must be one of the following: \(options.joined(separator: ", "))")
            }
            if words.contains("save") && words.contains("nosave") {
                throw ConfigError(message: "shutdown options SAVE and NOSAVE can't be used simultaneously")
            }
            let set = options.dropFirst().filter { words.contains($0) }
            return set.isEmpty ? options[0] : set.joined(separator: " ")
        case .string:
            if p.name == "cluster-announce-hostname" {
                guard joined.utf8.allSatisfy({ $0 < 128 && (isalnum(Int32($0)) != 0 || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".")) }) else {
                    throw ConfigError(message: "Hostnames may only contain alphanumeric characters, hyphens or dots")
                }
            }
            if p.name == "proc-title-template" {
                guard ProcessTitle.isValid(template: joined) else {
                    throw ConfigError(message: "template format is invalid or contains unknown variables")
                }
            }
            if p.name == "notify-keyspace-events" {
                guard let f = NotifyClass.parse(joined) else {
                    throw ConfigError(message: "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
                }
                return f.text
            }
            return joined
        case .choice(let options):
            let l = joined.lowercased()
            guard options.contains(l) else { throw ConfigError(message: "argument(s) must be one of the following: \(options.joined(separator: ", "))") }
            // Two words for one value print as the first (Redis's enum tables).
            if p.name == "oom-score-adj" && l == "relative" { return "yes" }
            return l
        case .list:
            if p.name == "client-output-buffer-limit" {
                let w = joined.split(separator: " ").map(String.init)
                // Nothing given changes no class, as Redis.
                if w.isEmpty { return "" }
                guard w.count % 4 == 0 else { throw ConfigError(message: "Wrong number of arguments in buffer limit configuration.") }
                var out: [String] = []
                for i in stride(from: 0, to: w.count, by: 4) {
                    let cls = w[i].lowercased() == "replica" ? "slave" : w[i].lowercased()
                    guard ["normal", "slave", "pubsub"].contains(cls),
                          let hard = parseMemory(w[i + 1]), let soft = parseMemory(w[i + 2]), let secs = Int(w[i + 3]),
                          hard >= 0, soft >= 0, secs >= 0 else {
                        throw ConfigError(message: "Invalid client class specified in buffer limit configuration.")
                    }
                    out += [cls, String(hard), String(soft), String(secs)]
                }
                return out.joined(separator: " ")
            }
            if p.name == "replicaof" {
                // `replicaof no one` in a file leaves the server a primary, as Redis.
                let parts = joined.split(separator: " ").map(String.init)
                guard parts.count == 2 else { throw ConfigError(message: "wrong number of arguments") }
                if parts[0].lowercased() == "no" && parts[1].lowercased() == "one" { return "" }
                return joined
            }
            if p.name == "oom-score-adj-values" {
                let parts = joined.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 3 else { throw ConfigError(message: "wrong number of arguments") }
                guard parts.allSatisfy({ Int($0).map { (-2000...2000).contains($0) } ?? false }) else {
                    throw ConfigError(message: "Invalid oom-score-adj-values, elements must be between -2000 and 2000.")
                }
                return parts.map { String(Int($0)!) }.joined(separator: " ")
            }
            if p.name == "latency-tracking-info-percentiles" {
                var out: [String] = []
                for w in joined.split(separator: " ") {
                    guard let v = parseConfigDouble(String(w)) else {
                        throw ConfigError(message: "Invalid latency-tracking-info-percentiles parameters")
                    }
                    guard v >= 0 && v <= 100 else {
                        throw ConfigError(message: "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]")
                    }
                    var text = String(v)
                    if text.hasSuffix(".0") { text.removeLast(2) }
                    out.append(text)
                }
                return out.joined(separator: " ")
            }
            if p.name == "save" {
                let parts = joined.split(separator: " ")
                guard parts.count % 2 == 0, parts.allSatisfy({ Int($0) != nil }) else {
                    throw ConfigError(message: "Invalid save parameters")
                }
            }
            return joined
        }
    }
}

/// Redis's memtoull for configuration values: digits and an optional unit (k/m/g powers of
/// 1000, kb/mb/gb of 1024, b), no sign; a number past 2^64 - 1 saturates, as strtoull does.
public func parseMemoryBytes(_ s: String) -> UInt64? {
    let lower = s.lowercased()
    let units: [(String, UInt64)] = [("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10),
                                     ("g", 1_000_000_000), ("m", 1_000_000), ("k", 1000), ("b", 1)]
    var digits = Substring(lower), mul: UInt64 = 1
    for (suffix, m) in units where lower.hasSuffix(suffix) {
        digits = lower.dropLast(suffix.count)
        mul = m
        break
    }
    // No digits ("", "mb") is 0, as strtoull reads it and Redis takes it.
    if digits.isEmpty { return 0 }
    guard digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
    let n = UInt64(digits) ?? .max
    let (r, o) = n.multipliedReportingOverflow(by: mul)
    return o ? .max : r
}

/// Redis's memtoll: a number with an optional unit; k/m/g are powers of 1000, kb/mb/gb of 1024.
public func parseMemory(_ s: String) -> Int? {
    let lower = s.lowercased()
    let units: [(String, Int)] = [("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10),
                                  ("g", 1_000_000_000), ("m", 1_000_000), ("k", 1000), ("b", 1)]
    for (suffix, mul) in units where lower.hasSuffix(suffix) {
        guard let n = Int(lower.dropLast(suffix.count)) else { return nil }
        let (r, o) = n.multipliedReportingOverflow(by: mul)
        return o ? nil : r
    }
    return Int(lower)
}

/// strtod as Redis's configuration reads a double: decimal, exponent or hexadecimal, the whole
/// word, finite.
func parseConfigDouble(_ s: String) -> Double? {
    guard !s.isEmpty, !s.first!.isWhitespace else { return nil }
    var end: UnsafeMutablePointer<CChar>? = nil
    let v = s.withCString { p -> Double? in
        let d = strtod(p, &end)
        return end.map { $0 - UnsafeMutablePointer(mutating: p) } == s.utf8.count ? d : nil
    }
    guard let v, v.isFinite else { return nil }
    return v
}
