#if canImport(Glibc)
import Glibc
#endif
import RESP
import Storage

/// The string family: GET, SET and friends, counters, ranges and LCS.
enum StringCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("get", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "string",
                    summary: "Returns the string value of a key.", acl: ["string"], handler: get),
        CommandSpec("set", arity: -3, flags: [.write, .denyoom], keys: (1, 1, 1), group: "string",
                    summary: "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
                    acl: ["string"], handler: set),
        CommandSpec("setnx", arity: 3, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: "string",
                    summary: "Set the string value of a key only when the key doesn't exist.", acl: ["string"], handler: setnx),
        CommandSpec("setex", arity: 4, flags: [.write, .denyoom], keys: (1, 1, 1), group: "string",
                    summary: "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.",
                    acl: ["string"], handler: { setex(&$0, seconds: true) }),
        CommandSpec("psetex", arity: 4, flags: [.write, .denyoom], keys: (1, 1, 1), group: "string",
                    summary: "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.",
                    acl: ["string"], handler: { setex(&$0, seconds: false) }),
        CommandSpec("mget", arity: -2, flags: [.readonly, .fast], keys: (1, -1, 1), group: "string",
                    summary: "Atomically returns the string values of one or more keys.", complexity: "O(N)",
                    acl: ["string"], handler: mget),
        CommandSpec("mset", arity: -3, flags: [.write, .denyoom], keys: (1, -1, 2), group: "string",
                    summary: "Atomically creates or modifies the string values of one or more keys.", complexity: "O(N)",
                    acl: ["string"], handler: { mset(&$0, nx: false) }),
        CommandSpec("msetnx", arity: -3, flags: [.write, .denyoom], keys: (1, -1, 2), group: "string",
                    summary: "Atomically modifies the string values of one or more keys only when all keys don't exist.",
                    complexity: "O(N)", acl: ["string"], handler: { mset(&$0, nx: true) }),
        CommandSpec("getset", arity: 3, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: "string",
                    summary: "Returns the previous string value of a key after setting it to a new value.",
                    acl: ["string"], handler: getset),
        CommandSpec("getdel", arity: 2, flags: [.write, .fast], keys: (1, 1, 1), group: "string",
                    summary: "Returns the string value of a key after deleting the key.", acl: ["string"], handler: getdel),
        CommandSpec("getex", arity: -2, flags: [.write, .fast], keys: (1, 1, 1), group: "string",
                    summary: "Returns the string value of a key after setting its expiration time.", acl: ["string"], handler: getex),
        CommandSpec("append", arity: 3, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: "string",
                    summary: "Appends a string to the value of a key. Creates the key if it doesn't exist.",
                    acl: ["string"], handler: append),
        CommandSpec("strlen", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "string",
                    summary: "Returns the length of a string value.", acl: ["string"], handler: strlen),
        CommandSpec("incr", arity: 2, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: "string",
                    summary: "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
                    acl: ["string"], handler: { incrBy(&$0, by: 1) }),
        CommandSpec("decr", arity: 2, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: "string",
                    summary: "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
                    acl: ["string"], handler: { incrBy(&$0, by: -1) }),
        CommandSpec("incrby", arity: 3, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: "string",
                    summary: "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
                    acl: ["string"], handler: { c in incrByArg(&c, negate: false) }),
        CommandSpec("decrby", arity: 3, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: "string",
                    summary: "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.",
                    acl: ["string"], handler: { c in incrByArg(&c, negate: true) }),
        CommandSpec("incrbyfloat", arity: 3, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: "string",
                    summary: "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
                    acl: ["string"], handler: incrbyfloat),
        CommandSpec("getrange", arity: 4, flags: [.readonly], keys: (1, 1, 1), group: "string",
                    summary: "Returns a substring of the string stored at a key.", complexity: "O(N)",
                    acl: ["string"], handler: getrange),
        CommandSpec("substr", arity: 4, flags: [.readonly], keys: (1, 1, 1), group: "string",
                    summary: "Returns a substring from a string value.", complexity: "O(N)",
                    acl: ["string"], handler: getrange),
        CommandSpec("setrange", arity: 4, flags: [.write, .denyoom], keys: (1, 1, 1), group: "string",
                    summary: "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.",
                    acl: ["string"], handler: setrange),
        CommandSpec("lcs", arity: -3, flags: [.readonly], keys: (1, 2, 1), group: "string",
                    summary: "Finds the longest common substring.", complexity: "O(N*M)",
                    acl: ["string"], handler: lcs),
    ]

    // MARK: helpers

    /// The string at `slot`, or nil after replying WRONGTYPE.
    static func stringBytes(_ c: inout CommandContext, _ shard: Shard, _ slot: Int) -> [UInt8]? {
        shard.entry(at: slot).value.stringBytes
    }

    static func replyValue(_ c: inout CommandContext, _ value: Value) {
        switch value {
        case .int(let v): c.out.bulkDecimal(v)
        case .small(let s): s.withUnsafeBytes { c.out.bulk($0) }
        case .compact(let s): s.withUnsafeBytes { c.out.bulk($0) }
        case .bytes(let b): c.out.bulk(b)
        default: c.error(Errors.wrongType)
        }
    }

    /// GET's reply for `args[1]`: the value, null, or WRONGTYPE. Returns false on WRONGTYPE.
    @discardableResult
    static func replyGet(_ c: inout CommandContext) -> Bool {
        let (shard, slot) = c.lookupRead(1)
        guard let slot else { c.out.null(); return true }
        let v = shard.entry(at: slot).value
        guard v.isString else { c.error(Errors.wrongType); return false }
        replyValue(&c, v)
        return true
    }

    // MARK: GET / SET

    /// GET key
    static func get(_ c: inout CommandContext) {
        replyGet(&c)
    }

    struct SetOptions {
        var nx = false, xx = false, get = false, keepTTL = false, persist = false
        var expireAt: Int64 = 0
        var hasExpire = false
        var unit = 0   // 0 none, 1 EX, 2 PX, 3 EXAT, 4 PXAT
        var expireArg = 0

        /// Turns the expire argument into absolute ms, as getExpireMillisecondsOrReply.
        mutating func resolveExpire(_ c: inout CommandContext, command: String) -> Bool {
            guard unit != 0 else { return true }
            guard let at = c.expireMillis(expireArg, seconds: unit == 1 || unit == 3,
                                          relative: unit <= 2, command: command) else { return false }
            expireAt = at
            hasExpire = true
            return true
        }
    }

    /// Parses SET's and GETEX's options from `start`, as Redis's parseExtendedStringArgumentsOrReply.
    static func parseSetOptions(_ c: inout CommandContext, from start: Int, forSet: Bool) -> SetOptions? {
        var o = SetOptions()
        var unit = 0
        var expireArg = 0
        var j = start
        while j < c.argc {
            let hasNext = j + 1 < c.argc
            if forSet && c.args.matches(j, "nx") && !o.xx {
                o.nx = true
            } else if forSet && c.args.matches(j, "xx") && !o.nx {
                o.xx = true
            } else if forSet && c.args.matches(j, "get") {
                o.get = true
            } else if forSet && c.args.matches(j, "keepttl") && !o.persist && unit == 0 {
                o.keepTTL = true
            } else if !forSet && c.args.matches(j, "persist") && unit == 0 && !o.keepTTL {
                o.persist = true
            } else if c.args.matches(j, "ex") && !o.keepTTL && !o.persist && (unit == 0 || unit == 1) && hasNext {
                unit = 1; expireArg = j + 1; j += 1
            } else if c.args.matches(j, "px") && !o.keepTTL && !o.persist && (unit == 0 || unit == 2) && hasNext {
                unit = 2; expireArg = j + 1; j += 1
            } else if c.args.matches(j, "exat") && !o.keepTTL && !o.persist && (unit == 0 || unit == 3) && hasNext {
                unit = 3; expireArg = j + 1; j += 1
            } else if c.args.matches(j, "pxat") && !o.keepTTL && !o.persist && (unit == 0 || unit == 4) && hasNext {
                unit = 4; expireArg = j + 1; j += 1
            } else {
                c.error(Errors.syntax)
                return nil
            }
            j += 1
        }
        o.unit = unit
        o.expireArg = expireArg
        return o
    }

    /// SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]
    static func set(_ c: inout CommandContext) {
        guard var o = parseSetOptions(&c, from: 3, forSet: true), o.resolveExpire(&c, command: "set") else { return }
        if o.get && !replyGet(&c) { return }
        let shard = c.shard(1)
        let lookup = shard.findForWrite(c.args[1], hash: c.keyHash(1), now: c.lookupNow)
        let found = lookup.slot != nil
        if (o.nx && found) || (o.xx && !found) {
            if !o.get { c.out.null() }
            return
        }
        shard.set(c.args[1], found: lookup, .string(c.args[2]), expireAt: o.expireAt, keepTTL: o.keepTTL,
                  access: c.newAccess)
        c.dirty()
        c.notify(.string, "set", 1)
        if o.hasExpire { c.notify(.generic, "expire", 1) }
        if o.hasExpire || o.get { propagateSet(&c, expireAt: o.hasExpire ? o.expireAt : nil) }
        if !o.get { c.ok() }
    }

    /// SET's effect as Redis 7.0 propagates it: any expiry as `SET key value PXAT ms` (the
    /// other options said all they had to on this server), else the words without GET. Kept
    /// out of line: inlined, it cost the plain SET about 17 instructions (callgrind).
    @inline(never)
    static func propagateSet(_ c: inout CommandContext, expireAt: Int64?) {
        guard c.propagating else { return }
        if let expireAt {
            c.propagateInstead([Verb.set, c.args.owned(1), c.args.owned(2), Verb.pxat, Verb.number(expireAt)])
            return
        }
        var words = [c.args.owned(0), c.args.owned(1), c.args.owned(2)]
        for j in 3..<c.argc where !c.args.matches(j, "get") { words.append(c.args.owned(j)) }
        c.propagateInstead(words)
    }

    /// SETNX key value
    static func setnx(_ c: inout CommandContext) {
        let shard = c.shard(1)
        if shard.find(c.args[1], now: c.lookupNow) != nil {
            c.out.integer(0)
            return
        }
        shard.set(c.args[1], .string(c.args[2]), access: c.newAccess)
        c.dirty()
        c.notify(.string, "set", 1)
        c.out.integer(1)
    }

    /// SETEX key seconds value / PSETEX key milliseconds value
    static func setex(_ c: inout CommandContext, seconds: Bool) {
        guard let at = c.expireMillis(2, seconds: seconds, relative: true, command: seconds ? "setex" : "psetex") else { return }
        c.shard(1).set(c.args[1], .string(c.args[3]), expireAt: at, access: c.newAccess)
        c.dirty()
        c.notify(.string, "set", 1)
        c.notify(.generic, "expire", 1)
        if c.propagating { c.propagateInstead([Verb.set, c.args.owned(1), c.args.owned(3), Verb.pxat, Verb.number(at)]) }
        c.ok()
    }

    /// MGET key [key ...]
    static func mget(_ c: inout CommandContext) {
        c.out.array(c.argc - 1)
        for i in 1..<c.argc {
            let shard = c.shard(i)
            if let slot = shard.find(c.args[i], now: c.lookupNow) {
                let v = shard.entry(at: slot).value
                if v.isString {
                    c.session.counters.hits += 1
                    replyValue(&c, v)
                    continue
                }
            }
            c.session.counters.misses += 1
            c.out.null()
        }
    }

    /// MSET key value [key value ...] / MSETNX key value [key value ...]
    static func mset(_ c: inout CommandContext, nx: Bool) {
        guard c.argc % 2 == 1 else {
            c.error(Errors.arity(nx ? "msetnx" : "mset"))
            return
        }
        if nx {
            for i in stride(from: 1, to: c.argc, by: 2) where c.shard(i).find(c.args[i], now: c.lookupNow) != nil {
                c.out.integer(0)
                return
            }
        }
        for i in stride(from: 1, to: c.argc, by: 2) {
            c.shard(i).set(c.args[i], .string(c.args[i + 1]), access: c.newAccess)
            c.notify(.string, "set", i)
        }
        c.dirty((c.argc - 1) / 2)
        if nx { c.out.integer(1) } else { c.ok() }
    }

    /// GETSET key value
    static func getset(_ c: inout CommandContext) {
        guard replyGet(&c) else { return }
        c.shard(1).set(c.args[1], .string(c.args[2]), access: c.newAccess)
        c.dirty()
        c.notify(.string, "set", 1)
        if c.propagating { c.propagateInstead([Verb.set, c.args.owned(1), c.args.owned(2)]) }
    }

    /// GETDEL key
    static func getdel(_ c: inout CommandContext) {
        guard replyGet(&c) else { return }
        if c.shard(1).delete(c.args[1], now: c.lookupNow) {
            c.dirty()
            c.notify(.generic, "del", 1)
            if c.propagating { c.propagateInstead([Verb.del, c.args.owned(1)]) }
        }
    }

    /// GETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]
    static func getex(_ c: inout CommandContext) {
        guard var o = parseSetOptions(&c, from: 2, forSet: false) else { return }
        let (shard, found) = c.lookupRead(1)
        guard let slot = found else { c.out.null(); return }
        let v = shard.entry(at: slot).value
        guard v.isString else { c.error(Errors.wrongType); return }
        // Redis validates the expire time only once the key is known to hold a string.
        guard o.resolveExpire(&c, command: "getex") else { return }
        replyValue(&c, v)
        if o.hasExpire {
            // Propagated as what it did: DEL, or PEXPIREAT with the absolute time.
            if o.expireAt <= c.now {
                shard.remove(slot: slot)
                c.notify(.generic, "del", 1)
                if c.propagating { c.propagateInstead([Verb.del, c.args.owned(1)]) }
            } else {
                shard.setExpire(slot: slot, at: o.expireAt)
                c.notify(.generic, "expire", 1)
                if c.propagating { c.propagateInstead([Verb.pexpireat, c.args.owned(1), Verb.number(o.expireAt)]) }
            }
            c.dirty()
        } else if o.persist && shard.expireAt(slot: slot) != 0 {
            shard.setExpire(slot: slot, at: 0)
            c.dirty()
            c.notify(.generic, "persist", 1)
            if c.propagating { c.propagateInstead([Verb.persist, c.args.owned(1)]) }
        }
    }

    // MARK: in-place edits

    /// APPEND key value
    static func append(_ c: inout CommandContext) {
        let shard = c.shard(1)
        guard let slot = shard.find(c.args[1], now: c.lookupNow) else {
            shard.set(c.args[1], .string(c.args[2]), access: c.newAccess)
            c.dirty()
            c.notify(.string, "append", 1)
            c.out.integer(c.args[2].count)
            return
        }
        guard shard.entry(at: slot).value.isString, var bytes = stringBytes(&c, shard, slot) else {
            c.error(Errors.wrongType)
            return
        }
        guard bytes.count + c.args[2].count <= c.engine.protoMaxBulkLen else {
            c.error(Errors.stringTooLong)
            return
        }
        shard.withEntry(at: slot) { $0.value = .int(0) }   // drop the table's reference: append in place
        bytes.append(contentsOf: c.args[2])
        let n = bytes.count
        shard.withEntry(at: slot) {
            $0.value = .bytes(bytes)
            $0.rawEncoding = true
        }
        c.dirty()
        c.notify(.string, "append", 1)
        c.out.integer(n)
    }

    /// STRLEN key
    static func strlen(_ c: inout CommandContext) {
        let (shard, found) = c.lookupRead(1)
        guard let slot = found else { c.out.integer(0); return }
        switch shard.entry(at: slot).value {
        case .int(let v): c.out.integer(String(v).utf8.count)
        case .small(let s): c.out.integer(s.count)
        case .compact(let s): c.out.integer(s.count)
        case .bytes(let b): c.out.integer(b.count)
        default: c.error(Errors.wrongType)
        }
    }

    /// SETRANGE key offset value
    static func setrange(_ c: inout CommandContext) {
        guard let offset = c.integer(2) else { return }
        guard offset >= 0 else { c.error("ERR offset is out of range"); return }
        let value = c.args[3]
        let shard = c.shard(1)
        let found = shard.find(c.args[1], now: c.lookupNow)
        var bytes: [UInt8] = []
        if let slot = found {
            guard shard.entry(at: slot).value.isString else { c.error(Errors.wrongType); return }
            bytes = stringBytes(&c, shard, slot) ?? []
            if value.isEmpty { c.out.integer(bytes.count); return }
        } else if value.isEmpty {
            c.out.integer(0)
            return
        }
        guard offset <= c.engine.protoMaxBulkLen - value.count else {
            c.error(Errors.stringTooLong)
            return
        }
        if let slot = found { shard.withEntry(at: slot) { $0.value = .int(0) } }
        if bytes.count < offset + value.count {
            bytes.append(contentsOf: repeatElement(0, count: offset + value.count - bytes.count))
        }
        bytes.replaceSubrange(offset..<(offset + value.count), with: value)
        let n = bytes.count
        if let slot = found {
            shard.withEntry(at: slot) { $0.value = .bytes(bytes); $0.rawEncoding = true }
        } else {
            let slot = shard.set(c.args[1], .bytes(bytes), access: c.newAccess)
            shard.withEntry(at: slot) { $0.rawEncoding = true }
        }
        c.dirty()
        c.notify(.string, "setrange", 1)
        c.out.integer(n)
    }

    /// GETRANGE key start end
    static func getrange(_ c: inout CommandContext) {
        guard var start = c.integer(2), var end = c.integer(3) else { return }
        let (shard, found) = c.lookupRead(1)
        guard let slot = found else { c.out.bulk([UInt8]()); return }
        guard shard.entry(at: slot).value.isString, let bytes = stringBytes(&c, shard, slot) else {
            c.error(Errors.wrongType)
            return
        }
        let len = bytes.count
        if start < 0 && end < 0 && start > end { c.out.bulk([UInt8]()); return }
        if start < 0 { start = len + start }
        if end < 0 { end = len + end }
        if start < 0 { start = 0 }
        if end < 0 { end = 0 }
        if end >= len { end = len - 1 }
        if start > end || len == 0 { c.out.bulk([UInt8]()); return }
        c.out.bulk(bytes[start...end])
    }

    // MARK: counters

    static func incrByArg(_ c: inout CommandContext, negate: Bool) {
        guard let by = c.integer(2) else { return }
        if negate && by == Int.min { c.error("ERR decrement would overflow"); return }
        incrBy(&c, by: negate ? -by : by)
    }

    /// INCR key / DECR key / INCRBY key increment / DECRBY key decrement
    static func incrBy(_ c: inout CommandContext, by: Int) {
        let shard = c.shard(1)
        var current = 0
        let lookup = shard.findForWrite(c.args[1], hash: c.keyHash(1), now: c.lookupNow)
        let found = lookup.slot
        if let slot = found {
            switch shard.entry(at: slot).value {
            case .int(let v): current = v
            case .small(let s):
                guard let v = s.withUnsafeBytes({ parseCanonicalInt($0) }) else { c.error(Errors.notInteger); return }
                current = v
            case .compact(let s):
                guard let v = s.withUnsafeBytes({ parseCanonicalInt($0) }) else { c.error(Errors.notInteger); return }
                current = v
            case .bytes(let b):
                guard let v = parseCanonicalInt(b) else { c.error(Errors.notInteger); return }
                current = v
            default:
                c.error(Errors.wrongType)
                return
            }
        }
        let (r, overflow) = current.addingReportingOverflow(by)
        if overflow { c.error(Errors.overflow); return }
        if let slot = found {
            shard.withEntry(at: slot) { $0.value = .int(r); $0.rawEncoding = false }
        } else {
            shard.set(c.args[1], found: lookup, .int(r), access: c.newAccess)
        }
        c.dirty()
        c.notify(.string, "incrby", 1)
        c.out.integer(r)
    }

    /// INCRBYFLOAT key increment
    static func incrbyfloat(_ c: inout CommandContext) {
        let shard = c.shard(1)
        var current: Float80 = 0
        let found = shard.find(c.args[1], now: c.lookupNow)
        if let slot = found {
            guard shard.entry(at: slot).value.isString, let b = stringBytes(&c, shard, slot) else {
                c.error(Errors.wrongType)
                return
            }
            guard let v = parseLongDouble(b) else { c.error(Errors.notFloat); return }
            current = v
        }
        guard let incr = parseLongDouble(c.args[2]) else { c.error(Errors.notFloat); return }
        let r = current + incr
        guard r.isFinite else { c.error("ERR increment would produce NaN or Infinity"); return }
        let text = formatLongDouble(r)
        // Redis stores the result as a plain string (embstr), never as an integer.
        if let slot = found {
            shard.withEntry(at: slot) { $0.value = .bytes(text); $0.rawEncoding = false }
        } else {
            shard.set(c.args[1], .bytes(text), access: c.newAccess)
        }
        c.dirty()
        // As Redis: the AOF gets the value, so that float rounding cannot differ on replay.
        if c.propagating { c.propagateInstead([Verb.set, c.args.owned(1), text, Verb.keepttl]) }
        c.notify(.string, "incrbyfloat", 1)
        c.out.bulk(text)
    }

    /// strtold over the whole string, as Redis's string2ld: no spaces, no NaN.
    static func parseLongDouble<C: Collection>(_ bytes: C) -> Float80? where C.Element == UInt8 {
        guard !bytes.isEmpty, bytes.count < 5120 else { return nil }
        if let f = bytes.first, f == 32 || (f >= 9 && f <= 13) { return nil }
        var buf = Array(bytes)
        buf.append(0)
        return buf.withUnsafeBufferPointer { p -> Float80? in
            let base = UnsafeRawPointer(p.baseAddress!).assumingMemoryBound(to: CChar.self)
            var end: UnsafeMutablePointer<CChar>? = nil
            errno = 0
            let v = strtold(base, &end)
            guard let e = end, e - UnsafeMutablePointer(mutating: base) == bytes.count else { return nil }
            if v.isNaN || (errno == ERANGE && !v.isInfinite && v == 0 && false) { return nil }
            return v
        }
    }

    /// Formats as Redis's ld2string(LD_STR_HUMAN): "%.17Lf", then trailing zeros and dot trimmed.
    static func formatLongDouble(_ v: Float80) -> [UInt8] {
        var buf = [CChar](repeating: 0, count: 5200)
        let n = withVaList([v]) { va in
            buf.withUnsafeMutableBufferPointer { vsnprintf($0.baseAddress!, $0.count, "%.17Lf", va) }
        }
        var bytes = buf[0..<Int(min(Int32(buf.count - 1), n))].map { UInt8(bitPattern: $0) }
        if bytes.contains(UInt8(ascii: ".")) {
            while bytes.last == UInt8(ascii: "0") { bytes.removeLast() }
            if bytes.last == UInt8(ascii: ".") { bytes.removeLast() }
        }
        if bytes == Array("-0".utf8) { bytes = Array("0".utf8) }
        return bytes
    }

    // MARK: LCS

    /// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]
    static func lcs(_ c: inout CommandContext) {
        var a: [UInt8] = [], b: [UInt8] = []
        for (i, dest) in [(1, 0), (2, 1)] {
            let shard = c.shard(i)
            if let slot = shard.find(c.args[i], now: c.lookupNow) {
                guard shard.entry(at: slot).value.isString, let s = stringBytes(&c, shard, slot) else {
                    c.error("ERR The specified keys must contain string values")
                    return
                }
                if dest == 0 { a = s } else { b = s }
            }
        }
        var getLen = false, getIdx = false, withMatchLen = false
        var minMatchLen = 0
        var j = 3
        while j < c.argc {
            if c.args.matches(j, "idx") {
                getIdx = true
            } else if c.args.matches(j, "len") {
                getLen = true
            } else if c.args.matches(j, "withmatchlen") {
                withMatchLen = true
            } else if c.args.matches(j, "minmatchlen") && j + 1 < c.argc {
                guard let v = c.integer(j + 1) else { return }
                minMatchLen = max(0, v)
                j += 1
            } else {
                c.error(Errors.syntax)
                return
            }
            j += 1
        }
        if getIdx && getLen {
            c.error("ERR If you want both the length and indexes, please just use IDX.")
            return
        }
        let alen = a.count, blen = b.count
        let cells = (alen + 1) * (blen + 1)
        if cells * 4 > c.engine.protoMaxBulkLen {
            c.error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
            return
        }
        var dp = [UInt32](repeating: 0, count: cells)
        let w = blen + 1
        if alen > 0 && blen > 0 {
            for i in 1...alen {
                for jj in 1...blen {
                    dp[i * w + jj] = a[i - 1] == b[jj - 1]
                        ? dp[(i - 1) * w + jj - 1] + 1
                        : max(dp[(i - 1) * w + jj], dp[i * w + jj - 1])
                }
            }
        }
        let total = Int(dp[alen * w + blen])
        if getLen && !getIdx { c.out.integer(total); return }

        // Walk back from the end as Redis does, collecting the string and the match ranges.
        var result = [UInt8](repeating: 0, count: total)
        var idx = total
        var matches: [(Int, Int, Int, Int, Int)] = []
        var aStart = alen, aEnd = 0, bStart = 0, bEnd = 0
        var i = alen, k = blen
        while i > 0 && k > 0 {
            var emit = false
            if a[i - 1] == b[k - 1] {
                result[idx - 1] = a[i - 1]
                if aStart == alen {
                    aStart = i - 1; aEnd = i - 1; bStart = k - 1; bEnd = k - 1
                } else if aStart == i && bStart == k {
                    aStart -= 1; bStart -= 1
                } else {
                    emit = true
                }
                if aStart == 0 || bStart == 0 { emit = true }
                idx -= 1; i -= 1; k -= 1
            } else {
                if dp[(i - 1) * w + k] > dp[i * w + k - 1] { i -= 1 } else { k -= 1 }
                if aStart != alen { emit = true }
            }
            let matchLen = aEnd - aStart + 1
            if emit {
                if minMatchLen == 0 || matchLen >= minMatchLen {
                    matches.append((aStart, aEnd, bStart, bEnd, matchLen))
                }
                aStart = alen
            }
        }
        if !getIdx { c.out.bulk(result); return }
        c.out.map(2)
        c.out.bulk("matches")
        c.out.array(matches.count)
        for m in matches {
            c.out.array(withMatchLen ? 3 : 2)
            c.out.array(2); c.out.integer(m.0); c.out.integer(m.1)
            c.out.array(2); c.out.integer(m.2); c.out.integer(m.3)
            if withMatchLen { c.out.integer(m.4) }
        }
        c.out.bulk("len")
        c.out.integer(total)
    }
}
