import Dispatch
import Foundation
import NIOCore
import Synchronization
import DequeModule
import Persistence
import RESP
import Storage

/// The primary's side of Redis's replication protocol (PSYNC): a full resynchronization sends
/// an RDB of a snapshot taken under every shard lock, then the stream of writes from that
/// moment; a replica that lost its link continues from the backlog when it still holds the
/// bytes the replica missed. The stream is what the AOF gets (effects, not commands, where
/// they differ), with a SELECT whenever the database changes, so that a real redis-server can
/// replicate from Larder.
public final class ReplicationState: @unchecked Sendable {
    /// True once a replica has connected (the backlog exists): every write is then fed to the
    /// stream. Read on every write without the lock.
    let active = Atomic<Bool>(false)

    // Guarded by `lock`; taken while a command holds its shard locks, so the stream's order
    // is the keyspace's. Never held while taking a shard lock.
    let lock = ShardLock()
    var replid: String = ReplicationState.newID()
    /// master_repl_offset: every byte ever fed to the stream.
    var offset: Int64 = 0
    var encoder = EffectEncoder()
    var backlog = Deque<UInt8>()
    /// The offset of the backlog's first byte (Redis numbers stream bytes from 1).
    var backlogFirst: Int64 = 1
    var backlogSize = 1 << 20
    var replicas: [ReplicaLink] = []
    /// When the last replica went away (ms), for repl-backlog-ttl.
    var noReplicasSince: Int64 = 0
    let rdbQueue = DispatchQueue(label: "larder.replication")

    // PSYNC2: the history this server's stream continued before its last change of ID (a
    // promotion, a primary that announced a new ID); a replica of that history may continue
    // from the backlog up to `secondOffset`, the first offset not in it.
    var replid2: String = String(repeating: "0", count: 40)
    var secondOffset: Int64 = -1

    // The replica's side (ReplicaRole, PrimaryLink), guarded by `lock` too.
    /// Whether this server follows a primary: read without the lock by admission (READONLY)
    /// and propagation (a replica passes its primary's stream on as it came).
    let following = Atomic<Bool>(false)
    /// Whether admission has a replication check to make, one load per command: bit 1 this
    /// server follows a primary (READONLY, MASTERDOWN), bit 2 it is a primary short of
    /// min-replicas-to-write good replicas (NOREPLICAS).
    let gate = Atomic<Int>(0)
    static let gateFollowing = 1, gateNoReplicas = 2
    /// The link is up (applying the stream): MASTERDOWN's check, and SYNC from this replica's replicas.
    let linkUp = Atomic<Bool>(false)
    var primaryHost = ""
    var primaryPort = 0
    var link: PrimaryLink? = nil
    var linkState: PrimaryLinkState = .none
    /// When the link went down (ms), 0 while it never was up; last byte from the primary (ms).
    var linkDownSince: Int64 = 0
    var lastIO: Int64 = 0
    /// A full sync in progress: the RDB's size (-1 until known, or with the EOF mark form)
    /// and what has arrived.
    var syncTotal: Int64 = -1
    var syncRead: Int64 = 0
    /// Whether the PSYNC to the primary may name this server's history (replid, offset + 1):
    /// set once it has one worth continuing, as Redis's cached master.
    var hasHistory = false
    /// What has been read from the primary but not yet applied (INFO's slave_read_repl_offset).
    var readOffset: Int64 = 0
    /// The database the primary's stream continues in after a restart's partial resync
    /// (the RDB's repl-stream-db).
    var resumeDb = 0
    /// Replicas of this replica waiting for a full sync: the link's thread takes their
    /// snapshot between two commands of the stream, so that the RDB and the offset agree.
    var pendingFullSyncs: [ReplicaLink] = []

    static func newID() -> String {
        (0..<40).map { _ in String("0123456789abcdef".randomElement()!) }.joined()
    }
}

