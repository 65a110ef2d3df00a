import Foundation
import NIOCore
import DequeModule
import Persistence
import RESP
import Storage

/// Where a replica's link to its primary stands, as ROLE names it.
enum PrimaryLinkState: String {
    case none
    /// To be connected: before the first attempt, and a second after a failed or dropped one.
    case connect
    case connecting
    /// PING, AUTH, REPLCONF and PSYNC.
    case handshake
    /// Receiving the RDB of a full resynchronization.
    case sync
    /// Applying the stream.
    case connected
}

/// Being a replica: REPLICAOF, what changes when this server starts or stops following a
/// primary, what a replica refuses, the full resynchronization's load, and the replica's
/// INFO and ROLE. The link itself (socket, handshake, stream) is PrimaryLink.
///
/// PSYNC2 as Redis 7.0: a replica's replication ID and offset are its primary's, and its
/// backlog holds the primary's stream as it came, so that it can be promoted (REPLICAOF NO
/// ONE keeps the old ID as `replid2`) and its former peers, and the old primary, continue
/// from it without a full resynchronization.
extension ReplicationCommands {
    static let replicaSpecs: [CommandSpec] = [
        CommandSpec("replicaof", arity: 3, flags: [.admin, .noscript, .stale, .noAsyncLoading], group: "server",
                    summary: "Configures a server as replica of another, or promotes it to a master.", complexity: "O(1)",
                    handler: replicaof),
        CommandSpec("slaveof", arity: 3, flags: [.admin, .noscript, .stale, .noAsyncLoading], group: "server",
                    summary: "Sets a Redis server as a replica of another, or promotes it to being a master.", complexity: "O(1)",
                    handler: replicaof),
    ]

    /// REPLICAOF host port | NO ONE
    static func replicaof(_ c: inout CommandContext) {
        let engine = c.engine
        guard engine.cluster == nil else { c.error("ERR REPLICAOF not allowed in cluster mode."); return }
        if c.args.matches(1, "no") && c.args.matches(2, "one") {
            if engine.repl.following.load(ordering: .relaxed) {
                engine.promote()
                engine.log("MASTER MODE enabled (user request from '\(c.client.listLine(now: c.now))')")
            }
            c.ok()
            return
        }
        if c.client.isReplica {
            c.error("ERR Command is not valid when client is a replica.")
            return
        }
        guard let port = parseCanonicalInt(c.args[2]), port >= 0, port <= 65535 else {
            c.error("ERR Invalid master port")
            return
        }
        let host = c.args.string(1)
        let same = engine.repl.lock.withLock {
            engine.repl.following.load(ordering: .relaxed) && engine.repl.primaryHost == host && engine.repl.primaryPort == port
        }
        if same {
            engine.log("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.")
            c.out.raw("+OK Already connected to specified master\r\n")
            return
        }
        engine.follow(host: host, port: port)
        engine.log("REPLICAOF \(host):\(port) enabled (user request from '\(c.client.listLine(now: c.now))')")
        c.ok()
    }
}

extension Engine {
    // MARK: changing role

    /// Starts following `host:port` (REPLICAOF, the `replicaof` directive). A primary
    /// becoming a replica offers its own history in the PSYNC (Redis's cached master made of
    /// itself): when the new primary was its replica, it continues from there.
    func follow(host: String, port: Int, atStart: Bool = false) {
        let r = repl
        let old: PrimaryLink? = r.lock.withLock { r.link }
        old?.stop()
        let link = PrimaryLink(engine: self, host: host, port: port, streamDb: r.lock.withLock { r.resumeDb })
        r.lock.withLock {
            // A primary turned replica offers its own history (the start's comes from its RDB).
            if !r.following.load(ordering: .relaxed) && !atStart { r.hasHistory = true }
            r.primaryHost = host
            r.primaryPort = port
            r.link = link
            r.linkState = .connect
            r.linkUp.store(false, ordering: .relaxed)
            r.following.store(true, ordering: .relaxed)
            r.gate.store(ReplicationState.gateFollowing, ordering: .relaxed)
        }
        config.setInternal("replicaof", "\(host) \(port)")
        applyReplicaMode()
        unblockAll("UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)")
        link.start()
    }

