import Synchronization
import Storage

/// How a configuration value is read and printed, as Redis's config.c types.
public enum ConfigKind: Sendable {
    case bool
    case int(min: Int, max: Int)
    case memory                        // bytes, accepting 1k/1kb/1m/1mb/1g/1gb
    case string
    case choice([String])
    case list                          // space-separated words (save, client-output-buffer-limit)
}

public struct ConfigParameter: Sendable {
    public let name: String
    public let kind: ConfigKind
    public let defaultValue: String
    /// Set only at start (port, bind, databases ...): CONFIG SET refuses it.
    public let immutable: Bool
    public let aliases: [String]

    init(_ name: String, _ kind: ConfigKind, _ def: String, immutable: Bool = false, aliases: [String] = []) {
        self.name = name
        self.kind = kind
        self.defaultValue = def
        self.immutable = immutable
        self.aliases = aliases
    }
}

public struct ConfigError: Error, Sendable {
    public let message: String
}

/// Every configuration directive Larder knows, with Redis's names and defaults.
/// Values are kept in Redis's canonical printed form, which is what CONFIG GET returns.
public final class Config: Sendable {
    public static let parameters: [ConfigParameter] = [
        .init("bind", .list, "127.0.0.1 -::1", immutable: true),
        .init("port", .int(min: 0, max: 65535), "6379", immutable: true),
        .init("protected-mode", .bool, "yes"),
        .init("databases", .int(min: 1, max: Int(Int32.max)), "16", immutable: true),
        .init("timeout", .int(min: 0, max: Int(Int32.max)), "0"),
        .init("tcp-keepalive", .int(min: 0, max: Int(Int32.max)), "300"),
        .init("tcp-backlog", .int(min: 0, max: Int(Int32.max)), "511", immutable: true),
        .init("maxclients", .int(min: 1, max: Int(UInt32.max)), "10000"),
        .init("requirepass", .string, ""),
        .init("dir", .string, "./data"),
        .init("dbfilename", .string, "dump.rdb"),
        .init("appendonly", .bool, "no"),
        .init("appendfilename", .string, "appendonly.aof", immutable: true),
        .init("appenddirname", .string, "appendonlydir", immutable: true),
        .init("appendfsync", .choice(["always", "everysec", "no"]), "everysec"),
        .init("aof-load-truncated", .bool, "yes"),
        .init("aof-use-rdb-preamble", .bool, "yes"),
        .init("auto-aof-rewrite-percentage", .int(min: 0, max: Int(Int32.max)), "100"),
        .init("auto-aof-rewrite-min-size", .memory, "67108864"),
        .init("save", .list, "3600 1 300 100 60 10000"),
        .init("rdbcompression", .bool, "yes"),
        .init("rdbchecksum", .bool, "yes"),
        .init("stop-writes-on-bgsave-error", .bool, "yes"),
        .init("maxmemory", .memory, "0"),
        .init("maxmemory-policy", .choice(["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
                                            "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"]),
              "noeviction"),
        .init("maxmemory-samples", .int(min: 1, max: 64), "5"),
        .init("maxmemory-eviction-tenacity", .int(min: 0, max: 100), "10"),
        .init("lfu-log-factor", .int(min: 0, max: Int(Int32.max)), "10"),
        .init("lfu-decay-time", .int(min: 0, max: Int(Int32.max)), "1"),
        .init("proto-max-bulk-len", .memory, "536870912"),
        .init("client-query-buffer-limit", .memory, "1073741824"),
        .init("client-output-buffer-limit", .list, "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"),
        .init("hz", .int(min: 0, max: Int(Int32.max)), "10"),
        .init("dynamic-hz", .bool, "yes"),
        .init("active-expire-effort", .int(min: 1, max: 10), "1"),
        .init("loglevel", .choice(["debug", "verbose", "notice", "warning", "nothing"]), "notice"),
        .init("logfile", .string, "", immutable: true),
        .init("daemonize", .bool, "no", immutable: true),
        .init("pidfile", .string, "", immutable: true),
        .init("io-threads", .int(min: 1, max: 128), "1", immutable: true),
        .init("unixsocket", .string, "", immutable: true),
        .init("notify-keyspace-events", .string, ""),
        .init("enable-debug-command", .choice(["no", "yes", "local"]), "no", immutable: true),
        .init("enable-protected-configs", .choice(["no", "yes", "local"]), "no", immutable: true),
        .init("lazyfree-lazy-eviction", .bool, "no"),
        .init("lazyfree-lazy-expire", .bool, "no"),
        .init("lazyfree-lazy-server-del", .bool, "no"),
        .init("lazyfree-lazy-user-del", .bool, "no"),
        .init("lazyfree-lazy-user-flush", .bool, "no"),
        .init("slowlog-log-slower-than", .int(min: -1, max: Int.max), "10000"),
        .init("slowlog-max-len", .int(min: 0, max: Int(UInt32.max)), "128"),
        .init("latency-monitor-threshold", .int(min: 0, max: Int.max), "0"),
        .init("hash-max-listpack-entries", .int(min: 0, max: Int.max), "512", aliases: ["hash-max-ziplist-entries"]),
        .init("hash-max-listpack-value", .int(min: 0, max: Int.max), "64", aliases: ["hash-max-ziplist-value"]),
        .init("list-max-listpack-size", .int(min: Int(Int32.min), max: Int(Int32.max)), "-2", aliases: ["list-max-ziplist-size"]),
        .init("list-compress-depth", .int(min: 0, max: Int(Int32.max)), "0"),
        .init("set-max-intset-entries", .int(min: 0, max: Int.max), "512"),
        .init("zset-max-listpack-entries", .int(min: 0, max: Int.max), "128", aliases: ["zset-max-ziplist-entries"]),
        .init("zset-max-listpack-value", .int(min: 0, max: Int.max), "64", aliases: ["zset-max-ziplist-value"]),
        .init("stream-node-max-bytes", .memory, "4096"),
        .init("hll-sparse-max-bytes", .memory, "3000"),
        .init("stream-node-max-entries", .int(min: 0, max: Int.max), "100"),
        .init("activerehashing", .bool, "yes"),
        .init("lua-time-limit", .int(min: 0, max: Int.max), "5000", aliases: ["busy-reply-threshold"]),
        .init("replica-read-only", .bool, "yes", aliases: ["slave-read-only"]),
        .init("repl-backlog-size", .memory, "1048576"),
        .init("repl-backlog-ttl", .int(min: 0, max: Int(Int32.max)), "3600"),
        .init("repl-ping-replica-period", .int(min: 1, max: Int(Int32.max)), "10", aliases: ["repl-ping-slave-period"]),
        .init("cluster-enabled", .bool, "no", immutable: true),
        // Larder's own: event loops (0 = one per core) and keyspace shards per database.
        .init("threads", .int(min: 0, max: 256), "0", immutable: true),
        .init("shards-per-database", .int(min: 1, max: 256), "16", immutable: true),
        // The memcached listener: off (0) unless a port is given; items live in one database.
        .init("memcached-port", .int(min: 0, max: 65535), "0", immutable: true),
        .init("memcached-db", .int(min: 0, max: Int(Int32.max)), "0", immutable: true),
        .init("memcached-item-size-max", .memory, "1048576"),
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
        for p in Self.parameters {
            for n in [p.name] + p.aliases where globMatch(Array(pattern.utf8), Array(n.utf8), nocase: true) {
                out.append((n, snapshot[p.name] ?? ""))
            }
        }
        return out
    }

    /// Sets a parameter; `atStartup` allows the immutable ones. Throws Redis's reason text.
    public func set(_ name: String, _ rawArgs: [String], atStartup: Bool) throws(ConfigError) {
        guard let p = Self.byName[name.lowercased()] else {
            throw ConfigError(message: "Bad directive or wrong number of arguments")
        }
        if p.immutable && !atStartup { throw ConfigError(message: "can't set immutable config") }
        let value = try Self.canonical(p, rawArgs)
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
            return String(v)
        case .memory:
            guard let v = parseMemory(joined), v >= 0 else {
                throw ConfigError(message: "argument must be a memory value")
            }
            return String(v)
        case .string:
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
            return l
        case .list:
            if p.name == "client-output-buffer-limit" {
                let w = joined.split(separator: " ").map(String.init)
                guard w.count % 4 == 0, !w.isEmpty else { throw ConfigError(message: "Wrong number of arguments in buffer limit configuration.") }
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
