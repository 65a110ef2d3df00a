import RESP
import Storage

/// Consumer groups: XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM, and XINFO, as
/// Redis 7.0 has them (entries-read and lag included). Pending entries carry their consumer,
/// delivery time and count; the AOF gets Redis's effects (XCLAIM ... FORCE JUSTID, XGROUP SETID).
enum StreamGroupCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("xreadgroup", arity: -7, flags: [.write, .blocking, .movableKeys], scope: .keys, group: "stream",
                    summary: "Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block.",
                    complexity: "For each stream mentioned: O(M) with M being the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data.",
                    keyFinder: StreamCommands.streamKeys, handler: { StreamCommands.read(&$0, group: true) }),
        CommandSpec("xack", arity: -4, flags: [.write, .fast], keys: (1, 1, 1), group: "stream",
                    summary: "Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL.",
                    complexity: "O(1) for each message ID processed.", handler: xack),
        CommandSpec("xpending", arity: -3, flags: [.readonly], keys: (1, 1, 1), group: "stream",
                    summary: "Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged.",
                    complexity: "O(N) with N being the number of elements returned, so asking for a small fixed number of entries per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When the command returns just the summary and the list of consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer.",
                    handler: xpending),
        CommandSpec("xclaim", arity: -6, flags: [.write, .fast], keys: (1, 1, 1), group: "stream",
                    summary: "Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer.",
                    complexity: "O(log N) with N being the number of messages in the PEL of the consumer group.", handler: xclaim),
        CommandSpec("xautoclaim", arity: -6, flags: [.write, .fast], keys: (1, 1, 1), group: "stream",
                    summary: "Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer.",
                    complexity: "O(1) if COUNT is small.", handler: xautoclaim),
        CommandSpec("xgroup", arity: -2, flags: [], group: "stream", summary: "A container for consumer groups commands",
                    complexity: "Depends on subcommand.", subcommands: [
                        CommandSpec("xgroup|create", arity: -5, flags: [.write, .denyoom], keys: (2, 2, 1), group: "stream", summary: "Create a consumer group.", handler: { xgroup(&$0, .create) }),
                        CommandSpec("xgroup|setid", arity: -5, flags: [.write], keys: (2, 2, 1), group: "stream",
                                    summary: "Set a consumer group to an arbitrary last delivered ID value.", handler: { xgroup(&$0, .setid) }),
                        CommandSpec("xgroup|destroy", arity: 4, flags: [.write], keys: (2, 2, 1), group: "stream",
                                    summary: "Destroy a consumer group.", complexity: "O(N) where N is the number of entries in the group's pending entries list (PEL).",
                                    handler: { xgroup(&$0, .destroy) }),
                        CommandSpec("xgroup|createconsumer", arity: 5, flags: [.write, .denyoom], keys: (2, 2, 1), group: "stream", summary: "Create a consumer in a consumer group.", handler: { xgroup(&$0, .createConsumer) }),
                        CommandSpec("xgroup|delconsumer", arity: 5, flags: [.write], keys: (2, 2, 1), group: "stream",
                                    summary: "Delete a consumer from a consumer group.", handler: { xgroup(&$0, .delConsumer) }),
                        CommandSpec("xgroup|help", arity: 2, flags: [.loading, .stale], group: "stream",
                                    summary: "Show helpful text about the different subcommands", handler: { xgroup(&$0, .help) }),
                    ], handler: nil),
        CommandSpec("xinfo", arity: -2, flags: [], group: "stream", summary: "A container for stream introspection commands",
                    complexity: "Depends on subcommand.", subcommands: [
                        CommandSpec("xinfo|stream", arity: -3, flags: [.readonly], keys: (2, 2, 1), group: "stream",
                                    summary: "Get information about a stream", handler: xinfoStream),
                        CommandSpec("xinfo|groups", arity: 3, flags: [.readonly], keys: (2, 2, 1), group: "stream",
                                    summary: "List the consumer groups of a stream", handler: xinfoGroups),
                        CommandSpec("xinfo|consumers", arity: 4, flags: [.readonly], keys: (2, 2, 1), group: "stream",
                                    summary: "List the consumers in a consumer group", handler: xinfoConsumers),
                        CommandSpec("xinfo|help", arity: 2, flags: [.loading, .stale], group: "stream",
                                    summary: "Show helpful text about the different subcommands", handler: xinfoHelp),
                    ], handler: nil),
    ]

    static func noGroup(_ c: inout CommandContext, _ keyArg: Int, _ groupArg: Int, suffix: String = "") {
        c.error("NOGROUP No such key '\(c.args.string(keyArg))' or consumer group '\(c.args.string(groupArg))'\(suffix)")
    }

    // MARK: AOF effects, as Redis propagates consumer-group changes

    static func claimEffect(_ key: [UInt8], _ group: [UInt8], _ id: StreamID, _ p: PendingEntry, lastID: StreamID) -> [[UInt8]] {
        [Array("XCLAIM".utf8), key, group, p.consumer, Array("0".utf8), id.bytes, Array("TIME".utf8),
         Array(String(p.deliveryTime).utf8), Array("RETRYCOUNT".utf8), Array(String(p.deliveryCount).utf8),
         Array("FORCE".utf8), Array("JUSTID".utf8), Array("LASTID".utf8), lastID.bytes]
    }

    static func setIDEffect(_ key: [UInt8], _ group: [UInt8], _ g: ConsumerGroup) -> [[UInt8]] {
        [Array("XGROUP".utf8), Array("SETID".utf8), key, group, g.lastID.bytes, Array("ENTRIESREAD".utf8),
         Array(String(g.entriesRead).utf8)]
    }

    static func createConsumerEffect(_ key: [UInt8], _ group: [UInt8], _ consumer: [UInt8]) -> [[UInt8]] {
        [Array("XGROUP".utf8), Array("CREATECONSUMER".utf8), key, group, consumer]
    }

    /// Adds one stream's effects to the command's (XREADGROUP serves several streams): a
    /// group read propagates these, never its own words.
    static func addEffects(_ c: inout CommandContext, _ effects: [[[UInt8]]]) {
        guard c.propagating else { return }
        if c.effects == nil { c.propagateNothing() }
        for e in effects { c.alsoPropagate(e) }
    }

    /// Looks a consumer up, creating it (with its event) when missing; refreshes its seen time.
    /// Whether it was created. Its creation is not propagated by itself: the XCLAIMs that
    /// follow create it on a replica, as in Redis 7.0.
    @discardableResult
    static func touchConsumer(_ c: inout CommandContext, _ g: inout ConsumerGroup, _ name: [UInt8], keyArg: Int) -> Bool {
        var created = false
        if g.consumers[name] == nil {
            g.consumers[name] = StreamConsumer(seenTime: c.now)
            c.notify(.stream, "xgroup-createconsumer", keyArg)
            c.dirty()
            created = true
        }
        g.consumers[name]!.seenTime = c.now
        return created
    }

    // MARK: XREADGROUP

    /// Serves one stream of an XREADGROUP: the consumer's history after `after`, or new
    /// entries for ">" (nil). Writes the stream's part of the reply; whether it wrote one.
    static func serve(_ c: inout CommandContext, _ shard: Shard, _ slot: Int, _ s0: StreamValue, keyArg: Int,
                      group name: [UInt8], consumer: [UInt8], after: StreamID?, count: Int, noack: Bool) -> Bool {
        guard let g0 = s0.groups[name] else { return false }
        if after == nil {
            guard s0.length > 0, s0.lastValidID > g0.lastID else { return false }
        }
        if !c.out.resp3 { c.out.array(2) }
        c.out.bulk(c.args[keyArg])
        let key = c.args.owned(keyArg)
        var effects: [[[UInt8]]] = []
        var s = StreamCommands.take(shard, slot)
            var g = s.groups[name]!
            let created = touchConsumer(&c, &g, consumer, keyArg: keyArg)
            if let history = after {
                let start = history.next ?? .max
                let ids = g.consumers[consumer]!.pending
                var i = ids.lowerBound(start)
                var out: [(StreamID, StreamEntry?)] = []
                while i < ids.count && (count == 0 || out.count < count) {
                    let id = ids[i]
                    let e = s.entry(id)
                    if e != nil {
                        g.pending[id]!.deliveryTime = c.now
                        g.pending[id]!.deliveryCount += 1
                    }
                    out.append((id, e))
                    i += 1
                }
                c.out.array(out.count)
                for (id, e) in out {
                    if let e { StreamCommands.writeEntry(&c, e) } else {
                        c.out.array(2)
                        c.out.bulk(id.bytes)
                        c.out.nullArray()
                    }
                }
            } else {
                let entries = s.range(g.lastID.next ?? .max, .max, count: count)
                for e in entries {
                    s.advance(&g, to: e.id)
                    if noack { continue }
                    let p = PendingEntry(consumer: consumer, deliveryTime: c.now, deliveryCount: 1)
                    if g.pending[e.id] != nil {
                        g.reassign(e.id, to: consumer)
                        g.pending[e.id]!.deliveryTime = c.now
                        g.pending[e.id]!.deliveryCount = 1
                    } else {
                        g.addPending(e.id, p)
                    }
                    effects.append(claimEffect(key, name, e.id, g.pending[e.id]!, lastID: g.lastID))
                }
                // Without NOACK each entry's XCLAIM carries the group's last ID; with it, the
                // consumer's creation and the group's new last ID say it all (Redis 7.0).
                if noack && !entries.isEmpty {
                    if created { effects.append(createConsumerEffect(key, name, consumer)) }
                    effects.append(setIDEffect(key, name, g))
                }
                StreamCommands.writeEntries(&c, entries)
            }
            s.groups[name] = g
        StreamCommands.put(shard, slot, s)
        c.dirty()
        addEffects(&c, effects)
        return true
    }

    // MARK: XGROUP

    enum GroupOp { case create, setid, destroy, createConsumer, delConsumer, help }

    /// XGROUP CREATE key group <id | $> [MKSTREAM] [ENTRIESREAD entries-read]
    /// XGROUP SETID key group <id | $> [ENTRIESREAD entries-read]
    /// XGROUP DESTROY key group
    /// XGROUP CREATECONSUMER key group consumer
    /// XGROUP DELCONSUMER key group consumer
    static func xgroup(_ c: inout CommandContext, _ op: GroupOp) {
        if op == .help {
            c.help(["XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                    "CREATE <key> <groupname> <id|$> [option]",
                    "    Create a new consumer group. Options are:",
                    "    * MKSTREAM",
                    "      Create the empty stream if it does not exist.",
                    "    * ENTRIESREAD entries_read",
                    "      Set the group's entries_read counter (internal use).",
                    "CREATECONSUMER <key> <groupname> <consumer>",
                    "    Create a new consumer in the specified group.",
                    "DELCONSUMER <key> <groupname> <consumer>",
                    "    Remove the specified consumer.",
                    "DESTROY <key> <groupname>",
                    "    Remove the specified group.",
                    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
                    "    Set the current group ID and entries_read counter.",
                    "HELP",
                    "    Prints this help."])
            return
        }
        let sub = c.args.string(1)
        var mkstream = false
        var entriesRead: Int = -1
        if c.argc > 5 && (op == .create || op == .setid) {
            var i = 5
            while i < c.argc {
                if op == .create && c.args.matches(i, "mkstream") {
                    mkstream = true
                    i += 1
                } else if c.args.matches(i, "entriesread") && i + 1 < c.argc {
                    guard let n = c.integer(i + 1) else { return }
                    guard n >= 0 || n == -1 else { c.error("ERR value for ENTRIESREAD must be positive or -1"); return }
                    entriesRead = n
                    i += 2
                } else {
                    subcommandSyntax(&c, sub)
                    return
                }
            }
        } else if c.argc > 5 {
            subcommandSyntax(&c, sub)
            return
        }
        let shard = c.shard(2)
        var slot: Int? = nil
        switch StreamCommands.lookup(&c, 2, read: false) {
        case .replied: return
        case .missing: break
        case .found(_, let s): slot = s
        }
        let name = c.args.owned(3)
        let existing = slot.map { StreamCommands.stream(shard, $0) }
        if !mkstream {
            guard let existing else {
                c.error("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.")
                return
            }
            if existing.groups[name] == nil && (op == .setid || op == .createConsumer || op == .delConsumer) {
                c.error("NOGROUP No such consumer group '\(c.args.string(3))' for key name '\(c.args.string(2))'")
                return
            }
        }
        switch op {
        case .create:
            guard c.argc <= 8 else { subcommandSyntax(&c, sub); return }
            let id: StreamID
            if c.args[4].elementsEqual("$".utf8) {
                id = existing?.lastID ?? .zero
            } else {
                guard let parsed = StreamCommands.strictID(&c, 4) else { return }
                id = parsed
            }
            if slot == nil {
                slot = shard.set(c.args[2], .stream(StreamValue()), access: c.newAccess)
            } else if existing?.groups[name] != nil {
                c.error("BUSYGROUP Consumer Group name already exists")
                return
            }
            StreamCommands.mutate(shard, slot!) { s in s.groups[name] = ConsumerGroup(lastID: id, entriesRead: Int64(entriesRead)) }
            c.ok()
            c.dirty()
            c.notify(.stream, "xgroup-create", 2)
        case .setid:
            guard c.argc == 5 || c.argc == 7 else { subcommandSyntax(&c, sub); return }
            let id: StreamID
            if c.args[4].elementsEqual("$".utf8) {
                id = existing!.lastID
            } else {
                guard let (parsed, _) = StreamCommands.parseID(c.args[4], strict: false) else {
                    c.error(StreamCommands.invalidID)
                    return
                }
                id = parsed
            }
            StreamCommands.mutate(shard, slot!) { s in
                s.groups[name]!.lastID = id
                s.groups[name]!.entriesRead = Int64(entriesRead)
            }
            c.ok()
            c.dirty()
            c.notify(.stream, "xgroup-setid", 2)
        case .destroy:
            guard existing!.groups[name] != nil else { c.out.integer(0); return }
            StreamCommands.mutate(shard, slot!) { s in s.groups[name] = nil }
            c.out.integer(1)
            c.dirty()
            c.notify(.stream, "xgroup-destroy", 2)
            // Clients blocked reading this group get their error.
            c.signalReady(shard, c.args[2])
        case .createConsumer:
            let consumer = c.args.owned(4)
            guard existing!.groups[name]!.consumers[consumer] == nil else { c.out.integer(0); return }
            let now = c.now
            StreamCommands.mutate(shard, slot!) { s in s.groups[name]!.consumers[consumer] = StreamConsumer(seenTime: now) }
            c.out.integer(1)
            c.dirty()
            c.notify(.stream, "xgroup-createconsumer", 2)
        case .delConsumer:
            let consumer = c.args.owned(4)
            let pending: Int = StreamCommands.mutate(shard, slot!) { s in
                var g = s.groups[name]!
                guard let cons = g.consumers[consumer] else { return 0 }
                for id in cons.pending { g.removePending(id) }
                g.consumers[consumer] = nil
                s.groups[name] = g
                return cons.pending.count
            }
            c.out.integer(pending)
            c.dirty()
            c.notify(.stream, "xgroup-delconsumer", 2)
        case .help:
            break
        }
    }

    static func subcommandSyntax(_ c: inout CommandContext, _ sub: String, container: String = "XGROUP") {
        c.error("ERR unknown subcommand or wrong number of arguments for '\(sub.prefix(128))'. Try \(container) HELP.")
    }

    // MARK: XACK, XPENDING

    /// XACK key group id [id ...]
    static func xack(_ c: inout CommandContext) {
        let shard: Shard, slot: Int
        switch StreamCommands.lookup(&c, 1) {
        case .replied: return
        case .missing: c.out.integer(0); return
        case .found(let sh, let sl): (shard, slot) = (sh, sl)
        }
        let name = c.args.owned(2)
        guard StreamCommands.stream(shard, slot).groups[name] != nil else { c.out.integer(0); return }
        var ids: [StreamID] = []
        for i in 3..<c.argc {
            guard let id = StreamCommands.strictID(&c, i) else { return }
            ids.append(id)
        }
        let acked: Int = StreamCommands.mutate(shard, slot, changed: false) { s in
            var n = 0
            for id in ids where s.groups[name]!.removePending(id) { n += 1 }
            return n
        }
        if acked > 0 {
            shard.withEntry(at: slot) { _ in }
            c.dirty(acked)
        }
        c.out.integer(acked)
    }

    /// XPENDING key group [[IDLE min-idle-time] start end count [consumer]]
    static func xpending(_ c: inout CommandContext) {
        let summary = c.argc == 3
        guard summary || (c.argc >= 6 && c.argc <= 9) else { c.error(Errors.syntax); return }
        var minIdle = 0
        var start = StreamID.zero, end = StreamID.max
        var count = 0
        var consumerName: [UInt8]? = nil
        if c.argc >= 6 {
            var idx = 3
            if c.args.matches(3, "idle") {
                guard let v = c.integer(4) else { return }
                minIdle = v
                guard c.argc >= 8 else { c.error(Errors.syntax); return }
                idx += 2
            }
            guard let n = c.integer(idx + 2) else { return }
            count = max(n, 0)
            guard let s = StreamCommands.intervalBound(&c, idx, start: true),
                  let e = StreamCommands.intervalBound(&c, idx + 1, start: false) else { return }
            start = s
            end = e
            if idx + 3 < c.argc { consumerName = c.args.owned(idx + 3) }
        }
        let found = StreamCommands.lookup(&c, 1)
        if case .replied = found { return }
        guard case .found(let shard, let slot) = found, let g = StreamCommands.stream(shard, slot).groups[c.args.owned(2)] else {
            noGroup(&c, 1, 2)
            return
        }
        if summary {
            c.out.array(4)
            c.out.integer(g.pendingIDs.count)
            guard let first = g.pendingIDs.first, let last = g.pendingIDs.last else {
                c.out.null()
                c.out.null()
                c.out.nullArray()
                return
            }
            c.out.bulk(first.bytes)
            c.out.bulk(last.bytes)
            let owners = g.consumerNames.filter { !g.consumers[$0]!.pending.isEmpty }
            c.out.array(owners.count)
            for o in owners {
                c.out.array(2)
                c.out.bulk(o)
                c.out.bulk(String(g.consumers[o]!.pending.count))
            }
            return
        }
        let ids: [StreamID]
        if let consumerName {
            guard let cons = g.consumers[consumerName] else { c.out.array(0); return }
            ids = cons.pending
        } else {
            ids = g.pendingIDs
        }
        var rows: [(StreamID, PendingEntry)] = []
        var i = ids.lowerBound(start)
        while count > 0 && i < ids.count && ids[i] <= end {
            let p = g.pending[ids[i]]!
            i += 1
            if minIdle != 0 && c.now - p.deliveryTime < minIdle { continue }
            rows.append((ids[i - 1], p))
            count -= 1
        }
        c.out.array(rows.count)
        for (id, p) in rows {
            c.out.array(4)
            c.out.bulk(id.bytes)
            c.out.bulk(p.consumer)
            c.out.integer(max(0, Int(c.now - p.deliveryTime)))
            c.out.integer(Int(p.deliveryCount))
        }
    }

    // MARK: XCLAIM, XAUTOCLAIM

    /// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-milliseconds]
    ///   [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]
    static func xclaim(_ c: inout CommandContext) {
        let shard: Shard, slot: Int
        let found = StreamCommands.lookup(&c, 1)
        if case .replied = found { return }
        guard case .found(let sh, let sl) = found, StreamCommands.stream(sh, sl).groups[c.args.owned(2)] != nil else {
            noGroup(&c, 1, 2)
            return
        }
        (shard, slot) = (sh, sl)
        guard var minIdle = c.integer(4, error: "ERR Invalid min-idle-time argument for XCLAIM") else { return }
        if minIdle < 0 { minIdle = 0 }
        var ids: [StreamID] = []
        var j = 5
        while j < c.argc, let (id, _) = StreamCommands.parseID(c.args[j], strict: true) {
            ids.append(id)
            j += 1
        }
        let now = c.now
        var retryCount = -1
        var deliveryTime: Int64 = -1
        var force = false, justID = false
        var lastID = StreamID.zero
        while j < c.argc {
            let more = c.argc - 1 - j
            if c.args.matches(j, "force") {
                force = true
            } else if c.args.matches(j, "justid") {
                justID = true
            } else if c.args.matches(j, "idle") && more > 0 {
                j += 1
                guard let v = c.integer(j, error: "ERR Invalid IDLE option argument for XCLAIM") else { return }
                deliveryTime = now &- Int64(v)
            } else if c.args.matches(j, "time") && more > 0 {
                j += 1
                guard let v = c.integer(j, error: "ERR Invalid TIME option argument for XCLAIM") else { return }
                deliveryTime = Int64(v)
            } else if c.args.matches(j, "retrycount") && more > 0 {
                j += 1
                guard let v = c.integer(j, error: "ERR Invalid RETRYCOUNT option argument for XCLAIM") else { return }
                retryCount = v
            } else if c.args.matches(j, "lastid") && more > 0 {
                j += 1
                guard let id = StreamCommands.strictID(&c, j) else { return }
                lastID = id
            } else {
                c.error("ERR Unrecognized XCLAIM option '\(c.args.string(j))'")
                return
            }
            j += 1
        }
        if deliveryTime != -1 {
            if deliveryTime < 0 || deliveryTime > now { deliveryTime = now }
        } else {
            deliveryTime = now
        }
        let name = c.args.owned(2), consumer = c.args.owned(3), key = c.args.owned(1)
        var effects: [[[UInt8]]] = []
        var s = StreamCommands.take(shard, slot)
        var replies: [(StreamID, StreamEntry?)] = []
        var changes = 0
            var g = s.groups[name]!
            var propagateLastID = false
            if lastID > g.lastID {
                g.lastID = lastID
                propagateLastID = true
            }
            var haveConsumer = false
            for id in ids {
                let entry = s.entry(id)
                guard let entry else {
                    if let p = g.pending[id] {
                        effects.append(claimEffect(key, name, id, p, lastID: g.lastID))
                        propagateLastID = false
                        changes += 1
                        g.removePending(id)
                    }
                    continue
                }
                var created = false
                if force && g.pending[id] == nil {
                    g.pending[id] = PendingEntry(consumer: [], deliveryTime: now, deliveryCount: 1)
                    g.pendingIDs.insertSorted(id)
                    created = true
                }
                guard let p = g.pending[id] else { continue }
                if !created && minIdle > 0 && now - p.deliveryTime < minIdle { continue }
                if !haveConsumer {
                    touchConsumer(&c, &g, consumer, keyArg: 1)
                    haveConsumer = true
                }
                if p.consumer != consumer {
                    if !created { g.consumers[p.consumer]?.pending.removeSorted(id) }
                    g.pending[id]!.consumer = consumer
                    g.consumers[consumer]!.pending.insertSorted(id)
                }
                g.pending[id]!.deliveryTime = deliveryTime
                if retryCount >= 0 {
                    g.pending[id]!.deliveryCount = Int64(retryCount)
                } else if !justID {
                    g.pending[id]!.deliveryCount += 1
                }
                replies.append((id, entry))
                effects.append(claimEffect(key, name, id, g.pending[id]!, lastID: g.lastID))
                propagateLastID = false
                changes += 1
            }
            if propagateLastID {
                effects.append(setIDEffect(key, name, g))
                changes += 1
            }
            s.groups[name] = g
        StreamCommands.put(shard, slot, s)
        c.out.array(replies.count)
        for (id, e) in replies {
            if justID { c.out.bulk(id.bytes) } else if let e { StreamCommands.writeEntry(&c, e) } else { c.out.null() }
        }
        if changes > 0 { c.dirty(changes) }
        addEffects(&c, effects)
    }

    /// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
    static func xautoclaim(_ c: inout CommandContext) {
        guard var minIdle = c.integer(4, error: "ERR Invalid min-idle-time argument for XAUTOCLAIM") else { return }
        if minIdle < 0 { minIdle = 0 }
        guard let start = StreamCommands.intervalBound(&c, 5, start: true) else { return }
        var count = 100
        var justID = false
        var j = 6
        while j < c.argc {
            let more = c.argc - 1 - j
            if c.args.matches(j, "count") && more > 0 {
                let maxCount = Int.max / 16
                guard let n = c.integer(j + 1, error: "ERR COUNT must be > 0") else { return }
                guard n >= 1, n <= maxCount else { c.error("ERR COUNT must be > 0"); return }
                count = n
                j += 1
            } else if c.args.matches(j, "justid") {
                justID = true
            } else {
                c.error(Errors.syntax)
                return
            }
            j += 1
        }
        let found = StreamCommands.lookup(&c, 1)
        if case .replied = found { return }
        guard case .found(let shard, let slot) = found, StreamCommands.stream(shard, slot).groups[c.args.owned(2)] != nil else {
            noGroup(&c, 1, 2)
            return
        }
        let name = c.args.owned(2), consumer = c.args.owned(3), key = c.args.owned(1)
        let now = c.now
        var effects: [[[UInt8]]] = []
        var s = StreamCommands.take(shard, slot)
        var claimed: [(StreamID, StreamEntry?)] = []
        var deletedIDs: [StreamID] = []
        var cursor = StreamID.zero
            var g = s.groups[name]!
            var attempts = count * 10
            var remaining = count
            var i = g.pendingIDs.lowerBound(start)
            var haveConsumer = false
            while attempts > 0 && remaining > 0 && i < g.pendingIDs.count {
                attempts -= 1
                let id = g.pendingIDs[i]
                guard let entry = s.entry(id) else {
                    effects.append(claimEffect(key, name, id, g.pending[id]!, lastID: g.lastID))
                    g.removePending(id)
                    deletedIDs.append(id)
                    remaining -= 1
                    continue
                }
                let p = g.pending[id]!
                i += 1
                if minIdle > 0 && now - p.deliveryTime < minIdle { continue }
                if !haveConsumer {
                    touchConsumer(&c, &g, consumer, keyArg: 1)
                    haveConsumer = true
                }
                g.reassign(id, to: consumer)
                g.pending[id]!.deliveryTime = now
                if !justID { g.pending[id]!.deliveryCount += 1 }
                claimed.append((id, entry))
                remaining -= 1
                effects.append(claimEffect(key, name, id, g.pending[id]!, lastID: g.lastID))
            }
            cursor = i < g.pendingIDs.count ? g.pendingIDs[i] : .zero
            s.groups[name] = g
        StreamCommands.put(shard, slot, s)
        c.out.array(3)
        c.out.bulk(cursor.bytes)
        c.out.array(claimed.count)
        for (id, e) in claimed {
            if justID { c.out.bulk(id.bytes) } else if let e { StreamCommands.writeEntry(&c, e) } else { c.out.null() }
        }
        c.out.array(deletedIDs.count)
        for id in deletedIDs { c.out.bulk(id.bytes) }
        let changes = claimed.count + deletedIDs.count
        if changes > 0 { c.dirty(changes) }
        addEffects(&c, effects)
    }

    // MARK: XINFO

    static func xinfoHelp(_ c: inout CommandContext) {
        c.help(["XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "CONSUMERS <key> <groupname>",
                "    Show consumers of <groupname>.",
                "GROUPS <key>",
                "    Show the stream consumer groups.",
                "STREAM <key> [FULL [COUNT <count>]",
                "    Show information about the stream.",
                "HELP",
                "    Prints this help."])
    }

    static func infoStream(_ c: inout CommandContext) -> StreamValue? {
        let shard = c.shard(2)
        guard let slot = shard.find(c.args[2], now: c.lookupNow) else { c.error(Errors.noSuchKey); return nil }
        guard case .stream(let s) = shard.entry(at: slot).value else { c.error(Errors.wrongType); return nil }
        return s
    }

    /// radix-tree-nodes: Redis counts its radix tree's internal nodes, which depend on how the
    /// node keys' bytes share prefixes; this is the count of a tree with one node per byte of
    /// each key that differs from its predecessor's, close to (not always equal to) Redis's.
    static func treeNodes(_ s: StreamValue) -> Int {
        var total = 1
        var prev: [UInt8]? = nil
        for n in s.nodes {
            let raw = n.master.raw
            if let p = prev {
                var k = 0
                while k < 16 && p[k] == raw[k] { k += 1 }
                total += 16 - k > 0 ? 2 : 0
            } else {
                total += 1
            }
            prev = raw
        }
        return total
    }

    /// XINFO STREAM key [FULL [COUNT count]]
    static func xinfoStream(_ c: inout CommandContext) {
        var full = false
        var count = 10
        if c.argc > 3 {
            guard c.args.matches(3, "full"), c.argc == 4 || (c.argc == 6 && c.args.matches(4, "count")) else {
                subcommandSyntax(&c, c.args.string(1), container: "XINFO")
                return
            }
            full = true
            if c.argc == 6 {
                guard let n = c.integer(5) else { return }
                count = n < 0 ? 10 : n
            }
        }
        guard let s = infoStream(&c) else { return }
        c.out.map(full ? 9 : 10)
        c.out.bulk("length"); c.out.integer(s.length)
        c.out.bulk("radix-tree-keys"); c.out.integer(s.nodes.count)
        c.out.bulk("radix-tree-nodes"); c.out.integer(treeNodes(s))
        c.out.bulk("last-generated-id"); c.out.bulk(s.lastID.bytes)
        c.out.bulk("max-deleted-entry-id"); c.out.bulk(s.maxDeletedID.bytes)
        c.out.bulk("entries-added"); c.out.integer(Int(s.entriesAdded))
        c.out.bulk("recorded-first-entry-id"); c.out.bulk(s.firstID.bytes)
        if !full {
            c.out.bulk("groups"); c.out.integer(s.groups.count)
            c.out.bulk("first-entry")
            if let e = s.range(.zero, .max, count: 1).first { StreamCommands.writeEntry(&c, e) } else { c.out.null() }
            c.out.bulk("last-entry")
            if let e = s.range(.zero, .max, count: 1, reverse: true).first { StreamCommands.writeEntry(&c, e) } else { c.out.null() }
            return
        }
        c.out.bulk("entries")
        StreamCommands.writeEntries(&c, s.range(.zero, .max, count: count))
        c.out.bulk("groups")
        let names = s.groupNames
        c.out.array(names.count)
        for name in names {
            let g = s.groups[name]!
            c.out.map(7)
            c.out.bulk("name"); c.out.bulk(name)
            c.out.bulk("last-delivered-id"); c.out.bulk(g.lastID.bytes)
            writeOffsets(&c, s, g)
            c.out.bulk("pel-count"); c.out.integer(g.pendingIDs.count)
            c.out.bulk("pending")
            let shown = count == 0 ? g.pendingIDs[...] : g.pendingIDs.prefix(count)
            c.out.array(shown.count)
            for id in shown {
                let p = g.pending[id]!
                c.out.array(4)
                c.out.bulk(id.bytes)
                c.out.bulk(p.consumer)
                c.out.integer(Int(p.deliveryTime))
                c.out.integer(Int(p.deliveryCount))
            }
            c.out.bulk("consumers")
            let consumers = g.consumerNames
            c.out.array(consumers.count)
            for cn in consumers {
                let cons = g.consumers[cn]!
                c.out.map(4)
                c.out.bulk("name"); c.out.bulk(cn)
                c.out.bulk("seen-time"); c.out.integer(Int(cons.seenTime))
                c.out.bulk("pel-count"); c.out.integer(cons.pending.count)
                c.out.bulk("pending")
                let mine = count == 0 ? cons.pending[...] : cons.pending.prefix(count)
                c.out.array(mine.count)
                for id in mine {
                    let p = g.pending[id]!
                    c.out.array(3)
                    c.out.bulk(id.bytes)
                    c.out.integer(Int(p.deliveryTime))
                    c.out.integer(Int(p.deliveryCount))
                }
            }
        }
    }

    /// A group's entries-read and lag, null when unknown (Redis 7.0's XINFO fields).
    static func writeOffsets(_ c: inout CommandContext, _ s: StreamValue, _ g: ConsumerGroup) {
        c.out.bulk("entries-read")
        if g.entriesRead != -1 { c.out.integer(Int(g.entriesRead)) } else { c.out.null() }
        c.out.bulk("lag")
        if let lag = s.lag(g) { c.out.integer(Int(lag)) } else { c.out.null() }
    }

    /// XINFO GROUPS key
    static func xinfoGroups(_ c: inout CommandContext) {
        guard let s = infoStream(&c) else { return }
        let names = s.groupNames
        c.out.array(names.count)
        for name in names {
            let g = s.groups[name]!
            c.out.map(6)
            c.out.bulk("name"); c.out.bulk(name)
            c.out.bulk("consumers"); c.out.integer(g.consumers.count)
            c.out.bulk("pending"); c.out.integer(g.pendingIDs.count)
            c.out.bulk("last-delivered-id"); c.out.bulk(g.lastID.bytes)
            writeOffsets(&c, s, g)
        }
    }

    /// XINFO CONSUMERS key group
    static func xinfoConsumers(_ c: inout CommandContext) {
        guard let s = infoStream(&c) else { return }
        guard let g = s.groups[c.args.owned(3)] else {
            c.error("NOGROUP No such consumer group '\(c.args.string(3))' for key name '\(c.args.string(2))'")
            return
        }
        let names = g.consumerNames
        c.out.array(names.count)
        for name in names {
            let cons = g.consumers[name]!
            c.out.map(3)
            c.out.bulk("name"); c.out.bulk(name)
            c.out.bulk("pending"); c.out.integer(cons.pending.count)
            c.out.bulk("idle"); c.out.integer(max(0, Int(c.now - cons.seenTime)))
        }
    }
}
