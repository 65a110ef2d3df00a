import RESP
import Storage

/// The set family.
enum SetCommands {
    static let specs: [CommandSpec] = [
        spec("sadd", -3, [.write, .denyoom, .fast], (1, 1, 1), "Adds one or more members to a set. Creates the key if it doesn't exist.", sadd),
        spec("srem", -3, [.write, .fast], (1, 1, 1), "Removes one or more members from a set. Deletes the set if the last member was removed.", srem),
        spec("smembers", 2, [.readonly], (1, 1, 1), "Returns all members of a set.", smembers),
        spec("sismember", 3, [.readonly, .fast], (1, 1, 1), "Determines whether a member belongs to a set.", sismember),
        spec("smismember", -3, [.readonly, .fast], (1, 1, 1), "Determines whether multiple members belong to a set.", smismember),
        spec("scard", 2, [.readonly, .fast], (1, 1, 1), "Returns the number of members in a set.", scard),
        spec("spop", -2, [.write, .fast], (1, 1, 1), "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", spop),
        spec("srandmember", -2, [.readonly], (1, 1, 1), "Get one or multiple random members from a set", srandmember),
        spec("smove", 4, [.write, .fast], (1, 2, 1), "Moves a member from one set to another.", smove),
        spec("sinter", -2, [.readonly], (1, -1, 1), "Returns the intersect of multiple sets.", { algebra(&$0, .inter, store: false) }),
        spec("sinterstore", -3, [.write, .denyoom], (1, -1, 1), "Stores the intersect of multiple sets in a key.", { algebra(&$0, .inter, store: true) }),
        spec("sunion", -2, [.readonly], (1, -1, 1), "Returns the union of multiple sets.", { algebra(&$0, .union, store: false) }),
        spec("sunionstore", -3, [.write, .denyoom], (1, -1, 1), "Stores the union of multiple sets in a key.", { algebra(&$0, .union, store: true) }),
        spec("sdiff", -2, [.readonly], (1, -1, 1), "Returns the difference of multiple sets.", { algebra(&$0, .diff, store: false) }),
        spec("sdiffstore", -3, [.write, .denyoom], (1, -1, 1), "Stores the difference of multiple sets in a key.", { algebra(&$0, .diff, store: true) }),
        spec("sintercard", -3, [.readonly], (1, 1, 1), "Returns the number of members of the intersect of multiple sets.", sintercard, keyFinder: { CommandSpec.keysAfterCount(1, $0) }),
        spec("sscan", -3, [.readonly], (1, 1, 1), "Iterates over members of a set.", sscan),
    ]

    static func spec(_ name: String, _ arity: Int, _ flags: CommandFlags, _ keys: (Int, Int, Int), _ summary: String,
                     _ h: @escaping CommandHandler,
                     keyFinder: (@Sendable (CommandArguments) -> [Int])? = nil) -> CommandSpec {
        var f = flags
        if keyFinder != nil { f.insert(.movableKeys) }
        return CommandSpec(name, arity: arity, flags: f, keys: keys, group: "set", summary: summary,
                           complexity: "O(N)", acl: ["set"], keyFinder: keyFinder, handler: h)
    }

    static func set(_ s: Shard, _ slot: Int) -> SetValue {
        if case .set(let v) = s.entry(at: slot).value { return v }
        return SetValue()
    }

    /// The set at args[i] (empty when missing), or nil after WRONGTYPE.
    static func read(_ c: inout CommandContext, _ i: Int) -> SetValue? {
        switch c.find(i, c.isSet) {
        case .wrongType: c.error(Errors.wrongType); return nil
        case .missing: return SetValue()
        case .found(let s, let slot): return set(s, slot)
        }
    }

    /// SADD key member [member ...]
    static func sadd(_ c: inout CommandContext) {
        let shard: Shard, slot: Int
        switch c.find(1, c.isSet) {
        case .wrongType: c.error(Errors.wrongType); return
        case .missing(let s): shard = s; slot = s.set(c.args[1], .set(SetValue()), access: c.newAccess)
        case .found(let s, let sl): shard = s; slot = sl
        }
        let limit = c.engine.settings.intsetMaxEntries.load(ordering: .relaxed)
        let args = c.args
        let added = shard.withEntry(at: slot) { e in
            e.value.withSet { s in (2..<args.count).reduce(0) { $0 + (s.add(args[$1], maxIntsetEntries: limit) ? 1 : 0) } } ?? 0
        }
        c.dirty(added)
        if added > 0 { c.notify(.set, "sadd", 1) }
        c.out.integer(added)
    }

    /// SREM key member [member ...]
    static func srem(_ c: inout CommandContext) {
        c.removeMembers(c.isSet, .set, "srem") { v, m in v.withSet { $0.remove(m) } ?? false }
    }

