import DequeModule
import RESP
import Storage

/// SORT and SORT_RO: sorts a list, set or sorted set, by itself or by keys named through
/// patterns. Patterns can name any key, so these lock the whole database.
enum SortCommand {
    static let specs: [CommandSpec] = [
        CommandSpec("sort", arity: -2, flags: [.write, .denyoom, .movableKeys], keys: (1, 1, 1), scope: .database,
                    group: "generic", summary: "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.",
                    complexity: "O(N+M*log(M))", acl: ["set", "sortedset", "list", "dangerous", "-keyspace"], keyFinder: keys,
                    handler: { sort(&$0, readOnly: false) }),
        CommandSpec("sort_ro", arity: -2, flags: [.readonly, .movableKeys], keys: (1, 1, 1), scope: .database, group: "generic", summary: "Returns the sorted elements of a list, a set, or a sorted set.",
                    complexity: "O(N+M*log(M))", acl: ["set", "sortedset", "list", "dangerous", "-keyspace"], handler: { sort(&$0, readOnly: true) }),
    ]

    /// The sorted key and STORE's destination (the last STORE's), skipping the arguments of
    /// LIMIT, GET and BY as Redis's key finder does, so that a STORE inside a pattern's place
    /// is not taken for the option. Keys named by BY / GET patterns are not known before running.
    @Sendable static func keys(_ args: CommandArguments) -> [Int] {
        var store: Int?
        var i = 2
        while i < args.count {
            if args.matches(i, "limit") { i += 2 }
            else if args.matches(i, "get") || args.matches(i, "by") { i += 1 }
            else if args.matches(i, "store") && i + 1 < args.count { store = i + 1; i += 1 }
            i += 1
        }
        return store.map { [1, $0] } ?? [1]
    }

    /// What a pattern names for `element`: "#" the element, "key*" a string, "key*->field" a hash field.
    static func lookup(_ c: inout CommandContext, _ pattern: [UInt8], _ element: [UInt8]) -> [UInt8]? {
        if pattern == [UInt8(ascii: "#")] { return element }
        guard let star = pattern.firstIndex(of: UInt8(ascii: "*")) else { return nil }
        var keyEnd = pattern.count
        var field: [UInt8]? = nil
        var i = star + 1
        while i + 1 < pattern.count {
            if pattern[i] == UInt8(ascii: "-") && pattern[i + 1] == UInt8(ascii: ">") && i + 2 < pattern.count {
                keyEnd = i
                field = Array(pattern[(i + 2)...])
                break
            }
            i += 1
        }
        let key = Array(pattern[..<star]) + element + Array(pattern[(star + 1)..<keyEnd])
        let shard = c.db.shard(key[...])
        guard let slot = shard.find(key[...], now: c.lookupNow) else { return nil }
        let v = shard.entry(at: slot).value
        if let field {
            if case .hash(let h) = v { return h.get(field[...]) }
            return nil
        }
        return v.stringBytes
    }

