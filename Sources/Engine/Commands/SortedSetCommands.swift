#if canImport(Glibc)
import Glibc
#endif
import RESP
import Storage

/// The sorted set family.
enum SortedSetCommands {
    static let specs: [CommandSpec] = [
        spec("zadd", -4, [.write, .denyoom, .fast], "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.",
             { zadd(&$0, alwaysIncr: false) }),
        spec("zincrby", 4, [.write, .denyoom, .fast], "Increments the score of a member in a sorted set.",
             { zadd(&$0, alwaysIncr: true) }),
        spec("zrem", -3, [.write, .fast], "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", zrem),
        spec("zcard", 2, [.readonly, .fast], "Returns the number of members in a sorted set.", zcard),
        spec("zcount", 4, [.readonly, .fast], "Returns the count of members in a sorted set that have scores within a range.", { zcount(&$0, lex: false) }),
        spec("zlexcount", 4, [.readonly, .fast], "Returns the number of members in a sorted set within a lexicographical range.", { zcount(&$0, lex: true) }),
        spec("zscore", 3, [.readonly, .fast], "Returns the score of a member in a sorted set.", zscore),
        spec("zmscore", -3, [.readonly, .fast], "Returns the score of one or more members in a sorted set.", zmscore),
        spec("zrank", -3, [.readonly, .fast], "Returns the index of a member in a sorted set ordered by ascending scores.", { zrank(&$0, rev: false) }),
        spec("zrevrank", -3, [.readonly, .fast], "Returns the index of a member in a sorted set ordered by descending scores.", { zrank(&$0, rev: true) }),
        spec("zrange", -4, [.readonly], "Returns members in a sorted set within a range of indexes.", { zrange(&$0, .zrange) }),
        spec("zrangestore", -5, [.write, .denyoom], "Stores a range of members from sorted set in a key.", { zrange(&$0, .zrangestore) }, keys: (1, 2, 1)),
        spec("zrevrange", -4, [.readonly], "Returns members in a sorted set within a range of indexes in reverse order.", { zrange(&$0, .zrevrange) }),
        spec("zrangebyscore", -4, [.readonly], "Returns members in a sorted set within a range of scores.", { zrange(&$0, .byscore) }),
        spec("zrevrangebyscore", -4, [.readonly], "Returns members in a sorted set within a range of scores in reverse order.", { zrange(&$0, .revbyscore) }),
        spec("zrangebylex", -4, [.readonly], "Returns members in a sorted set within a lexicographical range.", { zrange(&$0, .bylex) }),
        spec("zrevrangebylex", -4, [.readonly], "Returns members in a sorted set within a lexicographical range in reverse order.", { zrange(&$0, .revbylex) }),
        spec("zremrangebyrank", 4, [.write], "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", { zremrange(&$0, .rank) }),
        spec("zremrangebyscore", 4, [.write], "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", { zremrange(&$0, .score) }),
        spec("zremrangebylex", 4, [.write], "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", { zremrange(&$0, .lex) }),
        spec("zpopmin", -2, [.write, .fast], "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", { zpop(&$0, max: false) }),
        spec("zpopmax", -2, [.write, .fast], "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", { zpop(&$0, max: true) }),
        spec("bzpopmin", -3, [.write, .noscript, .fast, .blocking], "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", { bzpop(&$0, max: false) }, keys: (1, -2, 1)),
        spec("bzpopmax", -3, [.write, .noscript, .fast, .blocking], "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise. Deletes the sorted set if the last element was popped.", { bzpop(&$0, max: true) }, keys: (1, -2, 1)),
        spec("zmpop", -4, [.write], "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.", zmpop, keyFinder: { CommandSpec.keysAfterCount(1, $0) }),
        spec("bzmpop", -5, [.write, .blocking], "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", zmpop, keyFinder: { CommandSpec.keysAfterCount(2, $0) }),
        spec("zrandmember", -2, [.readonly], "Returns one or more random members from a sorted set.", zrandmember),
        spec("zunion", -3, [.readonly], "Returns the union of multiple sorted sets.", { combine(&$0, .union, store: false) }, keyFinder: { CommandSpec.keysAfterCount(1, $0) }),
        spec("zinter", -3, [.readonly], "Returns the intersect of multiple sorted sets.", { combine(&$0, .inter, store: false) }, keyFinder: { CommandSpec.keysAfterCount(1, $0) }),
        spec("zdiff", -3, [.readonly], "Returns the difference between multiple sorted sets.", { combine(&$0, .diff, store: false) }, keyFinder: { CommandSpec.keysAfterCount(1, $0) }),
        spec("zunionstore", -4, [.write, .denyoom], "Stores the union of multiple sorted sets in a key.", { combine(&$0, .union, store: true) }, keyFinder: { [1] + CommandSpec.keysAfterCount(2, $0) }),
        spec("zinterstore", -4, [.write, .denyoom], "Stores the intersect of multiple sorted sets in a key.", { combine(&$0, .inter, store: true) }, keyFinder: { [1] + CommandSpec.keysAfterCount(2, $0) }),
        spec("zdiffstore", -4, [.write, .denyoom], "Stores the difference of multiple sorted sets in a key.", { combine(&$0, .diff, store: true) }, keyFinder: { [1] + CommandSpec.keysAfterCount(2, $0) }),
        spec("zintercard", -3, [.readonly], "Returns the number of members of the intersect of multiple sorted sets.", { combine(&$0, .inter, store: false, cardinality: true) }, keyFinder: { CommandSpec.keysAfterCount(1, $0) }),
        spec("zscan", -3, [.readonly], "Iterates over members and scores of a sorted set.", zscan),
    ]

