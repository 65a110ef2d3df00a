import Dispatch
import Foundation
import Synchronization
import Persistence
import RESP
import Storage

/// RDB snapshots without fork (DESIGN.md §5): with every shard locked, each shard's table is
/// copied (copy-on-write, O(1)); the copies are written on a background queue while writes go
/// on, and a shard pays for a real copy only when it is first written after.
public final class SnapshotState: Sendable {
    let inProgress = Atomic<Bool>(false)
    let lastOK = Atomic<Bool>(true)
    let lastDuration = Atomic<Int>(-1)
    let startedAt = Atomic<Int>(0)
    let lastAttempt = Atomic<Int>(0)
    let saves = Atomic<Int>(0)
    /// Keys the last RDB load took in (rdb_last_load_keys_loaded).
    let lastLoadKeys = Atomic<Int>(0)
    let queue = DispatchQueue(label: "larder.bgsave")
}

enum SnapshotCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("save", arity: 1, flags: [.admin, .noscript, .noAsyncLoading, .noMulti], scope: .all, group: "server",
                    summary: "Synchronously saves the database(s) to disk.", complexity: "O(N) where N is the total number of keys in all databases",
                    handler: save),
        CommandSpec("bgsave", arity: -1, flags: [.admin, .noscript, .noAsyncLoading], scope: .all, group: "server",
                    summary: "Asynchronously saves the database(s) to disk.", complexity: "O(1)", handler: bgsave),
    ]

    /// SAVE
    static func save(_ c: inout CommandContext) {
        if c.engine.snapshots.inProgress.load(ordering: .relaxed) {
            c.error("ERR Background save already in progress")
            return
        }
        if c.engine.saveNow(c.engine.snapshotTables(), point: c.engine.replicationPoint()) { c.ok() } else { c.error("ERR") }
    }

    /// BGSAVE [SCHEDULE]
    static func bgsave(_ c: inout CommandContext) {
        if c.argc > 1 && !(c.argc == 2 && c.args.matches(1, "schedule")) {
            c.error(Errors.syntax)
            return
        }
        guard c.engine.startBackgroundSave(c.engine.snapshotTables(), point: c.engine.replicationPoint()) else {
            c.error("ERR Background save already in progress")
            return
        }
        c.out.simple("Background saving started")
    }
}

extension Engine {
    var rdbPath: String { config.get("dbfilename") }

    var rdbOptions: RDBFile.Options {
        var o = RDBFile.Options()
        o.compress = config.bool("rdbcompression")
        o.checksum = config.bool("rdbchecksum")
        o.usedMemory = usedMemory()
        o.functions = scripting.libraryCodes.withLock { $0 }
        return o
    }

    /// The tables of every database; the caller holds every shard lock.
    func snapshotTables() -> [RDBFile.Database] {
        keyspace.databases.map { db in RDBFile.Database(index: db.index, tables: db.shards.map { $0.image }) }
    }

    /// Takes every shard lock (ascending, as any command) for the copy.
    func withAllShardsLocked<T>(_ body: () -> T) -> T {
        let mutexes = keyspace.mutexes
        lockPolitely(count: mutexes.count) { mutexes[$0] }
        defer { for db in keyspace.databases.reversed() { db.unlockAll() } }
        return body()
    }

    /// Writes a snapshot now, on this thread; true when it reached the disk.
    @discardableResult
    func saveNow(_ tables: [RDBFile.Database], point: RDBFile.ReplicationPoint?) -> Bool {
        let start = unixMillis()
        let dirty = stats.dirty.load(ordering: .relaxed)
        var options = rdbOptions
        options.replication = point
        do {
            try RDBFile.write(tables, to: rdbPath, now: start, options: options)
        } catch {
            log("Failed saving the DB: \(error)")
            snapshots.lastOK.store(false, ordering: .relaxed)
            return false
        }
        saved(dirtyAtStart: dirty, start: start)
        log("DB saved on disk")
        return true
    }

    private func saved(dirtyAtStart: Int, start: Int64) {
        stats.dirty.wrappingSubtract(dirtyAtStart, ordering: .relaxed)
        lastSave.store(Int(unixMillis() / 1000), ordering: .relaxed)
        snapshots.lastOK.store(true, ordering: .relaxed)
        snapshots.saves.wrappingAdd(1, ordering: .relaxed)
        snapshots.lastDuration.store(Int((unixMillis() - start) / 1000), ordering: .relaxed)
    }

