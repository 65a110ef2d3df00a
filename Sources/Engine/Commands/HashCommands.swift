import RESP
import Storage

/// The hash family.
enum HashCommands {
    static let specs: [CommandSpec] = [
        spec("hset", -4, [.write, .denyoom, .fast], "Creates or modifies the value of a field in a hash.", { hset(&$0, multi: false) }),
        spec("hmset", -4, [.write, .denyoom, .fast], "Sets the values of multiple fields.", { hset(&$0, multi: true) }),
        spec("hsetnx", 4, [.write, .denyoom, .fast], "Sets the value of a field in a hash only when the field doesn't exist.", hsetnx),
        spec("hget", 3, [.readonly, .fast], "Returns the value of a field in a hash.", hget),
        spec("hmget", -3, [.readonly, .fast], "Returns the values of all fields in a hash.", hmget),
        spec("hdel", -3, [.write, .fast], "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", hdel),
        spec("hlen", 2, [.readonly, .fast], "Returns the number of fields in a hash.", hlen),
        spec("hstrlen", 3, [.readonly, .fast], "Returns the length of the value of a field.", hstrlen),
        spec("hexists", 3, [.readonly, .fast], "Determines whether a field exists in a hash.", hexists),
        spec("hkeys", 2, [.readonly], "Returns all fields in a hash.", { hall(&$0, keys: true, values: false) }),
        spec("hvals", 2, [.readonly], "Returns all values in a hash.", { hall(&$0, keys: false, values: true) }),
        spec("hgetall", 2, [.readonly], "Returns all fields and values in a hash.", { hall(&$0, keys: true, values: true) }),
        spec("hincrby", 4, [.write, .denyoom, .fast], "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", hincrby),
        spec("hincrbyfloat", 4, [.write, .denyoom, .fast], "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", hincrbyfloat),
        spec("hrandfield", -2, [.readonly], "Returns one or more random fields from a hash.", hrandfield),
        spec("hscan", -3, [.readonly], "Iterates over fields and values of a hash.", hscan),
    ]

    static func spec(_ name: String, _ arity: Int, _ flags: CommandFlags, _ summary: String,
                     _ h: @escaping CommandHandler) -> CommandSpec {
        CommandSpec(name, arity: arity, flags: flags, keys: (1, 1, 1), group: "hash", summary: summary,
                    complexity: "O(1)", acl: ["hash"], handler: h)
    }

    static func limits(_ c: CommandContext) -> (Int, Int) {
        (c.engine.settings.hashMaxEntries.load(ordering: .relaxed), c.engine.settings.hashMaxValue.load(ordering: .relaxed))
    }

    static func hash(_ s: Shard, _ slot: Int) -> HashValue {
        if case .hash(let h) = s.entry(at: slot).value { return h }
        return HashValue()
    }

    /// The hash at args[1], created when missing; nil after WRONGTYPE.
    static func writable(_ c: inout CommandContext) -> (Shard, Int)? {
        switch c.find(1, c.isHash) {
        case .wrongType: c.error(Errors.wrongType); return nil
        case .missing(let s): return (s, s.set(c.args[1], .hash(HashValue()), access: c.newAccess))
        case .found(let s, let slot): return (s, slot)
        }
    }

    /// HSET key field value [field value ...] / HMSET key field value [field value ...]
    static func hset(_ c: inout CommandContext, multi: Bool) {
        guard c.argc % 2 == 0 else { c.error(Errors.arity(multi ? "hmset" : "hset")); return }
        guard let (s, slot) = writable(&c) else { return }
        let (maxEntries, maxValue) = limits(c)
        let args = c.args
        let added = s.withEntry(at: slot) { e in
            e.value.withHash { h in
                var n = 0
                for i in stride(from: 2, to: args.count, by: 2) where h.set(args[i], args[i + 1], maxEntries: maxEntries, maxValue: maxValue) {
                    n += 1
                }
                return n
            } ?? 0
        }
        c.dirty((c.argc - 2) / 2)
        c.notify(.hash, "hset", 1)
        if multi { c.ok() } else { c.out.integer(added) }
    }

    /// HSETNX key field value
    static func hsetnx(_ c: inout CommandContext) {
        if case .found(let s, let slot) = c.find(1, c.isHash), hash(s, slot).contains(c.args[2]) {
            c.out.integer(0)
            return
        }
        guard let (s, slot) = writable(&c) else { return }
        let (maxEntries, maxValue) = limits(c)
        let f = c.args.owned(2), v = c.args.owned(3)
        s.withEntry(at: slot) { e in _ = e.value.withHash { $0.set(f, v, maxEntries: maxEntries, maxValue: maxValue) } }
        c.dirty()
        c.notify(.hash, "hset", 1)
        c.out.integer(1)
    }