/// What a connection said in REPLCONF before its SYNC / PSYNC.
struct ReplicaRequest {
    var port = 0
    var ip: String? = nil
    /// `capa eof`: it reads an RDB streamed in the `$EOF:<mark>` form.
    var eof = false
    /// `rdb-filter-only`: the keys left out of the RDB, and the functions unless asked for
    /// (redis-cli --functions-rdb).
    var withoutData = false
    var withFunctions = true
}

/// One connected replica.
final class ReplicaLink: @unchecked Sendable {
    enum State: String {
        case waitBgsave = "wait_bgsave"
        case sendBulk = "send_bulk"
        case online
    }

    let client: Client
    /// Stream bytes, counted against the replica's output buffer limit.
    let push: @Sendable (ByteBuffer) -> Void
    /// The RDB payload, which Redis sends outside the output buffer too; the function given
    /// is called once the bytes are written.
    let payload: @Sendable (ByteBuffer, (@Sendable () -> Void)?) -> Void
    // Guarded by ReplicationState.lock.
    var state: State
    /// What the stream brought while the RDB was being made; sent right after it.
    var held: [UInt8] = []
    var ackOffset: Int64 = 0
    var ackTime: Int64
    /// PSYNC's full resync starts with +FULLRESYNC; SYNC's with the RDB alone.
    var announce = true
    /// The replica said `capa eof`: its RDB is streamed as it is made, in the `$EOF:<mark>`
    /// form, rather than made whole to know its length first.
    var capaEOF = false
    /// The RDB is on its way in pieces: nothing else may go between them.
    var streaming = false
    var request = ReplicaRequest()
    var listeningPort = 0
    var ipAddress: String? = nil

    init(client: Client, push: @escaping @Sendable (ByteBuffer) -> Void,
         payload: @escaping @Sendable (ByteBuffer, (@Sendable () -> Void)?) -> Void,
         state: State, now: Int64) {
        self.client = client
        self.push = push
        self.payload = payload
        self.state = state
        self.ackTime = now
    }

    var ip: String {
        ipAddress ?? String(client.address[..<(client.address.lastIndex(of: ":") ?? client.address.endIndex)])
    }
}