    static func replySet(_ c: inout CommandContext, _ members: [[UInt8]]) {
        c.out.set(members.count)
        for m in members { c.out.bulk(m) }
    }

    /// SMEMBERS key
    static func smembers(_ c: inout CommandContext) {
        guard let s = read(&c, 1) else { return }
        replySet(&c, s.members)
    }

    /// SISMEMBER key member
    static func sismember(_ c: inout CommandContext) {
        guard let s = read(&c, 1) else { return }
        c.out.integer(s.contains(c.args[2]) ? 1 : 0)
    }

    /// SMISMEMBER key member [member ...]
    static func smismember(_ c: inout CommandContext) {
        guard let s = read(&c, 1) else { return }
        c.out.array(c.argc - 2)
        for i in 2..<c.argc { c.out.integer(s.contains(c.args[i]) ? 1 : 0) }
    }

    /// SCARD key
    static func scard(_ c: inout CommandContext) {
        guard let s = read(&c, 1) else { return }
        c.out.integer(s.count)
    }

    /// SPOP key [count]
    static func spop(_ c: inout CommandContext) {
        if c.argc > 3 { c.error(Errors.syntax); return }
        var count: Int? = nil
        if c.argc == 3 {
            guard let n = c.positiveCount(2) else { return }
            count = n
        }
        var rng = RandomSource()
        switch c.find(1, c.isSet) {
        case .wrongType: c.error(Errors.wrongType)
        case .missing:
            if count == nil { c.out.null() } else { c.out.set(0) }
        case .found(let shard, let slot):
            let n = count ?? 1
            let taken: [[UInt8]] = shard.withEntry(at: slot) { e in
                e.value.withSet { s -> [[UInt8]] in
                    var out: [[UInt8]] = []
                    if n >= s.count {
                        out = s.members
                        s = SetValue()
                        return out
                    }
                    for _ in 0..<n {
                        let m = s.randomMember(using: &rng)!
                        s.remove(m[...])
                        out.append(m)
                    }
                    return out
                } ?? []
            }
            let emptied = shard.entry(at: slot).value.elementCount == 0
            c.dropIfEmpty(shard, slot)
            c.dirty(taken.count)
            // Which members went was chance: replicas get them by name, as Redis 7.0 sends
            // them: SREM of the one member, DEL when a count took the whole set, else one SREM
            // a member (several effects: inside MULTI/EXEC).
            if !taken.isEmpty && c.propagating {
                if count != nil && emptied {
                    if c.propagating { c.propagateInstead([Verb.del, c.args.owned(1)]) }
                } else {
                    for m in taken { c.alsoPropagate([Verb.srem, c.args.owned(1), m]) }
                }
            }
            if !taken.isEmpty { c.notify(.set, "spop", 1); c.notifyIfDeleted(shard, 1) }
            if count == nil {
                c.out.bulk(taken[0])
            } else {
                replySet(&c, taken)
            }
        }
    }

    /// SRANDMEMBER key [count]
    static func srandmember(_ c: inout CommandContext) {
        if c.argc > 3 { c.error(Errors.syntax); return }
        var count: Int? = nil
        if c.argc == 3 {
            guard let n = c.integer(2) else { return }
            guard n >= -Int.max / 2 && n <= Int.max / 2 else { c.error("ERR value is out of range"); return }
            count = n
        }
        var rng = RandomSource()
        switch c.find(1, c.isSet) {
        case .wrongType: c.error(Errors.wrongType)
        case .missing:
            if count == nil { c.out.null() } else { c.out.array(0) }
        case .found(let shard, let slot):
            let s = set(shard, slot)
            guard let n = count else { c.out.bulk(s.randomMember(using: &rng)!); return }
            let all = s.members
            c.out.array(n >= 0 ? min(n, all.count) : -n)
            HashCommands.randomPicks(all, n, &rng) { c.out.bulk($0) }
        }
    }

    /// SMOVE source destination member
    static func smove(_ c: inout CommandContext) {
        let src = c.find(1, c.isSet), dst = c.find(2, c.isSet)
        if case .missing = src { c.out.integer(0); return }
        if case .wrongType = src { c.error(Errors.wrongType); return }
        if case .wrongType = dst { c.error(Errors.wrongType); return }
        guard case .found(let sShard, let sSlot) = src else { c.out.integer(0); return }
        let member = c.args[3]
        if c.args[1] == c.args[2] {
            c.out.integer(set(sShard, sSlot).contains(member) ? 1 : 0)
            return
        }
        let removed = sShard.withEntry(at: sSlot) { e in e.value.withSet { $0.remove(member) } ?? false }
        guard removed else { c.out.integer(0); return }
        c.dropIfEmpty(sShard, sSlot)
        let dShard = c.shard(2)
        let dSlot = dShard.findOrCreate(c.args[2], now: c.lookupNow, access: c.newAccess) { .set(SetValue()) }
        let limit = c.engine.settings.intsetMaxEntries.load(ordering: .relaxed)
        let added = dShard.withEntry(at: dSlot) { e in e.value.withSet { $0.add(member, maxIntsetEntries: limit) } ?? false }
        // As Redis: a change for the removal and one for the addition, and the destination's
        // event only when the member was not there already.
        c.dirty(added ? 2 : 1)
        c.notify(.set, "srem", 1)
        c.notifyIfDeleted(sShard, 1)
        if added { c.notify(.set, "sadd", 2) }
        c.out.integer(1)
    }

