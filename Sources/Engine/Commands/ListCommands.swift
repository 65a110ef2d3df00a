import DequeModule
import RESP
import Storage

/// The list family, blocking pops included. Lists are deques of elements (ElementBytes).

extension RESPWriter {
    mutating func bulk(_ e: ElementBytes) { e.withUnsafeBytes { bulk($0) } }
}

enum ListCommands {
    static let specs: [CommandSpec] = [
        spec("lpush", -3, [.write, .denyoom, .fast], (1, 1, 1), "Prepends one or more elements to a list. Creates the key if it doesn't exist.",
             { push(&$0, left: true, onlyExisting: false) }),
        spec("rpush", -3, [.write, .denyoom, .fast], (1, 1, 1), "Appends one or more elements to a list. Creates the key if it doesn't exist.",
             { push(&$0, left: false, onlyExisting: false) }),
        spec("lpushx", -3, [.write, .denyoom, .fast], (1, 1, 1), "Prepends one or more elements to a list only when the list exists.",
             { push(&$0, left: true, onlyExisting: true) }),
        spec("rpushx", -3, [.write, .denyoom, .fast], (1, 1, 1), "Appends an element to a list only when the list exists.",
             { push(&$0, left: false, onlyExisting: true) }),
        spec("lpop", -2, [.write, .fast], (1, 1, 1), "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.",
             { pop(&$0, left: true) }),
        spec("rpop", -2, [.write, .fast], (1, 1, 1), "Returns and removes the last elements of a list. Deletes the list if the last element was popped.",
             { pop(&$0, left: false) }),
        spec("llen", 2, [.readonly, .fast], (1, 1, 1), "Returns the length of a list.", llen),
        spec("lrange", 4, [.readonly], (1, 1, 1), "Returns a range of elements from a list.", lrange),
        spec("lindex", 3, [.readonly], (1, 1, 1), "Returns an element from a list by its index.", lindex),
        spec("lset", 4, [.write, .denyoom], (1, 1, 1), "Sets the value of an element in a list by its index.", lset),
        spec("linsert", 5, [.write, .denyoom], (1, 1, 1), "Inserts an element before or after another element in a list.", linsert),
        spec("lrem", 4, [.write], (1, 1, 1), "Removes elements from a list. Deletes the list if the last element was removed.", lrem),
        spec("ltrim", 4, [.write], (1, 1, 1), "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", ltrim),
        spec("lpos", -3, [.readonly], (1, 1, 1), "Returns the index of matching elements in a list.", lpos),
        spec("lmove", 5, [.write, .denyoom], (1, 2, 1), "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.",
             lmove),
        spec("rpoplpush", 3, [.write, .denyoom], (1, 2, 1), "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.",
             lmove),
        spec("lmpop", -4, [.write], (1, 1, 1), "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.",
             lmpop, keyFinder: { CommandSpec.keysAfterCount(1, $0) }),
        spec("blpop", -3, [.write, .noscript, .blocking], (1, -2, 1), "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
             { bpop(&$0, left: true) }),
        spec("brpop", -3, [.write, .noscript, .blocking], (1, -2, 1), "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
             { bpop(&$0, left: false) }),
        spec("blmove", 6, [.write, .denyoom, .noscript, .blocking], (1, 2, 1), "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.",
             lmove),
        spec("brpoplpush", 4, [.write, .denyoom, .noscript, .blocking], (1, 2, 1), "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.",
             lmove),
        spec("blmpop", -5, [.write, .blocking], (2, 2, 1), "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
             lmpop, keyFinder: { CommandSpec.keysAfterCount(2, $0) }),
    ]

    static func spec(_ name: String, _ arity: Int, _ flags: CommandFlags, _ keys: (Int, Int, Int), _ summary: String,
                     _ h: @escaping CommandHandler,
                     keyFinder: (@Sendable (CommandArguments) -> [Int])? = nil) -> CommandSpec {
        var f = flags
        if keyFinder != nil { f.insert(.movableKeys) }
        return CommandSpec(name, arity: arity, flags: f, keys: keys, group: "list", summary: summary,
                           complexity: "O(N)", acl: ["list"], keyFinder: keyFinder, handler: h)
    }