enum ReplicationCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("psync", arity: -3, flags: [.admin, .noscript, .noAsyncLoading, .noMulti], scope: .all, group: "server",
                    summary: "An internal command used in replication.", handler: psync),
        CommandSpec("sync", arity: 1, flags: [.admin, .noscript, .noAsyncLoading, .noMulti], scope: .all, group: "server",
                    summary: "An internal command used in replication.", handler: sync),
        CommandSpec("replconf", arity: -1, flags: [.admin, .noscript, .loading, .stale, .allowBusy], group: "server",
                    summary: "An internal command for configuring the replication stream.", handler: replconf),
        CommandSpec("wait", arity: 3, flags: [.noscript], group: "generic",
                    summary: "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.",
                    complexity: "O(1)", acl: ["connection", "-keyspace"], handler: wait),
        CommandSpec("role", arity: 1, flags: [.noscript, .loading, .stale, .fast], group: "server",
                    summary: "Returns the replication role.", acl: ["admin", "dangerous"], handler: role),
    ]

    /// PSYNC replicationid offset
    static func psync(_ c: inout CommandContext) {
        guard !c.client.isReplica else { return }
        guard c.session.onPush != nil, c.session.onPayload != nil else {
            c.error("ERR PSYNC is not possible on this connection")
            return
        }
        guard c.engine.maySync else {
            c.error("NOMASTERLINK Can't SYNC while not connected with my master")
            return
        }
        let replid = c.args.string(1)
        let wanted = parseCanonicalInt(c.args[2]).map(Int64.init)
        if let wanted, c.engine.continueReplica(&c, replid: replid, from: wanted) { return }
        c.engine.fullResync(&c, announce: true)
    }

    /// SYNC
    static func sync(_ c: inout CommandContext) {
        guard !c.client.isReplica else { return }
        guard c.session.onPush != nil, c.session.onPayload != nil else {
            c.error("ERR SYNC is not possible on this connection")
            return
        }
        guard c.engine.maySync else {
            c.error("NOMASTERLINK Can't SYNC while not connected with my master")
            return
        }
        c.engine.fullResync(&c, announce: false)
    }

    /// REPLCONF <option> <value> <option> <value> ...
    static func replconf(_ c: inout CommandContext) {
        guard c.argc % 2 == 1 else {
            c.error(Errors.syntax)
            return
        }
        var j = 1
        while j < c.argc {
            let value = c.args[j + 1]
            if c.args.matches(j, "listening-port") {
                guard let port = parseCanonicalInt(value) else { c.error(Errors.notInteger); return }
                c.engine.pendingReplicaPort(c.client, port: port)
            } else if c.args.matches(j, "ip-address") {
                c.engine.pendingReplicaIP(c.client, ip: c.args.string(j + 1))
            } else if c.args.matches(j, "capa") {
                if c.args.matches(j + 1, "eof") { c.engine.pendingReplicaCapaEOF(c.client) }
            } else if c.args.matches(j, "rdb-filter-only") {
                var functions = false
                for word in c.args.string(j + 1).split(separator: " ") {
                    guard word.lowercased() == "functions" else {
                        c.error("ERR Unsupported rdb-filter-only option: \(word)")
                        return
                    }
                    functions = true
                }
                c.engine.pendingLinks.withLock {
                    $0[c.client.id, default: ReplicaRequest()].withoutData = true
                    $0[c.client.id, default: ReplicaRequest()].withFunctions = functions
                }
            } else if c.args.matches(j, "rdb-only") {
                // A replica that wants the RDB alone (redis-cli --rdb) reads it and leaves.
            } else if c.args.matches(j, "ack") {
                // An acknowledgement gets no reply, and comes only from a replica.
                guard c.client.isReplica, let offset = parseCanonicalInt(value) else { return }
                c.engine.replicaAcked(c.client, offset: Int64(offset), now: c.now)
                return
            } else if c.args.matches(j, "getack") {
                // Asked of a replica by its primary: the link answers it (PrimaryLink), with
                // the offset before this command, as Redis.
                return
            } else {
                c.error("ERR Unrecognized REPLCONF option: \(c.args.string(j))")
                return
            }
            j += 2
        }
        c.ok()
    }

    /// WAIT numreplicas timeout
    static func wait(_ c: inout CommandContext) {
        if c.engine.repl.following.load(ordering: .relaxed) {
            c.error("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.")
            return
        }
        guard let wanted = parseCanonicalInt(c.args[1]) else {
            c.error(Errors.notInteger)
            return
        }
        guard let timeout = parseCanonicalInt(c.args[2]) else {
            c.error("ERR timeout is not an integer or out of range")
            return
        }
        guard timeout >= 0 else {
            c.error("ERR timeout is negative")
            return
        }
        let target = c.session.writeOffset
        let acked = c.engine.replicasAcked(upTo: target)
        if acked >= wanted || c.noBlock || c.session.onUnblock == nil {
            c.out.integer(acked)
            return
        }
        c.blockForReplicas(offset: target, count: wanted, timeoutMs: Int64(timeout))
        c.engine.requestAcks()
    }

    /// ROLE
    static func role(_ c: inout CommandContext) {
        if c.engine.repl.following.load(ordering: .relaxed) {
            c.engine.replicaRole(&c)
            return
        }
        let (offset, links) = c.engine.replicationSummary()
        c.out.array(3)
        c.out.bulk("master")
        c.out.integer(Int(offset))
        let online = links.filter { $0.state == .online }
        c.out.array(online.count)
        for l in online {
            c.out.array(3)
            c.out.bulk(l.ip)
            c.out.bulk(String(l.port))
            c.out.bulk(String(l.ack))
        }
    }
}

/// A replica as INFO and ROLE show it.
struct ReplicaSummary {
    let ip: String
    let port: Int
    let state: ReplicaLink.State
    let ack: Int64
    let lagSeconds: Int64
}

