import NIOCore
import Memcache
import RESP
import Storage

/// The memcached text protocol on Larder's keyspace: items are strings in the database
/// `memcached-db`, with memcached's client flags and CAS unique kept in each entry. One session
/// per connection.
///
/// Every request runs through the engine's `call()`, as a Redis command does: a row of
/// `MemcachedCommands.specs` says which keys it locks and whether it writes, and call() takes
/// the shard locks, propagates the request's effect (the item as it now is: SET ... PXAT, or
/// DEL), invalidates tracked keys and sends keyspace events' followers. The request's own
/// work is the handler given to call().
///
/// Where a key holds a Redis type other than a string, memcached commands see no item: reads
/// miss, `set` replaces it, the others answer as for a missing item.
public final class MemcachedSession {
    public let engine: Engine
    public var parser: MemcacheParser
    let db: Database
    let dbIndex: Int
    var now: Int64 = 0
    /// The command context call() works with: this connection's, in `memcached-db`.
    var ctx: CommandContext
    /// Counters of this connection, added to the shared ones once per read batch.
    var counts = [Int](repeating: 0, count: MemcachedState.Counter.allCases.count)
    /// Items (key and CAS) mg answered in this read batch. memcached's reply holds a reference
    /// to the item until it is sent, and an incr/decr of a referenced item makes a new item
    /// instead of rewriting it in place (no space padding, not fetched); this reproduces that.
    /// memcached sends its replies (and lets go of the items) after 20 requests at most.
    var heldByReply: [(key: [UInt8], cas: UInt64)] = []
    var requestsSinceSend = 0

    public init(engine: Engine) {
        self.engine = engine
        self.parser = MemcacheParser(itemSizeMax: engine.config.int("memcached-item-size-max"))
        self.dbIndex = engine.config.int("memcached-db")
        self.db = engine.keyspace.databases[dbIndex]
        let client = Client(id: -2, address: "memcached", localAddress: "", fd: -1, now: unixMillis(), authenticated: true)
        ctx = CommandContext(engine: engine, client: client, out: RESPWriter(buffer: ByteBuffer()))
        ctx.dbIndex = dbIndex
    }

    func count(_ c: MemcachedState.Counter, _ n: Int = 1) { counts[c.rawValue] += n }

    /// Before the batch's replies leave: its writes are in the AOF (and synced, under always).
    public func beforeReply() { engine.aofBeforeReply(upTo: ctx.session.aofSeq) }

    /// Ends a read batch: counters to the shared totals.
    public func flushCounters(bytesRead: Int, bytesWritten: Int) {
        heldByReply.removeAll(keepingCapacity: true)
        requestsSinceSend = 0
        count(.bytesRead, bytesRead)
        count(.bytesWritten, bytesWritten)
        engine.memcached.add(&counts)
    }

    /// Runs `body` as the request `spec` names, on `keys`, through call().
    func run(_ spec: CommandSpec, _ keys: [ArraySlice<UInt8>], _ body: (inout CommandContext) -> Void) {
        ctx.args.removeAll()
        ctx.args.append(spec.name.utf8)
        for k in keys { ctx.args.append(k) }
        ctx.now = now
        ctx.startedMicros = now * 1000
        engine.call(spec, &ctx, running: body)
    }

    private func run(_ spec: CommandSpec, key: [UInt8], _ body: (inout CommandContext) -> Void) {
        run(spec, [key[...]], body)
    }

