import Synchronization
import RESP

/// Command flags as Redis's COMMAND reply names them.
public struct CommandFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let write = CommandFlags(rawValue: 1 << 0)
    public static let readonly = CommandFlags(rawValue: 1 << 1)
    public static let denyoom = CommandFlags(rawValue: 1 << 2)
    public static let admin = CommandFlags(rawValue: 1 << 3)
    public static let pubsub = CommandFlags(rawValue: 1 << 4)
    public static let noscript = CommandFlags(rawValue: 1 << 5)
    public static let blocking = CommandFlags(rawValue: 1 << 6)
    public static let loading = CommandFlags(rawValue: 1 << 7)
    public static let stale = CommandFlags(rawValue: 1 << 8)
    public static let skipMonitor = CommandFlags(rawValue: 1 << 9)
    public static let skipSlowlog = CommandFlags(rawValue: 1 << 10)
    public static let fast = CommandFlags(rawValue: 1 << 11)
    public static let noAuth = CommandFlags(rawValue: 1 << 12)
    public static let mayReplicate = CommandFlags(rawValue: 1 << 13)
    public static let noMulti = CommandFlags(rawValue: 1 << 14)
    public static let allowBusy = CommandFlags(rawValue: 1 << 15)
    public static let movableKeys = CommandFlags(rawValue: 1 << 16)
    /// Not a Redis flag: a read-only command that may still rewrite its key's bytes (PFCOUNT
    /// caching a count), which the AOF must then carry like a write.
    public static let rewritesValue = CommandFlags(rawValue: 1 << 17)
    /// Not a Redis flag: a write that empties or swaps whole databases (FLUSHDB, FLUSHALL,
    /// SWAPDB, memcached's flush_all), after which every tracked key is invalid.
    public static let invalidatesAll = CommandFlags(rawValue: 1 << 18)
    /// Not a Redis flag: runs at once inside MULTI rather than queueing (MULTI, EXEC, DISCARD,
    /// WATCH, QUIT, RESET).
    public static let runsInMulti = CommandFlags(rawValue: 1 << 19)
    /// Not a Redis flag: one of the few a RESP2 client may send while subscribed ((P|S)SUBSCRIBE,
    /// (P|S)UNSUBSCRIBE, PING, QUIT, RESET).
    public static let whileSubscribed = CommandFlags(rawValue: 1 << 20)

    /// Not a Redis flag: takes the script mutex (EVAL, FCALL and their forms, and the SCRIPT
    /// and FUNCTION commands that read or change scripts). EXEC takes the mutex, and every
    /// shard, for a transaction holding one (see ScriptRun).
    public static let usesScripts = CommandFlags(rawValue: 1 << 21)
    /// Shown by COMMAND only, as Redis 7.0 lists them (Larder has no async loading, and its
    /// key finders need no mandatory keys).
    public static let noAsyncLoading = CommandFlags(rawValue: 1 << 22)
    public static let noMandatoryKeys = CommandFlags(rawValue: 1 << 23)
    /// Runs on a slot being imported without ASKING first (RESTORE-ASKING).
    public static let asking = CommandFlags(rawValue: 1 << 24)

    static let names: [(CommandFlags, String)] = [
        (.write, "write"), (.readonly, "readonly"), (.denyoom, "denyoom"), (.admin, "admin"),
        (.pubsub, "pubsub"), (.noscript, "noscript"), (.blocking, "blocking"), (.loading, "loading"),
        (.stale, "stale"), (.skipMonitor, "skip_monitor"), (.skipSlowlog, "skip_slowlog"),
        (.asking, "asking"), (.fast, "fast"), (.noAuth, "no_auth"),
        (.noAsyncLoading, "no_async_loading"), (.noMulti, "no_multi"), (.noMandatoryKeys, "no_mandatory_keys"),
        (.allowBusy, "allow_busy"), (.movableKeys, "movablekeys"),
    ]

    var names: [String] { Self.names.filter { contains($0.0) }.map { $0.1 } }
}

/// Which shard locks a command needs, decided from the table before it runs.
public enum LockScope: Sendable {
    /// No keyspace access (PING, CLIENT, CONFIG).
    case none
    /// The shards of the keys at the spec's key positions.
    case keys
    /// Every shard of the client's database (KEYS, SCAN, DBSIZE, FLUSHDB, RANDOMKEY).
    case database
    /// Every shard of every database (FLUSHALL, SWAPDB, MOVE, cross-database COPY).
    case all
}

public typealias CommandHandler = @Sendable (inout CommandContext) -> Void