extension Engine {
    // MARK: the stream

    /// Feeds what `encode` writes (one command, or a batch) to the stream; called under the
    /// command's shard locks, so replicas see writes in the keyspace's order.
    func replicationFeed(_ encode: (inout EffectEncoder, inout [UInt8]) -> Void) {
        let r = repl
        // A replica's replicas get its primary's stream as it came (PrimaryLink), not what
        // applying it did here; a writable replica's own writes stay local, as in Redis.
        if r.following.load(ordering: .relaxed) { return }
        var bytes: [UInt8] = []
        r.lock.lock()
        defer { r.lock.unlock() }
        encode(&r.encoder, &bytes)
        feedLocked(bytes)
    }

    /// Appends to the backlog and hands the bytes to every replica (lock held).
    func feedLocked(_ bytes: [UInt8]) {
        let r = repl
        r.offset += Int64(bytes.count)
        r.backlog.append(contentsOf: bytes)
        if r.backlog.count > r.backlogSize {
            let drop = r.backlog.count - r.backlogSize
            r.backlog.removeFirst(drop)
            r.backlogFirst += Int64(drop)
        }
        var buffer: ByteBuffer? = nil
        for link in r.replicas {
            switch link.state {
            case .online:
                if buffer == nil { buffer = ByteBuffer(bytes: bytes) }
                link.push(buffer!)
                stats.add(stats.replOutputBytes, bytes.count)
            case .waitBgsave, .sendBulk:
                link.held.append(contentsOf: bytes)
            }
        }
    }

    /// The primary's master_repl_offset now.
    var replicationOffset: Int64 {
        repl.lock.withLock { repl.offset }
    }

    // MARK: synchronization

    /// +FULLRESYNC, then the RDB of the keyspace as it is now (the command holds every shard
    /// lock), then whatever the stream brought meanwhile. A replica's own replicas wait for
    /// the link's thread, which alone moves the keyspace and the offset forward there.
    func fullResync(_ c: inout CommandContext, announce: Bool) {
        let link = newLink(c, state: .waitBgsave)
        link.announce = announce
        c.client.markReplica()
        log("Replica \(link.ip):\(link.listeningPort) asks for synchronization")
        stats.add(stats.syncFull)
        if repl.following.load(ordering: .relaxed) {
            repl.lock.withLock { repl.pendingFullSyncs.append(link) }
            return
        }
        startFullSync(link, tables: snapshotTables(), now: c.now)
    }