    /// Runs one request, writing its reply to `out`. Returns false when the connection must
    /// close (quit, a line too long). Admission here is memcached's: a delayed flush_all
    /// that fell due, and for stores, memory under maxmemory.
    public func execute(_ request: MemcacheRequest, _ out: inout ByteBuffer) -> Bool {
        now = unixMillis()
        engine.memcachedFlushIfDue(now: now)
        requestsSinceSend += 1
        if requestsSinceSend > 20 {
            heldByReply.removeAll(keepingCapacity: true)
            requestsSinceSend = 1
        }
        let specs = MemcachedCommands.self
        switch request {
        case .retrieve(let kind, let exptime, let keys):
            let touching = kind == .gat || kind == .gats
            run(touching ? specs.gat : specs.get, keys) { c in retrieve(&c, kind, exptime, keys, &out) }
        case .store(let kind, let key, let flags, let exptime, let cas, let data, let noreply):
            count(.cmdSet)
            var reply = "SERVER_ERROR out of memory storing object"
            if enoughMemory() {
                run(specs.store, [key]) { c in reply = store(&c, kind, key, flags: flags, exptime: exptime, cas: cas, data: data) }
            }
            if !noreply { out.writeString(reply); out.writeString("\r\n") }
        case .tooLarge(let key, let dropExisting, let noreply):
            count(.cmdSet)
            if dropExisting { run(specs.delete, [key]) { c in _ = delete(&c, key) } }
            if !noreply { out.writeString("SERVER_ERROR object too large for cache\r\n") }
        case .arithmetic(let incr, let key, let delta, let noreply):
            var reply = ""
            run(specs.arithmetic, [key]) { c in
                switch arithmetic(&c, key, incr: incr, delta: delta, compareCas: nil) {
                case .value(let v, _):
                    reply = v
                    count(incr ? .incrHits : .decrHits)
                case .notFound:
                    reply = "NOT_FOUND"
                    count(incr ? .incrMisses : .decrMisses)
                case .nonNumeric: reply = "CLIENT_ERROR cannot increment or decrement non-numeric value"
                case .casMismatch: reply = "EXISTS"
                }
            }
            if !noreply { out.writeString(reply); out.writeString("\r\n") }
        case .touch(let key, let exptime, let noreply):
            count(.cmdTouch)
            var found = false
            run(specs.touch, [key]) { c in found = touch(&c, key, exptime) }
            count(found ? .touchHits : .touchMisses)
            if !noreply { out.writeString(found ? "TOUCHED\r\n" : "NOT_FOUND\r\n") }
        case .delete(let key, let noreply):
            var found = false
            run(specs.delete, [key]) { c in found = delete(&c, key) }
            count(found ? .deleteHits : .deleteMisses)
            if !noreply { out.writeString(found ? "DELETED\r\n" : "NOT_FOUND\r\n") }
        case .flushAll(let delay, let noreply):
            count(.cmdFlush)
            run(specs.flushAll, []) { c in flushAll(&c, delay: delay) }
            if !noreply { out.writeString("OK\r\n") }
        case .version:
            run(specs.other, []) { _ in out.writeString("VERSION \(Self.version)\r\n") }
        case .verbosity(let noreply):
            run(specs.other, []) { _ in if !noreply { out.writeString("OK\r\n") } }
        case .stats(let arguments):
            run(specs.other, []) { _ in stats(arguments, &out) }
        case .quit, .close:
            return false
        case .metaGet(let key, let flags):
            count(.cmdMeta)
            run(specs.metaGet, key: key) { c in metaGet(&c, key, flags, &out) }
        case .metaSet(let key, let flags, let data):
            count(.cmdMeta)
            count(.cmdSet)
            guard enoughMemory() else {
                out.writeString("SERVER_ERROR out of memory storing object\r\n")
                return true
            }
            run(specs.metaSet, key: key) { c in metaSet(&c, key, flags, data, &out) }
        case .metaDelete(let key, let flags):
            count(.cmdMeta)
            run(specs.metaDelete, key: key) { c in metaDelete(&c, key, flags, &out) }
        case .metaArithmetic(let key, let flags):
            count(.cmdMeta)
            run(specs.metaArithmetic, key: key) { c in metaArithmetic(&c, key, flags, &out) }
        case .metaDebug(let key):
            count(.cmdMeta)
            run(specs.metaDebug, key: key) { _ in metaDebug(key, &out) }
        case .metaNoop:
            run(specs.other, []) { _ in out.writeString("MN\r\n") }
        case .reply(let line, let noreply):
            run(specs.other, []) { _ in if !noreply { out.writeString(line); out.writeString("\r\n") } }
        }
        return true
    }

    /// A store's admission under maxmemory: evict first; false when nothing more can go.
    func enoughMemory() -> Bool {
        engine.settings.maxmemory.load(ordering: .relaxed) == 0 || engine.performEvictions()
    }

    /// The memcached release whose behaviour Larder follows.
    public static let version = "1.6.18"

    // MARK: expiry