    // MARK: push / pop

    /// LPUSH key element [element ...] and RPUSH, LPUSHX, RPUSHX
    static func push(_ c: inout CommandContext, left: Bool, onlyExisting: Bool) {
        let slot: Int
        switch c.find(1, c.isList) {
        case .wrongType: c.error(Errors.wrongType); return
        case .missing(let s):
            if onlyExisting { c.out.integer(0); return }
            slot = s.set(c.args[1], .list(Deque()), access: c.newAccess)
        case .found(_, let s): slot = s
        }
        let shard = c.shard(1)
        let args = c.args
        let n = shard.withEntry(at: slot) { e in
            e.value.withList { l in
                for i in 2..<args.count {
                    if left { l.prepend(ElementBytes(args[i])) } else { l.append(ElementBytes(args[i])) }
                }
                return l.count
            } ?? 0
        }
        c.dirty(c.argc - 2)
        c.notify(.list, left ? "lpush" : "rpush", 1)
        c.signalReady(shard, c.args[1])
        c.out.integer(n)
    }

    /// Pops up to `count` elements from the list at `slot`, deleting it when emptied.
    /// One element from a list known to hold one (found, and lists are never empty): LPOP and
    /// RPOP without a count, without the array popElements returns (an allocation per call).
    static func popOne(_ c: inout CommandContext, _ shard: Shard, _ slot: Int, left: Bool, arg: Int = 1) -> ElementBytes {
        let element = shard.withEntry(at: slot) { e in
            e.value.withList { l in l.isEmpty ? .empty : left ? l.removeFirst() : l.removeLast() } ?? .empty
        }
        afterPop(&c, shard, slot, left: left, popped: 1, arg: arg)
        return element
    }

    /// What follows a pop: the key goes when the list is empty, then dirty and the events.
    private static func afterPop(_ c: inout CommandContext, _ shard: Shard, _ slot: Int, left: Bool, popped: Int, arg: Int) {
        c.dropIfEmpty(shard, slot)
        c.dirty(popped)
        c.notify(.list, left ? "lpop" : "rpop", arg)
        c.notifyIfDeleted(shard, arg)
    }

    static func popElements(_ c: inout CommandContext, _ shard: Shard, _ slot: Int, left: Bool, count: Int, arg: Int = 1) -> [ElementBytes] {
        let out = shard.withEntry(at: slot) { e in
            e.value.withList { l -> [ElementBytes] in
                var taken: [ElementBytes] = []
                for _ in 0..<min(count, l.count) { taken.append(left ? l.removeFirst() : l.removeLast()) }
                return taken
            } ?? []
        }
        afterPop(&c, shard, slot, left: left, popped: out.count, arg: arg)
        return out
    }

    /// LPOP key [count] / RPOP key [count]
    static func pop(_ c: inout CommandContext, left: Bool) {
        if c.argc > 3 { c.error(Errors.arity(left ? "lpop" : "rpop")); return }
        var count: Int? = nil
        if c.argc == 3 {
            guard let n = c.positiveCount(2) else { return }
            count = n
        }
        switch c.find(1, c.isList) {
        case .wrongType: c.error(Errors.wrongType)
        case .missing:
            if count == nil { c.out.null() } else { c.out.nullArray() }
        case .found(let shard, let slot):
            guard let n = count else {
                c.out.bulk(popOne(&c, shard, slot, left: left))
                return
            }
            if n == 0 { c.out.array(0); return }
            let items = popElements(&c, shard, slot, left: left, count: n)
            c.out.array(items.count)
            for i in items { c.out.bulk(i) }
        }
    }

    /// BLPOP key [key ...] timeout / BRPOP key [key ...] timeout
    static func bpop(_ c: inout CommandContext, left: Bool) {
        guard let timeout = c.blockingTimeout(c.argc - 1) else { return }
        switch c.firstFound(Array(1..<(c.argc - 1)), c.isList) {
        case .replied: return
        case .found(let i, let shard, let slot):
            let v = popElements(&c, shard, slot, left: left, count: 1, arg: i)[0]
            if c.propagating { c.propagateInstead([left ? Verb.lpop : Verb.rpop, c.args.owned(i)]) }
            c.out.array(2)
            c.out.bulk(c.args[i])
            c.out.bulk(v)
            return
        case .none: break
        }
        if !c.serving { c.block(on: Array(1..<(c.argc - 1)), timeoutMs: timeout, nullArray: true) }
    }