    /// Registers `link` at the stream's offset now and sends it the RDB of `tables`, taken at
    /// that same point (the caller holds every shard lock, or is a replica's link thread
    /// between two commands).
    func startFullSync(_ link: ReplicaLink, tables: [RDBFile.Database], now: Int64, streamDb: Int = -1) {
        let r = repl
        let (offset, replid): (Int64, String) = r.lock.withLock {
            startBacklogIfNeeded()
            r.replicas.append(link)
            // The replica's first command must say which database it is for; a replica's
            // replicas get the primary's stream as it comes, and learn its database from the RDB.
            if !r.following.load(ordering: .relaxed) { r.encoder.selectedDb = -1 }
            // Through the same path as the RDB that follows, so nothing comes between them.
            if link.announce {
                var line = ByteBuffer()
                line.writeString("+FULLRESYNC \(r.replid) \(r.offset)\r\n")
                link.payload(line, nil)
            }
            return (r.offset, r.replid)
        }
        log("Starting BGSAVE for SYNC with target: replicas sockets; full resync of \(link.ip):\(link.listeningPort) from offset \(offset)")
        var settings = rdbOptions
        settings.replication = .init(streamDb: max(0, streamDb), replid: replid, offset: offset)
        if !link.request.withFunctions { settings.functions = [] }
        let tables = link.request.withoutData ? [] : tables
        let options = settings
        let timeout = DispatchTimeInterval.seconds(max(1, config.int("repl-timeout")))
        r.rdbQueue.async { [self] in
            r.lock.withLock {
                link.state = .sendBulk
                link.streaming = link.capaEOF
            }
            var end = ByteBuffer()
            if link.capaEOF {
                // Streamed as it is made, a piece at a time, the next made while the last is
                // written: the primary holds about two pieces of it, not the whole file.
                let mark = ReplicationState.newID()
                var header = ByteBuffer()
                header.writeString("$EOF:\(mark)\r\n")
                link.payload(header, nil)
                var previous: DispatchSemaphore? = nil
                var timedOut = false
                RDBFile.stream(tables, now: now, options: options) { piece in
                    guard !timedOut else { return }
                    let written = DispatchSemaphore(value: 0)
                    link.payload(ByteBuffer(bytes: piece)) { written.signal() }
                    if let previous, previous.wait(timeout: .now() + timeout) == .timedOut { timedOut = true }
                    previous = written
                }
                if timedOut || previous?.wait(timeout: .now() + timeout) == .timedOut {
                    log("Disconnecting timedout replica (full sync): \(link.ip):\(link.listeningPort)")
                    link.client.close()
                    return
                }
                end.writeString(mark)
            } else {
                // Made whole, after room for its `$<length>` line, written in front at the end.
                let room = 24
                end.writeRepeatingByte(0, count: room)
                RDBFile.stream(tables, now: now, options: options) { end.writeBytes($0) }
                let header = Array("$\(end.readableBytes - room)\r\n".utf8)
                end.setBytes(header, at: room - header.count)
                end.moveReaderIndex(to: room - header.count)
            }
            r.lock.withLock {
                guard link.state != .online else { return }
                link.payload(end, nil)
                if !link.held.isEmpty { link.push(ByteBuffer(bytes: link.held)) }
                link.held = []
                link.state = .online
                link.streaming = false
            }
            log("Synchronization with replica \(link.ip):\(link.listeningPort) succeeded")
        }
    }

    /// +CONTINUE and the backlog from `from` when this is the stream the replica followed and
    /// the backlog still holds what it missed.
    func continueReplica(_ c: inout CommandContext, replid: String, from wanted: Int64) -> Bool {
        let r = repl
        let ok: Bool = r.lock.withLock {
            // This history, or the one before its last change of ID up to where they parted.
            let known = replid == r.replid || (replid == r.replid2 && wanted <= r.secondOffset)
            guard r.active.load(ordering: .relaxed), known,
                  wanted >= r.backlogFirst, wanted <= r.backlogFirst + Int64(r.backlog.count) else { return false }
            let link = newLink(c, state: .online)
            link.ackOffset = wanted - 1
            var reply = ByteBuffer()
            reply.writeString("+CONTINUE \(r.replid)\r\n")
            let skip = Int(wanted - r.backlogFirst)
            reply.writeBytes(r.backlog.dropFirst(skip))
            // The reply and the missed bytes go out in one piece, before anything fed later.
            link.payload(reply, nil)
            r.replicas.append(link)
            return true
        }
        guard ok else {
            if replid != "?" { stats.add(stats.syncPartialErr) }
            return false
        }
        c.client.markReplica()
        stats.add(stats.syncPartialOK)
        log("Partial resynchronization request from \(c.client.address) accepted, offset \(wanted)")
        return true
    }

    /// The link of the connection running PSYNC/SYNC, with what its REPLCONF said.
    private func newLink(_ c: CommandContext, state: ReplicaLink.State) -> ReplicaLink {
        let link = ReplicaLink(client: c.client, push: c.session.onPush!, payload: c.session.onPayload!, state: state, now: c.now)
        if let said = pendingLinks.withLock({ $0[c.client.id] }) {
            link.listeningPort = said.port
            link.ipAddress = said.ip
            link.capaEOF = said.eof
            link.request = said
        }
        return link
    }

