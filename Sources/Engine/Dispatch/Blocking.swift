import NIOCore
import Synchronization
import RESP
import Storage

/// A client parked by a blocking command (BLPOP, BLMOVE, BZPOPMIN ...).
///
/// It is served by running its command again, in "serving" mode, once a write signals one of
/// its keys as ready: the same handler code that answered immediately answers then.
public final class Waiter: KeyWaiter, @unchecked Sendable {
    let client: Client
    let spec: CommandSpec
    let args: CommandArguments
    let dbIndex: Int
    let resp3: Bool
    let keys: [[UInt8]]
    /// What the client gets when the timeout passes or CLIENT UNBLOCK ends the wait: a null
    /// (array) for the blocking pops, the count of acknowledging replicas for WAIT.
    let timeoutReply: @Sendable (inout RESPWriter) -> Void
    let deliver: @Sendable (ByteBuffer) -> Void
    /// Set once, under the engine's serve lock, when served, timed out, unblocked or gone.
    var done = false
    /// WAIT: the replication offset and how many replicas must acknowledge it.
    var replicaWait: (offset: Int64, count: Int)? = nil
    /// Run once the client is parked (SHUTDOWN starts its off-loop work then, so that its
    /// failure can always answer it).
    var onParked: (@Sendable () -> Void)? = nil
    /// READONLY was sent: in a cluster, a replica of the slot's owner may keep it waiting.
    var clusterReadOnly = false

    init(client: Client, spec: CommandSpec, args: CommandArguments, dbIndex: Int, resp3: Bool,
         keys: [[UInt8]], timeoutReply: @escaping @Sendable (inout RESPWriter) -> Void,
         deliver: @escaping @Sendable (ByteBuffer) -> Void) {
        self.client = client
        self.spec = spec
        self.args = args
        self.dbIndex = dbIndex
        self.resp3 = resp3
        self.keys = keys
        self.timeoutReply = timeoutReply
        self.deliver = deliver
    }
}

/// Blocked clients by id, behind the serve lock that orders every serve, timeout and unblock.
/// Lock order: the serve lock first, then shard locks; never the other way round.
final class BlockingState: Sendable {
    let byClient = Locked<[Int: Waiter]>([:])
    /// byClient's size, for INFO: INFO holds every shard lock, and the serve lock is taken
    /// before shard locks, never after, so INFO must not take it.
    let count = Atomic<Int>(0)
}

extension CommandContext {
    static let nullReply: @Sendable (inout RESPWriter) -> Void = { $0.null() }
    static let nullArrayReply: @Sendable (inout RESPWriter) -> Void = { $0.nullArray() }

    /// Parks the client on `keys` (their shards are locked by the dispatcher), or answers null
    /// at once inside MULTI, as Redis does. `timeout` is in ms, 0 for ever.
    mutating func block(on keyIndexes: [Int], timeoutMs: Int64, nullArray: Bool) {
        if noBlock || session.onUnblock == nil {
            if nullArray { out.nullArray() } else { out.null() }
            return
        }
        guard let spec = engine.table.lookup(args[0]) else { return }
        let keys = keyIndexes.map { args.owned($0) }
        let w = Waiter(client: client, spec: spec, args: args, dbIndex: dbIndex, resp3: out.resp3,
                       keys: keys, timeoutReply: nullArray ? Self.nullArrayReply : Self.nullReply, deliver: session.onUnblock!)
        w.clusterReadOnly = session.clusterReadOnly
        for k in keys { db.shard(k[...]).park(w, on: k) }
        // Listed by client id once the shard locks are released (Engine.execute): the serve
        // lock must never be taken while holding a shard lock.
        blockedOn = w
        blockTimeoutMs = timeoutMs
    }

    /// Notes that `key` may now serve a blocked client; served once the command is done.
    public mutating func signalReady(_ shard: Shard, _ key: ArraySlice<UInt8>, db: Int? = nil) {
        if shard.hasWaiters(key) { readyKeys.append((db ?? dbIndex, Array(key))) }
    }

    /// Parses a blocking timeout in seconds (fractions allowed) as Redis: ms, 0 = for ever.
    mutating func blockingTimeout(_ i: Int) -> Int64? {
        guard let secs = parseRedisDouble(args[i]), secs.isFinite else {
            error("ERR timeout is not a float or out of range")
            return nil
        }
        guard secs >= 0 else { error("ERR timeout is negative"); return nil }
        let ms = secs * 1000
        guard ms < Double(Int64.max / 2) else { error("ERR timeout is out of range"); return nil }
        return Int64(ms.rounded(.up))
    }
}