    /// Stops following (REPLICAOF NO ONE): the stream goes on under a new ID, the old one kept
    /// as replid2 up to this offset, so that replicas of the old history continue from the
    /// backlog; they are disconnected to learn the new ID, as Redis does.
    func promote() {
        let r = repl
        let (old, replicas): (PrimaryLink?, [Client]) = r.lock.withLock {
            let link = r.link
            r.link = nil
            r.following.store(false, ordering: .relaxed)
            r.gate.store(0, ordering: .relaxed)
            refreshGoodReplicas(now: unixMillis())
            r.linkUp.store(false, ordering: .relaxed)
            r.linkState = .none
            r.primaryHost = ""
            r.primaryPort = 0
            shiftReplicationID()
            // repl-backlog-ttl counts from now: the former peers are about to come back.
            r.noReplicasSince = unixMillis()
            // The next command propagated says its database.
            r.encoder.selectedDb = -1
            let waiting = r.pendingFullSyncs.map(\.client)
            r.pendingFullSyncs = []
            return (link, r.replicas.map(\.client) + waiting)
        }
        old?.stop()
        config.setInternal("replicaof", "")
        applyReplicaMode()
        for c in replicas { c.close() }
    }

    /// A new history continuing this one: the old ID stays valid up to the current offset
    /// (lock held).
    func shiftReplicationID() {
        let r = repl
        r.replid2 = r.replid
        r.secondOffset = r.offset + 1
        r.replid = ReplicationState.newID()
    }

    /// A read-only replica keeps expired keys until its primary deletes them (Shard's
    /// keepsExpired); anything else expires them itself.
    func applyReplicaMode() {
        repl.lock.withLock { refreshGoodReplicas(now: unixMillis()) }
        let keep = repl.following.load(ordering: .relaxed) && config.bool("replica-read-only")
        for db in keyspace.databases { for s in db.shards { s.keepsExpired = keep } }
        // A replica's oom_score_adj is its own (oom-score-adj-values' second).
        do { try applyProcessSettings() } catch { log(error.message) }
    }

    /// Answers every blocked client with `message` (a change of role, as Redis's
    /// disconnectAllBlockedClients).
    func unblockAll(_ message: String) {
        let ids = blocking.byClient.withLock { Array($0.keys) }
        for id in ids { _ = unblock(clientID: id, message: message) }
    }

    /// Whether a replica may serve SYNC / PSYNC now: only with its own link up.
    var maySync: Bool { !repl.following.load(ordering: .relaxed) || repl.linkUp.load(ordering: .relaxed) }

    // MARK: admission

    /// Why replication refuses this command from a client, if it does: on a primary, a write
    /// while fewer than min-replicas-to-write replicas are good; on a replica, a write when it
    /// is read-only, or anything but what may run on stale data while the link is down and
    /// replica-serve-stale-data is no.
    func replicationRefusal(_ spec: CommandSpec, _ ctx: inout CommandContext) -> String? {
        let writes = spec.flags.contains(.write) || (spec.name == "exec" && ctx.session.queuedFlags.contains(.write))
        guard repl.following.load(ordering: .relaxed) else {
            return writes ? Self.noReplicas : nil
        }
        if writes && config.bool("replica-read-only") {
            return Self.readOnlyReplica
        }
        if !repl.linkUp.load(ordering: .relaxed) && !spec.flags.contains(.stale) && !config.bool("replica-serve-stale-data") {
            return Self.masterDown
        }
        return nil
    }

    static let noReplicas = "NOREPLICAS Not enough good replicas to write."
    static let readOnlyReplica = "READONLY You can't write against a read only replica."
    static let masterDown = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."

    /// A script with flags, refused as Redis refuses it at admission, where its flags count as
    /// the command's (so before FCALL_RO's own write-flag error and before numkeys): READONLY
    /// on a read-only replica or MASTERDOWN on a stale one, NOREPLICAS on a primary short of
    /// good replicas.
    func scriptAdmissionRefusal(_ flags: ScriptFlags, _ c: CommandContext) -> String? {
        if cluster != nil && flags.contains(.noCluster) { return "ERR Can not run script on cluster, 'no-cluster' flag is set." }
        guard flags.contains(.declared), !c.fromPrimary, repl.gate.load(ordering: .relaxed) != 0 else { return nil }
        let writes = !flags.contains(.noWrites)
        guard repl.following.load(ordering: .relaxed) else { return writes ? Self.noReplicas : nil }
        if writes && config.bool("replica-read-only") { return Self.readOnlyReplica }
        if !flags.contains(.allowStale) && !repl.linkUp.load(ordering: .relaxed) && !config.bool("replica-serve-stale-data") {
            return Self.masterDown
        }
        return nil
    }