    /// The backlog is made when the first replica comes (lock held).
    private func startBacklogIfNeeded() {
        let r = repl
        guard !r.active.load(ordering: .relaxed) else { return }
        r.backlogSize = max(16 * 1024, config.int("repl-backlog-size"))
        r.backlog = Deque()
        // As Redis: a new backlog starts a new history (no replica can have a part of it).
        r.replid = ReplicationState.newID()
        r.backlogFirst = r.offset + 1
        r.active.store(true, ordering: .relaxed)
    }

    /// A replica's connection closed.
    public func replicaGone(_ client: Client) {
        pendingLinks.withLock { $0[client.id] = nil }
        guard client.isReplica else { return }
        repl.lock.withLock {
            repl.replicas.removeAll { $0.client === client }
            repl.pendingFullSyncs.removeAll { $0.client === client }
            if repl.replicas.isEmpty { repl.noReplicasSince = unixMillis() }
            refreshGoodReplicas(now: unixMillis())
        }
        serveReplicaWaits()
    }

    func pendingReplicaPort(_ client: Client, port: Int) {
        pendingLinks.withLock { $0[client.id, default: ReplicaRequest()].port = port }
        repl.lock.withLock { repl.replicas.first { $0.client === client }?.listeningPort = port }
    }

    func pendingReplicaIP(_ client: Client, ip: String) {
        pendingLinks.withLock { $0[client.id, default: ReplicaRequest()].ip = ip }
    }

    func pendingReplicaCapaEOF(_ client: Client) {
        pendingLinks.withLock { $0[client.id, default: ReplicaRequest()].eof = true }
    }

    func replicaAcked(_ client: Client, offset: Int64, now: Int64) {
        repl.lock.withLock {
            guard let link = repl.replicas.first(where: { $0.client === client }) else { return }
            link.ackOffset = max(link.ackOffset, offset)
            link.ackTime = now
            refreshGoodReplicas(now: now)
        }
        serveReplicaWaits()
    }

    /// How many replicas acknowledged the stream up to `offset`.
    func replicasAcked(upTo offset: Int64) -> Int {
        repl.lock.withLock { repl.replicas.reduce(0) { $0 + ($1.state == .online && $1.ackOffset >= offset ? 1 : 0) } }
    }

    /// Asks every replica for its offset now (WAIT is waiting): REPLCONF GETACK *. Not while
    /// a manual failover holds writes: the replica waits for the offset it was given (replicas
    /// ACK every second on their own anyway).
    func requestAcks() {
        guard !failoverPauseActive else { return }
        repl.lock.withLock {
            guard repl.active.load(ordering: .relaxed), !repl.following.load(ordering: .relaxed) else { return }
            var bytes: [UInt8] = []
            CommandEncoder.append([Array("REPLCONF".utf8), Array("GETACK".utf8), Array("*".utf8)], into: &bytes)
            feedLocked(bytes)
        }
    }

    /// Once a second: a PING in the stream every repl-ping-replica-period seconds (a replica
    /// that hears nothing for repl-timeout drops the link), and the backlog freed
    /// repl-backlog-ttl seconds after the last replica left.
    public func replicationCron(now: Int64) {
        let r = repl
        // Replicas fall out of min-replicas-max-lag as time passes, not only at an ACK.
        if r.gate.load(ordering: .relaxed) & ReplicationState.gateNoReplicas != 0 || config.int("min-replicas-to-write") > 0 {
            r.lock.withLock { refreshGoodReplicas(now: now) }
        }
        guard r.active.load(ordering: .relaxed) else { return }
        r.lock.withLock {
            // A replica waiting for its RDB hears a newline every second, as Redis sends them,
            // so that a large data set does not outlast its repl-timeout.
            for link in r.replicas where link.state != .online && !link.streaming {
                var newline = ByteBuffer()
                newline.writeString("\n")
                link.payload(newline, nil)
            }
            let period = Int64(max(1, config.int("repl-ping-replica-period")))
            // A replica's replicas get its primary's PINGs with the rest of the stream.
            // None while a manual failover holds writes: the replica waits for the offset it was given.
            if !r.replicas.isEmpty && (now / 1000) % period == 0 && !r.following.load(ordering: .relaxed) && !failoverPauseActive {
                var bytes: [UInt8] = []
                CommandEncoder.append([Array("PING".utf8)], into: &bytes)
                feedLocked(bytes)
            }
            let ttl = Int64(config.int("repl-backlog-ttl"))
            // A replica keeps its backlog: it may be promoted, and its former peers continue from it.
            if r.replicas.isEmpty && ttl > 0 && !r.following.load(ordering: .relaxed) && now - r.noReplicasSince > ttl * 1000 {
                r.active.store(false, ordering: .relaxed)
                r.backlog = Deque()
            }
            let size = max(16 * 1024, config.int("repl-backlog-size"))
            if size != r.backlogSize {
                r.backlogSize = size
                if r.backlog.count > size {
                    let drop = r.backlog.count - size
                    r.backlog.removeFirst(drop)
                    r.backlogFirst += Int64(drop)
                }
            }
        }
    }