    /// LMPOP numkeys key [key ...] LEFT | RIGHT [COUNT count] and
    /// BLMPOP timeout numkeys key [key ...] LEFT | RIGHT [COUNT count]
    static func lmpop(_ c: inout CommandContext) {
        let blocking = c.args.matches(0, "blmpop")
        guard let m = c.multiPopArguments(blocking: blocking, first: "left", second: "right") else { return }
        let left = m.firstWord, count = m.count
        switch c.firstFound(m.keys, c.isList) {
        case .replied: return
        case .found(let i, let shard, let slot):
            let items = popElements(&c, shard, slot, left: left, count: count, arg: i)
            if c.propagating { c.propagateInstead([left ? Verb.lpop : Verb.rpop, c.args.owned(i), Verb.number(items.count)]) }
            c.out.array(2)
            c.out.bulk(c.args[i])
            c.out.array(items.count)
            for v in items { c.out.bulk(v) }
            return
        case .none: break
        }
        if c.serving { return }
        if blocking { c.block(on: m.keys, timeoutMs: m.timeoutMs, nullArray: true) } else { c.out.nullArray() }
    }

    static func direction(_ c: inout CommandContext, _ i: Int) -> Bool? {
        if c.args.matches(i, "left") { return true }
        if c.args.matches(i, "right") { return false }
        c.error(Errors.syntax)
        return nil
    }

    /// LMOVE source destination LEFT | RIGHT LEFT | RIGHT, RPOPLPUSH source destination,
    /// BLMOVE source destination LEFT | RIGHT LEFT | RIGHT timeout, BRPOPLPUSH source destination timeout
    static func lmove(_ c: inout CommandContext) {
        var fromLeft = false, toLeft = true
        var timeout: Int64 = 0
        let name = c.args.string(0).lowercased()
        if name == "lmove" || name == "blmove" {
            guard let f = direction(&c, 3), let t = direction(&c, 4) else { return }
            fromLeft = f
            toLeft = t
        }
        let blocking = name.hasPrefix("b")
        if blocking {
            guard let t = c.blockingTimeout(c.argc - 1) else { return }
            timeout = t
        }
        let src: Shard
        switch c.find(1, c.isList) {
        case .wrongType:
            if !c.serving { c.error(Errors.wrongType) }
            return
        case .missing:
            if c.serving { return }
            if blocking { c.block(on: [1], timeoutMs: timeout, nullArray: false) } else { c.out.null() }
            return
        case .found(let s, _): src = s
        }
        // A destination of another type is WRONGTYPE, for a served blocked client too (Redis
        // answers it and leaves the element in the source for the next waiter).
        if case .wrongType = c.find(2, c.isList) {
            c.error(Errors.wrongType)
            return
        }
        // Looked up again: creating the destination may have moved the source's slot.
        let srcSlot = src.find(c.args[1], now: c.lookupNow)!
        let value: ElementBytes = src.withEntry(at: srcSlot) { e in
            e.value.withList { l in fromLeft ? l.removeFirst() : l.removeLast() }!
        }
        let dst = c.shard(2)
        let dstSlot = dst.findOrCreate(c.args[2], now: c.lookupNow, access: c.newAccess) { .list(Deque()) }
        dst.withEntry(at: dstSlot) { e in
            _ = e.value.withList { l in if toLeft { l.prepend(value) } else { l.append(value) } }
        }
        if let s = src.find(c.args[1], now: c.lookupNow) { c.dropIfEmpty(src, s) }
        c.dirty()
        // LMOVE and RPOPLPUSH propagate their words; the blocking forms as the plain ones, a
        // served BLMOVE with the directions in lower case, as Redis 7.0 writes them.
        if c.propagating && name == "brpoplpush" {
            c.propagateInstead([Verb.rpoplpush, c.args.owned(1), c.args.owned(2)])
        } else if c.propagating && name == "blmove" {
            c.propagateInstead([Verb.lmove, c.args.owned(1), c.args.owned(2),
                                c.serving ? Array((fromLeft ? "left" : "right").utf8) : c.args.owned(3),
                                c.serving ? Array((toLeft ? "left" : "right").utf8) : c.args.owned(4)])
        }
        c.notify(.list, toLeft ? "lpush" : "rpush", 2)   // Redis sends the push first
        c.notify(.list, fromLeft ? "lpop" : "rpop", 1)
        c.notifyIfDeleted(src, 1)
        c.signalReady(dst, c.args[2])
        c.out.bulk(value)
    }

