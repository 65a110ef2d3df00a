#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import RESP
import Storage

/// What a command handler works with: the command (its arguments, its clock, what it
/// changed and the effects it states), the reply writer, the client and its database, and the
/// engine for everything server-wide. A connection keeps one and reuses it for every command
/// (so that nothing is allocated per command): what belongs to the connection across commands
/// is in `session`, what the dispatcher found while locking in `locks`.
public struct CommandContext: Sendable {
    public var args = CommandArguments()
    public var out: RESPWriter
    public let engine: Engine
    public let client: Client
    /// The selected database (SELECT changes it for the commands after).
    public var dbIndex: Int
    /// The connection's state that outlives a command: transaction, watches, subscriptions,
    /// tracking, reply mode, how it takes late replies and pushes, its counters.
    public var session = Session()
    /// What the dispatcher found while taking the command's shard locks.
    var locks = LockCache()

    /// The command's start time in Unix ms; expiry decisions within a command use this one clock.
    public var now: Int64 = 0
    /// The same instant in µs, for the command's duration in INFO commandstats.
    var startedMicros: Int64 = 0
    /// Set on the context that applies a primary's stream (this server is its replica): no
    /// READONLY, no OOM refusal, and keys are never expired by it (see `lookupNow`).
    public var fromPrimary = false
    /// Keys made ready for blocked clients by this command: (database, key).
    var readyKeys: [(Int, [UInt8])] = []
    /// Set while a blocked client's command is re-run to serve it: no error, no re-blocking.
    var serving = false
    /// Set inside MULTI/EXEC and scripts: blocking commands answer at once.
    var noBlock = false
    /// Set when CLIENT PAUSE holds the command: it did not run, and the connection leaves it
    /// unread until then (ms).
    public var pausedUntil: Int64? = nil
    /// Set when the command parked the client; the connection stops reading until it is served.
    public var blockedOn: Waiter? = nil
    public var blockTimeoutMs: Int64 = 0
    /// Changes this command made (dirty()), so tracking invalidates only real writes.
    var changes = 0
    /// What the AOF and replicas get instead of the command's own words (see Propagation);
    /// nil: the words.
    var effects: [[[UInt8]]]? = nil
    /// Inside EXEC: the effects of the transaction's commands so far, propagated together.
    var transactionEffects: [(db: Int, effect: Effect)]? = nil
    /// Set while EXEC holds every shard for a transaction with a script in it (the script
    /// then takes no lock of its own).
    var holdsEveryShard = false
    /// Invalidations of this client's own writes, written right after the command's reply.
    var ownInvalidations: [ByteBuffer] = []
    /// The reply is (un)subscribe confirmations: sent even under CLIENT REPLY OFF / SKIP, as
    /// Redis sends them as pushes.
    var replyIsPush = false

    public init(engine: Engine, client: Client, out: RESPWriter) {
        self.engine = engine
        self.client = client
        self.out = out
        self.dbIndex = 0
    }

    @inline(__always) public var db: Database { engine.keyspace.databases[dbIndex] }
    /// The clock key lookups judge expiry by. A replica applies its primary's stream with
    /// every key alive (0): the primary decides when a key expires and sends its DEL, as
    /// Redis's master client never expires keys; a lookup that deleted on the replica's own
    /// clock could apply a write to a key the primary still had.
    @inline(__always) public var lookupNow: Int64 { fromPrimary ? 0 : now }
    @inline(__always) public var argc: Int { args.count }
    /// The access field (LRU clock or LFU counter) for a key created now.
    public var newAccess: UInt32 { engine.accessPolicy.initial(now: now) }

    /// The shard of argument `i`, already locked by the dispatcher.
    @inline(__always) public func shard(_ i: Int) -> Shard {
        if i == locks.oneKeyArgument { return db.shards[locks.oneKeyShardIndex] }
        if i < locks.argumentShards.count, locks.argumentShards[i] >= 0 { return db.shards[locks.argumentShards[i]] }
        return db.shard(args[i])
    }

    /// The table hash of argument `i`: computed already when it is the key the dispatcher
    /// located (and it has no hash tag).
    @inline(__always) public func keyHash(_ i: Int) -> UInt64 {
        if i == locks.oneKeyArgument, let h = locks.oneKeyHash { return h }
        return args[i].withUnsafeBytes { KeyTable.hash($0) }
    }

