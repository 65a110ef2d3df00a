import Dispatch
import Foundation
import NIOCore
import Synchronization
import Persistence
import RESP
import Storage

/// The append-only file, as Redis 7's multi-part AOF: a base (an RDB snapshot, or commands)
/// and incremental files of RESP commands, listed in a manifest. Every write is appended
/// under its shard locks, so the file's order is the keyspace's; the bytes reach the file
/// before the replies leave, and with `appendfsync always` an fsync too, shared by every
/// write appended by then (group commit).
public final class AOFState: @unchecked Sendable {
    /// Read on every write without the lock.
    let on = Atomic<Bool>(false)
    let loading = Atomic<Bool>(false)
    let rewriting = Atomic<Bool>(false)
    let lastRewriteOK = Atomic<Bool>(true)
    let rewrites = Atomic<Int>(0)
    /// When the running rewrite started (ms) and how long the last one took (s; -1: none yet),
    /// for INFO's aof_current_rewrite_time_sec / aof_last_rewrite_time_sec.
    let rewriteStartedAt = Atomic<Int>(0)
    let lastRewriteSeconds = Atomic<Int>(-1)

    /// Marks a rewrite's end: no longer running, and how long it took.
    func rewriteEnded() {
        lastRewriteSeconds.store((Int(unixMillis()) - rewriteStartedAt.load(ordering: .relaxed)) / 1000, ordering: .relaxed)
        rewriting.store(false, ordering: .releasing)
    }

    // Everything below is guarded by `lock`, which is held only to append or write, never
    // across an fsync; `syncLock` makes fsyncs one at a time (and lets a waiting one find
    // that the one before it covered its writes). Order: syncLock before lock.
    let lock = ShardLock()
    let syncLock = ShardLock()
    var fd: Int32 = -1
    var buffer: [UInt8] = []
    var encoder = EffectEncoder()
    var appended: UInt64 = 0
    var written: UInt64 = 0
    var synced: UInt64 = 0
    var incrementalSize = 0
    var baseSize = 0
    var manifest = AOFManifest()
    var policy = "everysec"
    var lastWriteOK = true
    var timer: DispatchSourceTimer? = nil
    let queue = DispatchQueue(label: "larder.aof")
}

enum AOFCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("bgrewriteaof", arity: 1, flags: [.admin, .noscript, .noAsyncLoading], scope: .all, group: "server",
                    summary: "Asynchronously rewrites the append-only file to disk.", complexity: "O(1)", handler: bgrewriteaof),
    ]

    /// BGREWRITEAOF
    static func bgrewriteaof(_ c: inout CommandContext) {
        guard !c.engine.aof.rewriting.load(ordering: .relaxed) else {
            c.error("ERR Background append only file rewriting already in progress")
            return
        }
        if c.engine.aof.on.load(ordering: .relaxed) {
            c.engine.startAOFRewrite(c.engine.snapshotTables())
        } else {
            // As Redis: with the AOF off, a one-off AOF of the keyspace (a base file alone).
            c.engine.writeStandaloneAOF(c.engine.snapshotTables())
        }
        c.out.simple("Background append only file rewriting started")
    }
}

extension Engine {
    var aofDirectory: String { config.get("appenddirname") }
    var aofPrefix: String { config.get("appendfilename") }
    func aofPath(_ name: String) -> String { aofDirectory + "/" + name }

    // MARK: appending

    /// Appends what `encode` writes (one command, or a batch) to the AOF's buffer; returns its
    /// sequence number, which the replies that depend on it wait for.
    @inline(__always)
    func aofAppend(_ encode: (inout EffectEncoder, inout [UInt8]) -> Void) -> UInt64 {
        guard aof.on.load(ordering: .relaxed) else { return 0 }
        let a = aof
        a.lock.lock()
        defer { a.lock.unlock() }
        encode(&a.encoder, &a.buffer)
        a.appended += 1
        return a.appended
    }