    /// HGET key field
    static func hget(_ c: inout CommandContext) {
        switch c.find(1, c.isHash) {
        case .wrongType: c.error(Errors.wrongType)
        case .missing: c.out.null()
        case .found(let s, let slot):
            if let v = hash(s, slot).get(c.args[2]) { c.out.bulk(v) } else { c.out.null() }
        }
    }

    /// HMGET key field [field ...]
    static func hmget(_ c: inout CommandContext) {
        var h = HashValue()
        switch c.find(1, c.isHash) {
        case .wrongType: c.error(Errors.wrongType); return
        case .missing: break
        case .found(let s, let slot): h = hash(s, slot)
        }
        c.out.array(c.argc - 2)
        for i in 2..<c.argc {
            if let v = h.get(c.args[i]) { c.out.bulk(v) } else { c.out.null() }
        }
    }

    /// HDEL key field [field ...]
    static func hdel(_ c: inout CommandContext) {
        c.removeMembers(c.isHash, .hash, "hdel") { v, m in v.withHash { $0.remove(m) } ?? false }
    }

    /// HLEN key
    static func hlen(_ c: inout CommandContext) {
        switch c.find(1, c.isHash) {
        case .wrongType: c.error(Errors.wrongType)
        case .missing: c.out.integer(0)
        case .found(let s, let slot): c.out.integer(hash(s, slot).count)
        }
    }

    /// HSTRLEN key field
    static func hstrlen(_ c: inout CommandContext) {
        switch c.find(1, c.isHash) {
        case .wrongType: c.error(Errors.wrongType)
        case .missing: c.out.integer(0)
        case .found(let s, let slot): c.out.integer(hash(s, slot).get(c.args[2])?.count ?? 0)
        }
    }

    /// HEXISTS key field
    static func hexists(_ c: inout CommandContext) {
        switch c.find(1, c.isHash) {
        case .wrongType: c.error(Errors.wrongType)
        case .missing: c.out.integer(0)
        case .found(let s, let slot): c.out.integer(hash(s, slot).contains(c.args[2]) ? 1 : 0)
        }
    }

    /// HKEYS key / HVALS key / HGETALL key
    static func hall(_ c: inout CommandContext, keys: Bool, values: Bool) {
        switch c.find(1, c.isHash) {
        case .wrongType: c.error(Errors.wrongType)
        case .missing: if keys && values { c.out.map(0) } else { c.out.array(0) }
        case .found(let s, let slot):
            let pairs = hash(s, slot).pairs
            if keys && values { c.out.map(pairs.count) } else { c.out.array(pairs.count) }
            for (f, v) in pairs {
                if keys { c.out.bulk(f) }
                if values { c.out.bulk(v) }
            }
        }
    }

    /// HINCRBY key field increment
    static func hincrby(_ c: inout CommandContext) {
        guard let by = c.integer(3) else { return }
        guard let (s, slot) = writable(&c) else { return }
        var current = 0
        if let v = hash(s, slot).get(c.args[2]) {
            guard let n = parseCanonicalInt(v) else {
                c.dropIfEmpty(s, slot)
                c.error("ERR hash value is not an integer")
                return
            }
            current = n
        }
        let (r, overflow) = current.addingReportingOverflow(by)
        if overflow {
            c.dropIfEmpty(s, slot)
            c.error(Errors.overflow)
            return
        }
        let (maxEntries, maxValue) = limits(c)
        let f = c.args.owned(2)
        s.withEntry(at: slot) { e in _ = e.value.withHash { $0.set(f, Array(String(r).utf8), maxEntries: maxEntries, maxValue: maxValue) } }
        c.dirty()
        c.notify(.hash, "hincrby", 1)
        c.out.integer(r)
    }

    /// HINCRBYFLOAT key field increment
    static func hincrbyfloat(_ c: inout CommandContext) {
        guard let by = StringCommands.parseLongDouble(c.args[3]) else { c.error(Errors.notFloat); return }
        guard by.isFinite else { c.error("ERR value is NaN or Infinity"); return }
        guard let (s, slot) = writable(&c) else { return }
        var current: Float80 = 0
        if let v = hash(s, slot).get(c.args[2]) {
            guard let n = StringCommands.parseLongDouble(v) else {
                c.dropIfEmpty(s, slot)
                c.error("ERR hash value is not a float")
                return
            }
            current = n
        }
        let r = current + by
        guard r.isFinite else {
            c.dropIfEmpty(s, slot)
            c.error("ERR increment would produce NaN or Infinity")
            return
        }
        let text = StringCommands.formatLongDouble(r)
        let (maxEntries, maxValue) = limits(c)
        let f = c.args.owned(2)
        s.withEntry(at: slot) { e in _ = e.value.withHash { $0.set(f, text, maxEntries: maxEntries, maxValue: maxValue) } }
        c.dirty()
        if c.propagating { c.propagateInstead([Verb.hset, c.args.owned(1), f, text]) }
        c.notify(.hash, "hincrbyfloat", 1)
        c.out.bulk(text)
    }