    // MARK: replies

    public mutating func error(_ message: String) {
        engine.stats.countError(message)
        session.counters.errors += 1
        out.error(message)
    }

    public mutating func ok() { out.ok() }

    // MARK: argument parsing with Redis's errors

    /// Argument `i` as a 64-bit integer (Redis's getLongLongFromObjectOrReply), or nil after
    /// replying with the error.
    public mutating func integer(_ i: Int, error: String = Errors.notInteger) -> Int? {
        if let v = parseCanonicalInt(args[i]) { return v }
        self.error(error)
        return nil
    }

    /// Argument `i` as a double as Redis's getDoubleFromObject: strtod, no spaces, no NaN.
    public mutating func double(_ i: Int, error: String = Errors.notFloat) -> Double? {
        if let v = parseRedisDouble(args[i]) { return v }
        self.error(error)
        return nil
    }

    /// A lookup that counts keyspace hits and misses, and updates the key's access time.
    public mutating func lookupRead(_ i: Int) -> (Shard, Int?) {
        let (s, slot) = lookupNoTouch(i)
        if let slot { s.touchAccess(slot: slot, now: now, policy: engine.accessPolicy) }
        return (s, slot)
    }

    /// A lookup that counts keyspace hits and misses (and sends keymiss unless `notifying` is
    /// false) but leaves the key's access time alone: Redis's LOOKUP_NOTOUCH (EXISTS, TYPE,
    /// TTL; OBJECT adds LOOKUP_NONOTIFY).
    @inline(__always)
    public mutating func lookupNoTouch(_ i: Int, notifying: Bool = true) -> (Shard, Int?) {
        let s = shard(i)
        let hash = keyHash(i), now = lookupNow
        // The key's bytes borrowed, not sliced: a slice retains the argument buffer.
        let slot = args.withBytes(i) { s.find($0, hash: hash, now: now) }
        if slot == nil {
            session.counters.misses += 1
            if notifying { notify(.keyMiss, "keymiss", i) }
        } else {
            session.counters.hits += 1
        }
        return (s, slot)
    }
}

/// Parses a double as Redis's getDoubleFromObject: strtod over the whole string, no leading
/// space, no NaN, and no overflow or underflow (ERANGE); "inf" spelled out is fine.
public func parseRedisDouble<C: Collection>(_ bytes: C) -> Double? where C.Element == UInt8 {
    guard !bytes.isEmpty, bytes.count <= 5000, let f = bytes.first, !(f == 32 || (f >= 9 && f <= 13)) else { return nil }
    if let d = wholeNumber(bytes) { return d }
    guard let (d, rangeError) = strtodChecked(bytes), !d.isNaN else { return nil }
    if rangeError && (d.isInfinite || d == 0) { return nil }
    return d
}

/// The usual score, up to 15 digits after an optional '-', without strtod (about 450
/// instructions a ZADD in callgrind): below 10^15 every integer is a Double exactly, so this is
/// strtod's answer, -0 included. nil for anything else, which goes to strtod.
@inline(__always)
private func wholeNumber<C: Collection>(_ bytes: C) -> Double? where C.Element == UInt8 {
    guard bytes.count <= 16 else { return nil }
    var v = 0, digits = 0, negative = false
    for (i, b) in bytes.enumerated() {
        if i == 0 && b == UInt8(ascii: "-") { negative = true; continue }
        let d = Int(b) &- 48
        guard d >= 0 && d <= 9 else { return nil }
        v = v &* 10 &+ d
        digits += 1
    }
    guard digits > 0 && digits <= 15 else { return nil }
    return negative ? -Double(v) : Double(v)
}

/// strtod over the whole string (an empty string is 0, as strtod leaves it); nil if it stops early.
public func strtodWhole<C: Collection>(_ bytes: C) -> Double? where C.Element == UInt8 {
    strtodChecked(bytes)?.0
}