    /// Before a connection's replies leave: its writes are in the file, and with
    /// `appendfsync always` on disk. One fsync serves every write appended until it starts.
    public func aofBeforeReply(upTo seq: UInt64) {
        guard seq > 0, aof.on.load(ordering: .relaxed) else { return }
        let a = aof
        a.lock.lock()
        if a.written < seq { aofWriteBuffer() }
        let always = a.policy == "always"
        a.lock.unlock()
        guard always else { return }
        a.syncLock.lock()
        defer { a.syncLock.unlock() }
        let (covered, target, fd) = a.lock.withLock { (a.synced >= seq, a.written, a.fd) }
        if covered { return }                   // the fsync before this one took it along
        let started = unixMicros()
        let ok = fsync(fd) == 0
        latencySample("aof-fsync-always", ms: Int((unixMicros() - started) / 1000))
        a.lock.withLock {
            a.synced = max(a.synced, target)
            if !ok { a.lastWriteOK = false }
        }
    }

    public func aofBeforeReply(_ c: inout CommandContext) {
        aofBeforeReply(upTo: c.session.aofSeq)
    }

    /// Writes the buffer to the incremental file (lock held).
    private func aofWriteBuffer() {
        let a = aof
        guard !a.buffer.isEmpty, a.fd >= 0 else { return }
        let started = unixMicros()
        defer { latencySample("aof-write", ms: Int((unixMicros() - started) / 1000)) }
        var off = 0
        a.buffer.withUnsafeBytes { p in
            while off < p.count {
                let n = write(a.fd, p.baseAddress! + off, p.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    a.lastWriteOK = false
                    log("Error writing to the AOF file: \(String(cString: strerror(errno)))")
                    return
                }
                off += n
            }
        }
        a.incrementalSize += a.buffer.count
        a.buffer.removeAll(keepingCapacity: true)
        a.written = a.appended
        a.lastWriteOK = true
    }

    /// everysec: write what is pending and fsync, off the request path.
    func aofEverySecond() {
        let a = aof
        a.lock.lock()
        aofWriteBuffer()
        let fd = a.fd
        let everysec = a.policy == "everysec"
        a.lock.unlock()
        if everysec && fd >= 0 {
            let started = unixMicros()
            fsync(fd)
            latencySample("aof-fsync-everysec", ms: Int((unixMicros() - started) / 1000))
        }
    }

    // MARK: files

    private func writeManifest(_ m: AOFManifest) throws {
        let path = aofPath(AOFManifest.manifestName(aofPrefix))
        let temp = aofPath("temp-" + AOFManifest.manifestName(aofPrefix))
        guard FileManager.default.createFile(atPath: temp, contents: Data(m.text().utf8)) else {
            throw RDBError("Can't write the AOF manifest \(temp)")
        }
        let fd = open(temp, O_RDONLY)
        if fd >= 0 { fsync(fd); close(fd) }
        guard rename(temp, path) == 0 else { throw RDBError("Can't rename the AOF manifest: \(String(cString: strerror(errno)))") }
        let dfd = open(aofDirectory, O_RDONLY)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }

    /// Opens a new incremental file after `m`'s last one and switches writes to it (lock held).
    /// Everything written to the old file is synced here, so an fsync racing with the switch
    /// (on the old descriptor) has nothing left to cover.
    private func switchIncremental(_ m: inout AOFManifest) throws {
        let seq = (m.incrementals.map(\.seq).max() ?? 0) + 1
        let name = AOFManifest.incrementalName(aofPrefix, seq: seq)
        let fd = open(aofPath(name), O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard fd >= 0 else { throw RDBError("Can't open the append-only file \(name): \(String(cString: strerror(errno)))") }
        aofWriteBuffer()
        if aof.fd >= 0 { fsync(aof.fd); close(aof.fd) }
        aof.synced = aof.written
        aof.fd = fd
        aof.encoder.selectedDb = -1
        aof.incrementalSize = 0
        m.entries.append(.init(name: name, seq: seq, kind: .incremental))
        try writeManifest(m)
        aof.manifest = m
    }

    /// Writes a base file of `tables` (an RDB, or commands without the RDB preamble).
    private func writeBase(_ tables: [RDBFile.Database], seq: Int, now: Int64) throws -> (String, Int) {
        let rdb = config.bool("aof-use-rdb-preamble")
        let name = AOFManifest.baseName(aofPrefix, seq: seq, rdb: rdb)
        let path = aofPath(name)
        if rdb {
            try RDBFile.write(tables, to: path, now: now, options: rdbOptions)
        } else {
            var out: [UInt8] = []
            for db in tables where db.tables.contains(where: { $0.table.count > 0 }) {
                CommandEncoder.append([Array("SELECT".utf8), Array(String(db.index).utf8)], into: &out)
                for image in db.tables {
                    let t = image.table
                    for slot in t.occupiedSlots {
                        let e = t.entries[slot]
                        let at = image.expireAt(slot: slot)
                        if at != 0 && at <= now { continue }
                        for cmd in Self.rebuildCommands(t.key(at: slot), e.value) { CommandEncoder.append(cmd, into: &out) }
                        if at != 0 {
                            CommandEncoder.append([Array("PEXPIREAT".utf8), t.key(at: slot), Array(String(at).utf8)], into: &out)
                        }
                    }
                }
            }
            guard FileManager.default.createFile(atPath: path, contents: Data(out)) else { throw RDBError("Can't write \(path)") }
            let fd = open(path, O_RDONLY)
            if fd >= 0 { fsync(fd); close(fd) }
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        return (name, size)
    }

    /// Commands that rebuild a value, at most 64 elements each (Redis's AOF_REWRITE_ITEMS_PER_CMD).
    static func rebuildCommands(_ key: [UInt8], _ value: Value) -> [[[UInt8]]] {
        func chunks(_ verb: String, _ items: [[UInt8]], per: Int) -> [[[UInt8]]] {
            stride(from: 0, to: items.count, by: per * 1).map { i in
                [Array(verb.utf8), key] + items[i..<min(items.count, i + per)]
            }
        }
        switch value {
        case .int, .small, .compact, .bytes:
            return [[Array("SET".utf8), key, value.stringBytes!]]
        case .list(let l):
            return chunks("RPUSH", l.map(\.bytes), per: 64)
        case .set(let s):
            return chunks("SADD", s.members, per: 64)
        case .hash(let h):
            return chunks("HSET", h.pairs.flatMap { [$0.0, $0.1] }, per: 128)
        case .zset(let z):
            return chunks("ZADD", z.range(0, z.count - 1).flatMap { [Array(SortedSetCommands.format($0.score).utf8), $0.member] }, per: 128)
        case .stream(let s):
            return streamCommands(key, s)
        }
    }

    /// rewriteStreamObject: the entries as XADDs (an empty stream by the XADD MAXLEN 0 trick),
    /// XSETID for the counters, then each group, its consumers and pending entries.
    static func streamCommands(_ key: [UInt8], _ s: StreamValue) -> [[[UInt8]]] {
        func b(_ t: String) -> [UInt8] { Array(t.utf8) }
        var out: [[[UInt8]]] = []
        if s.length > 0 {
            for e in s.range(.zero, .max) { out.append([b("XADD"), key, e.id.bytes] + e.fields) }
        } else {
            out.append([b("XADD"), key, b("MAXLEN"), b("0"), b("0-1"), b("x"), b("y")])
        }
        out.append([b("XSETID"), key, s.lastID.bytes, b("ENTRIESADDED"), b(String(s.entriesAdded)),
                    b("MAXDELETEDID"), s.maxDeletedID.bytes])
        for name in s.groupNames {
            let g = s.groups[name]!
            out.append([b("XGROUP"), b("CREATE"), key, name, g.lastID.bytes, b("ENTRIESREAD"), b(String(g.entriesRead))])
            for cn in g.consumerNames {
                let cons = g.consumers[cn]!
                if cons.pending.isEmpty {
                    out.append([b("XGROUP"), b("CREATECONSUMER"), key, name, cn])
                    continue
                }
                for id in cons.pending {
                    let p = g.pending[id]!
                    out.append([b("XCLAIM"), key, name, cn, b("0"), id.bytes, b("TIME"), b(String(p.deliveryTime)),
                                b("RETRYCOUNT"), b(String(p.deliveryCount)), b("JUSTID"), b("FORCE")])
                }
            }
        }
        return out
    }

    // MARK: turning on, rewriting

    /// Starts the AOF with the keyspace as its base (at start without an AOF, or CONFIG SET
    /// appendonly yes). Holds every shard lock while it copies the tables.
    func enableAOF() throws {
        try FileManager.default.createDirectory(atPath: aofDirectory, withIntermediateDirectories: true)
        let result: Result<Void, Error> = withAllShardsLocked {
            Result { try enableLocked() }
        }
        try result.get()
        startAOFTimer()
    }

    /// enableAOF's work with every shard locked.
    private func enableLocked() throws {
        do {
            let a = aof
            a.lock.lock()
            defer { a.lock.unlock() }
            let now = unixMillis()
            let (name, size) = try writeBase(snapshotTables(), seq: 1, now: now)
            var m = AOFManifest(entries: [.init(name: name, seq: 1, kind: .base)])
            a.baseSize = size
            try switchIncremental(&m)
            a.policy = config.get("appendfsync")
            a.on.store(true, ordering: .releasing)
        }
    }

    func disableAOF() {
        let a = aof
        a.lock.lock()
        aofWriteBuffer()
        if a.fd >= 0 { fsync(a.fd); close(a.fd) }
        a.fd = -1
        a.on.store(false, ordering: .releasing)
        a.lock.unlock()
    }

    private func startAOFTimer() {
        guard aof.timer == nil else { return }
        let t = DispatchSource.makeTimerSource(queue: aof.queue)
        t.schedule(deadline: .now() + 1, repeating: 1)
        t.setEventHandler { [weak self] in self?.aofEverySecond() }
        t.resume()
        aof.timer = t
    }

    /// Rewrites the AOF: the caller holds every shard lock. New writes go to a fresh
    /// incremental file from this instant; the snapshot becomes the new base in the
    /// background, then the manifest names only those two and the old files are removed.
    func startAOFRewrite(_ tables: [RDBFile.Database]) {
        guard aof.rewriting.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        aof.rewriteStartedAt.store(Int(unixMillis()), ordering: .relaxed)
        let a = aof
        a.lock.lock()
        var m = a.manifest
        do {
            try switchIncremental(&m)
        } catch {
            a.lock.unlock()
            log("Can't rewrite the append only file: \(error)")
            a.lastRewriteOK.store(false, ordering: .relaxed)
            a.rewriting.store(false, ordering: .relaxed)
            return
        }
        let newIncremental = m.entries.last!
        let oldFiles = m.entries.dropLast().map(\.name)
        let seq = (m.base?.seq ?? 0) + 1
        a.lock.unlock()
        let now = unixMillis()
        log("Background append only file rewriting started")
        a.queue.async { [self] in
            do {
                let (name, size) = try writeBase(tables, seq: seq, now: now)
                a.lock.lock()
                // Incremental files opened since (none, unless another switch) stay listed.
                let later = a.manifest.incrementals.filter { $0.seq >= newIncremental.seq }
                let fresh = AOFManifest(entries: [.init(name: name, seq: seq, kind: .base)] + later)
                do {
                    try writeManifest(fresh)
                    a.manifest = fresh
                    a.baseSize = size
                } catch {
                    a.lock.unlock()
                    throw error
                }
                a.lock.unlock()
                for f in oldFiles { unlink(aofPath(f)) }
                a.rewrites.wrappingAdd(1, ordering: .relaxed)
                a.lastRewriteOK.store(true, ordering: .relaxed)
                log("Background AOF rewrite finished successfully")
            } catch {
                a.lastRewriteOK.store(false, ordering: .relaxed)
                log("Background AOF rewrite failed: \(error)")
            }
            a.rewriteEnded()
        }
    }

    /// BGREWRITEAOF with the AOF off: the snapshot as a base file and a manifest naming it.
    func writeStandaloneAOF(_ tables: [RDBFile.Database]) {
        guard aof.rewriting.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        aof.rewriteStartedAt.store(Int(unixMillis()), ordering: .relaxed)
        let now = unixMillis()
        aof.queue.async { [self] in
            do {
                try FileManager.default.createDirectory(atPath: aofDirectory, withIntermediateDirectories: true)
                let old = (try? String(contentsOfFile: aofPath(AOFManifest.manifestName(aofPrefix)), encoding: .utf8))
                    .flatMap { try? AOFManifest.parse($0) }
                let seq = (old?.base?.seq ?? 0) + 1
                let (name, _) = try writeBase(tables, seq: seq, now: now)
                try writeManifest(AOFManifest(entries: [.init(name: name, seq: seq, kind: .base)]))
                for f in old?.entries ?? [] where f.name != name { unlink(aofPath(f.name)) }
                aof.rewrites.wrappingAdd(1, ordering: .relaxed)
                aof.lastRewriteOK.store(true, ordering: .relaxed)
            } catch {
                aof.lastRewriteOK.store(false, ordering: .relaxed)
                log("Background AOF rewrite failed: \(error)")
            }
            aof.rewriteEnded()
        }
    }

    /// Once a second: the automatic rewrite (`auto-aof-rewrite-percentage`, `-min-size`).
    public func aofCron() {
        guard aof.on.load(ordering: .relaxed), !aof.rewriting.load(ordering: .relaxed) else { return }
        let pct = config.int("auto-aof-rewrite-percentage")
        guard pct > 0 else { return }
        let (size, base) = aof.lock.withLock { (aof.incrementalSize, aof.baseSize) }
        guard size >= config.int("auto-aof-rewrite-min-size"), size > max(base, 1) * pct / 100 else { return }
        log("Starting automatic rewriting of AOF on \(size * 100 / max(base, 1))% growth")
        withAllShardsLocked { startAOFRewrite(snapshotTables()) }
    }

    /// CONFIG SET appendonly / appendfsync.
    /// The apply hook of appendonly / appendfsync (CONFIG SET): throws when the AOF cannot be
    /// started, so that the change is undone.
    func aofConfigChanged() throws(ConfigError) {
        let want = config.bool("appendonly")
        aof.lock.withLock { aof.policy = config.get("appendfsync") }
        if want && !aof.on.load(ordering: .relaxed) {
            do {
                try enableAOF()
            } catch {
                log("Can't enable the AOF: \(error)")
                throw ConfigError(message: "Can't enable the append only file: \(error)")
            }
        } else if !want && aof.on.load(ordering: .relaxed) {
            disableAOF()
        }
    }

    // MARK: loading

    /// At start with appendonly yes: loads the AOF named by the manifest, or, without one,
    /// the RDB file and starts an AOF from it. Throws the line to log when a file is bad.
    public func loadAppendOnly() throws -> (keys: Int, millis: Int64) {
        let start = unixMillis()
        let manifestPath = aofPath(AOFManifest.manifestName(aofPrefix))
        guard let text = try? String(contentsOfFile: manifestPath, encoding: .utf8) else {
            let loaded = try loadSnapshot()
            try enableAOF()
            return (loaded?.keys ?? 0, unixMillis() - start)
        }
        let m = try AOFManifest.parse(text)
        aof.loading.store(true, ordering: .relaxed)
        defer { aof.loading.store(false, ordering: .relaxed) }
        var replayer = AOFReplayer(engine: self)
        if let base = m.base {
            let path = aofPath(base.name)
            if base.name.hasSuffix(".rdb") {
                var libraries: [[UInt8]] = []
                try RDBFile.read(path: path, now: start, limits: DumpCommands.limits(self), functions: { libraries.append($0) }) { k in
                    let shard = keyspace.databases[k.db].shard(k.key[...])
                    shard.lock.withLock { _ = shard.set(k.key[...], k.value, expireAt: k.expireAt, access: accessPolicy.initial(now: start)) }
                }
                try loadLibraries(libraries)
            } else {
                try replayer.replay(path: path, isLast: m.incrementals.isEmpty)
            }
            aof.baseSize = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0) ?? 0
        }
        let incrementals = m.incrementals
        for (i, f) in incrementals.enumerated() {
            try replayer.replay(path: aofPath(f.name), isLast: i == incrementals.count - 1)
        }
        // Go on appending to the last incremental file (or a new one).
        let a = aof
        try a.lock.withLock {
            a.manifest = m
            a.policy = config.get("appendfsync")
            if let last = incrementals.last {
                let fd = open(aofPath(last.name), O_WRONLY | O_APPEND)
                guard fd >= 0 else { throw RDBError("Can't open \(last.name) for appending") }
                a.fd = fd
                a.incrementalSize = Int(lseek(fd, 0, SEEK_END))
            } else {
                var mm = m
                try switchIncremental(&mm)
            }
            a.encoder.selectedDb = -1
            a.on.store(true, ordering: .releasing)
        }
        startAOFTimer()
        stats.dirty.store(0, ordering: .relaxed)
        return (replayer.commands, unixMillis() - start)
    }
}

/// Replays AOF files through the engine, as a client with no socket.
struct AOFReplayer {
    let engine: Engine
    var ctx: CommandContext
    var commands = 0

