import NIOCore
import Synchronization
import RESP
import Storage

/// Client-side caching: which clients may hold which keys, and the invalidation messages
/// sent when those keys change (CLIENT TRACKING and friends).
///
/// As in Redis, the table of keys is shared by all databases. Its lock may be taken under
/// shard locks (expiry), never the other way round.
final class Tracking: Sendable {
    struct Options: Sendable {
        var bcast = false, optin = false, optout = false, noloop = false
        var redirect = 0
        var prefixes: [[UInt8]] = []
    }

    struct State {
        var clients: [Int: Options] = [:]
        var keys: [[UInt8]: Set<Int>] = [:]
    }

    let state = Locked(State())
    /// Tracking clients, so that commands skip all of this when nobody tracks.
    let active = Atomic<Int>(0)
    /// tracking-table-max-keys (0: no bound).
    let maxKeys = Atomic<Int>(1_000_000)
}

extension Engine {
    var trackingOn: Bool { tracking.active.load(ordering: .relaxed) > 0 }

    func enableTracking(_ id: Int, _ options: Tracking.Options) {
        tracking.state.withLock { st in
            if st.clients[id] == nil { tracking.active.wrappingAdd(1, ordering: .relaxed) }
            var o = options
            if let old = st.clients[id], old.bcast { o.prefixes = old.prefixes + options.prefixes }
            st.clients[id] = o
        }
    }

    func disableTracking(_ id: Int) {
        tracking.state.withLock { st in
            if st.clients.removeValue(forKey: id) != nil { tracking.active.wrappingAdd(-1, ordering: .relaxed) }
        }
    }

    func trackingOptions(_ id: Int) -> Tracking.Options? { tracking.state.withLock { $0.clients[id] } }

    /// Remembers that client `id` read `keys` (default mode, not BCAST).
    /// Past tracking-table-max-keys, keys leave the table as Redis's do: their clients are
    /// told (an invalidation), so that none keeps a value it would no longer hear about.
    func rememberKeys(_ id: Int, _ keys: [[UInt8]]) {
        let max = tracking.maxKeys.load(ordering: .relaxed)
        let dropped: [([UInt8], Set<Int>)] = tracking.state.withLock { st in
            for k in keys { st.keys[k, default: []].insert(id) }
            var out: [([UInt8], Set<Int>)] = []
            while max > 0 && st.keys.count > max, let first = st.keys.first {
                st.keys.removeValue(forKey: first.key)
                out.append((first.key, first.value))
            }
            return out
        }
        for (key, ids) in dropped {
            for target in ids {
                if let o = trackingOptions(target) { sendInvalidation(target, o, keys: [key]) }
            }
        }
    }

    /// INFO stats' tracking_total_keys, tracking_total_items, tracking_total_prefixes.
    var trackingTotals: (keys: Int, items: Int, prefixes: Int) {
        tracking.state.withLock { st in
            (st.keys.count, st.keys.values.reduce(0) { $0 + $1.count },
             Set(st.clients.values.flatMap(\.prefixes)).count)
        }
    }

    /// `key` changed: tell every client that may cache it, except a NOLOOP writer.
    func invalidate(_ key: [UInt8], writer: Int?, own: ((Tracking.Options, [[UInt8]]?) -> Void)? = nil) {
        invalidate([key], writer: writer, own: own)
    }