private func strtodChecked<C: Collection>(_ bytes: C) -> (Double, Bool)? where C.Element == UInt8 {
    guard bytes.count <= 5000 else { return nil }
    if bytes.contains(0) { return nil }
    // strtod needs a terminator: scores are short, so they are copied to the stack, not to a
    // new array per argument.
    if bytes.count < 64 {
        var scratch: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
        return withUnsafeMutableBytes(of: &scratch) { raw in
            raw.copyBytes(from: bytes)   // the rest stays 0: the terminator
            return strtodTerminated(raw.baseAddress!.assumingMemoryBound(to: CChar.self), count: bytes.count)
        }
    }
    var buf = Array(bytes)
    buf.append(0)
    return buf.withUnsafeMutableBufferPointer { p in
        strtodTerminated(UnsafeMutableRawPointer(p.baseAddress!).assumingMemoryBound(to: CChar.self), count: bytes.count)
    }
}

/// strtod over a NUL-terminated string of `count` bytes; nil unless it reads all of them.
private func strtodTerminated(_ base: UnsafeMutablePointer<CChar>, count: Int) -> (Double, Bool)? {
    var end: UnsafeMutablePointer<CChar>? = nil
    errno = 0
    let v = strtod(base, &end)
    let rangeError = errno == ERANGE
    guard let e = end, e - base == count else { return nil }
    return (v, rangeError)
}

extension CommandContext {
    /// Records `n` changes to the keyspace (INFO's rdb_changes_since_last_save; save points).
    public mutating func dirty(_ n: Int = 1) {
        engine.stats.add(engine.stats.dirty, n)
        changes += n
    }

    /// Parses an expire argument as Redis's getExpireMillisecondsOrReply: an integer, positive,
    /// made absolute (ms) from `now` when `relative`. Replies and returns nil when invalid.
    mutating func expireMillis(_ i: Int, seconds: Bool, relative: Bool, command: String) -> Int64? {
        guard let v = integer(i) else { return nil }
        if v <= 0 || (seconds && v > Int.max / 1000) {
            error(Errors.invalidExpire(command))
            return nil
        }
        var ms = seconds ? v * 1000 : v
        if relative {
            if ms > Int.max - Int(now) {
                error(Errors.invalidExpire(command))
                return nil
            }
            ms += Int(now)
        }
        return Int64(ms)
    }
}

/// What a typed lookup found.
public enum Found {
    case missing(Shard)
    case found(Shard, Int)
    case wrongType
}

extension CommandContext {
    /// Looks up argument `i` expecting a value of type `kind` (lazy expiry applies).
    public func find(_ i: Int, _ kind: Value.Kind) -> Found {
        let s = shard(i)
        let hash = keyHash(i)
        guard let slot = args.withBytes(i, { s.find($0, hash: hash, now: lookupNow) }) else { return .missing(s) }
        guard s.kind(at: slot) == kind else { return .wrongType }
        s.touchAccess(slot: slot, now: now, policy: engine.accessPolicy)
        return .found(s, slot)
    }

    /// Deletes the key at `slot` when its collection became empty, as Redis does.
    public func dropIfEmpty(_ shard: Shard, _ slot: Int) {
        if shard.entry(at: slot).value.elementCount == 0 { shard.remove(slot: slot) }
    }

    /// A positive count argument, as Redis's getPositiveLongFromObjectOrReply.
    mutating func positiveCount(_ i: Int) -> Int? {
        guard let v = parseCanonicalInt(args[i]), v >= 0 else {
            error("ERR value is out of range, must be positive")
            return nil
        }
        return v
    }

    /// An integer argument within lo...hi, replying `message` (prefixed "ERR ") otherwise, as
    /// Redis's getRangeLongFromObjectOrReply: not an integer at all gets the same message.
    mutating func ranged(_ i: Int, _ lo: Int, _ hi: Int, _ message: String) -> Int? {
        guard let v = parseCanonicalInt(args[i]) else { error("ERR " + message); return nil }
        guard v >= lo && v <= hi else { error("ERR " + message); return nil }
        return v
    }

    // The types find(_:_:) is asked for, by the names the handlers use.
    public var isList: Value.Kind { .list }
    public var isHash: Value.Kind { .hash }
    public var isSet: Value.Kind { .set }
    public var isZSet: Value.Kind { .zset }
}

/// The arguments LMPOP, BLMPOP, ZMPOP and BZMPOP share: a timeout (blocking forms), numkeys,
/// the keys, a direction word and an optional COUNT.
struct MultiPopArguments {
    var timeoutMs: Int64 = 0
    var keys: [Int] = []
    var firstWord = true      // LEFT or MIN
    var count = 1
}