    /// memcached's exptime as an absolute expiry (ms): 0 for none, `Self.past` when already
    /// gone (negative, or an absolute time passed). Beyond 30 days it is a Unix time.
    func expireAt(_ exptime: Int32) -> Int64 {
        if exptime == 0 { return 0 }
        if exptime < 0 { return Self.past }
        if exptime > 2_592_000 {
            let at = Int64(exptime) * 1000
            return at <= now ? Self.past : at
        }
        return now + Int64(exptime) * 1000
    }

    static let past: Int64 = -1

    /// The item under `key`: its shard (locked by the caller) and slot, if a live string.
    func item(_ shard: Shard, _ key: ArraySlice<UInt8>) -> Int? {
        guard let slot = shard.find(key, now: now), shard.entry(at: slot).value.isString else { return nil }
        return slot
    }

    /// Applies memcached's exptime to the item at `slot`; an expiry in the past removes it.
    /// Returns whether the item is still there.
    @discardableResult
    func applyExpiry(_ shard: Shard, _ slot: Int, _ exptime: Int32) -> Bool {
        let at = expireAt(exptime)
        guard at != Self.past else {
            shard.remove(slot: slot)
            return false
        }
        shard.setExpire(slot: slot, at: at)
        return true
    }

    /// An item written: its keyspace event, and its effect (call() then invalidates tracked
    /// keys and propagates).
    func written(_ c: inout CommandContext, _ key: ArraySlice<UInt8>, _ event: String) {
        changed(&c, key)
        if engine.notificationsOn { engine.notify(.string, event, Array(key), db: dbIndex) }
    }

    /// An item changed (written, or its expiry): a change for call(), with the item as it now
    /// is as its effect (a SET with its absolute expiry, or a DEL): memcached's commands have no
    /// Redis equivalent, and client flags and CAS are not kept in the AOF or the stream.
    func changed(_ c: inout CommandContext, _ key: ArraySlice<UInt8>) {
        c.dirty()
        guard c.propagating else { return }
        let shard = db.shard(key)
        let k = Array(key)
        if let slot = shard.find(key, now: now), let bytes = shard.entry(at: slot).value.stringBytes {
            let at = shard.expireAt(slot: slot)
            var cmd: [[UInt8]] = [Verb.set, k, bytes]
            if at != 0 { cmd += [Verb.pxat, Verb.number(at)] }
            c.alsoPropagate(cmd)
        } else {
            c.alsoPropagate([Verb.del, k])
        }
    }

    // MARK: retrieval

    func retrieve(_ c: inout CommandContext, _ kind: MemcacheRequest.Retrieval, _ exptime: Int32, _ keys: [ArraySlice<UInt8>],
                  _ out: inout ByteBuffer) {
        let touching = kind == .gat || kind == .gats
        let withCas = kind == .gets || kind == .gats
        let replyStart = out.writerIndex
        for key in keys {
            guard key.count <= MemcacheParser.keyMaxLength else {
                // The whole get fails: the hits before the bad key are taken back. (memcached
                // 1.6.18 also drops the replies of earlier commands still queued on the
                // connection; Larder keeps those, so that a pipelining client stays in step.)
                out.moveWriterIndex(to: replyStart)
                out.writeString("CLIENT_ERROR bad command line format\r\n")
                return
            }
            count(.cmdGet)
            if touching { count(.cmdTouch) }
            let shard = db.shard(key)
            if let slot = item(shard, key) {
                let e = shard.entry(at: slot)
                out.writeString("VALUE ")
                out.writeBytes(key)
                out.writeString(" \(shard.clientFlags(at: slot)) ")
                writeValue(e.value, header: withCas ? " \(shard.cas(e))" : "", &out)
                shard.touchAccess(slot: slot, now: now, policy: engine.accessPolicy)
                shard.withEntryMetadata(at: slot) { $0.itemState.insert(.fetched) }
                if touching {
                    applyExpiry(shard, slot, exptime)
                    changed(&c, key)
                }
                count(.getHits)
                if touching { count(.touchHits) }
            } else {
                count(.getMisses)
                if touching { count(.touchMisses) }
            }
        }
        out.writeString("END\r\n")
    }