    static func spec(_ name: String, _ arity: Int, _ flags: CommandFlags, _ summary: String, _ h: @escaping CommandHandler,
                     keys: (Int, Int, Int) = (1, 1, 1),
                     keyFinder: (@Sendable (CommandArguments) -> [Int])? = nil) -> CommandSpec {
        var f = flags
        if keyFinder != nil { f.insert(.movableKeys) }
        return CommandSpec(name, arity: arity, flags: f, keys: keys, group: "sorted-set", summary: summary,
                           complexity: "O(log(N))", acl: ["sortedset"], keyFinder: keyFinder, handler: h)
    }

    static func zset(_ s: Shard, _ slot: Int) -> SortedSetValue {
        if case .zset(let z) = s.entry(at: slot).value { return z }
        return SortedSetValue()
    }

    static func limits(_ c: CommandContext) -> (Int, Int) {
        (c.engine.settings.zsetMaxEntries.load(ordering: .relaxed), c.engine.settings.zsetMaxValue.load(ordering: .relaxed))
    }

    /// A score as Redis prints it: "%.17g", and inf / -inf.
    static func format(_ d: Double) -> String {
        if d.isInfinite { return d > 0 ? "inf" : "-inf" }
        var buf = [CChar](repeating: 0, count: 64)
        _ = withVaList([d]) { va in buf.withUnsafeMutableBufferPointer { vsnprintf($0.baseAddress!, 64, "%.17g", va) } }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func replyScore(_ c: inout CommandContext, _ d: Double) { c.out.double(format(d)) }

    /// Members with scores: flat in RESP2, [member, score] pairs in RESP3 (or when `nested`).
    static func replyPairs(_ c: inout CommandContext, _ items: [(score: Double, member: [UInt8])], withScores: Bool, nested: Bool? = nil) {
        let pairs = withScores && (nested ?? c.out.resp3)
        c.out.array(withScores && !pairs ? items.count * 2 : items.count)
        for (s, m) in items {
            if pairs { c.out.array(2) }
            c.out.bulk(m)
            if withScores { replyScore(&c, s) }
        }
    }

    // MARK: ranges

    struct ScoreRange {
        var min: Double, max: Double, minEx: Bool, maxEx: Bool
        func contains(_ s: Double) -> Bool {
            (minEx ? s > min : s >= min) && (maxEx ? s < max : s <= max)
        }
    }

    /// A range bound as Redis's zslParseRange reads it: "(" for exclusive, then plain strtod
    /// (so "" is 0 and leading spaces pass), NaN refused.
    static func parseScoreBound(_ b: ArraySlice<UInt8>) -> (Double, Bool)? {
        if b.first == UInt8(ascii: "(") {
            guard let v = strtodWhole(b.dropFirst()), !v.isNaN else { return nil }
            return (v, true)
        }
        guard let v = strtodWhole(b), !v.isNaN else { return nil }
        return (v, false)
    }

    static func parseScoreRange(_ c: inout CommandContext, _ minIdx: Int, _ maxIdx: Int) -> ScoreRange? {
        guard let (mn, mnx) = parseScoreBound(c.args[minIdx]), let (mx, mxx) = parseScoreBound(c.args[maxIdx]) else {
            c.error("ERR min or max is not a float")
            return nil
        }
        return ScoreRange(min: mn, max: mx, minEx: mnx, maxEx: mxx)
    }

    /// A lex bound: "-" and "+" are the ends, "[x" inclusive, "(x" exclusive.
    enum LexBound { case minusInf, plusInf, value([UInt8], exclusive: Bool) }

    struct LexRange {
        var min: LexBound, max: LexBound
        func aboveMin(_ m: [UInt8]) -> Bool {
            switch min {
            case .minusInf: return true
            case .plusInf: return false
            case .value(let v, let ex): let c = compareBytes(m, v); return ex ? c > 0 : c >= 0
            }
        }
        func belowMax(_ m: [UInt8]) -> Bool {
            switch max {
            case .minusInf: return false
            case .plusInf: return true
            case .value(let v, let ex): let c = compareBytes(m, v); return ex ? c < 0 : c <= 0
            }
        }
    }

    static func parseLexBound(_ b: ArraySlice<UInt8>) -> LexBound? {
        guard let f = b.first else { return nil }
        switch f {
        case UInt8(ascii: "+"): return b.count == 1 ? .plusInf : nil
        case UInt8(ascii: "-"): return b.count == 1 ? .minusInf : nil
        case UInt8(ascii: "["): return .value(Array(b.dropFirst()), exclusive: false)
        case UInt8(ascii: "("): return .value(Array(b.dropFirst()), exclusive: true)
        default: return nil
        }
    }

    static func parseLexRange(_ c: inout CommandContext, _ minIdx: Int, _ maxIdx: Int) -> LexRange? {
        guard let mn = parseLexBound(c.args[minIdx]), let mx = parseLexBound(c.args[maxIdx]) else {
            c.error("ERR min or max not valid string range item")
            return nil
        }
        return LexRange(min: mn, max: mx)
    }

    /// Ranks [first, end) of the members within a score range.
    static func ranks(_ z: SortedSetValue, _ r: ScoreRange) -> Range<Int> {
        let first = z.firstRank(score: r.min, exclusive: r.minEx)
        let end = z.firstRank(score: r.max, exclusive: !r.maxEx)
        return first..<max(first, end)
    }

    static func ranks(_ z: SortedSetValue, _ r: LexRange) -> Range<Int> {
        let first: Int
        switch r.min {
        case .minusInf: first = 0
        case .plusInf: first = z.count
        case .value(let v, let ex): first = z.firstRank(member: v, exclusive: ex)
        }
        let end: Int
        switch r.max {
        case .minusInf: end = 0
        case .plusInf: end = z.count
        case .value(let v, let ex): end = z.firstRank(member: v, exclusive: !ex)
        }
        return first..<max(first, end)
    }

    // MARK: ZADD and friends

    /// ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...], and
    /// ZINCRBY key increment member, which Redis runs as ZADD INCR (flags and all).
    static func zadd(_ c: inout CommandContext, alwaysIncr: Bool) {
        var nx = false, xx = false, gt = false, lt = false, ch = false, incr = alwaysIncr
        var idx = 2
        while idx < c.argc {
            // A score (digits, a sign, a point) is no option: most calls stop here at once.
            if let first = c.args[idx].first, first < UInt8(ascii: "A") { break }
            if c.args.matches(idx, "nx") { nx = true }
            else if c.args.matches(idx, "xx") { xx = true }
            else if c.args.matches(idx, "gt") { gt = true }
            else if c.args.matches(idx, "lt") { lt = true }
            else if c.args.matches(idx, "ch") { ch = true }
            else if c.args.matches(idx, "incr") { incr = true }
            else { break }
            idx += 1
        }
        let elements = c.argc - idx
        if elements % 2 != 0 || elements == 0 { c.error(Errors.syntax); return }
        if incr && elements > 2 { c.error("ERR INCR option supports a single increment-element pair"); return }
        if nx && xx { c.error("ERR XX and NX options at the same time are not compatible"); return }
        if (gt && nx) || (lt && nx) || (gt && lt) {
            c.error("ERR GT, LT, and/or NX options at the same time are not compatible")
            return
        }
        // Every score is checked before anything changes, as in Redis. One pair (the usual
        // call) keeps its score in a local: an array here was an allocation per ZADD.
        var firstScore = 0.0
        var moreScores: [Double] = []
        for i in stride(from: idx, to: c.argc, by: 2) {
            guard let s = c.double(i) else { return }
            if i == idx { firstScore = s } else { moreScores.append(s) }
        }
        let shard: Shard, slot: Int
        switch c.find(1, c.isZSet) {
        case .wrongType: c.error(Errors.wrongType); return
        case .missing(let s):
            if xx {
                if incr { c.out.null() } else { c.out.integer(0) }
                return
            }
            shard = s
            slot = s.set(c.args[1], .zset(SortedSetValue()), access: c.newAccess)
        case .found(let s, let sl): shard = s; slot = sl
        }
        let (maxEntries, maxValue) = limits(c)
        var added = 0, updated = 0
        var incrResult: Double? = nil
        var nan = false
        let args = c.args
        shard.withEntry(at: slot) { e in
            _ = e.value.withZSet { z in
                for (k, i) in stride(from: idx, to: args.count, by: 2).enumerated() {
                    let given = k == 0 ? firstScore : moreScores[k - 1]
                    let (old, new) = z.update(args[i + 1], maxEntries: maxEntries, maxValue: maxValue) { cur in
                        guard let cur else { return xx ? nil : given }
                        if nx { return nil }
                        var score = given
                        if incr {
                            score += cur
                            if score.isNaN { nan = true; return nil }
                        }
                        if (gt && score <= cur) || (lt && score >= cur) { return nil }
                        return score
                    }
                    if nan { return }
                    guard let new else { continue }
                    incrResult = new
                    if old == nil { added += 1 } else if new != old { updated += 1 }
                }
            }
        }
        c.dropIfEmpty(shard, slot)
        if nan { c.error("ERR resulting score is not a number (NaN)"); return }
        c.dirty(added + updated)
        if added + updated > 0 {
            c.notify(.zset, incr ? "zincr" : "zadd", 1)
            c.signalReady(shard, c.args[1])
        }
        if incr {
            if let r = incrResult { replyScore(&c, r) } else { c.out.null() }
        } else {
            c.out.integer(ch ? added + updated : added)
        }
    }

    /// ZREM key member [member ...]
    static func zrem(_ c: inout CommandContext) {
        c.removeMembers(c.isZSet, .zset, "zrem") { v, m in v.withZSet { $0.remove(m) } ?? false }
    }

    /// The sorted set at args[i] (empty when missing), or nil after WRONGTYPE.
    static func read(_ c: inout CommandContext, _ i: Int) -> SortedSetValue? {
        switch c.find(i, c.isZSet) {
        case .wrongType: c.error(Errors.wrongType); return nil
        case .missing: return SortedSetValue()
        case .found(let s, let slot): return zset(s, slot)
        }
    }

    /// ZCARD key
    static func zcard(_ c: inout CommandContext) {
        guard let z = read(&c, 1) else { return }
        c.out.integer(z.count)
    }

    /// ZCOUNT key min max / ZLEXCOUNT key min max
    static func zcount(_ c: inout CommandContext, lex: Bool) {
        if lex {
            guard let r = parseLexRange(&c, 2, 3), let z = read(&c, 1) else { return }
            c.out.integer(ranks(z, r).count)
        } else {
            guard let r = parseScoreRange(&c, 2, 3), let z = read(&c, 1) else { return }
            c.out.integer(ranks(z, r).count)
        }
    }

    /// ZSCORE key member
    static func zscore(_ c: inout CommandContext) {
        guard let z = read(&c, 1) else { return }
        if let s = z.score(c.args[2]) { replyScore(&c, s) } else { c.out.null() }
    }

    /// ZMSCORE key member [member ...]
    static func zmscore(_ c: inout CommandContext) {
        guard let z = read(&c, 1) else { return }
        c.out.array(c.argc - 2)
        for i in 2..<c.argc {
            if let s = z.score(c.args[i]) { replyScore(&c, s) } else { c.out.null() }
        }
    }

    /// ZRANK key member [WITHSCORE] / ZREVRANK key member [WITHSCORE]
    static func zrank(_ c: inout CommandContext, rev: Bool) {
        if c.argc > 4 { c.error(Errors.arity(rev ? "zrevrank" : "zrank")); return }
        let withScore = c.argc == 4
        if withScore && !c.args.matches(3, "withscore") { c.error(Errors.syntax); return }
        switch c.find(1, c.isZSet) {
        case .wrongType: c.error(Errors.wrongType)
        case .missing: if withScore { c.out.nullArray() } else { c.out.null() }
        case .found(let s, let slot):
            let z = zset(s, slot)
            guard let r = z.rank(c.args[2]) else {
                if withScore { c.out.nullArray() } else { c.out.null() }
                return
            }
            let rank = rev ? z.count - 1 - r : r
            if withScore {
                c.out.array(2)
                c.out.integer(rank)
                replyScore(&c, z.score(c.args[2])!)
            } else {
                c.out.integer(rank)
            }
        }
    }

    enum RangeCommand { case zrange, zrangestore, zrevrange, byscore, revbyscore, bylex, revbylex }
    enum RangeType { case rank, score, lex }

    /// ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES], ZRANGESTORE dst src ...,
    /// ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX, ZREVRANGEBYLEX
    static func zrange(_ c: inout CommandContext, _ cmd: RangeCommand) {
        let store = cmd == .zrangestore
        let keyIdx = store ? 2 : 1
        var minIdx = keyIdx + 1, maxIdx = keyIdx + 2
        var type: RangeType = .rank
        var rev = false
        var flexible = false
        switch cmd {
        case .zrange, .zrangestore: flexible = true
        case .zrevrange: rev = true
        case .byscore: type = .score
        case .revbyscore: type = .score; rev = true
        case .bylex: type = .lex
        case .revbylex: type = .lex; rev = true
        }
        var withScores = false
        var offset = 0, limit = -1
        var hasLimit = false
        var typeGiven = false
        var j = keyIdx + 3
        while j < c.argc {
            let left = c.argc - j - 1
            if !store && c.args.matches(j, "withscores") {
                withScores = true
            } else if c.args.matches(j, "limit") && left >= 2 {
                guard let o = c.integer(j + 1), let l = c.integer(j + 2) else { return }
                offset = o
                limit = l
                hasLimit = true
                j += 2
            } else if flexible && !rev && c.args.matches(j, "rev") {
                rev = true      // each of REV and BYSCORE/BYLEX at most once, as Redis
            } else if flexible && !typeGiven && c.args.matches(j, "bylex") {
                type = .lex
                typeGiven = true
            } else if flexible && !typeGiven && c.args.matches(j, "byscore") {
                type = .score
                typeGiven = true
            } else {
                c.error(Errors.syntax)
                return
            }
            j += 1
        }
        if hasLimit && type == .rank {
            c.error("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
            return
        }
        if withScores && type == .lex {
            c.error("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
            return
        }
        if rev && type != .rank { swap(&minIdx, &maxIdx) }
        var start = 0, end = 0
        var scoreRange: ScoreRange? = nil
        var lexRange: LexRange? = nil
        switch type {
        case .rank:
            guard let s = c.integer(minIdx), let e = c.integer(maxIdx) else { return }
            start = s
            end = e
        case .score:
            guard let r = parseScoreRange(&c, minIdx, maxIdx) else { return }
            scoreRange = r
        case .lex:
            guard let r = parseLexRange(&c, minIdx, maxIdx) else { return }
            lexRange = r
        }
        var z = SortedSetValue()
        switch c.find(keyIdx, c.isZSet) {
        case .wrongType: c.error(Errors.wrongType); return
        case .missing:
            if store { storeResult(&c, []) } else { c.out.array(0) }
            return
        case .found(let s, let slot): z = zset(s, slot)
        }
        var items: [(score: Double, member: [UInt8])] = []
        let n = z.count
        switch type {
        case .rank:
            if let r = CommandContext.rankRange(start, end, count: n) {
                items = rev ? z.range(n - 1 - r.upperBound, n - 1 - r.lowerBound).reversed() : z.range(r.lowerBound, r.upperBound)
            }
        case .score, .lex:
            let r = type == .score ? ranks(z, scoreRange!) : ranks(z, lexRange!)
            var picked: [Int] = rev ? Array(r.reversed()) : Array(r)
            if offset < 0 || (offset > 0 && offset >= picked.count) {
                picked = []
            } else {
                picked = Array(picked.dropFirst(offset))
                if limit >= 0 { picked = Array(picked.prefix(limit)) }
            }
            items = picked.map { z.element(at: $0) }
        }
        if store { storeResult(&c, items); return }
        replyPairs(&c, items, withScores: withScores)
    }

    /// ZRANGESTORE's destination: the range as a new sorted set, or deleted when empty.
    static func storeResult(_ c: inout CommandContext, _ items: [(score: Double, member: [UInt8])]) {
        let dst = c.shard(1)
        let existed = dst.delete(c.args[1], now: c.lookupNow)
        if !items.isEmpty {
            var z = SortedSetValue()
            let (maxEntries, maxValue) = limits(c)
            for (s, m) in items { z.set(m, s, maxEntries: maxEntries, maxValue: maxValue) }
            dst.set(c.args[1], .zset(z), access: c.newAccess)
            c.notify(.zset, "zrangestore", 1)
            c.signalReady(dst, c.args[1])
        }
        // An empty result over a missing destination changed nothing (Redis: no dirty).
        if !items.isEmpty || existed { c.dirty() }
        c.out.integer(items.count)
    }

    enum RemoveBy { case rank, score, lex }

    /// ZREMRANGEBYRANK key start stop / ZREMRANGEBYSCORE key min max / ZREMRANGEBYLEX key min max
    static func zremrange(_ c: inout CommandContext, _ by: RemoveBy) {
        var start = 0, end = 0
        var scoreRange: ScoreRange? = nil
        var lexRange: LexRange? = nil
        switch by {
        case .rank:
            guard let s = c.integer(2), let e = c.integer(3) else { return }
            start = s; end = e
        case .score:
            guard let r = parseScoreRange(&c, 2, 3) else { return }
            scoreRange = r
        case .lex:
            guard let r = parseLexRange(&c, 2, 3) else { return }
            lexRange = r
        }
        switch c.find(1, c.isZSet) {
        case .wrongType: c.error(Errors.wrongType)
        case .missing: c.out.integer(0)
        case .found(let shard, let slot):
            let z = zset(shard, slot)
            let n = z.count
            var r = 0..<0
            switch by {
            case .rank:
                if let rr = CommandContext.rankRange(start, end, count: n) { r = rr.lowerBound..<(rr.upperBound + 1) }
            case .score: r = ranks(z, scoreRange!)
            case .lex: r = ranks(z, lexRange!)
            }
            let victims = r.isEmpty ? [] : z.range(r.lowerBound, r.upperBound - 1).map(\.member)
            shard.withEntry(at: slot) { e in _ = e.value.withZSet { z in for m in victims { z.remove(m[...]) } } }
            c.dropIfEmpty(shard, slot)
            c.dirty(victims.count)
            if !victims.isEmpty {
                c.notify(.zset, by == .rank ? "zremrangebyrank" : by == .score ? "zremrangebyscore" : "zremrangebylex", 1)
                c.notifyIfDeleted(shard, 1)
            }
            c.out.integer(victims.count)
        }
    }

    // MARK: pops

    /// Pops up to `count` lowest (or highest) members, deleting the key when emptied.
    static func popItems(_ c: inout CommandContext, _ shard: Shard, _ slot: Int, max: Bool, count: Int, arg: Int = 1) -> [(score: Double, member: [UInt8])] {
        let items: [(score: Double, member: [UInt8])] = shard.withEntry(at: slot) { e in
            e.value.withZSet { z in
                var out: [(score: Double, member: [UInt8])] = []
                for _ in 0..<min(count, z.count) {
                    let el = z.element(at: max ? z.count - 1 : 0)
                    z.remove(el.member[...])
                    out.append(el)
                }
                return out
            } ?? []
        }
        c.dropIfEmpty(shard, slot)
        c.dirty(items.count)
        if !items.isEmpty {
            c.notify(.zset, max ? "zpopmax" : "zpopmin", arg)
            c.notifyIfDeleted(shard, arg)
        }
        return items
    }

    /// ZPOPMIN key [count] / ZPOPMAX key [count]
    static func zpop(_ c: inout CommandContext, max: Bool) {
        if c.argc > 3 { c.error(Errors.syntax); return }
        var count = 1
        if c.argc == 3 {
            guard let n = c.ranged(2, 0, Int.max, "value is out of range, must be positive") else { return }
            count = n
        }
        switch c.find(1, c.isZSet) {
        case .wrongType: c.error(Errors.wrongType)
        case .missing: c.out.array(0)
        case .found(let shard, let slot):
            let items = popItems(&c, shard, slot, max: max, count: count)
            replyPairs(&c, items, withScores: true, nested: c.out.resp3 && c.argc == 3)
        }
    }

    /// BZPOPMIN key [key ...] timeout / BZPOPMAX key [key ...] timeout
    static func bzpop(_ c: inout CommandContext, max: Bool) {
        guard let timeout = c.blockingTimeout(c.argc - 1) else { return }
        switch c.firstFound(Array(1..<(c.argc - 1)), c.isZSet) {
        case .replied: return
        case .found(let i, let shard, let slot):
            let el = popItems(&c, shard, slot, max: max, count: 1, arg: i)[0]
            if c.propagating { c.propagateInstead([max ? Verb.zpopmax : Verb.zpopmin, c.args.owned(i)]) }
            c.out.array(3)
            c.out.bulk(c.args[i])
            c.out.bulk(el.member)
            replyScore(&c, el.score)
            return
        case .none: break
        }
        if !c.serving { c.block(on: Array(1..<(c.argc - 1)), timeoutMs: timeout, nullArray: true) }
    }

    /// ZMPOP numkeys key [key ...] MIN | MAX [COUNT count] / BZMPOP timeout numkeys key [key ...] MIN | MAX [COUNT count]
    static func zmpop(_ c: inout CommandContext) {
        let blocking = c.args.matches(0, "bzmpop")
        guard let m = c.multiPopArguments(blocking: blocking, first: "min", second: "max") else { return }
        let max = !m.firstWord, count = m.count
        switch c.firstFound(m.keys, c.isZSet) {
        case .replied: return
        case .found(let i, let shard, let slot):
            let items = popItems(&c, shard, slot, max: max, count: count, arg: i)
            if c.propagating { c.propagateInstead([max ? Verb.zpopmax : Verb.zpopmin, c.args.owned(i), Verb.number(items.count)]) }
            c.out.array(2)
            c.out.bulk(c.args[i])
            replyPairs(&c, items, withScores: true, nested: true)
            return
        case .none: break
        }
        if c.serving { return }
        if blocking { c.block(on: m.keys, timeoutMs: m.timeoutMs, nullArray: true) } else { c.out.nullArray() }
    }

    /// ZRANDMEMBER key [count [WITHSCORES]]
    static func zrandmember(_ c: inout CommandContext) {
        var count: Int? = nil
        var withScores = false
        if c.argc >= 3 {
            guard let n = c.integer(2) else { return }
            guard n >= -Int.max / 2 && n <= Int.max / 2 else { c.error("ERR value is out of range"); return }
            count = n
            if c.argc == 4 && c.args.matches(3, "withscores") { withScores = true }
            else if c.argc > 3 { c.error(Errors.syntax); return }
        }
        var rng = RandomSource()
        switch c.find(1, c.isZSet) {
        case .wrongType: c.error(Errors.wrongType)
        case .missing: if count == nil { c.out.null() } else { c.out.array(0) }
        case .found(let s, let slot):
            let z = zset(s, slot)
            guard let n = count else { c.out.bulk(z.randomElement(using: &rng)!.member); return }
            let all = z.range(0, z.count - 1)
            let total = n >= 0 ? min(n, all.count) : -n
            let pairs = withScores && c.out.resp3
            c.out.array(pairs ? total : total * (withScores ? 2 : 1))
            HashCommands.randomPicks(all, n, &rng) { el in
                if pairs { c.out.array(2) }
                c.out.bulk(el.member)
                if withScores { replyScore(&c, el.score) }
            }
        }
    }

    // MARK: algebra

    enum Op { case union, inter, diff }
    enum Aggregate { case sum, min, max }

    /// ZUNION / ZINTER / ZDIFF numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM | MIN | MAX] [WITHSCORES],
    /// their STORE forms destination numkeys ..., and ZINTERCARD numkeys key [key ...] [LIMIT limit]
    static func combine(_ c: inout CommandContext, _ op: Op, store: Bool, cardinality: Bool = false) {
        let numIdx = store ? 2 : 1
        guard let setnum = c.integer(numIdx) else { return }
        let name = c.args.string(0).lowercased()
        guard setnum >= 1 else { c.error("ERR at least 1 input key is needed for '\(name)' command"); return }
        guard setnum <= c.argc - numIdx - 1 else { c.error(Errors.syntax); return }
        var inputs: [[(member: [UInt8], score: Double)]?] = []
        for i in (numIdx + 1)...(numIdx + setnum) {
            let s = c.shard(i)
            guard let slot = s.find(c.args[i], now: c.lookupNow) else { inputs.append(nil); continue }
            switch s.entry(at: slot).value {
            case .zset(let z): inputs.append(z.range(0, z.count - 1).map { ($0.member, $0.score) })
            case .set(let set): inputs.append(set.members.map { ($0, 1.0) })
            default: c.error(Errors.wrongType); return
            }
        }
        var weights = [Double](repeating: 1, count: setnum)
        var aggregate = Aggregate.sum
        var withScores = false
        var limit = 0
        var j = numIdx + 1 + setnum
        while j < c.argc {
            let remaining = c.argc - j
            if op != .diff && !cardinality && remaining >= setnum + 1 && c.args.matches(j, "weights") {
                for k in 0..<setnum {
                    guard let w = c.double(j + 1 + k, error: "ERR weight value is not a float") else { return }
                    weights[k] = w
                }
                j += setnum + 1
            } else if op != .diff && !cardinality && remaining >= 2 && c.args.matches(j, "aggregate") {
                if c.args.matches(j + 1, "sum") { aggregate = .sum }
                else if c.args.matches(j + 1, "min") { aggregate = .min }
                else if c.args.matches(j + 1, "max") { aggregate = .max }
                else { c.error(Errors.syntax); return }
                j += 2
            } else if !store && !cardinality && c.args.matches(j, "withscores") {
                withScores = true
                j += 1
            } else if cardinality && remaining >= 2 && c.args.matches(j, "limit") {
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
        func weighted(_ s: Double, _ w: Double) -> Double {
            let r = s * w
            return r.isNaN ? 0 : r
        }
        func combineScores(_ a: Double, _ b: Double) -> Double {
            switch aggregate {
            case .sum: let r = a + b; return r.isNaN ? 0 : r
            case .min: return Swift.min(a, b)
            case .max: return Swift.max(a, b)
            }
        }
        var result = ByteTable<Double>(vacant: 0)
        var order: [[UInt8]] = []
        switch op {
        case .union:
            for (k, input) in inputs.enumerated() {
                for (m, s) in input ?? [] {
                    let v = weighted(s, weights[k])
                    if let slot = result.find(m) { result.entries[slot] = combineScores(result.entries[slot], v) } else {
                        result.set(m, v)
                        order.append(m)
                    }
                }
            }
        case .inter:
            if inputs.contains(where: { $0 == nil }) { break }
            let sorted = inputs.enumerated().sorted { $0.element!.count < $1.element!.count }
            let lookup: [ByteTable<Double>] = inputs.map { input in
                var t = ByteTable<Double>(vacant: 0)
                for (m, s) in input! { t.set(m, s) }
                return t
            }
            guard let (firstIdx, first) = sorted.first else { break }
            for (m, s) in first! {
                var v = weighted(s, weights[firstIdx])
                var inAll = true
                for (k, _) in sorted.dropFirst() {
                    guard let other = lookup[k].get(m[...]) else { inAll = false; break }
                    v = combineScores(v, weighted(other, weights[k]))
                }
                if inAll {
                    result.set(m, v)
                    order.append(m)
                    if cardinality && limit > 0 && order.count >= limit { break }
                }
            }
        case .diff:
            guard let first = inputs[0] else { break }
            let others: [ByteTable<Double>] = inputs.dropFirst().compactMap { input in
                guard let input else { return nil }
                var t = ByteTable<Double>(vacant: 0)
                for (m, s) in input { t.set(m, s) }
                return t
            }
            for (m, s) in first where !others.contains(where: { $0.contains(m[...]) }) {
                result.set(m, s)
                order.append(m)
            }
        }
        if cardinality {
            c.out.integer(limit > 0 ? min(limit, order.count) : order.count)
            return
        }
        var z = SortedSetValue()
        let (maxEntries, maxValue) = limits(c)
        for m in order { z.set(m, result.get(m[...])!, maxEntries: maxEntries, maxValue: maxValue) }
        if store {
            let dst = c.shard(1)
            let existed = dst.delete(c.args[1], now: c.lookupNow)
            if z.count > 0 {
                dst.set(c.args[1], .zset(z), access: c.newAccess)
                c.notify(.zset, op == .union ? "zunionstore" : op == .inter ? "zinterstore" : "zdiffstore", 1)
                c.signalReady(dst, c.args[1])
            } else if existed {
                c.notify(.generic, "del", 1)
            }
            // An empty result over a missing destination changed nothing (Redis: no dirty).
            if z.count > 0 || existed { c.dirty() }
            c.out.integer(z.count)
            return
        }
        replyPairs(&c, z.count == 0 ? [] : z.range(0, z.count - 1), withScores: withScores)
    }

    /// ZSCAN key cursor [MATCH pattern] [COUNT count]
    static func zscan(_ c: inout CommandContext) {
        guard let cursor = KeyCommands.parseCursor(&c, 2) else { return }
        switch c.find(1, c.isZSet) {
        case .wrongType: c.error(Errors.wrongType)
        case .missing: c.out.array(2); c.out.bulk("0"); c.out.array(0)
        case .found(let shard, let slot):
            guard let opts = ScanOptions.parse(&c, from: 3, allowType: false) else { return }
            let z = zset(shard, slot)
            var items: [([UInt8], Double)] = []
            var cur = cursor
            var visits = 0
            repeat {
                cur = z.scan(cursor: cur) { m, s in if opts.matches(m) { items.append((m, s)) } }
                visits += 1
            } while cur != 0 && items.count < opts.count && visits < opts.count * 10
            c.out.array(2)
            c.out.bulk(String(cur))
            c.out.array(items.count * 2)
            for (m, s) in items {
                c.out.bulk(m)
                c.out.bulk(format(s))
            }
        }
    }
}