extension Engine {
    /// Serves clients blocked on keys that a command just made ready, in FIFO order per key.
    func serveReadyKeys(_ ready: [(Int, [UInt8])]) {
        blocking.byClient.withLock { byClient in
            var queue = ready[...]
            while let (dbIndex, key) = queue.popFirst() {
                let shard = keyspace.databases[dbIndex].shard(key[...])
                // Stream readers each wait for something of their own (entries after their ID,
                // their group): one not ready does not mean the next is not.
                var skipped: [ObjectIdentifier] = []
                while true {
                    let next: Waiter? = shard.lock.withLock {
                        shard.waiters(on: key).lazy.compactMap { $0 as? Waiter }
                            .first { !$0.done && !skipped.contains(ObjectIdentifier($0)) }
                    }
                    guard let w = next else { break }
                    var ctx = CommandContext(engine: self, client: w.client, out: RESPWriter(buffer: ByteBuffer()))
                    ctx.args = w.args
                    ctx.dbIndex = w.dbIndex
                    ctx.out.resp3 = w.resp3
                    ctx.serving = true
                    ctx.startedMicros = unixMicros()
                    ctx.now = ctx.startedMicros / 1000
                    call(w.spec, &ctx)
                    aofBeforeReply(&ctx)
                    guard ctx.out.buffer.readableBytes > 0 else {   // not ready for it after all
                        guard w.spec.name == "xread" || w.spec.name == "xreadgroup" else { break }
                        skipped.append(ObjectIdentifier(w))
                        continue
                    }
                    finish(w, &byClient)
                    w.deliver(ctx.out.buffer)
                    queue.append(contentsOf: ctx.readyKeys)
                }
            }
        }
    }

    /// A write deleted or replaced a stream XREADGROUP clients wait on (DEL, SET, FLUSHALL, a
    /// transaction's): as Redis 7.0 they are answered "UNBLOCKED the stream key no longer
    /// exists" (XREADGROUP, served with the key gone, says so). XREAD clients stay blocked,
    /// and so do list and sorted-set waiters (served with nothing to take, they wait on).
    /// Called with no lock held.
    func signalGoneStreams(_ spec: CommandSpec, _ ctx: inout CommandContext) {
        var ready: [(Int, [UInt8])] = []
        if spec.flags.contains(.invalidatesAll) {
            let waiting = blocking.byClient.withLock { Array($0.values) }
            for w in waiting where w.spec.name == "xreadgroup" {
                for k in w.keys { ready.append((w.dbIndex, k)) }
            }
        } else {
            let db = ctx.db, now = ctx.now
            for i in spec.keyIndexes(ctx.args) {
                let key = ctx.args.owned(i)
                let shard = db.shard(key[...])
                let gone = shard.lock.withLock { () -> Bool in
                    guard shard.waiters(on: key).contains(where: { ($0 as? Waiter)?.spec.name == "xreadgroup" }) else { return false }
                    guard let slot = shard.find(key[...], now: now) else { return true }
                    if case .stream = shard.entry(at: slot).value { return false }
                    return true
                }
                if gone { ready.append((ctx.dbIndex, key)) }
            }
        }
        if !ready.isEmpty { serveReadyKeys(ready) }
    }

    /// Marks a waiter done and takes it off every key it waited on.
    private func finish(_ w: Waiter, _ byClient: inout [Int: Waiter]) {
        w.done = true
        if byClient[w.client.id] === w { byClient[w.client.id] = nil }
        blocking.count.store(byClient.count, ordering: .relaxed)
        let db = keyspace.databases[w.dbIndex]
        for k in w.keys {
            let s = db.shard(k[...])
            s.lock.withLock { s.unpark(w, from: k) }
        }
    }

    /// The blocking timeout passed (or WAIT has its acknowledgements): the timeout reply.
    public func timeOut(_ w: Waiter) {
        blocking.byClient.withLock { byClient in
            guard !w.done else { return }
            finish(w, &byClient)
            w.spec.calls.wrappingAdd(1, ordering: .relaxed)
            var out = RESPWriter(buffer: ByteBuffer())
            out.resp3 = w.resp3
            w.timeoutReply(&out)
            w.deliver(out.buffer)
        }
    }

    /// The client went away while blocked.
    public func cancel(_ w: Waiter) {
        blocking.byClient.withLock { byClient in
            guard !w.done else { return }
            finish(w, &byClient)
        }
    }

    /// CLIENT UNBLOCK: answers as a timeout, or with the UNBLOCKED error. False if not blocked.
    func unblock(clientID: Int, withError: Bool) -> Bool {
        unblock(clientID: clientID, message: withError ? "UNBLOCKED client unblocked via CLIENT UNBLOCK" : nil)
    }

    /// Answers a blocked client with the error `message`, or as a timeout when nil.
    func unblock(clientID: Int, message: String?) -> Bool {
        blocking.byClient.withLock { byClient in
            guard let w = byClient[clientID], !w.done else { return false }
            finish(w, &byClient)
            w.spec.calls.wrappingAdd(1, ordering: .relaxed)
            var out = RESPWriter(buffer: ByteBuffer())
            out.resp3 = w.resp3
            if let message {
                stats.countError(String(message.prefix { $0 != " " }))
                out.error(message)
            } else {
                w.timeoutReply(&out)
            }
            w.deliver(out.buffer)
            return true
        }
    }

    /// Clients waiting in a blocking command, or holding a command a CLIENT PAUSE holds
    /// (Redis counts both in INFO's blocked_clients; tools wait on the figure).
    public var blockedClientCount: Int {
        blocking.count.load(ordering: .relaxed) + pausedClients.load(ordering: .relaxed)
    }
}