    /// "<length><header>\r\n<data>\r\n" for a string value.
    func writeValue(_ v: Value, header: String, _ out: inout ByteBuffer) {
        switch v {
        case .int(let i):
            let s = String(i)
            out.writeString("\(s.utf8.count)\(header)\r\n\(s)\r\n")
        case .small(let s):
            out.writeString("\(s.count)\(header)\r\n")
            s.withUnsafeBytes { out.writeBytes($0) }
            out.writeString("\r\n")
        case .compact(let s):
            out.writeString("\(s.count)\(header)\r\n")
            s.withUnsafeBytes { out.writeBytes($0) }
            out.writeString("\r\n")
        case .bytes(let b):
            out.writeString("\(b.count)\(header)\r\n")
            out.writeBytes(b)
            out.writeString("\r\n")
        default:
            break
        }
    }

    // MARK: storage

    /// One storage command; returns memcached's reply line.
    func store(_ c: inout CommandContext, _ kind: MemcacheRequest.Store, _ key: ArraySlice<UInt8>, flags: UInt32,
               exptime: Int32, cas: UInt64, data: ArraySlice<UInt8>) -> String {
        let shard = db.shard(key)
        let slot = item(shard, key)
        switch kind {
        case .add:
            if let slot {
                shard.touchAccess(slot: slot, now: now, policy: engine.accessPolicy)
                return "NOT_STORED"
            }
        case .replace:
            if slot == nil { return "NOT_STORED" }
        case .append, .prepend:
            guard let slot else { return "NOT_STORED" }
            shard.withEntry(at: slot) { e in
                var b = e.value.stringBytes!
                if kind == .append { b.append(contentsOf: data) } else { b.insert(contentsOf: data, at: 0) }
                e.value = .string(b)
                e.itemState = []
            }
            count(.totalItems)
            written(&c, key, kind == .append ? "append" : "prepend")
            return "STORED"
        case .cas:
            guard let slot else {
                count(.casMisses)
                return "NOT_FOUND"
            }
            guard shard.cas(shard.entry(at: slot)) == cas else {
                count(.casBadval)
                return "EXISTS"
            }
            count(.casHits)
        case .set:
            break
        }
        put(&c, shard, key, data, flags: flags, exptime: exptime)
        return "STORED"
    }

    /// Stores a new item over whatever the key held. An exptime already past leaves no item.
    func put(_ c: inout CommandContext, _ shard: Shard, _ key: ArraySlice<UInt8>, _ data: ArraySlice<UInt8>,
             flags: UInt32, exptime: Int32) {
        count(.totalItems)
        let at = expireAt(exptime)
        guard at != Self.past else {
            if shard.delete(key, now: now) { written(&c, key, "del") }
            return
        }
        let slot = shard.set(key, .string(data), expireAt: at, access: engine.accessPolicy.initial(now: now))
        shard.setClientFlags(at: slot, flags)
        written(&c, key, "set")
    }

    func delete(_ c: inout CommandContext, _ key: ArraySlice<UInt8>) -> Bool {
        let shard = db.shard(key)
        guard let slot = item(shard, key) else { return false }
        shard.remove(slot: slot)
        written(&c, key, "del")
        return true
    }

    func touch(_ c: inout CommandContext, _ key: ArraySlice<UInt8>, _ exptime: Int32) -> Bool {
        let shard = db.shard(key)
        guard let slot = item(shard, key) else { return false }
        shard.touchAccess(slot: slot, now: now, policy: engine.accessPolicy)
        shard.withEntryMetadata(at: slot) { $0.itemState.insert(.fetched) }
        applyExpiry(shard, slot, exptime)
        changed(&c, key)
        return true
    }

    // MARK: incr / decr

    enum ArithmeticResult {
        /// The new value's text, and the entry after the change.
        case value(String, Entry)
        case notFound, nonNumeric, casMismatch
    }