    /// Whether a primary lacks the good replicas min-replicas-to-write asks for.
    var shortOfGoodReplicas: Bool { repl.gate.load(ordering: .relaxed) & ReplicationState.gateNoReplicas != 0 }

    /// Replicas online whose last ACK is at most min-replicas-max-lag seconds old, when
    /// min-replicas-to-write and min-replicas-max-lag are both set (lock held, or not:
    /// INFO's reading).
    func goodReplicaCount(now: Int64, locked: Bool = false) -> Int? {
        let maxLag = config.int("min-replicas-max-lag"), wanted = config.int("min-replicas-to-write")
        guard maxLag > 0, wanted > 0 else { return nil }
        let count = { self.repl.replicas.filter { $0.state == .online && (now - $0.ackTime) / 1000 <= Int64(maxLag) }.count }
        return locked ? count() : repl.lock.withLock { count() }
    }

    /// Sets or clears NOREPLICAS's gate (lock held).
    func refreshGoodReplicas(now: Int64) {
        let r = repl
        guard !r.following.load(ordering: .relaxed) else { return }
        let short = goodReplicaCount(now: now, locked: true).map { $0 < config.int("min-replicas-to-write") } ?? false
        r.gate.store(short ? ReplicationState.gateNoReplicas : 0, ordering: .relaxed)
    }

    // MARK: the link's side

    /// What the PSYNC to the primary asks for: this server's history, or none.
    func psyncRequest() -> (String, Int64) {
        repl.lock.withLock { repl.hasHistory ? (repl.replid, repl.offset + 1) : ("?", -1) }
    }

    /// +CONTINUE: the stream goes on; a new ID from the primary (it was promoted, or is a
    /// replica that was) becomes this server's, the old one its replid2, and this server's
    /// own replicas are disconnected to learn it.
    func continuedWithPrimary(newID: String?, by link: PrimaryLink) {
        let replicas: [Client] = repl.lock.withLock {
            let r = repl
            // A link REPLICAOF replaced changes nothing any more.
            guard r.link === link else { return [] }
            r.readOffset = r.offset
            guard let newID, newID != r.replid else { return [] }
            r.replid2 = r.replid
            r.secondOffset = r.offset + 1
            r.replid = newID
            return r.replicas.map(\.client)
        }
        for c in replicas { c.close() }
    }

    /// Replaces the data set with the RDB of a full resynchronization at `path`, at the
    /// primary's `replid` and `offset`. The file is read into shards of its own while the
    /// old data set still serves (as repl-diskless-load swapdb), then swapped in under every
    /// shard lock. Answers the database the stream continues in (the RDB's repl-stream-db).
    func loadFromPrimary(path: String, replid: String, offset: Int64, by link: PrimaryLink) throws -> Int {
        let start = unixMillis()
        let side = Keyspace(databases: keyspace.databases.count, shardsPerDatabase: keyspace.databases[0].shards.count)
        if keyspace.databases[0].indexesSlots { side.databases[0].indexSlots() }
        var libraries: [[UInt8]] = []
        var point: RDBFile.ReplicationPoint? = nil
        var keys = 0
        // Every key is kept, expired or not: the primary sends their DELs.
        try RDBFile.read(path: path, now: 0, limits: DumpCommands.limits(self), verifyChecksum: true,
                         functions: { libraries.append($0) }, replication: { point = $0 }) { k in
            guard k.db < side.databases.count else {
                throw RDBError("The primary's RDB holds database \(k.db); this server has \(side.databases.count)")
            }
            side.databases[k.db].shard(k.key[...]).set(k.key[...], k.value, expireAt: k.expireAt, access: accessPolicy.initial(now: start))
            keys += 1
        }
        var dropped: [KeyTable] = []
        var oldKeys = 0
        var ready: [(Int, [UInt8])] = []
        var replicas: [Client] = []
        var functionError: String? = nil
        var replaced = false
        withAllShardsLocked {
            // REPLICAOF may have replaced the link while it loaded: the data set stays as it is.
            guard repl.lock.withLock({ repl.link === link }) else {
                replaced = true
                return
            }
            for (db, loaded) in zip(keyspace.databases, side.databases) {
                for (s, t) in zip(db.shards, loaded.shards) {
                    s.swapContents(with: t)
                    oldKeys += t.count
                    if t.count > 0 { dropped.append(t.table) }
                    for k in s.keysWithWaiters { ready.append((db.index, k)) }
                }
            }
            functionError = scripting.mutex.withLock { FunctionCommands.restoreLibraries(libraries, flush: true, replace: true, self) }
            let r = repl
            r.lock.withLock {
                r.replid = replid
                r.offset = offset
                r.readOffset = offset
                r.replid2 = String(repeating: "0", count: 40)
                r.secondOffset = -1
                r.backlogSize = max(16 * 1024, config.int("repl-backlog-size"))
                r.backlog = Deque()
                r.backlogFirst = offset + 1
                r.active.store(true, ordering: .relaxed)
                r.hasHistory = true
                // This server's replicas hold another data set now: they sync again.
                replicas = r.replicas.map(\.client) + r.pendingFullSyncs.map(\.client)
                r.pendingFullSyncs = []
            }
            // The AOF restarts from the new data set, as Redis's after a sync.
            if aof.on.load(ordering: .relaxed) { startAOFRewrite(snapshotTables()) }
        }
        if replaced { throw RDBError("the link to this primary was replaced during the load") }
        if let functionError { log("Failed loading the primary's functions: \(functionError)") }
        if !dropped.isEmpty { dropInBackground(dropped, objects: oldKeys) }
        invalidateAll()
        for c in replicas { c.close() }
        if !ready.isEmpty { serveReadyKeys(ready) }
        log("MASTER <-> REPLICA sync: Finished with success (\(keys) keys loaded in \(unixMillis() - start) ms)")
        return max(0, point?.streamDb ?? 0)
    }

