import Persistence
import RESP
import Storage

/// DUMP and RESTORE: a value in Redis's RDB serialization, with its version and CRC-64, so
/// that values move between Larder and redis-server both ways.
enum DumpCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("dump", arity: 2, flags: [.readonly], keys: (1, 1, 1), group: "generic",
                    summary: "Returns a serialized representation of the value stored at a key.",
                    complexity: "O(1) to access the key and additional O(N*M) to serialize it", handler: dump),
        CommandSpec("restore", arity: -4, flags: [.write, .denyoom], keys: (1, 1, 1), group: "generic",
                    summary: "Creates a key from the serialized representation of a value.",
                    complexity: "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value",
                    acl: ["dangerous"], handler: restore),
    ]

    /// The thresholds a loaded value is encoded by, from the configuration.
    static func limits(_ engine: Engine) -> EncodingLimits {
        var l = EncodingLimits()
        l.hashMaxEntries = engine.settings.hashMaxEntries.load(ordering: .relaxed)
        l.hashMaxValue = engine.settings.hashMaxValue.load(ordering: .relaxed)
        l.setMaxIntsetEntries = engine.settings.intsetMaxEntries.load(ordering: .relaxed)
        l.zsetMaxEntries = engine.settings.zsetMaxEntries.load(ordering: .relaxed)
        l.zsetMaxValue = engine.settings.zsetMaxValue.load(ordering: .relaxed)
        return l
    }

    /// DUMP key
    static func dump(_ c: inout CommandContext) {
        let (shard, slot) = c.lookupRead(1)
        guard let slot else {
            c.out.null()
            return
        }
        c.out.bulk(DumpPayload.make(shard.entry(at: slot).value, compress: c.engine.config.bool("rdbcompression")))
    }

    /// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]
    static func restore(_ c: inout CommandContext) {
        var replace = false, absTTL = false
        var idle: Int? = nil, freq: Int? = nil
        var j = 4
        while j < c.argc {
            let more = c.argc - j - 1
            if c.args.matches(j, "replace") {
                replace = true
            } else if c.args.matches(j, "absttl") {
                absTTL = true
            } else if c.args.matches(j, "idletime") && more >= 1 && freq == nil {
                guard let v = c.integer(j + 1) else { return }
                guard v >= 0 else { c.error("ERR Invalid IDLETIME value, must be >= 0"); return }
                idle = v
                j += 1
            } else if c.args.matches(j, "freq") && more >= 1 && idle == nil {
                guard let v = c.integer(j + 1) else { return }
                guard v >= 0 && v <= 255 else { c.error("ERR Invalid FREQ value, must be >= 0 and <= 255"); return }
                freq = v
                j += 1
            } else {
                c.error(Errors.syntax)
                return
            }
            j += 1
        }
        let shard = c.shard(1)
        if !replace && shard.find(c.args[1], now: c.lookupNow) != nil {
            c.error("BUSYKEY Target key name already exists.")
            return
        }
        guard var ttl = c.integer(2) else { return }
        guard ttl >= 0 else { c.error("ERR Invalid TTL value, must be >= 0"); return }
        let payload = Array(c.args[3])
        guard DumpPayload.verify(payload) else {
            c.error("ERR DUMP payload version or checksum are wrong")
            return
        }
        guard let value = try? DumpPayload.value(payload, limits: limits(c.engine)) else {
            c.error("ERR Bad data format")
            return
        }
        var deleted = false
        if replace, let slot = shard.find(c.args[1], now: c.lookupNow) {
            shard.remove(slot: slot)
            deleted = true
        }
        if ttl > 0 && !absTTL {
            let (sum, overflow) = ttl.addingReportingOverflow(Int(c.now))
            ttl = overflow ? Int.max : sum
        }
        if ttl > 0 && ttl <= Int(c.now) {
            if deleted {
                c.notify(.generic, "del", 1)
                c.dirty()
                if c.propagating { c.propagateInstead([Verb.del, c.args.owned(1)]) }
            }
            c.ok()
            return
        }
        let slot = shard.set(c.args[1], value, expireAt: Int64(ttl), access: access(c, idle: idle, freq: freq))
        _ = slot
        c.notify(.generic, "restore", 1)
        c.dirty()
        // A relative TTL made absolute, as Redis 7.0: the time in its place and ABSTTL added.
        if c.propagating && ttl > 0 && !absTTL {
            var words = (0..<c.argc).map { c.args.owned($0) }
            words[2] = Verb.number(ttl)
            words.append(Verb.absttl)
            c.propagateInstead(words)
        }
        c.ok()
    }

    /// The access field for IDLETIME (LRU policies) or FREQ (LFU), as objectSetLRUOrLFU.
    static func access(_ c: CommandContext, idle: Int?, freq: Int?) -> UInt32 {
        let policy = c.engine.accessPolicy
        if policy.lfu, let freq {
            return (AccessPolicy.minutes(c.now) << 8) | UInt32(freq)
        }
        if !policy.lfu, let idle {
            let clock = Int(lruClock(c.now))
            let max = Int(lruClockMax) + 1
            return UInt32(((clock - min(idle, max - 1)) % max + max) % max)
        }
        return c.newAccess
    }
}
