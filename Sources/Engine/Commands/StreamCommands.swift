import NIOCore
import RESP
import Storage

/// Streams: XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM, XREAD, XSETID, with Redis 7.0's
/// argument rules, replies and errors. Consumer groups are in StreamGroupCommands.swift.
enum StreamCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("xadd", arity: -5, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: "stream",
                    summary: "Appends a new entry to a stream", complexity: "O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted.",
                    handler: xadd),
        CommandSpec("xrange", arity: -4, flags: [.readonly], keys: (1, 1, 1), group: "stream",
                    summary: "Return a range of elements in a stream, with IDs matching the specified IDs interval",
                    complexity: "O(N) with N being the number of elements being returned.", handler: { range(&$0, reverse: false) }),
        CommandSpec("xrevrange", arity: -4, flags: [.readonly], keys: (1, 1, 1), group: "stream",
                    summary: "Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE",
                    complexity: "O(N) with N being the number of elements returned.", handler: { range(&$0, reverse: true) }),
        CommandSpec("xlen", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "stream",
                    summary: "Return the number of entries in a stream", handler: xlen),
        CommandSpec("xdel", arity: -3, flags: [.write, .fast], keys: (1, 1, 1), group: "stream",
                    summary: "Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist.",
                    complexity: "O(1) for each single item to delete in the stream, regardless of the stream size.", handler: xdel),
        CommandSpec("xtrim", arity: -4, flags: [.write], keys: (1, 1, 1), group: "stream",
                    summary: "Trims the stream to (approximately if '~' is passed) a certain size",
                    complexity: "O(N), with N being the number of evicted entries.", handler: xtrim),
        CommandSpec("xread", arity: -4, flags: [.readonly, .blocking, .movableKeys], scope: .keys, group: "stream",
                    summary: "Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block.",
                    complexity: "For each stream mentioned: O(N) with N being the number of elements being returned.",
                    keyFinder: streamKeys, handler: { read(&$0, group: false) }),
        CommandSpec("xsetid", arity: -3, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: "stream",
                    summary: "An internal command for replicating stream values", handler: xsetid),
    ]

    static let invalidID = "ERR Invalid stream ID specified as stream command argument"

    /// XREAD / XREADGROUP's keys: the first half of what follows STREAMS (xreadGetKeys).
    @Sendable static func streamKeys(_ a: CommandArguments) -> [Int] {
        var i = 1
        while i < a.count {
            if a.matches(i, "block") || a.matches(i, "count") {
                i += 2
            } else if a.matches(i, "group") {
                i += 3
            } else if a.matches(i, "noack") {
                i += 1
            } else if a.matches(i, "streams") {
                let n = a.count - i - 1
                guard n > 0, n % 2 == 0 else { return [] }
                return Array((i + 1)...(i + n / 2))
            } else {
                return []
            }
        }
        return []
    }

    // MARK: IDs

    /// string2ull: a canonical integer (not negative), else what strtoull accepts whole.
    static func parseUnsigned(_ s: ArraySlice<UInt8>) -> UInt64? {
        if let v = parseCanonicalInt(s) { return v < 0 ? nil : UInt64(v) }
        var i = s.startIndex
        while i < s.endIndex, [0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D].contains(s[i]) { i += 1 }
        var negative = false
        if i < s.endIndex, s[i] == UInt8(ascii: "+") || s[i] == UInt8(ascii: "-") {
            negative = s[i] == UInt8(ascii: "-")
            i += 1
        }
        guard i < s.endIndex else { return nil }
        var v: UInt64 = 0
        while i < s.endIndex {
            let d = s[i]
            guard d >= 0x30 && d <= 0x39 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(d - 0x30))
            guard !o1 && !o2 else { return nil }
            v = a
            i += 1
        }
        return negative ? 0 &- v : v
    }

    /// streamGenericParseIDOrReply: "-", "+", "ms", "ms-seq", and "ms-*" where `seqStar`
    /// (then `seqGiven` is false). `strict` refuses "-" and "+".
    static func parseID(_ arg: ArraySlice<UInt8>, strict: Bool, missingSeq: UInt64 = 0,
                        seqStar: Bool = false) -> (id: StreamID, seqGiven: Bool)? {
        guard arg.count <= 127 else { return nil }
        // C string semantics: the argument ends at its first NUL.
        let s = arg.firstIndex(of: 0).map { arg[arg.startIndex..<$0] } ?? arg
        if s.count == 1 && (s.first == UInt8(ascii: "-") || s.first == UInt8(ascii: "+")) {
            if strict { return nil }
            return s.first == UInt8(ascii: "-") ? (.zero, true) : (.max, true)
        }
        if let dash = s.firstIndex(of: UInt8(ascii: "-")) {
            guard let ms = parseUnsigned(s[s.startIndex..<dash]) else { return nil }
            let rest = s[(dash + 1)...]
            if seqStar && rest.count == 1 && rest.first == UInt8(ascii: "*") { return (StreamID(ms, 0), false) }
            guard let seq = parseUnsigned(rest) else { return nil }
            return (StreamID(ms, seq), true)
        }
        guard let ms = parseUnsigned(s) else { return nil }
        return (StreamID(ms, missingSeq), true)
    }

    static func strictID(_ c: inout CommandContext, _ i: Int) -> StreamID? {
        guard let (id, _) = parseID(c.args[i], strict: true) else { c.error(invalidID); return nil }
        return id
    }

    /// streamParseIntervalIDOrReply plus the exclusive adjustment: a range bound.
    static func intervalBound(_ c: inout CommandContext, _ i: Int, start: Bool) -> StreamID? {
        let arg = c.args[i]
        let exclusive = arg.count > 1 && arg.first == UInt8(ascii: "(")
        let missing: UInt64 = start ? 0 : .max
        guard let (id, _) = exclusive ? parseID(arg.dropFirst(), strict: true, missingSeq: missing)
                                      : parseID(arg, strict: false, missingSeq: missing) else {
            c.error(invalidID)
            return nil
        }
        guard exclusive else { return id }
        if start {
            guard let n = id.next else { c.error("ERR invalid start ID for the interval"); return nil }
            return n
        }
        guard let p = id.previous else { c.error("ERR invalid end ID for the interval"); return nil }
        return p
    }

    // MARK: lookup and replies

    enum Found {
        case missing
        case found(Shard, Int)
        case replied
    }

    static func lookup(_ c: inout CommandContext, _ i: Int, read: Bool = true) -> Found {
        let shard: Shard
        let slot: Int?
        if read {
            (shard, slot) = c.lookupRead(i)
        } else {
            shard = c.shard(i)
            slot = shard.find(c.args[i], now: c.lookupNow)
        }
        guard let slot else { return .missing }
        guard case .stream = shard.entry(at: slot).value else { c.error(Errors.wrongType); return .replied }
        return .found(shard, slot)
    }

    /// Whether argument `i` names a stream now.
    static func isStream(_ c: inout CommandContext, _ i: Int) -> Bool {
        let shard = c.shard(i)
        guard let slot = shard.find(c.args[i], now: c.lookupNow) else { return false }
        if case .stream = shard.entry(at: slot).value { return true }
        return false
    }

    static func stream(_ shard: Shard, _ slot: Int) -> StreamValue {
        guard case .stream(let s) = shard.entry(at: slot).value else { preconditionFailure("checked by lookup") }
        return s
    }

    /// Changes the stream in place (taken out of the entry and put back, so not copied).
    @discardableResult
    static func mutate<T>(_ shard: Shard, _ slot: Int, changed: Bool = true, _ body: (inout StreamValue) -> T) -> T {
        var s = take(shard, slot, changed: changed)
        defer { put(shard, slot, s) }
        return body(&s)
    }

    /// Takes the stream out of its entry to change it in place (put it back with `put`);
    /// `changed` marks the key modified (WATCH, CAS) as writes do.
    static func take(_ shard: Shard, _ slot: Int, changed: Bool = true) -> StreamValue {
        let body: (inout Entry) -> StreamValue = { e in
            guard case .stream(let s) = e.value else { preconditionFailure("checked by lookup") }
            e.value = .int(0)
            return s
        }
        return changed ? shard.withEntry(at: slot, body) : shard.withEntryMetadata(at: slot, body)
    }

    static func put(_ shard: Shard, _ slot: Int, _ s: StreamValue) {
        shard.withEntryMetadata(at: slot) { $0.value = .stream(s) }
    }

    static func writeEntry(_ c: inout CommandContext, _ e: StreamEntry) {
        c.out.array(2)
        c.out.bulk(e.id.bytes)
        c.out.array(e.fields.count)
        for f in e.fields { c.out.bulk(f) }
    }

    static func writeEntries(_ c: inout CommandContext, _ entries: [StreamEntry]) {
        c.out.array(entries.count)
        for e in entries { writeEntry(&c, e) }
    }

    // MARK: XADD and XTRIM

    struct AddTrimArgs {
        var noMkStream = false
        var strategy: StreamValue.Trim? = nil
        var approximate = false
        /// Where the `~` is, for the effect that makes the trim exact.
        var approxIndex = 0
        var limit = 0
        var idIndex = 0
        var id = StreamID.zero
        var idGiven = false
        var seqGiven = true
    }

    /// streamParseAddOrTrimArgsOrReply.
    static func parseAddOrTrim(_ c: inout CommandContext, xadd: Bool) -> AddTrimArgs? {
        var a = AddTrimArgs()
        var limitGiven = false
        var i = 2
        while i < c.argc {
            let more = c.argc - 1 - i
            if xadd && c.args[i].elementsEqual("*".utf8) {
                break
            } else if (c.args.matches(i, "maxlen") || c.args.matches(i, "minid")) && more > 0 {
                let minid = c.args.matches(i, "minid")
                if a.strategy != nil {
                    c.error("ERR syntax error, MAXLEN and MINID options at the same time are not compatible")
                    return nil
                }
                a.approximate = false
                if more >= 2 && c.args[i + 1].elementsEqual("~".utf8) {
                    a.approximate = true
                    a.approxIndex = i + 1
                    i += 1
                } else if more >= 2 && c.args[i + 1].elementsEqual("=".utf8) {
                    i += 1
                }
                if minid {
                    guard let id = strictID(&c, i + 1) else { return nil }
                    a.strategy = .minID(id)
                } else {
                    guard let n = c.integer(i + 1) else { return nil }
                    guard n >= 0 else { c.error("ERR The MAXLEN argument must be >= 0."); return nil }
                    a.strategy = .maxLength(n)
                }
                i += 1
            } else if c.args.matches(i, "limit") && more > 0 {
                guard let n = c.integer(i + 1) else { return nil }
                guard n >= 0 else { c.error("ERR The LIMIT argument must be >= 0."); return nil }
                a.limit = n
                limitGiven = true
                i += 1
            } else if xadd && c.args.matches(i, "nomkstream") {
                a.noMkStream = true
            } else if xadd {
                guard let (id, seqGiven) = parseID(c.args[i], strict: true, seqStar: true) else {
                    c.error(invalidID)
                    return nil
                }
                a.id = id
                a.seqGiven = seqGiven
                a.idGiven = true
                break
            } else {
                c.error(Errors.syntax)
                return nil
            }
            i += 1
        }
        a.idIndex = i
        if a.limit != 0 && a.strategy == nil {
            c.error("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")
            return nil
        }
        if !xadd && a.strategy == nil {
            c.error("ERR syntax error, XTRIM must be called with a trimming strategy")
            return nil
        }
        if c.engine.aof.loading.load(ordering: .relaxed) {
            a.limit = 0
        } else if limitGiven {
            guard a.approximate else {
                c.error("ERR syntax error, LIMIT cannot be used without the special ~ option")
                return nil
            }
        } else if a.approximate {
            let perNode = c.engine.settings.streamNodeMaxEntries.load(ordering: .relaxed)
            a.limit = perNode > 0 ? min(100 * perNode, 1_000_000) : 10000
        } else {
            a.limit = 0
        }
        return a
    }

    /// The XTRIM that reproduces a trim in the AOF: exact, to where the stream ended up.
    /// XADD's or XTRIM's words as Redis 7.0 propagates them: the ID the entry got in place of
    /// `*`, and an approximate trim made exact (`=` and the length or first ID it left), so
    /// that a replica's stream ends up the same whatever its nodes.
    static func addOrTrimEffect(_ words: [[UInt8]], _ a: AddTrimArgs, _ s: StreamValue, id: StreamID?) -> [[UInt8]] {
        var words = words
        if let id { words[a.idIndex] = id.bytes }
        if a.approximate, let strategy = a.strategy {
            words[a.approxIndex] = Array("=".utf8)
            switch strategy {
            case .maxLength: words[a.approxIndex + 1] = Verb.number(s.length)
            case .minID: words[a.approxIndex + 1] = s.firstID.bytes
            }
        }
        return words
    }

    /// XADD key [NOMKSTREAM] [<MAXLEN | MINID> [= | ~] threshold [LIMIT count]] <* | id> field value [field value ...]
    static func xadd(_ c: inout CommandContext) {
        guard let a = parseAddOrTrim(&c, xadd: true) else { return }
        let fieldPos = a.idIndex + 1
        let n = c.argc - fieldPos
        guard n >= 2, n % 2 == 0 else { c.error(Errors.arity("xadd")); return }
        if a.idGiven && a.seqGiven && a.id.isZero {
            c.error("ERR The ID specified in XADD must be greater than 0-0")
            return
        }
        let shard = c.shard(1)
        let slot: Int
        switch lookup(&c, 1, read: false) {
        case .replied: return
        case .found(_, let s): slot = s
        case .missing:
            if a.noMkStream { c.out.null(); return }
            slot = shard.set(c.args[1], .stream(StreamValue()), access: c.newAccess)
        }
        var fields: [[UInt8]] = []
        fields.reserveCapacity(n)
        for i in fieldPos..<c.argc { fields.append(c.args.owned(i)) }
        let maxBytes = c.engine.settings.streamNodeMaxBytes.load(ordering: .relaxed)
        let maxEntries = c.engine.settings.streamNodeMaxEntries.load(ordering: .relaxed)
        let now = UInt64(max(0, c.now))
        enum Outcome { case added(StreamID, trimmed: Int, effect: [[UInt8]]?), exhausted, notGreater, tooLarge }
        let words = c.propagating ? (0..<c.argc).map { c.args.owned($0) } : nil
        let outcome: Outcome = mutate(shard, slot) { s in
            if s.lastID == .max { return .exhausted }
            guard let id = s.nextID(given: a.idGiven ? a.id : nil, seqGiven: a.seqGiven, now: now) else { return .notGreater }
            do throws(StreamValue.AddFailure) {
                try s.append(id, fields, nodeMaxBytes: maxBytes, nodeMaxEntries: maxEntries)
            } catch {
                return error == .notGreater ? .notGreater : .tooLarge
            }
            var trimmed = 0
            if let strategy = a.strategy {
                trimmed = s.trim(strategy, approximate: a.approximate, limit: a.limit)
            }
            let effect = words.map { addOrTrimEffect($0, a, s, id: id) }
            return .added(id, trimmed: trimmed, effect: effect)
        }
        // As in Redis, a stream created for an XADD that then fails stays (empty).
        switch outcome {
        case .exhausted:
            c.error("ERR The stream has exhausted the last possible ID, unable to add more items")
        case .notGreater:
            c.error("ERR The ID specified in XADD is equal or smaller than the target stream top item")
        case .tooLarge:
            c.error("ERR Elements are too large to be stored")
        case .added(let id, let trimmed, let effect):
            c.out.bulk(id.bytes)
            c.dirty()
            c.notify(.stream, "xadd", 1)
            if trimmed > 0 { c.notify(.stream, "xtrim", 1) }
            if let effect { c.propagateInstead(effect) }
            c.signalReady(shard, c.args[1])
        }
    }

    /// XTRIM key <MAXLEN | MINID> [= | ~] threshold [LIMIT count]
    static func xtrim(_ c: inout CommandContext) {
        guard let a = parseAddOrTrim(&c, xadd: false), let strategy = a.strategy else { return }
        let shard: Shard, slot: Int
        switch lookup(&c, 1, read: false) {
        case .replied: return
        case .missing: c.out.integer(0); return
        case .found(let sh, let sl): (shard, slot) = (sh, sl)
        }
        let words = c.propagating ? (0..<c.argc).map { c.args.owned($0) } : nil
        let (deleted, effect): (Int, [[UInt8]]?) = mutate(shard, slot, changed: true) { s in
            let d = s.trim(strategy, approximate: a.approximate, limit: a.limit)
            return (d, words.map { addOrTrimEffect($0, a, s, id: nil) })
        }
        if deleted > 0 {
            c.notify(.stream, "xtrim", 1)
            c.dirty(deleted)
            if let effect { c.propagateInstead(effect) }
        }
        c.out.integer(deleted)
    }

    // MARK: reading

    /// XRANGE key start end [COUNT count] / XREVRANGE key end start [COUNT count]
    static func range(_ c: inout CommandContext, reverse: Bool) {
        guard let start = intervalBound(&c, reverse ? 3 : 2, start: true),
              let end = intervalBound(&c, reverse ? 2 : 3, start: false) else { return }
        var count = -1
        var j = 4
        while j < c.argc {
            if c.args.matches(j, "count") && j + 1 < c.argc {
                guard let n = c.integer(j + 1) else { return }
                count = max(n, 0)
                j += 2
            } else {
                c.error(Errors.syntax)
                return
            }
        }
        switch lookup(&c, 1) {
        case .replied: return
        case .missing: c.out.array(0)
        case .found(let shard, let slot):
            if count == 0 { c.out.nullArray(); return }
            let s = stream(shard, slot)
            writeEntries(&c, s.range(start, end, count: max(count, 0), reverse: reverse))
        }
    }

    /// XLEN key
    static func xlen(_ c: inout CommandContext) {
        switch lookup(&c, 1) {
        case .replied: return
        case .missing: c.out.integer(0)
        case .found(let shard, let slot): c.out.integer(stream(shard, slot).length)
        }
    }

    /// XDEL key id [id ...]
    static func xdel(_ c: inout CommandContext) {
        let shard: Shard, slot: Int
        switch lookup(&c, 1, read: false) {
        case .replied: return
        case .missing: c.out.integer(0); return
        case .found(let sh, let sl): (shard, slot) = (sh, sl)
        }
        var ids: [StreamID] = []
        for i in 2..<c.argc {
            guard let id = strictID(&c, i) else { return }
            ids.append(id)
        }
        let deleted: Int = mutate(shard, slot, changed: false) { s in
            var n = 0, first = false
            for id in ids where s.delete(id) {
                if id == s.firstID { first = true }
                if id > s.maxDeletedID { s.maxDeletedID = id }
                n += 1
            }
            if n > 0 && (s.length == 0 || first) { s.refreshFirstID() }
            return n
        }
        if deleted > 0 {
            shard.withEntry(at: slot) { _ in }
            c.notify(.stream, "xdel", 1)
            c.dirty(deleted)
        }
        c.out.integer(deleted)
    }

    /// XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]
    static func xsetid(_ c: inout CommandContext) {
        guard let id = strictID(&c, 2) else { return }
        var entriesAdded: Int = -1
        var maxDeleted = StreamID.zero
        var i = 3
        while i < c.argc {
            let more = c.argc - 1 - i
            if c.args.matches(i, "entriesadded") && more > 0 {
                guard let n = c.integer(i + 1) else { return }
                guard n >= 0 else { c.error("ERR entries_added must be positive"); return }
                entriesAdded = n
            } else if c.args.matches(i, "maxdeletedid") && more > 0 {
                guard let m = strictID(&c, i + 1) else { return }
                guard id >= m else {
                    c.error("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id")
                    return
                }
                maxDeleted = m
            } else {
                c.error(Errors.syntax)
                return
            }
            i += 2
        }
        let shard: Shard, slot: Int
        switch lookup(&c, 1, read: false) {
        case .replied: return
        case .missing: c.error(Errors.noSuchKey); return
        case .found(let sh, let sl): (shard, slot) = (sh, sl)
        }
        // Redis 7.0 checks the new ID only against the top entry (7.2 added a check against
        // the current max_deleted_entry_id).
        let s = stream(shard, slot)
        if s.length > 0 {
            if id < s.lastValidID {
                c.error("ERR The ID specified in XSETID is smaller than the target stream top item")
                return
            }
            if entriesAdded != -1 && s.length > entriesAdded {
                c.error("ERR The entries_added specified in XSETID is smaller than the target stream length")
                return
            }
        }
        mutate(shard, slot) { s in
            s.lastID = id
            if entriesAdded != -1 { s.entriesAdded = UInt64(entriesAdded) }
            if !maxDeleted.isZero { s.maxDeletedID = maxDeleted }
        }
        c.ok()
        c.dirty()
        c.notify(.stream, "xsetid", 1)
    }

    // MARK: XREAD and XREADGROUP

    /// XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]
    /// XREADGROUP GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key [key ...] id [id ...]
    static func read(_ c: inout CommandContext, group: Bool) {
        let name = group ? "xreadgroup" : "xread"
        var timeout: Int64 = -1
        var count = 0
        var streamsArg = 0
        var groupName: [UInt8]? = nil
        var consumerName: [UInt8] = []
        var noack = false
        var i = 1
        while i < c.argc {
            let more = c.argc - i - 1
            if c.args.matches(i, "block") && more > 0 {
                i += 1
                guard let v = c.integer(i, error: "ERR timeout is not an integer or out of range") else { return }
                guard v >= 0 else { c.error("ERR timeout is negative"); return }
                timeout = Int64(v)
            } else if c.args.matches(i, "count") && more > 0 {
                i += 1
                guard let v = c.integer(i) else { return }
                count = max(v, 0)
            } else if c.args.matches(i, "streams") && more > 0 {
                streamsArg = i + 1
                guard (c.argc - streamsArg) % 2 == 0 else {
                    c.error("ERR Unbalanced '\(name)' list of streams: for each stream key an ID or '\(group ? ">" : "$")' must be specified.")
                    return
                }
                break
            } else if c.args.matches(i, "group") && more >= 2 {
                guard group else { c.error("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead."); return }
                groupName = c.args.owned(i + 1)
                consumerName = c.args.owned(i + 2)
                i += 2
            } else if c.args.matches(i, "noack") {
                guard group else { c.error("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead."); return }
                noack = true
            } else {
                c.error(Errors.syntax)
                return
            }
            i += 1
        }
        guard streamsArg > 0 else { c.error(Errors.syntax); return }
        if group && groupName == nil { c.error("ERR Missing GROUP option for XREADGROUP"); return }
        let n = (c.argc - streamsArg) / 2
        // The ID after which each stream is read; nil for XREADGROUP's ">".
        var after: [StreamID?] = []
        var dollarResolved = false
        // Served after a write: a key that is no longer a stream ends XREADGROUP's wait with
        // Redis's error; XREAD waits on (nothing to read there).
        var gone = [Bool](repeating: false, count: n)
        for k in 0..<n {
            let keyArg = streamsArg + k, idArg = streamsArg + n + k
            if c.serving && !isStream(&c, keyArg) {
                if group { c.error("UNBLOCKED the stream key no longer exists"); return }
                gone[k] = true
                after.append(.zero)
                continue
            }
            let found = lookup(&c, keyArg)
            if case .replied = found { return }
            var s: StreamValue? = nil
            if case .found(let shard, let slot) = found { s = stream(shard, slot) }
            if let g = groupName {
                guard let s, s.groups[g] != nil else {
                    if c.serving {
                        c.error("NOGROUP the consumer group this client was blocked on no longer exists")
                    } else {
                        c.error("NOGROUP No such key '\(c.args.string(keyArg))' or consumer group '\(String(decoding: g, as: UTF8.self))' in XREADGROUP with GROUP option")
                    }
                    return
                }
            }
            if c.args[idArg].elementsEqual("$".utf8) {
                guard !group else {
                    c.error("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.")
                    return
                }
                after.append(s?.lastID ?? .zero)
                dollarResolved = true
                continue
            }
            if c.args[idArg].elementsEqual(">".utf8) {
                guard group else {
                    c.error("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.")
                    return
                }
                after.append(nil)
                continue
            }
            guard let id = strictID(&c, idArg) else { return }
            // Redis marks ">" with the largest ID, so spelling that ID out means ">" too.
            after.append(group && id == .max ? nil : id)
        }
        // A blocked client served later reads at most 1000 entries unless told (as Redis).
        if c.serving && count == 0 { count = 1000 }
        var replies = 0
        // The reply's length is known only at the end: the streams' parts go to a side buffer.
        var body = RESPWriter(buffer: ByteBuffer())
        body.resp3 = c.out.resp3
        swap(&c.out, &body)
        for k in 0..<n where !gone[k] {
            let keyArg = streamsArg + k
            guard case .found(let shard, let slot) = lookup(&c, keyArg, read: false) else { continue }
            let s = stream(shard, slot)
            if let g = groupName {
                if StreamGroupCommands.serve(&c, shard, slot, s, keyArg: keyArg, group: g, consumer: consumerName,
                                             after: after[k], count: count, noack: noack) {
                    replies += 1
                }
            } else {
                let from = after[k]!
                guard s.length > 0, s.lastValidID > from, let start = from.next else { continue }
                if !c.out.resp3 { c.out.array(2) }
                c.out.bulk(c.args[keyArg])
                writeEntries(&c, s.range(start, .max, count: count))
                replies += 1
            }
        }
        swap(&c.out, &body)
        if replies > 0 {
            if c.out.resp3 { c.out.map(replies) } else { c.out.array(replies) }
            var b = body.buffer
            c.out.buffer.writeBuffer(&b)
            return
        }
        if c.serving { return }
        if timeout >= 0 {
            if dollarResolved {
                // Waiting for entries after the last ID at this instant: "$" is pinned.
                let original = c.args
                var pinned = CommandArguments()
                for j in 0..<c.argc {
                    if j >= streamsArg + n, c.args[j].elementsEqual("$".utf8), let id = after[j - streamsArg - n] {
                        pinned.append(id.bytes)
                    } else {
                        pinned.append(c.args[j])
                    }
                }
                c.args = pinned
                c.block(on: Array(streamsArg..<(streamsArg + n)), timeoutMs: timeout, nullArray: true)
                c.args = original
            } else {
                c.block(on: Array(streamsArg..<(streamsArg + n)), timeoutMs: timeout, nullArray: true)
            }
            return
        }
        c.out.nullArray()
    }
}