    /// One command of the primary's stream has been applied: its bytes, as they came, go to
    /// the backlog and this server's own replicas, and the offset moves past them.
    func appliedFromPrimary(_ bytes: UnsafeRawBufferPointer, by link: PrimaryLink) {
        repl.lock.withLock {
            guard repl.link === link else { return }
            feedLocked(Array(bytes))
            repl.readOffset = repl.offset
        }
    }

    /// Full resynchronizations this replica's own replicas asked for, started from the link's
    /// thread between two commands, where the data set and the offset agree.
    func servePendingFullSyncs(streamDb: Int, by link: PrimaryLink) {
        let pending: [ReplicaLink] = repl.lock.withLock {
            guard repl.link === link else { return [] }
            defer { repl.pendingFullSyncs = [] }
            return repl.pendingFullSyncs
        }
        guard !pending.isEmpty else { return }
        withAllShardsLocked {
            let tables = snapshotTables()
            for link in pending where !link.client.isClosing {
                startFullSync(link, tables: tables, now: unixMillis(), streamDb: streamDb)
            }
        }
    }

    func setLinkState(_ state: PrimaryLinkState, of link: PrimaryLink) {
        repl.lock.withLock {
            guard repl.link === link else { return }
            let wasUp = repl.linkState == .connected
            repl.linkState = state
            repl.linkUp.store(state == .connected, ordering: .relaxed)
            if state == .connected { repl.lastIO = unixMillis() }
            if wasUp && state != .connected { repl.linkDownSince = unixMillis() }
        }
    }

    /// How long ago (ms) a replica last heard from its primary: from the last byte while the
    /// link is up, else from when it went down (as Redis's data age; a link never up: always).
    func primaryDataAge(now: Int64) -> Int64 {
        repl.lock.withLock {
            if repl.linkState == .connected { return now - repl.lastIO }
            return now - repl.linkDownSince
        }
    }

    // MARK: ROLE and INFO

    /// ROLE on a replica: slave, the primary's address, the link's state and the offset.
    func replicaRole(_ c: inout CommandContext) {
        let (host, port, state, offset) = repl.lock.withLock {
            (repl.primaryHost, repl.primaryPort, repl.linkState, repl.linkState == .connected ? repl.offset : -1)
        }
        c.out.array(5)
        c.out.bulk("slave")
        c.out.bulk(host)
        c.out.integer(port)
        c.out.bulk(state.rawValue)
        c.out.integer(Int(offset))
    }