    /// Starts writing `tables` in the background; false when a save is already running.
    func startBackgroundSave(_ tables: [RDBFile.Database], point: RDBFile.ReplicationPoint?) -> Bool {
        guard snapshots.inProgress.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
            return false
        }
        let start = unixMillis()
        let dirty = stats.dirty.load(ordering: .relaxed)
        snapshots.startedAt.store(Int(start), ordering: .relaxed)
        snapshots.lastAttempt.store(Int(start), ordering: .relaxed)
        var settings = rdbOptions
        settings.replication = point
        let options = settings
        let path = rdbPath
        log("Background saving started")
        snapshots.queue.async { [self] in
            do {
                try RDBFile.write(tables, to: path, now: start, options: options)
                saved(dirtyAtStart: dirty, start: start)
                log("Background saving terminated with success")
            } catch {
                snapshots.lastOK.store(false, ordering: .relaxed)
                log("Background saving error: \(error)")
            }
            snapshots.inProgress.store(false, ordering: .releasing)
        }
        return true
    }

    /// The `save` points, as (seconds, changes) pairs.
    var savePoints: [(Int, Int)] {
        let words = config.get("save").split(separator: " ").compactMap { Int($0) }
        return stride(from: 0, to: words.count - 1, by: 2).map { (words[$0], words[$0 + 1]) }
    }

    /// Once a second: a background save when a save point is reached (after a failed one,
    /// not before 5 seconds, as Redis's CONFIG_BGSAVE_RETRY_DELAY).
    public func snapshotCron() {
        guard !snapshots.inProgress.load(ordering: .relaxed) else { return }
        let now = Int(unixMillis() / 1000)
        let dirty = stats.dirty.load(ordering: .relaxed)
        let since = now - lastSave.load(ordering: .relaxed)
        let retryOK = snapshots.lastOK.load(ordering: .relaxed)
            || now - snapshots.lastAttempt.load(ordering: .relaxed) / 1000 >= 5
        for (seconds, changes) in savePoints where dirty >= changes && since >= seconds && retryOK {
            log("\(changes) changes in \(seconds) seconds. Saving...")
            let (tables, point) = withAllShardsLocked { (snapshotTables(), replicationPoint()) }
            _ = startBackgroundSave(tables, point: point)
            return
        }
    }

    /// Saving as the server stops: when save points are configured (or `force`), wait for a
    /// running background save, then write synchronously. False when that failed.
    public func saveForShutdown(force: Bool) -> Bool {
        guard force || !savePoints.isEmpty else { return true }
        snapshots.queue.sync {}
        log("Saving the final RDB snapshot before exiting.")
        let (tables, point) = withLinkPaused { withAllShardsLocked { (snapshotTables(), replicationPoint(linkHeld: true)) } }
        return saveNow(tables, point: point)
    }


    /// Loads the RDB file at start (nothing when there is none). Throws with the message to
    /// log when the file is corrupt or unreadable.
    public func loadSnapshot() throws -> (keys: Int, millis: Int64)? {
        let path = rdbPath
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let start = unixMillis()
        var keys = 0
        let limits = DumpCommands.limits(self)
        var libraries: [[UInt8]] = []
        var point: RDBFile.ReplicationPoint? = nil
        // A replica (replicaof in the file) keeps keys its primary has yet to expire.
        let replica = !config.get("replicaof").isEmpty
        try RDBFile.read(path: path, now: replica ? 0 : start, limits: limits, verifyChecksum: config.bool("rdbchecksum"),
                         functions: { libraries.append($0) }, replication: { point = $0 }) { k in
            guard k.db < keyspace.databases.count else { throw RDBError("FATAL: Data file was created with a Redis server configured to handle more than \(keyspace.databases.count) databases. Exiting") }
            let shard = keyspace.databases[k.db].shard(k.key[...])
            shard.lock.lock()
            shard.set(k.key[...], k.value, expireAt: k.expireAt, access: accessPolicy.initial(now: start))
            shard.lock.unlock()
            keys += 1
        }
        try loadLibraries(libraries)
        if let point { restoreReplicationPoint(point) }
        lastSave.store(Int(unixMillis() / 1000), ordering: .relaxed)
        snapshots.lastLoadKeys.store(keys, ordering: .relaxed)
        return (keys, unixMillis() - start)
    }

    /// The server's log, for what happens off any request (saves, loads).
    func log(_ message: String) {
        logSink.withLock { $0 }?(message)
    }

    public func setLogSink(_ sink: @escaping @Sendable (String) -> Void) { logSink.withLock { $0 = sink } }
}