    init(engine: Engine) {
        self.engine = engine
        let client = Client(id: -1, address: "aof", localAddress: "", fd: -1, now: unixMillis(), authenticated: true)
        ctx = CommandContext(engine: engine, client: client, out: RESPWriter(buffer: ByteBuffer()))
    }

    /// Runs every command of the file. A last file cut short mid-command (a crash while
    /// appending) is truncated to its last whole command when `aof-load-truncated` is yes.
    mutating func replay(path: String, isLast: Bool) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw RDBError("Can't open the append-only file \(path)") }
        var buffer = ByteBuffer(bytes: [UInt8](data))
        let reader = RESPReader(limits: RESPLimits())
        var offset = 0
        while buffer.readableBytes > 0 {
            switch reader.parse(buffer, into: &ctx.args) {
            case .command(let consumed):
                buffer.moveReaderIndex(forwardBy: consumed)
                offset += consumed
                ctx.out.buffer.clear()
                engine.execute(&ctx)
                commands += 1
            case .incomplete:
                guard isLast, engine.config.bool("aof-load-truncated") else {
                    throw RDBError("Unexpected end of file reading the append only file \(path). You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.")
                }
                engine.log("!!! Warning: short read while loading the AOF file \(path)!!! AOF loaded anyway because aof-load-truncated is enabled; truncated to \(offset) bytes")
                _ = truncate(path, off_t(offset))
                return
            default:
                throw RDBError("Bad file format reading the append only file \(path): make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>")
            }
        }
        if ctx.session.inMulti {
            // A transaction without its EXEC at the very end: a crash mid-transaction.
            guard isLast, engine.config.bool("aof-load-truncated") else {
                throw RDBError("Revert incomplete MULTI/EXEC transaction in AOF file \(path)")
            }
            ctx.session.multiQueue = nil
        }
    }
}

extension Engine {
    /// At stop: everything appended reaches the disk.
    public func closeAOF() {
        guard aof.on.load(ordering: .relaxed) else { return }
        disableAOF()
    }
}