    // MARK: reads and edits

    /// LLEN key
    static func llen(_ c: inout CommandContext) {
        switch c.find(1, c.isList) {
        case .wrongType: c.error(Errors.wrongType)
        case .missing: c.out.integer(0)
        case .found(let s, let slot): c.out.integer(s.entry(at: slot).value.elementCount)
        }
    }

    static func list(_ s: Shard, _ slot: Int) -> Deque<ElementBytes> {
        if case .list(let l) = s.entry(at: slot).value { return l }
        return []
    }

    /// LRANGE key start stop
    static func lrange(_ c: inout CommandContext) {
        guard let start = c.integer(2), let end = c.integer(3) else { return }
        switch c.find(1, c.isList) {
        case .wrongType: c.error(Errors.wrongType)
        case .missing: c.out.array(0)
        case .found(let s, let slot):
            let l = list(s, slot)
            guard let r = CommandContext.rankRange(start, end, count: l.count) else { c.out.array(0); return }
            c.out.array(r.count)
            for i in r { c.out.bulk(l[i]) }
        }
    }

    /// LINDEX key index
    static func lindex(_ c: inout CommandContext) {
        // Redis looks the key up before it parses the index.
        switch c.find(1, c.isList) {
        case .wrongType: c.error(Errors.wrongType)
        case .missing: c.out.null()
        case .found(let s, let slot):
            guard var index = c.integer(2) else { return }
            let l = list(s, slot)
            if index < 0 { index += l.count }
            if index < 0 || index >= l.count { c.out.null() } else { c.out.bulk(l[index]) }
        }
    }

    /// LSET key index element
    static func lset(_ c: inout CommandContext) {
        switch c.find(1, c.isList) {
        case .wrongType: c.error(Errors.wrongType)
        case .missing: c.error(Errors.noSuchKey)
        case .found(let s, let slot):
            guard let index = c.integer(2) else { return }
            let value = ElementBytes(c.args[3])
            let ok = s.withEntry(at: slot) { e in
                e.value.withList { l -> Bool in
                    let i = index < 0 ? index + l.count : index
                    guard i >= 0 && i < l.count else { return false }
                    l[i] = value
                    return true
                } ?? false
            }
            if ok { c.dirty(); c.notify(.list, "lset", 1); c.ok() } else { c.error("ERR index out of range") }
        }
    }

    /// LINSERT key BEFORE | AFTER pivot element
    static func linsert(_ c: inout CommandContext) {
        let after: Bool
        if c.args.matches(2, "after") { after = true } else if c.args.matches(2, "before") { after = false } else {
            c.error(Errors.syntax)
            return
        }
        switch c.find(1, c.isList) {
        case .wrongType: c.error(Errors.wrongType)
        case .missing: c.out.integer(0)
        case .found(let s, let slot):
            let pivot = c.args[3]
            let value = ElementBytes(c.args[4])
            let n = s.withEntry(at: slot) { e in
                e.value.withList { l -> Int in
                    guard let i = l.firstIndex(where: { $0.elementsEqual(pivot) }) else { return -1 }
                    l.insert(value, at: after ? i + 1 : i)
                    return l.count
                } ?? -1
            }
            if n > 0 { c.dirty(); c.notify(.list, "linsert", 1) }
            c.out.integer(n)
        }
    }