    /// HRANDFIELD key [count [WITHVALUES]]
    static func hrandfield(_ c: inout CommandContext) {
        var count: Int? = nil
        var withValues = false
        if c.argc >= 3 {
            guard let n = c.integer(2) else { return }
            guard n >= -Int.max / 2 && n <= Int.max / 2 else { c.error("ERR value is out of range"); return }
            count = n
            if c.argc == 4 && c.args.matches(3, "withvalues") { withValues = true }
            else if c.argc > 3 { c.error(Errors.syntax); return }
        }
        var rng = RandomSource()
        switch c.find(1, c.isHash) {
        case .wrongType: c.error(Errors.wrongType)
        case .missing:
            if count == nil { c.out.null() } else { c.out.array(0) }
        case .found(let s, let slot):
            let h = hash(s, slot)
            guard let n = count else { c.out.bulk(h.randomPair(using: &rng)!.0); return }
            let all = h.pairs
            let total = n >= 0 ? min(n, all.count) : -n
            let pairs = withValues && c.out.resp3
            c.out.array(pairs ? total : total * (withValues ? 2 : 1))
            randomPicks(all, n, &rng) { f, v in
                if pairs { c.out.array(2) }
                c.out.bulk(f)
                if withValues { c.out.bulk(v) }
            }
        }
    }

    /// Redis's count rules for HRANDFIELD / SRANDMEMBER / ZRANDMEMBER: a positive count gives
    /// distinct elements (all of them when it exceeds the size), a negative one may repeat.
    /// Picks are streamed, not collected: a large negative count must not build a huge array.
    static func randomPicks<T, G: RandomNumberGenerator>(_ all: [T], _ count: Int, _ rng: inout G,
                                                          _ visit: (T) -> Void) {
        if count >= 0 {
            if count >= all.count { all.forEach(visit); return }
            all.shuffled(using: &rng).prefix(count).forEach(visit)
            return
        }
        for _ in 0..<(-count) { visit(all[Int.random(in: 0..<all.count, using: &rng)]) }
    }

    /// HSCAN key cursor [MATCH pattern] [COUNT count]
    static func hscan(_ c: inout CommandContext) {
        // Redis's order: the cursor, then the key, then the options.
        guard let cursor = KeyCommands.parseCursor(&c, 2) else { return }
        switch c.find(1, c.isHash) {
        case .wrongType: c.error(Errors.wrongType)
        case .missing: c.out.array(2); c.out.bulk("0"); c.out.array(0)
        case .found(let s, let slot):
            guard let opts = ScanOptions.parse(&c, from: 3, allowType: false) else { return }
            let h = hash(s, slot)
            var items: [[UInt8]] = []
            var cur = cursor
            var visits = 0
            repeat {
                cur = h.scan(cursor: cur) { f, v in
                    if opts.matches(f) { items.append(f); items.append(v) }
                }
                visits += 1
            } while cur != 0 && items.count / 2 < opts.count && visits < opts.count * 10
            c.out.array(2)
            c.out.bulk(String(cur))
            c.out.array(items.count)
            for i in items { c.out.bulk(i) }
        }
    }
}

/// MATCH / COUNT (/ TYPE) options of the SCAN family.
struct ScanOptions {
    var count = 10
    var pattern: [UInt8]? = nil
    var type: String? = nil

    func matches(_ item: [UInt8]) -> Bool {
        guard let pattern else { return true }
        return globMatch(pattern, item)
    }

    static func parse(_ c: inout CommandContext, from start: Int, allowType: Bool) -> ScanOptions? {
        var o = ScanOptions()
        var j = start
        while j < c.argc {
            let more = c.argc - j - 1
            if c.args.matches(j, "count") && more >= 1 {
                guard let n = c.integer(j + 1) else { return nil }
                guard n >= 1 else { c.error(Errors.syntax); return nil }
                o.count = min(n, Int.max / 16)   // the scan loops multiply it
            } else if c.args.matches(j, "match") && more >= 1 {
                let p = c.args.owned(j + 1)
                o.pattern = p == [UInt8(ascii: "*")] ? nil : p
            } else if allowType && c.args.matches(j, "type") && more >= 1 {
                o.type = c.args.string(j + 1).lowercased()
            } else {
                c.error(Errors.syntax)
                return nil
            }
            j += 2
        }
        return o
    }
}