/// One row of the command table.
public final class CommandSpec: Sendable {
    public let name: String            // lower case, "get" or "config|get"
    public let arity: Int
    public let flags: CommandFlags
    public let firstKey: Int
    public let lastKey: Int
    public let keyStep: Int
    public let scope: LockScope
    public let group: String
    public let summary: String
    public let complexity: String
    public let aclCategories: [String]
    public let handler: CommandHandler?
    public let subcommands: [CommandSpec]
    /// Each sub-command's own name ("keyslot" of "cluster|keyslot"), in lower case, by the
    /// position in `subcommands`: resolving one compares bytes, where splitting every name per
    /// command made CLUSTER KEYSLOT cost seven times a PING at -P 16 (perf).
    let subcommandNames: [[UInt8]]
    /// For commands whose keys follow a count (LMPOP numkeys key ...): the key indexes.
    public let keyFinder: (@Sendable (CommandArguments) -> [Int])?
    /// One key at a fixed place (GET, SET, HSET...): the dispatcher's shortest path.
    let hasOneKey: Bool
    /// Whether its effects are propagated (a write, or a read that may rewrite its value).
    let propagates: Bool
    /// Calls, errors and admission refusals for INFO commandstats.
    let calls = Atomic<Int>(0)
    let failedCalls = Atomic<Int>(0)
    /// Microseconds spent in the command (its handler and effects, under its locks).
    let usec = Atomic<Int>(0)
    let rejectedCalls = Atomic<Int>(0)
    /// The command's number in the ACL index (its bit in a user's rules), set once when the
    /// engine builds the index: found without hashing on every checked command.
    let aclID = Atomic<Int>(-1)
    /// Its calls' durations (LATENCY HISTOGRAM, INFO latencystats).
    let histogram = CommandHistogram()

    deinit { histogram.free() }

    public init(_ name: String, arity: Int, flags: CommandFlags, keys: (Int, Int, Int) = (0, 0, 0),
                scope: LockScope? = nil, group: String, summary: String,
                complexity: String = "O(1)", acl: [String] = [],
                subcommands: [CommandSpec] = [], keyFinder: (@Sendable (CommandArguments) -> [Int])? = nil,
                handler: CommandHandler?) {
        self.keyFinder = keyFinder
        self.hasOneKey = keyFinder == nil && keys.0 > 0 && keys.0 == keys.1 && (scope ?? .keys) == .keys
        self.name = name
        self.arity = arity
        self.flags = flags
        self.propagates = !flags.isDisjoint(with: [.write, .rewritesValue])
        (self.firstKey, self.lastKey, self.keyStep) = keys
        self.scope = scope ?? (keys.0 > 0 ? .keys : .none)
        self.group = group
        self.summary = summary
        self.complexity = complexity
        self.aclCategories = Self.categories(acl: acl, group: subcommands.isEmpty ? group : "", flags: flags)
        self.subcommands = subcommands
        self.subcommandNames = subcommands.map { Array(($0.name.split(separator: "|").last.map(String.init) ?? $0.name).utf8) }
        self.handler = handler
    }

    /// ACL categories as Redis 7.0 derives them: the group's own (generic commands are
    /// @keyspace, string ones @string ...; a container of subcommands has none), the extras a
    /// spec names (@dangerous ...; "-keyspace" takes the group's away where Redis does not give
    /// it), and those its flags imply (write, read unless scripting, admin with dangerous,
    /// pubsub, fast, else slow, blocking); in Redis's category order, as COMMAND INFO shows.
    static func categories(acl: [String], group: String, flags: CommandFlags) -> [String] {
        var cats = Set(acl.filter { !$0.hasPrefix("-") })
        if let g = groupCategory[group], !acl.contains("-" + g) { cats.insert(g) }
        if flags.contains(.write) { cats.insert("write") }
        if flags.contains(.readonly) && !cats.contains("scripting") { cats.insert("read") }
        if flags.contains(.admin) { cats.formUnion(["admin", "dangerous"]) }
        if flags.contains(.pubsub) { cats.insert("pubsub") }
        if flags.contains(.fast) { cats.insert("fast") }
        if flags.contains(.blocking) { cats.insert("blocking") }
        if !cats.contains("fast") { cats.insert("slow") }
        return categoryOrder.filter { cats.contains($0) } + cats.subtracting(categoryOrder).sorted()
    }

    static let categoryOrder = ["keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
                                "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking",
                                "dangerous", "connection", "transaction", "scripting"]

    static let groupCategory = ["generic": "keyspace", "string": "string", "bitmap": "bitmap", "list": "list",
                                "hash": "hash", "set": "set", "sorted_set": "sortedset", "sortedset": "sortedset",
                                "hyperloglog": "hyperloglog", "geo": "geo", "stream": "stream",
                                "scripting": "scripting", "transactions": "transaction", "connection": "connection"]

    /// Key argument indexes of a call, from the key finder or (first, last, step).
    func keyIndexes(_ args: CommandArguments) -> [Int] {
        if let keyFinder { return keyFinder(args).filter { $0 > 0 && $0 < args.count } }
        return keyStride(argc: args.count).map(Array.init) ?? []
    }

    /// The key arguments of a command without a key finder, as a stride (no array to build).
    func keyStride(argc: Int) -> StrideThrough<Int>? {
        guard firstKey > 0, firstKey < argc else { return nil }
        let last = lastKey >= 0 ? min(lastKey, argc - 1) : argc + lastKey
        guard last >= firstKey else { return nil }
        return stride(from: firstKey, through: last, by: keyStep)
    }

    /// Keys that follow a count argument at `countIndex` (LMPOP 1, BLMPOP 2, ZUNIONSTORE 2).
    public static func keysAfterCount(_ countIndex: Int, _ args: CommandArguments) -> [Int] {
        guard countIndex < args.count, let n = Int(args.string(countIndex)), n > 0 else { return [] }
        let first = countIndex + 1
        return Array(first..<(n >= args.count - first ? args.count : first + n))
    }
}