    /// LREM key count element
    static func lrem(_ c: inout CommandContext) {
        guard let count = c.integer(2) else { return }
        switch c.find(1, c.isList) {
        case .wrongType: c.error(Errors.wrongType)
        case .missing: c.out.integer(0)
        case .found(let s, let slot):
            let target = c.args[3]
            let removed = s.withEntry(at: slot) { e in
                e.value.withList { l -> Int in
                    var removed = 0
                    let limit = count == 0 ? Int.max : abs(count)
                    if count >= 0 {
                        var i = 0
                        while i < l.count && removed < limit {
                            if l[i].elementsEqual(target) { l.remove(at: i); removed += 1 } else { i += 1 }
                        }
                    } else {
                        var i = l.count - 1
                        while i >= 0 && removed < limit {
                            if l[i].elementsEqual(target) { l.remove(at: i); removed += 1 }
                            i -= 1
                        }
                    }
                    return removed
                } ?? 0
            }
            c.dropIfEmpty(s, slot)
            c.dirty(removed)
            if removed > 0 { c.notify(.list, "lrem", 1); c.notifyIfDeleted(s, 1) }
            c.out.integer(removed)
        }
    }

    /// LTRIM key start stop
    static func ltrim(_ c: inout CommandContext) {
        guard let start = c.integer(2), let end = c.integer(3) else { return }
        switch c.find(1, c.isList) {
        case .wrongType: c.error(Errors.wrongType)
        case .missing: c.ok()
        case .found(let s, let slot):
            let removed: Int = s.withEntry(at: slot) { e in
                e.value.withList { l in
                    let before = l.count
                    if let r = CommandContext.rankRange(start, end, count: l.count) {
                        l.removeLast(l.count - r.upperBound - 1)
                        l.removeFirst(r.lowerBound)
                    } else {
                        l.removeAll()
                    }
                    return before - l.count
                } ?? 0
            }
            c.dropIfEmpty(s, slot)
            // As Redis: the changes are the elements removed (none: nothing to propagate).
            c.dirty(removed)
            c.notify(.list, "ltrim", 1)
            c.notifyIfDeleted(s, 1)
            c.ok()
        }
    }

    /// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
    static func lpos(_ c: inout CommandContext) {
        var rank = 1, count = -1, maxlen = 0
        var j = 3
        while j < c.argc {
            let more = c.argc - 1 - j
            if c.args.matches(j, "rank") && more > 0 {
                guard let r = c.integer(j + 1) else { return }
                if r == 0 {
                    c.error("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
                    return
                }
                rank = r
            } else if c.args.matches(j, "count") && more > 0 {
                guard let n = c.ranged(j + 1, 0, Int.max, "COUNT can't be negative") else { return }
                count = n
            } else if c.args.matches(j, "maxlen") && more > 0 {
                guard let n = c.ranged(j + 1, 0, Int.max, "MAXLEN can't be negative") else { return }
                maxlen = n
            } else {
                c.error(Errors.syntax)
                return
            }
            j += 2
        }
        switch c.find(1, c.isList) {
        case .wrongType: c.error(Errors.wrongType)
        case .missing: if count != -1 { c.out.array(0) } else { c.out.null() }
        case .found(let s, let slot):
            let l = list(s, slot)
            let target = c.args[2]
            let fromTail = rank < 0
            // Redis negates the rank in C, so LONG_MIN stays negative and matches at once.
            let skip = rank == Int.min ? 1 : abs(rank)
            var matches = 0
            var found: [Int] = []
            var scanned = 0
            var idx = fromTail ? l.count - 1 : 0
            while idx >= 0 && idx < l.count && (maxlen == 0 || scanned < maxlen) {
                if l[idx].elementsEqual(target) {
                    matches += 1
                    if matches >= skip {
                        found.append(idx)
                        if count == -1 || (count > 0 && found.count >= count) { break }
                    }
                }
                scanned += 1
                idx += fromTail ? -1 : 1
            }
            if count == -1 {
                if let f = found.first { c.out.integer(f) } else { c.out.null() }
            } else {
                c.out.array(found.count)
                for f in found { c.out.integer(f) }
            }
        }
    }
}