    /// memcached's do_add_delta: the value must read as an unsigned 64-bit number; incr wraps,
    /// decr stops at 0. A result no longer than the old value is written over it padded with
    /// spaces (memcached rewrites the item in place), a longer one replaces it.
    func arithmetic(_ c: inout CommandContext, _ key: ArraySlice<UInt8>, incr: Bool, delta: UInt64,
                    compareCas: UInt64?) -> ArithmeticResult {
        let shard = db.shard(key)
        guard let slot = shard.find(key, now: now) else { return .notFound }
        let e = shard.entry(at: slot)
        guard let old = e.value.stringBytes, !old.isEmpty, let v = MemcacheNumber.unsigned64(old) else { return .nonNumeric }
        if let compareCas, compareCas != 0, compareCas != shard.cas(e) { return .casMismatch }
        let result = incr ? v &+ delta : (delta > v ? 0 : v - delta)
        let text = String(result)
        var bytes = Array(text.utf8)
        let inPlace = bytes.count <= old.count && !heldByReply.contains { $0.cas == shard.cas(e) && $0.key.elementsEqual(key) }
        if inPlace { bytes += [UInt8](repeating: 32, count: old.count - bytes.count) }
        shard.touchAccess(slot: slot, now: now, policy: engine.accessPolicy)
        let updated = shard.withEntry(at: slot) { e -> Entry in
            e.value = .string(bytes)
            // Rewritten in place the item keeps its state (fetched, stale); a longer number
            // is a new item to memcached, not fetched yet.
            if !inPlace { e.itemState = [] }
            return e
        }
        written(&c, key, incr ? "incrby" : "decrby")
        return .value(text, updated)
    }

    // MARK: flush_all

    /// Drops every item now (call() holds every shard of the database), or marks them to go
    /// when the delay falls due (items written in between go too, as memcached's oldest_live
    /// rule has it).
    func flushAll(_ c: inout CommandContext, delay: Int32) {
        if delay > 0, case let at = expireAt(delay), at > 0 {
            engine.memcached.flushAt.store(Int(at), ordering: .relaxed)
            return
        }
        engine.memcached.flushAt.store(0, ordering: .relaxed)
        var n = 0
        for s in db.shards { n += s.count; s.removeAll() }
        c.dirty(max(n, 1))
        if c.propagating { c.propagateInstead([Array("FLUSHDB".utf8)]) }
    }
}

/// The rows memcached's requests run under in call(): which keys each locks (all of a get's,
/// every shard for flush_all, none for version or stats) and whether it writes. They are not
/// Redis commands: COMMAND and INFO commandstats do not list them.
enum MemcachedCommands {
    static func row(_ name: String, _ flags: CommandFlags, keys: (Int, Int, Int) = (1, 1, 1),
                    scope: LockScope? = nil) -> CommandSpec {
        CommandSpec(name, arity: -1, flags: flags, keys: keys, scope: scope, group: "memcached",
                    summary: "memcached's \(name)", handler: nil)
    }

    static let get = row("get", [.readonly], keys: (1, -1, 1))
    /// gat / gats change the items' expiry.
    static let gat = row("gat", [.write], keys: (1, -1, 1))
    static let store = row("set", [.write, .denyoom])
    static let delete = row("delete", [.write])
    static let arithmetic = row("incr", [.write, .denyoom])
    static let touch = row("touch", [.write])
    static let flushAll = row("flush_all", [.write, .invalidatesAll], keys: (0, 0, 0), scope: .database)
    /// mg may create an item (N) or change its expiry (T).
    static let metaGet = row("mg", [.write])
    static let metaSet = row("ms", [.write, .denyoom])
    static let metaDelete = row("md", [.write])
    static let metaArithmetic = row("ma", [.write, .denyoom])
    static let metaDebug = row("me", [.readonly])
    /// version, verbosity, stats, mn and the replies to bad requests: no keys.
    static let other = row("version", [], keys: (0, 0, 0))
}

extension Engine {
    /// Empties the memcached database when a delayed flush_all falls due (outside any request,
    /// as expiry is).
    func memcachedFlush(_ index: Int) {
        let db = keyspace.databases[index]
        db.lockAll()
        var n = 0
        for s in db.shards { n += s.count; s.removeAll() }
        propagateAlone(db: index, [Array("FLUSHDB".utf8)])
        db.unlockAll()
        stats.add(stats.dirty, max(n, 1))
        invalidateAll()
    }

    /// Runs a delayed flush_all once it is due (from requests and from the server's cron).
    public func memcachedFlushIfDue(now: Int64) {
        let at = memcached.flushAt.load(ordering: .relaxed)
        guard at != 0 && Int(now) >= at else { return }
        guard memcached.flushAt.compareExchange(expected: at, desired: 0, ordering: .relaxed).exchanged else { return }
        memcachedFlush(config.int("memcached-db"))
    }
}