    enum Op { case inter, union, diff }

    /// The members of op over the sets at `indexes`; nil after WRONGTYPE.
    static func compute(_ c: inout CommandContext, _ op: Op, _ indexes: [Int]) -> [[UInt8]]? {
        var sets: [SetValue] = []
        for i in indexes {
            guard let s = read(&c, i) else { return nil }
            sets.append(s)
        }
        switch op {
        case .inter:
            guard let smallest = sets.min(by: { $0.count < $1.count }), smallest.count > 0 else { return [] }
            return smallest.members.filter { m in sets.allSatisfy { $0.contains(m[...]) } }
        case .union:
            var seen = ByteTable<Bool>(vacant: false)
            var out: [[UInt8]] = []
            for s in sets { for m in s.members where seen.set(m, true) { out.append(m) } }
            return out
        case .diff:
            guard let first = sets.first else { return [] }
            return first.members.filter { m in !sets.dropFirst().contains { $0.contains(m[...]) } }
        }
    }

    /// SINTER / SUNION / SDIFF key [key ...] and their STORE forms destination key [key ...]
    static func algebra(_ c: inout CommandContext, _ op: Op, store: Bool) {
        let first = store ? 2 : 1
        guard let members = compute(&c, op, Array(first..<c.argc)) else { return }
        guard store else { replySet(&c, members); return }
        let dst = c.shard(1)
        let existed = dst.delete(c.args[1], now: c.lookupNow)
        if !members.isEmpty {
            var s = SetValue()
            let limit = c.engine.settings.intsetMaxEntries.load(ordering: .relaxed)
            for m in members { s.add(m[...], maxIntsetEntries: limit) }
            dst.set(c.args[1], .set(s), access: c.newAccess)
            c.notify(.set, op == .inter ? "sinterstore" : op == .union ? "sunionstore" : "sdiffstore", 1)
        } else if existed {
            c.notify(.generic, "del", 1)
        }
        // An empty result over a missing destination changed nothing (Redis: no dirty).
        if !members.isEmpty || existed { c.dirty() }
        c.out.integer(members.count)
    }

    /// SINTERCARD numkeys key [key ...] [LIMIT limit]
    static func sintercard(_ c: inout CommandContext) {
        guard let numkeys = c.ranged(1, 1, Int.max, "numkeys should be greater than 0") else { return }
        guard numkeys <= c.argc - 2 else { c.error("ERR Number of keys can't be greater than number of args"); return }
        var limit = 0
        var j = 2 + numkeys
        while j < c.argc {
            if c.args.matches(j, "limit") && j + 1 < c.argc {
                // As Redis's getRangeLongFromObjectOrReply: one message for a bad number too.
                guard let n = c.integer(j + 1, error: "ERR LIMIT can't be negative") else { return }
                guard n >= 0 else { c.error("ERR LIMIT can't be negative"); return }
                limit = n
                j += 2
            } else {
                c.error(Errors.syntax)
                return
            }
        }
        guard let members = compute(&c, .inter, Array(2..<(2 + numkeys))) else { return }
        c.out.integer(limit > 0 ? min(limit, members.count) : members.count)
    }

    /// SSCAN key cursor [MATCH pattern] [COUNT count]
    static func sscan(_ c: inout CommandContext) {
        guard let cursor = KeyCommands.parseCursor(&c, 2) else { return }
        switch c.find(1, c.isSet) {
        case .wrongType: c.error(Errors.wrongType)
        case .missing: c.out.array(2); c.out.bulk("0"); c.out.array(0)
        case .found(let shard, let slot):
            guard let opts = ScanOptions.parse(&c, from: 3, allowType: false) else { return }
            let s = set(shard, slot)
            var items: [[UInt8]] = []
            var cur = cursor
            var visits = 0
            repeat {
                cur = s.scan(cursor: cur) { if opts.matches($0) { items.append($0) } }
                visits += 1
            } while cur != 0 && items.count < opts.count && visits < opts.count * 10
            c.out.array(2)
            c.out.bulk(String(cur))
            c.out.array(items.count)
            for i in items { c.out.bulk(i) }
        }
    }
}