    /// INFO replication's replica fields, in Redis 7.0's order.
    func replicaInfo() -> [(String, String)] {
        let now = unixMillis()
        var lines: [(String, String)] = repl.lock.withLock {
            let r = repl
            let up = r.linkState == .connected
            var l: [(String, String)] = [
                ("role", "slave"), ("master_host", r.primaryHost), ("master_port", String(r.primaryPort)),
                ("master_link_status", up ? "up" : "down"),
                ("master_last_io_seconds_ago", up ? String((now - r.lastIO) / 1000) : "-1"),
                ("master_sync_in_progress", r.linkState == .sync ? "1" : "0"),
                ("slave_read_repl_offset", String(r.readOffset)), ("slave_repl_offset", String(r.offset)),
            ]
            if r.linkState == .sync {
                let total = r.syncTotal
                l += [("master_sync_total_bytes", String(total)), ("master_sync_read_bytes", String(r.syncRead)),
                      ("master_sync_left_bytes", String(total - r.syncRead)),
                      ("master_sync_perc", String(format: "%.2f", total > 0 ? Double(r.syncRead) * 100 / Double(total) : 0)),
                      ("master_sync_last_io_seconds_ago", String((now - r.lastIO) / 1000))]
            }
            if !up {
                l.append(("master_link_down_since_seconds", r.linkDownSince != 0 ? String((now - r.linkDownSince) / 1000) : "-1"))
            }
            return l
        }
        lines += [("slave_priority", config.get("replica-priority")),
                  ("slave_read_only", config.bool("replica-read-only") ? "1" : "0"),
                  ("replica_announced", config.bool("replica-announced") ? "1" : "0")]
        return lines
    }
}

extension Engine {
    // MARK: the replication point of a snapshot

    /// Where the stream stands, for an RDB written from tables taken now (every shard lock
    /// held): on a primary its ID and offset (writes propagate under their shard locks, so
    /// they agree with the tables); on a replica the same only when the link is between two
    /// commands (its apply lock free), else none, and a restart then syncs in full.
    /// `linkHeld`: the caller holds the link's apply lock (withLinkPaused).
    func replicationPoint(linkHeld: Bool = false) -> RDBFile.ReplicationPoint? {
        let r = repl
        if r.following.load(ordering: .relaxed) {
            guard let link = r.lock.withLock({ r.link }) else { return nil }
            guard linkHeld || link.applyLock.tryLock() else { return nil }
            defer { if !linkHeld { link.applyLock.unlock() } }
            return r.lock.withLock {
                r.hasHistory ? .init(streamDb: link.currentDb, replid: r.replid, offset: r.offset) : nil
            }
        }
        return r.lock.withLock {
            r.active.load(ordering: .relaxed) ? .init(streamDb: max(0, r.encoder.selectedDb), replid: r.replid, offset: r.offset) : nil
        }
    }

    /// Runs `body` with the primary's stream stopped between two commands (a save at
    /// shutdown, whose RDB a restarted replica continues from). Never called holding a shard
    /// lock: the link takes its apply lock before any.
    func withLinkPaused<T>(_ body: () -> T) -> T {
        guard let link = repl.lock.withLock({ repl.link }) else { return body() }
        link.applyLock.lock()
        defer { link.applyLock.unlock() }
        return body()
    }

    /// The RDB loaded at start said where the stream stood when it was written, as Redis 7.0
    /// uses it: a replica asks its primary to continue from there; a primary keeps it as its
    /// previous history (replid2), so that its replicas continue after its restart.
    func restoreReplicationPoint(_ p: RDBFile.ReplicationPoint) {
        guard !p.replid.isEmpty, p.offset >= 0, p.streamDb >= 0 else { return }
        let r = repl
        r.lock.withLock {
            if config.get("replicaof").isEmpty {
                r.replid2 = p.replid
                r.secondOffset = p.offset + 1
                r.noReplicasSince = unixMillis()
            } else {
                r.replid = p.replid
                r.hasHistory = true
                r.resumeDb = p.streamDb
            }
            r.offset = p.offset
            r.readOffset = p.offset
            r.backlogSize = max(16 * 1024, config.int("repl-backlog-size"))
            r.backlog = Deque()
            r.backlogFirst = p.offset + 1
            r.active.store(true, ordering: .relaxed)
        }
    }

    /// At stop, after the final save.
    public func stopReplicationLink() {
        repl.lock.withLock { repl.link }?.stop()
    }

    /// At start: follow the primary the configuration names (`replicaof host port`).
    public func startReplication() {
        repl.lock.withLock { refreshGoodReplicas(now: unixMillis()) }
        let words = config.get("replicaof").split(separator: " ").map(String.init)
        guard words.count == 2, let port = Int(words[1]) else { return }
        follow(host: words[0], port: port, atStart: true)
    }
}