extension CommandContext {
    /// Parses `[timeout] numkeys key [key ...] <first | second> [COUNT count]` as Redis's
    /// lmpopGenericCommand / zmpopGenericCommand; replies and returns nil on error.
    mutating func multiPopArguments(blocking: Bool, first: StaticString, second: StaticString) -> MultiPopArguments? {
        var m = MultiPopArguments()
        let numkeysIndex = blocking ? 2 : 1
        if blocking {
            guard let t = blockingTimeout(1) else { return nil }
            m.timeoutMs = t
        }
        guard let numkeys = ranged(numkeysIndex, 1, Int.max, "numkeys should be greater than 0") else { return nil }
        guard numkeys < argc - numkeysIndex - 1 else { error(Errors.syntax); return nil }
        let whereIndex = numkeysIndex + numkeys + 1
        if args.matches(whereIndex, first) { m.firstWord = true }
        else if args.matches(whereIndex, second) { m.firstWord = false }
        else { error(Errors.syntax); return nil }
        var countGiven = false
        var j = whereIndex + 1
        while j < argc {
            guard !countGiven && args.matches(j, "count") && j + 1 < argc else { error(Errors.syntax); return nil }
            guard let n = ranged(j + 1, 1, Int.max, "count should be greater than 0") else { return nil }
            m.count = n
            countGiven = true
            j += 2
        }
        m.keys = Array((numkeysIndex + 1)...(numkeysIndex + numkeys))
        return m
    }

    /// Redis's rank-range rule (LRANGE, LTRIM, ZRANGE, ZREMRANGEBYRANK): negative indexes count
    /// from the end, the range is clipped to the length; nil when it is empty.
    static func rankRange(_ start: Int, _ end: Int, count n: Int) -> ClosedRange<Int>? {
        var s = start, e = end
        if s < 0 { s += n }
        if e < 0 { e += n }
        if s < 0 { s = 0 }
        if s > e || s >= n { return nil }
        if e >= n { e = n - 1 }
        return s...e
    }

    /// A HELP reply: one status line per entry.
    mutating func help(_ lines: [String]) {
        out.array(lines.count)
        for l in lines { out.simple(l) }
    }
}

/// What the pop family finds among its keys.
enum FirstFound {
    case found(arg: Int, shard: Shard, slot: Int)
    case none
    case replied
}

extension CommandContext {
    /// The first of `keys` holding a value of type `kind` (BLPOP, LMPOP, BZPOPMIN, ZMPOP ...).
    /// A key of another type is WRONGTYPE at once, except while serving a blocked client,
    /// where it only means that key is not ready.
    mutating func firstFound(_ keys: [Int], _ kind: Value.Kind) -> FirstFound {
        for i in keys {
            switch find(i, kind) {
            case .wrongType:
                if serving { continue }
                error(Errors.wrongType)
                return .replied
            case .missing: continue
            case .found(let shard, let slot): return .found(arg: i, shard: shard, slot: slot)
            }
        }
        return .none
    }
}

extension CommandContext {
    /// HDEL / SREM / ZREM key member [member ...]: removes each member from the collection at
    /// args[1], deletes the key once it is empty, sends `event` (and "del"), replies the count.
    mutating func removeMembers(_ kind: Value.Kind, _ type: NotifyClass, _ event: String,
                                _ remove: (inout Value, ArraySlice<UInt8>) -> Bool) {
        switch find(1, kind) {
        case .wrongType: error(Errors.wrongType)
        case .missing: out.integer(0)
        case .found(let shard, let slot):
            let args = self.args
            let n = shard.withEntry(at: slot) { e in
                (2..<args.count).reduce(0) { $0 + (remove(&e.value, args[$1]) ? 1 : 0) }
            }
            dropIfEmpty(shard, slot)
            dirty(n)
            if n > 0 { notify(type, event, 1); notifyIfDeleted(shard, 1) }
            out.integer(n)
        }
    }
}

extension CommandContext {
    /// Whether writes are recorded (AOF or replicas): handlers build their effects only then,
    /// so their hot paths pay nothing otherwise.
    @inline(__always) var propagating: Bool { engine.propagating }
}