    /// SORT key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA] [STORE destination]
    static func sort(_ c: inout CommandContext, readOnly: Bool) {
        var desc = false, alpha = false, dontSort = false
        var limitStart = 0, limitCount = -1
        var byPattern: [UInt8]? = nil
        var getPatterns: [[UInt8]] = []
        var storeKey: [UInt8]? = nil
        var j = 2
        while j < c.argc {
            let left = c.argc - j - 1
            if c.args.matches(j, "asc") { desc = false }
            else if c.args.matches(j, "desc") { desc = true }
            else if c.args.matches(j, "alpha") { alpha = true }
            else if c.args.matches(j, "limit") && left >= 2 {
                guard let s = c.integer(j + 1), let n = c.integer(j + 2) else { return }
                limitStart = s
                limitCount = n
                j += 2
            } else if !readOnly && c.args.matches(j, "store") && left >= 1 {
                storeKey = c.args.owned(j + 1)
                j += 1
            } else if c.args.matches(j, "by") && left >= 1 {
                let p = c.args.owned(j + 1)
                byPattern = p
                if !p.contains(UInt8(ascii: "*")) {
                    dontSort = true
                } else if !c.engine.sortMayReadAnyKey(&c) {
                    c.error("ERR BY option of SORT denied due to insufficient ACL permissions.")
                    return
                }
                j += 1
            } else if c.args.matches(j, "get") && left >= 1 {
                guard c.engine.sortMayReadAnyKey(&c) else {
                    c.error("ERR GET option of SORT denied due to insufficient ACL permissions.")
                    return
                }
                getPatterns.append(c.args.owned(j + 1))
                j += 1
            } else {
                c.error(Errors.syntax)
                return
            }
            j += 1
        }
        var elements: [[UInt8]] = []
        var isSet = false
        let (shard, found) = c.lookupRead(1)
        if let slot = found {
            switch shard.entry(at: slot).value {
            case .list(let l): elements = l.map(\.bytes)
            case .set(let s): elements = s.members; isSet = true
            case .zset(let z):
                elements = z.count == 0 ? [] : z.range(0, z.count - 1).map(\.member)
                // Redis converts a sorted set it sorts to its skiplist form, for good.
                shard.withEntry(at: slot) { e in _ = e.value.withZSet { $0.convertToSkiplist() } }
            default: c.error(Errors.wrongType); return
            }
        }
        // An unsorted set would come out in table order; Redis sorts it when storing so the
        // result is deterministic.
        if dontSort && isSet && storeKey != nil { dontSort = false; alpha = true; byPattern = nil }
        // BY nosort keeps a list's or a sorted set's own order, and DESC walks it from the end
        // (LIMIT then counts from there), as Redis reads them backwards.
        if dontSort && desc && !isSet { elements.reverse() }

        if !dontSort {
            var keyed: [(element: [UInt8], num: Double, text: [UInt8]?)] = []
            for e in elements {
                let w = byPattern.map { lookup(&c, $0, e) } ?? e
                if alpha {
                    keyed.append((e, 0, w))
                } else {
                    var num = 0.0
                    if let w {
                        guard let d = parseRedisDouble(w) else {
                            c.error("ERR One or more scores can't be converted into double")
                            return
                        }
                        num = d
                    }
                    keyed.append((e, num, nil))
                }
            }
            keyed.sort { a, b in
                var cmp: Int
                if alpha {
                    switch (a.text, b.text) {
                    case (nil, nil): cmp = 0
                    case (nil, _): cmp = -1
                    case (_, nil): cmp = 1
                    case (let x?, let y?): cmp = compareBytes(x, y)
                    }
                } else {
                    cmp = a.num < b.num ? -1 : (a.num > b.num ? 1 : compareBytes(a.element, b.element))
                }
                return desc ? cmp > 0 : cmp < 0
            }
            elements = keyed.map(\.element)
        }

        let n = elements.count
        var start = max(0, limitStart)
        var end = limitCount < 0 ? n - 1 : (limitCount > Int.max - start ? Int.max : start + limitCount - 1)
        if start >= n { start = n - 1; end = n - 2 }
        if end >= n { end = n - 1 }
        let picked = start <= end && start >= 0 ? Array(elements[start...end]) : []

        var outputs: [[UInt8]?] = []
        for e in picked {
            if getPatterns.isEmpty { outputs.append(e); continue }
            for p in getPatterns { outputs.append(lookup(&c, p, e)) }
        }
        if let storeKey {
            let dst = c.db.shard(storeKey[...])
            let existed = dst.delete(storeKey[...], now: c.lookupNow)
            if !outputs.isEmpty {
                dst.set(storeKey[...], .list(Deque(outputs.map { ElementBytes($0 ?? []) })), access: c.newAccess)
                c.notify(.list, "sortstore", key: storeKey)
                c.signalReady(dst, storeKey[...])
                c.dirty(outputs.count)
            } else if existed {
                // As Redis: an empty result deletes the destination; over nothing, no change.
                c.notify(.generic, "del", key: storeKey)
                c.dirty()
            }
            c.out.integer(outputs.count)
            return
        }
        c.out.array(outputs.count)
        for o in outputs {
            if let o { c.out.bulk(o) } else { c.out.null() }
        }
    }
}
