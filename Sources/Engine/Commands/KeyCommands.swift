import RESP
import Storage

/// Generic key commands: deletion, existence, TTLs, renames, iteration and databases.
enum KeyCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("del", arity: -2, flags: [.write], keys: (1, -1, 1), group: "generic",
                    summary: "Deletes one or more keys.", complexity: "O(N)", handler: del),
        CommandSpec("unlink", arity: -2, flags: [.write, .fast], keys: (1, -1, 1), group: "generic",
                    summary: "Asynchronously deletes one or more keys.", complexity: "O(1) for each key removed",
                    handler: del),
        CommandSpec("exists", arity: -2, flags: [.readonly, .fast], keys: (1, -1, 1), group: "generic",
                    summary: "Determines whether one or more keys exist.", complexity: "O(N)", handler: exists),
        CommandSpec("touch", arity: -2, flags: [.readonly, .fast], keys: (1, -1, 1), group: "generic",
                    summary: "Returns the number of existing keys out of those specified after updating the time they were last accessed.",
                    complexity: "O(N)", handler: touch),
        CommandSpec("type", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "generic",
                    summary: "Determines the type of value stored at a key.", handler: type),
        CommandSpec("expire", arity: -3, flags: [.write, .fast], keys: (1, 1, 1), group: "generic",
                    summary: "Sets the expiration time of a key in seconds.",
                    handler: { expire(&$0, seconds: true, absolute: false, name: "expire") }),
        CommandSpec("pexpire", arity: -3, flags: [.write, .fast], keys: (1, 1, 1), group: "generic",
                    summary: "Sets the expiration time of a key in milliseconds.",
                    handler: { expire(&$0, seconds: false, absolute: false, name: "pexpire") }),
        CommandSpec("expireat", arity: -3, flags: [.write, .fast], keys: (1, 1, 1), group: "generic",
                    summary: "Sets the expiration time of a key to a Unix timestamp.",
                    handler: { expire(&$0, seconds: true, absolute: true, name: "expireat") }),
        CommandSpec("pexpireat", arity: -3, flags: [.write, .fast], keys: (1, 1, 1), group: "generic",
                    summary: "Sets the expiration time of a key to a Unix milliseconds timestamp.",
                    handler: { expire(&$0, seconds: false, absolute: true, name: "pexpireat") }),
        CommandSpec("ttl", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "generic",
                    summary: "Returns the expiration time in seconds of a key.", handler: { ttl(&$0, ms: false, absolute: false) }),
        CommandSpec("pttl", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "generic",
                    summary: "Returns the expiration time in milliseconds of a key.", handler: { ttl(&$0, ms: true, absolute: false) }),
        CommandSpec("expiretime", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "generic",
                    summary: "Returns the expiration time of a key as a Unix timestamp.",
                    handler: { ttl(&$0, ms: false, absolute: true) }),
        CommandSpec("pexpiretime", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "generic",
                    summary: "Returns the expiration time of a key as a Unix milliseconds timestamp.",
                    handler: { ttl(&$0, ms: true, absolute: true) }),
        CommandSpec("persist", arity: 2, flags: [.write, .fast], keys: (1, 1, 1), group: "generic",
                    summary: "Removes the expiration time of a key.", handler: persist),
        CommandSpec("rename", arity: 3, flags: [.write], keys: (1, 2, 1), group: "generic",
                    summary: "Renames a key and overwrites the destination.", handler: { rename(&$0, nx: false) }),
        CommandSpec("renamenx", arity: 3, flags: [.write, .fast], keys: (1, 2, 1), group: "generic",
                    summary: "Renames a key only when the target key name doesn't exist.", handler: { rename(&$0, nx: true) }),
        CommandSpec("keys", arity: 2, flags: [.readonly], scope: .database, group: "generic",
                    summary: "Returns all key names that match a pattern.", complexity: "O(N)", acl: ["dangerous"], handler: keys),
        CommandSpec("scan", arity: -2, flags: [.readonly], scope: .database, group: "generic",
                    summary: "Iterates over the key names in the database.", complexity: "O(1) for every call. O(N) for a complete iteration.",
                    handler: scan),
        CommandSpec("randomkey", arity: 1, flags: [.readonly], scope: .database, group: "generic",
                    summary: "Returns a random key name from the database.", handler: randomkey),
        CommandSpec("dbsize", arity: 1, flags: [.readonly, .fast], scope: .database, group: "server",
                    summary: "Returns the number of keys in the database.", acl: ["keyspace"], handler: dbsize),
        CommandSpec("flushdb", arity: -1, flags: [.write, .invalidatesAll], scope: .database, group: "server",
                    summary: "Remove all keys from the current database.", complexity: "O(N)", acl: ["keyspace", "dangerous"], handler: { flush(&$0, all: false) }),
        CommandSpec("flushall", arity: -1, flags: [.write, .invalidatesAll], scope: .all, group: "server",
                    summary: "Removes all keys from all databases.", complexity: "O(N)", acl: ["keyspace", "dangerous"], handler: { flush(&$0, all: true) }),
        CommandSpec("select", arity: 2, flags: [.loading, .stale, .fast], group: "connection",
                    summary: "Changes the selected database.", handler: select),
        CommandSpec("swapdb", arity: 3, flags: [.write, .fast, .invalidatesAll], scope: .all, group: "server",
                    summary: "Swaps two Redis databases.", complexity: "O(N)", acl: ["keyspace", "dangerous"], handler: swapdb),
        CommandSpec("move", arity: 3, flags: [.write, .fast], keys: (1, 1, 1), scope: .all, group: "generic",
                    summary: "Moves a key to another database.", handler: move),
        CommandSpec("copy", arity: -3, flags: [.write, .denyoom], keys: (1, 2, 1), scope: .all, group: "generic", summary: "Copies the value of a key to a new key.", complexity: "O(N)", handler: copy),
        CommandSpec("object", arity: -2, flags: [], group: "generic",
                    summary: "A container for object introspection commands.", complexity: "Depends on subcommand.",
                    subcommands: [
                        CommandSpec("object|encoding", arity: 3, flags: [.readonly], keys: (2, 2, 1), group: "generic",
                                    summary: "Returns the internal encoding of a Redis object.", handler: { object(&$0, .encoding) }),
                        CommandSpec("object|idletime", arity: 3, flags: [.readonly], keys: (2, 2, 1), group: "generic",
                                    summary: "Returns the time since the last access to a Redis object.", handler: { object(&$0, .idletime) }),
                        CommandSpec("object|freq", arity: 3, flags: [.readonly], keys: (2, 2, 1), group: "generic",
                                    summary: "Returns the logarithmic access frequency counter of a Redis object.", handler: { object(&$0, .freq) }),
                        CommandSpec("object|refcount", arity: 3, flags: [.readonly], keys: (2, 2, 1), group: "generic",
                                    summary: "Returns the reference count of a value of a key.", handler: { object(&$0, .refcount) }),
                        CommandSpec("object|help", arity: 2, flags: [.loading, .stale], group: "generic",
                                    summary: "Returns helpful text about the different subcommands.", handler: { object(&$0, .help) }),
                    ], handler: nil),
    ]

    /// DEL key [key ...] / UNLINK key [key ...]
    static func del(_ c: inout CommandContext) {
        let lazy = c.args.matches(0, "unlink") || c.engine.config.bool("lazyfree-lazy-user-del")
        var n = 0
        for i in 1..<c.argc {
            let shard = c.shard(i)
            guard let slot = shard.find(c.args[i], now: c.lookupNow) else { continue }
            let e = shard.remove(slot: slot)
            if lazy { c.engine.freeLazily(e.value) }
            n += 1
            c.notify(.generic, "del", i)
        }
        c.dirty(n)
        c.out.integer(n)
    }

    /// EXISTS key [key ...]
    static func exists(_ c: inout CommandContext) {
        var n = 0
        for i in 1..<c.argc where c.lookupNoTouch(i).1 != nil { n += 1 }
        c.out.integer(n)
    }

    /// TOUCH key [key ...]
    static func touch(_ c: inout CommandContext) {
        var n = 0
        for i in 1..<c.argc where c.lookupRead(i).1 != nil { n += 1 }
        c.out.integer(n)
    }

    /// TYPE key
    static func type(_ c: inout CommandContext) {
        let (shard, found) = c.lookupNoTouch(1)
        guard let slot = found else { c.out.simple("none"); return }
        c.out.simple(shard.entry(at: slot).value.typeName)
    }

    /// EXPIRE key seconds [NX | XX | GT | LT] and PEXPIRE, EXPIREAT, PEXPIREAT
    static func expire(_ c: inout CommandContext, seconds: Bool, absolute: Bool, name: String) {
        var nx = false, xx = false, gt = false, lt = false
        for j in 3..<max(3, c.argc) {
            if c.args.matches(j, "nx") { nx = true }
            else if c.args.matches(j, "xx") { xx = true }
            else if c.args.matches(j, "gt") { gt = true }
            else if c.args.matches(j, "lt") { lt = true }
            else { c.error("ERR Unsupported option \(c.args.string(j))"); return }
        }
        if nx && (xx || gt || lt) {
            c.error("ERR NX and XX, GT or LT options at the same time are not compatible")
            return
        }
        if gt && lt { c.error("ERR GT and LT options at the same time are not compatible"); return }
        guard var when = c.integer(2) else { return }
        if seconds {
            if when > Int.max / 1000 || when < Int.min / 1000 { c.error(Errors.invalidExpire(name)); return }
            when *= 1000
        }
        let base = absolute ? 0 : Int(c.now)
        if when > Int.max - base { c.error(Errors.invalidExpire(name)); return }
        when += base
        let shard = c.shard(1)
        guard let slot = shard.find(c.args[1], now: c.lookupNow) else { c.out.integer(0); return }
        let current = shard.expireAt(slot: slot)
        if (nx && current != 0) || (xx && current == 0) || (gt && (current == 0 || when <= Int(current)))
            || (lt && current != 0 && when >= Int(current)) {
            c.out.integer(0)
            return
        }
        // Propagated as what it did: DEL, or PEXPIREAT with the absolute time and the
        // options given, as Redis 7.0 rewrites the name and the time only.
        if when <= Int(c.now) {
            shard.remove(slot: slot)
            c.notify(.generic, "del", 1)
            if c.propagating { c.propagateInstead([Verb.del, c.args.owned(1)]) }
        } else {
            shard.setExpire(slot: slot, at: Int64(when))
            c.notify(.generic, "expire", 1)
            if c.propagating && !(absolute && !seconds) {
                c.propagateInstead([Verb.pexpireat, c.args.owned(1), Verb.number(when)] + (3..<c.argc).map { c.args.owned($0) })
            }
        }
        c.dirty()
        c.out.integer(1)
    }

    /// TTL key / PTTL key / EXPIRETIME key / PEXPIRETIME key
    static func ttl(_ c: inout CommandContext, ms: Bool, absolute: Bool) {
        let (shard, found) = c.lookupNoTouch(1)
        guard let slot = found else { c.out.integer(-2); return }
        let at = shard.expireAt(slot: slot)
        guard at != 0 else { c.out.integer(-1); return }
        let t = max(0, Int(absolute ? at : at - c.now))
        c.out.integer(ms ? t : (t + 500) / 1000)
    }

    /// PERSIST key
    static func persist(_ c: inout CommandContext) {
        let shard = c.shard(1)
        guard let slot = shard.find(c.args[1], now: c.lookupNow), shard.expireAt(slot: slot) != 0 else {
            c.out.integer(0)
            return
        }
        shard.setExpire(slot: slot, at: 0)
        c.dirty()
        c.notify(.generic, "persist", 1)
        c.out.integer(1)
    }

    /// RENAME key newkey / RENAMENX key newkey
    static func rename(_ c: inout CommandContext, nx: Bool) {
        let src = c.shard(1), dst = c.shard(2)
        guard let slot = src.find(c.args[1], now: c.lookupNow) else { c.error(Errors.noSuchKey); return }
        if c.args[1] == c.args[2] {
            if nx { c.out.integer(0) } else { c.ok() }
            return
        }
        if nx && dst.find(c.args[2], now: c.lookupNow) != nil { c.out.integer(0); return }
        let at = src.expireAt(slot: slot)
        let entry = src.remove(slot: slot)
        dst.insert(key: c.args.owned(2), entry: entry, expireAt: at)
        c.dirty()
        c.notify(.generic, "rename_from", 1)
        c.notify(.generic, "rename_to", 2)
        c.signalReady(dst, c.args[2])
        if nx { c.out.integer(1) } else { c.ok() }
    }

    /// KEYS pattern
    static func keys(_ c: inout CommandContext) {
        var found: [[UInt8]] = []
        let pattern = c.args.owned(1)
        let all = pattern == [UInt8(ascii: "*")]
        pattern.withUnsafeBytes { p in
            for shard in c.db.shards {
                for slot in shard.table.occupiedSlots {
                    let at = shard.expireAt(slot: slot)
                    if at != 0 && at <= c.now { continue }
                    let key = shard.key(at: slot)
                    if all || key.withUnsafeBytes({ globMatch(p, $0) }) { found.append(key) }
                }
            }
        }
        c.out.array(found.count)
        for k in found { c.out.bulk(k) }
    }

    /// Parses a SCAN-family cursor as Redis's strtoul: optional sign ("-1" wraps), digits,
    /// no leading space; an empty string is cursor 0.
    static func parseCursor(_ c: inout CommandContext, _ i: Int) -> UInt64? {
        var bytes = c.args[i]
        var negative = false
        if let f = bytes.first, f == UInt8(ascii: "-") || f == UInt8(ascii: "+") {
            negative = f == UInt8(ascii: "-")
            bytes = bytes.dropFirst()
        }
        var v: UInt64 = 0
        for b in bytes {
            guard b >= 48 && b <= 57 else { c.error(Errors.invalidCursor); return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(b - 48))
            if o1 || o2 { c.error(Errors.invalidCursor); return nil }
            v = a
        }
        return negative ? 0 &- v : v
    }

    /// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
    static func scan(_ c: inout CommandContext) {
        guard var cursor = parseCursor(&c, 1), let opts = ScanOptions.parse(&c, from: 2, allowType: true) else { return }
        let count = opts.count
        // The cursor holds the shard in its low 8 bits and that shard's table cursor above.
        let shards = c.db.shards
        var found: [[UInt8]] = []
        var visits = 0
        let maxVisits = count > Int.max / 10 ? Int.max : count * 10
        repeat {
            let shardIdx = Int(cursor & 0xFF)
            guard shardIdx < shards.count else { cursor = 0; break }
            let shard = shards[shardIdx]
            let next = shard.table.scan(cursor: cursor >> 8) { slot in found.append(shard.key(at: slot)) }
            if next == 0 {
                cursor = shardIdx + 1 < shards.count ? UInt64(shardIdx + 1) : 0
            } else {
                cursor = next << 8 | UInt64(shardIdx)
            }
            visits += 1
        } while cursor != 0 && found.count < count && visits < maxVisits
        // Filter after collecting, as Redis does: expired keys and non-matching ones are dropped.
        var keep: [[UInt8]] = []
        for key in found {
            let shard = c.db.shard(key[...])
            guard let slot = shard.find(key[...], now: c.lookupNow) else { continue }
            if !opts.matches(key) { continue }
            if let t = opts.type, shard.entry(at: slot).value.typeName != t { continue }
            keep.append(key)
        }
        c.out.array(2)
        c.out.bulk(String(cursor))
        c.out.array(keep.count)
        for k in keep { c.out.bulk(k) }
    }

    /// RANDOMKEY
    static func randomkey(_ c: inout CommandContext) {
        var rng = RandomSource()
        let shards = c.db.shards
        for _ in 0..<100 {
            let total = shards.reduce(0) { $0 + $1.count }
            guard total > 0 else { break }
            var pick = Int.random(in: 0..<total, using: &rng)
            var shard = shards[0]
            for s in shards {
                if pick < s.count { shard = s; break }
                pick -= s.count
            }
            guard let slot = shard.table.randomSlot(using: &rng) else { continue }
            let key = shard.key(at: slot)
            if shard.find(key[...], now: c.lookupNow) != nil {   // an expired pick is deleted; try again
                c.out.bulk(key)
                return
            }
        }
        c.out.null()
    }

    /// DBSIZE
    static func dbsize(_ c: inout CommandContext) {
        c.out.integer(c.db.count)
    }

    /// FLUSHDB [ASYNC | SYNC] / FLUSHALL [ASYNC | SYNC]
    static func flush(_ c: inout CommandContext, all: Bool) {
        if c.argc > 2 || (c.argc == 2 && !c.args.matches(1, "sync") && !c.args.matches(1, "async")) {
            c.error(Errors.syntax)
            return
        }
        let dbs = all ? c.engine.keyspace.databases : [c.db]
        let lazy = c.args.count == 2 ? c.args.matches(1, "async") : c.engine.config.bool("lazyfree-lazy-user-flush")
        var n = 0
        var dropped: [KeyTable] = []
        for db in dbs {
            for s in db.shards {
                n += s.count
                if lazy && s.count > 0 { dropped.append(s.table) }
                s.removeAll()
            }
        }
        // ASYNC: the old tables are released on the lazy-free thread, not in this command.
        if !dropped.isEmpty { c.engine.dropInBackground(dropped, objects: n) }
        c.dirty(max(n, 1))
        c.ok()
    }

    /// Parses a database index, replying `error` when not an integer.
    static func dbIndex(_ c: inout CommandContext, _ i: Int, error: String = Errors.notInteger) -> Int? {
        guard let v = parseDbNumber(&c, i, error: error) else { return nil }
        return checkDbRange(&c, v)
    }

    /// As Redis's getIntFromObjectOrReply: a 64-bit integer that must fit 32 bits.
    static func parseDbNumber(_ c: inout CommandContext, _ i: Int, error: String) -> Int? {
        guard let v = parseCanonicalInt(c.args[i]) else { c.error(error); return nil }
        guard v >= Int(Int32.min), v <= Int(Int32.max) else {
            c.error(error == Errors.notInteger
                    ? "ERR value is out of range, value must between -2147483648 and 2147483647" : error)
            return nil
        }
        return v
    }

    static func checkDbRange(_ c: inout CommandContext, _ v: Int) -> Int? {
        guard v >= 0 && v < c.engine.keyspace.databases.count else {
            c.error(Errors.dbIndexOutOfRange)
            return nil
        }
        return v
    }

    /// SELECT index
    static func select(_ c: inout CommandContext) {
        if c.engine.cluster != nil, let n = parseCanonicalInt(c.args[1]), n != 0 {
            c.error("ERR SELECT is not allowed in cluster mode")
            return
        }
        guard let idx = dbIndex(&c, 1) else { return }
        c.dbIndex = idx
        c.client.info.withLock { $0.db = idx }
        c.ok()
    }

    /// SWAPDB index1 index2
    static func swapdb(_ c: inout CommandContext) {
        guard c.engine.cluster == nil else { c.error("ERR SWAPDB is not allowed in cluster mode"); return }
        // Both indexes parse before either is range-checked, as Redis.
        guard let pa = parseDbNumber(&c, 1, error: "ERR invalid first DB index"),
              let pb = parseDbNumber(&c, 2, error: "ERR invalid second DB index"),
              let a = checkDbRange(&c, pa), let b = checkDbRange(&c, pb) else { return }
        if a != b {
            let dbs = c.engine.keyspace.databases
            for (x, y) in zip(dbs[a].shards, dbs[b].shards) { x.swapContents(with: y) }
            // Clients blocked in either database may find their keys now.
            for (db, shards) in [(a, dbs[a].shards), (b, dbs[b].shards)] {
                for s in shards { for k in s.keysWithWaiters { c.signalReady(s, k[...], db: db) } }
            }
            c.dirty()
        }
        c.ok()
    }

    /// MOVE key db
    static func move(_ c: inout CommandContext) {
        guard c.engine.cluster == nil else { c.error("ERR MOVE is not allowed in cluster mode"); return }
        guard let target = dbIndex(&c, 2) else { return }
        if target == c.dbIndex { c.error(Errors.sameObject); return }
        let src = c.shard(1)
        guard let slot = src.find(c.args[1], now: c.lookupNow) else { c.out.integer(0); return }
        let dst = c.engine.keyspace.databases[target].shard(c.args[1])
        if dst.find(c.args[1], now: c.lookupNow) != nil { c.out.integer(0); return }
        let at = src.expireAt(slot: slot)
        let entry = src.remove(slot: slot)
        dst.insert(key: c.args.owned(1), entry: entry, expireAt: at)
        c.dirty()
        c.notify(.generic, "move_from", 1)
        c.notify(.generic, "move_to", key: c.args.owned(1), db: target)
        c.signalReady(dst, c.args[1], db: target)
        c.out.integer(1)
    }

    /// COPY source destination [DB destination-db] [REPLACE]
    static func copy(_ c: inout CommandContext) {
        var replace = false
        var target = c.dbIndex
        var j = 3
        while j < c.argc {
            if c.args.matches(j, "replace") {
                replace = true
            } else if c.args.matches(j, "db") && j + 1 < c.argc {
                guard let t = dbIndex(&c, j + 1) else { return }
                target = t
                j += 1
            } else {
                c.error(Errors.syntax)
                return
            }
            j += 1
        }
        if target == c.dbIndex && c.args[1] == c.args[2] { c.error(Errors.sameObject); return }
        let src = c.shard(1)
        guard let slot = src.find(c.args[1], now: c.lookupNow) else { c.out.integer(0); return }
        let dst = c.engine.keyspace.databases[target].shard(c.args[2])
        if let existing = dst.find(c.args[2], now: c.lookupNow) {
            guard replace else { c.out.integer(0); return }
            dst.remove(slot: existing)
        }
        var entry = src.entry(at: slot)
        entry.access = c.newAccess
        dst.insert(key: c.args.owned(2), entry: entry, expireAt: src.expireAt(slot: slot))
        c.dirty()
        c.notify(.generic, "copy_to", key: c.args.owned(2), db: target)
        c.signalReady(dst, c.args[2], db: target)
        c.out.integer(1)
    }

    enum ObjectQuery { case encoding, idletime, freq, refcount, help }

    /// OBJECT ENCODING|IDLETIME|FREQ|REFCOUNT key, OBJECT HELP
    static func object(_ c: inout CommandContext, _ q: ObjectQuery) {
        if q == .help {
            let lines = ["OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                         "ENCODING <key>", "    Return the kind of internal representation used in order to store the value",
                         "    associated with a <key>.",
                         "FREQ <key>", "    Return the access frequency index of the <key>. The returned integer is",
                         "    proportional to the logarithm of the recent access frequency of the key.",
                         "IDLETIME <key>", "    Return the idle time of the <key>, that is the approximated number of",
                         "    seconds elapsed since the last access to the key.",
                         "REFCOUNT <key>", "    Return the number of references of the value associated with the specified",
                         "    <key>.", "HELP", "    Print this help."]
            c.help(lines)
            return
        }
        let (shard, found) = c.lookupNoTouch(2, notifying: false)
        guard let slot = found else { c.out.null(); return }
        let e = shard.entry(at: slot)
        let policy = c.engine.config.get("maxmemory-policy")
        let lfu = policy.hasSuffix("lfu")
        switch q {
        case .encoding:
            c.out.bulk(e.encodingName)
        case .idletime:
            if lfu {
                c.error("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
                return
            }
            c.out.integer(idleSeconds(access: e.access, nowMs: c.now))
        case .freq:
            if !lfu {
                c.error("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
                return
            }
            c.out.integer(Int(c.engine.accessPolicy.decayedCounter(e.access, now: c.now)))
        case .refcount:
            // Redis shares the integers 0..9999 unless an LRU/LFU policy needs per-key clocks.
            if case .int(let v) = e.value, v >= 0, v < 10000, !policy.hasSuffix("lru"), !lfu {
                c.out.integer(Int(Int32.max))
            } else {
                c.out.integer(1)
            }
        case .help:
            break
        }
    }
}