    /// The keys one command changed. As Redis 7.0: a client that read some of them gets one
    /// message per key; a BCAST client one message per prefix (in the prefixes' byte order)
    /// with every key under it.
    func invalidate(_ keys: [[UInt8]], writer: Int?, own: ((Tracking.Options, [[UInt8]]?) -> Void)? = nil) {
        guard trackingOn else { return }
        var perKey: [(Int, Tracking.Options, [UInt8])] = []
        var broadcast: [Int: (Tracking.Options, [[UInt8]])] = [:]
        tracking.state.withLock { st in
            for key in keys {
                if let ids = st.keys.removeValue(forKey: key) {
                    for id in ids { if let o = st.clients[id], !o.bcast { perKey.append((id, o, key)) } }
                }
                for (id, o) in st.clients where o.bcast && (o.prefixes.isEmpty || o.prefixes.contains { key.starts(with: $0) }) {
                    if broadcast[id]?.1.contains(key) != true { broadcast[id, default: (o, [])].1.append(key) }
                }
            }
        }
        func send(_ id: Int, _ o: Tracking.Options, _ keys: [[UInt8]]) {
            guard !(o.noloop && id == writer) else { return }
            if id == writer, o.redirect == 0, let own { own(o, keys) } else { sendInvalidation(id, o, keys: keys) }
        }
        for (id, o, key) in perKey { send(id, o, [key]) }
        for (id, (o, keys)) in broadcast.sorted(by: { $0.key < $1.key }) {
            if o.prefixes.isEmpty { send(id, o, keys); continue }
            for prefix in o.prefixes.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                let under = keys.filter { $0.starts(with: prefix) }
                if !under.isEmpty { send(id, o, under) }
            }
        }
    }

    /// FLUSHDB / FLUSHALL: every tracking client drops its whole cache (a null invalidation).
    func invalidateAll(writer: Int? = nil, own: ((Tracking.Options, [[UInt8]]?) -> Void)? = nil) {
        guard trackingOn else { return }
        let all: [(Int, Tracking.Options)] = tracking.state.withLock { st in
            st.keys.removeAll()
            return st.clients.map { ($0.key, $0.value) }
        }
        for (id, o) in all {
            if id == writer, o.redirect == 0, let own { own(o, nil) } else { sendInvalidation(id, o, keys: nil) }
        }
    }

    /// Sends an invalidation to the client itself (RESP3) or to its REDIRECT target: a push in
    /// RESP3, a message on __redis__:invalidate for a RESP2 target subscribed to it.
    func sendInvalidation(_ id: Int, _ o: Tracking.Options, keys: [[UInt8]]?) {
        let targetID = o.redirect != 0 ? o.redirect : id
        guard let target = clients.get(targetID), let sink = target.pushSink else {
            // A vanished redirect target: a RESP3 client is told its redirection broke.
            if o.redirect != 0, let me = clients.get(id), me.info.withLock({ $0.resp }) == 3, let sink = me.pushSink {
                var w = RESPWriter(buffer: ByteBuffer())
                w.resp3 = true
                w.push(2)
                w.bulk("tracking-redir-broken")
                w.integer(o.redirect)
                sink(w.buffer)
            }
            return
        }
        guard let message = invalidationMessage(resp3: target.info.withLock({ $0.resp }) == 3, targetID: targetID, keys: keys) else { return }
        sink(message)
    }

    /// The invalidation a client of this RESP version receives; nil for a RESP2 client not
    /// subscribed to __redis__:invalidate (it has nowhere to receive it).
    func invalidationMessage(resp3: Bool, targetID: Int, keys: [[UInt8]]?) -> ByteBuffer? {
        var w = RESPWriter(buffer: ByteBuffer())
        if resp3 {
            w.resp3 = true
            w.push(2)
            w.bulk("invalidate")
        } else {
            let channel = Array("__redis__:invalidate".utf8)
            guard pubsub.isSubscribed(targetID, channel) else { return nil }
            w.array(3)
            w.bulk("message")
            w.bulk(channel)
        }
        if let keys {
            w.array(keys.count)
            for k in keys { w.bulk(k) }
        } else {
            w.nullArray()
        }
        return w.buffer
    }

    /// Tracking's part of finishing a command: remember what a tracking client read, and
    /// invalidate what a write changed.
    func trackAfterCommand(_ spec: CommandSpec, _ c: inout CommandContext) {
        let caching = c.session.cachingOverride
        if caching && spec.name != "client|caching" { c.session.cachingOverride = false }
        guard trackingOn else { return }
        if spec.flags.contains(.write) && c.changes > 0 {
            // A client's own invalidations are written right after the command's reply.
            var own: [ByteBuffer] = []
            let id = c.client.id, resp3 = c.out.resp3
            let collect: (Tracking.Options, [[UInt8]]?) -> Void = { _, keys in
                if let m = self.invalidationMessage(resp3: resp3, targetID: id, keys: keys) { own.append(m) }
            }
            if spec.flags.contains(.invalidatesAll) {
                invalidateAll(writer: id, own: collect)
            } else {
                invalidate(spec.keyIndexes(c.args).map { c.args.owned($0) }, writer: id, own: collect)
            }
            c.ownInvalidations.append(contentsOf: own)
        }
        if c.session.tracking, spec.flags.contains(.readonly), let o = trackingOptions(c.client.id), !o.bcast {
            if (o.optin && !caching) || (o.optout && caching) { return }
            rememberKeys(c.client.id, spec.keyIndexes(c.args).map { c.args.owned($0) })
        }
    }
}

/// CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO.
enum TrackingCommands {
    /// CLIENT TRACKING <ON | OFF> [REDIRECT client-id] [PREFIX prefix [PREFIX prefix ...]] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]
    static func tracking(_ c: inout CommandContext) {
        var o = Tracking.Options()
        var j = 3
        while j < c.argc {
            let more = c.argc - 1 - j
            if c.args.matches(j, "redirect") && more > 0 {
                j += 1
                if o.redirect != 0 { c.error("ERR A client can only redirect to a single other client"); return }
                guard let id = c.integer(j) else { return }
                guard c.engine.clients.get(id) != nil else {
                    c.error("ERR The client ID you want redirect to does not exist")
                    return
                }
                o.redirect = id
            } else if c.args.matches(j, "bcast") { o.bcast = true }
            else if c.args.matches(j, "optin") { o.optin = true }
            else if c.args.matches(j, "optout") { o.optout = true }
            else if c.args.matches(j, "noloop") { o.noloop = true }
            else if c.args.matches(j, "prefix") && more > 0 {
                j += 1
                o.prefixes.append(c.args.owned(j))
            } else {
                c.error(Errors.syntax)
                return
            }
            j += 1
        }
        if c.args.matches(2, "on") {
            let current = c.engine.trackingOptions(c.client.id)
            if !o.bcast && !o.prefixes.isEmpty { c.error("ERR PREFIX option requires BCAST mode to be enabled"); return }
            if let cur = current, cur.bcast != o.bcast {
                c.error("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.")
                return
            }
            if o.bcast && (o.optin || o.optout) { c.error("ERR OPTIN and OPTOUT are not compatible with BCAST"); return }
            if o.optin && o.optout { c.error("ERR You can't specify both OPTIN mode and OPTOUT mode"); return }
            if let cur = current, (o.optin && cur.optout) || (o.optout && cur.optin) {
                c.error("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.")
                return
            }
            if o.bcast {
                let existing = current?.prefixes ?? []
                for (n, p) in o.prefixes.enumerated() {
                    for e in existing where p.starts(with: e) || e.starts(with: p) {
                        c.error("ERR Prefix '\(String(decoding: p, as: UTF8.self))' overlaps with an existing prefix '\(String(decoding: e, as: UTF8.self))'. Prefixes for a single client must not overlap.")
                        return
                    }
                    for q in o.prefixes[(n + 1)...] where p.starts(with: q) || q.starts(with: p) {
                        c.error("ERR Prefix '\(String(decoding: p, as: UTF8.self))' overlaps with another provided prefix '\(String(decoding: q, as: UTF8.self))'. Prefixes for a single client must not overlap.")
                        return
                    }
                }
            }
            c.engine.enableTracking(c.client.id, o)
            c.session.tracking = true
        } else if c.args.matches(2, "off") {
            c.engine.disableTracking(c.client.id)
            c.session.tracking = false
        } else {
            c.error(Errors.syntax)
            return
        }
        c.ok()
    }

    /// CLIENT CACHING YES | NO
    static func caching(_ c: inout CommandContext) {
        guard let o = c.engine.trackingOptions(c.client.id) else {
            c.error("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled")
            return
        }
        if c.args.matches(2, "yes") {
            guard o.optin else { c.error("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."); return }
        } else if c.args.matches(2, "no") {
            guard o.optout else { c.error("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."); return }
        } else {
            c.error(Errors.syntax)
            return
        }
        c.session.cachingOverride = true
        c.ok()
    }

    /// CLIENT GETREDIR
    static func getredir(_ c: inout CommandContext) {
        guard let o = c.engine.trackingOptions(c.client.id) else { c.out.integer(-1); return }
        c.out.integer(o.redirect)
    }

    /// CLIENT TRACKINGINFO
    static func trackinginfo(_ c: inout CommandContext) {
        let o = c.engine.trackingOptions(c.client.id)
        var flags: [String] = []
        if let o {
            flags.append("on")
            if o.bcast { flags.append("bcast") }
            if o.optin { flags.append("optin") }
            if o.optout { flags.append("optout") }
            if c.session.cachingOverride { flags.append(o.optin ? "caching-yes" : "caching-no") }
            if o.noloop { flags.append("noloop") }
            if o.redirect != 0 && c.engine.clients.get(o.redirect) == nil { flags.append("broken_redirect") }
        } else {
            flags.append("off")
        }
        c.out.map(3)
        c.out.bulk("flags")
        c.out.set(flags.count)
        for f in flags { c.out.bulk(f) }
        c.out.bulk("redirect")
        c.out.integer(o.map { $0.redirect } ?? -1)
        c.out.bulk("prefixes")
        c.out.array(o?.prefixes.count ?? 0)
        for p in o?.prefixes ?? [] { c.out.bulk(p) }
    }
}