    func replicationSummary() -> (Int64, [ReplicaSummary]) {
        let now = unixMillis()
        return repl.lock.withLock {
            (repl.offset, repl.replicas.map {
                ReplicaSummary(ip: $0.ip, port: $0.listeningPort, state: $0.state, ack: $0.ackOffset,
                               lagSeconds: (now - $0.ackTime) / 1000)
            })
        }
    }

    /// INFO replication, with the replica's own fields when this server follows a primary.
    func replicationInfo() -> [(String, String)] {
        let (offset, links) = replicationSummary()
        var lines: [(String, String)] = repl.following.load(ordering: .relaxed) ? replicaInfo() : [("role", "master")]
        lines.append(("connected_slaves", String(links.count)))
        if let good = goodReplicaCount(now: unixMillis()) { lines.append(("min_slaves_good_slaves", String(good))) }
        for (i, l) in links.enumerated() {
            lines.append(("slave\(i)", "ip=\(l.ip),port=\(l.port),state=\(l.state.rawValue),offset=\(l.ack),lag=\(l.lagSeconds)"))
        }
        let (replid, replid2, second, active, first, histlen, size) = repl.lock.withLock {
            (repl.replid, repl.replid2, repl.secondOffset, repl.active.load(ordering: .relaxed), repl.backlogFirst,
             repl.backlog.count, repl.backlogSize)
        }
        lines += [("master_failover_state", "no-failover"), ("master_replid", replid),
                  ("master_replid2", replid2), ("master_repl_offset", String(offset)),
                  ("second_repl_offset", String(second)), ("repl_backlog_active", active ? "1" : "0"),
                  ("repl_backlog_size", String(size)), ("repl_backlog_first_byte_offset", String(active ? first : 0)),
                  ("repl_backlog_histlen", String(active ? histlen : 0))]
        return lines
    }

    // MARK: WAIT

    /// Answers every WAIT whose replicas have now acknowledged enough.
    func serveReplicaWaits() {
        let waiting: [Waiter] = blocking.byClient.withLock { $0.values.filter { $0.replicaWait != nil && !$0.done } }
        for w in waiting where replicasAcked(upTo: w.replicaWait!.offset) >= w.replicaWait!.count {
            timeOut(w)   // its timeout reply is the count, which is now enough
        }
    }
}

extension CommandContext {
    /// Parks the client until `count` replicas acknowledged the stream up to `offset`.
    mutating func blockForReplicas(offset: Int64, count: Int, timeoutMs: Int64) {
        guard let spec = engine.table.lookup(args[0]) else { return }
        let engine = self.engine
        let w = Waiter(client: client, spec: spec, args: args, dbIndex: dbIndex, resp3: out.resp3, keys: [],
                       timeoutReply: { $0.integer(engine.replicasAcked(upTo: offset)) }, deliver: session.onUnblock!)
        w.replicaWait = (offset, count)
        blockedOn = w
        blockTimeoutMs = timeoutMs
    }
}
