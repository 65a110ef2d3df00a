import Synchronization

/// A slice of one database's keyspace: its entries, and the list of its keys with a TTL that
/// active expiry samples from.
///
/// Every method expects the caller to hold `lock`; the engine takes the locks of a command's
/// shards, in ascending order, before it runs the command.
public final class Shard: @unchecked Sendable {
    public let lock = ShardLock()
    public let index: Int
    public private(set) var table = KeyTable()
    /// The slots of the keys with a TTL (slots stay put until their key is removed; compact()
    /// renumbers them), and each one's expiry time in Unix milliseconds, at the same position
    /// (an entry's `volatileIndex`). Keys without a TTL pay nothing for it.
    private var volatileSlots: [Int32] = []
    private var volatileExpireAt: [Int64] = []
    public private(set) var expiredCount = 0
    /// Keys some client WATCHes: how many watchers, and the shard's modification count when
    /// the key last changed. Empty unless someone watches, so writes pay one isEmpty check.
    private var watched: [[UInt8]: (watchers: Int, version: UInt64)] = [:]
    private var modifications: UInt64 = 0
    /// Source of CAS uniques: the shard's own 32-bit counter (see `cas(_:)`).
    private var casCounter: UInt32 = 0
    /// memcached's client flags of the keys that have any, by slot (0 for every other key).
    private var clientFlags: [Int32: UInt32] = [:]
    /// Clients blocked on keys of this shard, first come first served.
    fileprivate var waiters: [[UInt8]: [KeyWaiter]] = [:]
    /// Called with each key removed because its TTL passed (keyspace notifications, AOF DEL).
    public var onExpire: (@Sendable ([UInt8]) -> Void)?
    /// Set on a read-only replica: a lookup hides an expired key but leaves it in place until
    /// the primary's DEL arrives, and active expiry passes the shard by. The primary decides
    /// when keys expire, as Redis's replicas leave it to theirs. (Only the primary's stream
    /// writes there, and it looks keys up with every key alive: nothing writes over a hidden key.)
    /// An atomic, set without the lock: REPLICAOF and CONFIG SET may run inside a transaction
    /// that already holds every shard; read only on the path of a key found expired.
    public var keepsExpired: Bool {
        get { keepsExpiredFlag.load(ordering: .relaxed) }
        set { keepsExpiredFlag.store(newValue, ordering: .relaxed) }
    }
    private let keepsExpiredFlag = Atomic<Bool>(false)
    /// Called with each key added to the shard ("new" keyspace events).
    public var onNewKey: (@Sendable ([UInt8]) -> Void)?
    /// The keys by cluster slot, on a cluster node only (`indexSlots`): elsewhere inserts and
    /// removals pay one nil check for it.
    private var slotKeys: SlotKeys?

    public init(index: Int) { self.index = index }

    /// The expiry time of the key at `slot` (Unix milliseconds), 0 for none.
    @inline(__always) public func expireAt(slot: Int) -> Int64 {
        let i = table.entries[slot].volatileIndex
        return i < 0 ? 0 : volatileExpireAt[Int(i)]
    }

    /// A copy of the table and the keys' expiry times, for a snapshot (copy-on-write, O(1)).
    public var image: ShardImage { ShardImage(table: table, expireAts: volatileExpireAt) }

    public var count: Int { table.count }
    public var volatileCount: Int { volatileSlots.count }

    public func randomVolatileKey<G: RandomNumberGenerator>(using rng: inout G) -> [UInt8]? {
        volatileSlots.isEmpty ? nil : table.key(at: Int(volatileSlots[Int.random(in: 0..<volatileSlots.count, using: &rng)]))
    }

    // MARK: lookups

    /// The slot of a live key: an expired key found here is deleted first (lazy expiry).
    public func find(_ key: ArraySlice<UInt8>, now: Int64) -> Int? {
        key.withUnsafeBytes { find($0, now: now) }
    }

    public func find(_ key: UnsafeRawBufferPointer, now: Int64) -> Int? {
        find(key, hash: KeyTable.hash(key), now: now)
    }

    /// As find, with the key's hash already known (Database.locate).
    public func find(_ key: ArraySlice<UInt8>, hash: UInt64, now: Int64) -> Int? {
        key.withUnsafeBytes { find($0, hash: hash, now: now) }
    }

    @inline(__always)
    public func find(_ key: UnsafeRawBufferPointer, hash h: UInt64, now: Int64) -> Int? {
        guard let slot = table.findInPlace(key, hash: h) else { return nil }
        let v = table.entries[slot].volatileIndex
        if v >= 0 && volatileExpireAt[Int(v)] <= now {
            if !keepsExpired { expire(slot: slot) }
            return nil
        }
        return slot
    }

    /// As find, keeping the key's hash for the write that follows (`set(_:found:_:)`).
    public func findForWrite(_ key: ArraySlice<UInt8>, now: Int64) -> KeyLookup {
        key.withUnsafeBytes { findForWrite($0, hash: KeyTable.hash($0), now: now) }
    }

    public func findForWrite(_ key: ArraySlice<UInt8>, hash: UInt64, now: Int64) -> KeyLookup {
        key.withUnsafeBytes { findForWrite($0, hash: hash, now: now) }
    }

    private func findForWrite(_ raw: UnsafeRawBufferPointer, hash: UInt64, now: Int64) -> KeyLookup {
        KeyLookup(slot: find(raw, hash: hash, now: now), hash: hash)
    }

    public func key(at slot: Int) -> [UInt8] { table.key(at: slot) }

    public func entry(at slot: Int) -> Entry { table.entries[slot] }

    /// The type of the value at `slot`, read in place: `entry(at:)` copies the entry, a retain
    /// and a release of a collection's storage (callgrind, on every collection command).
    public func kind(at slot: Int) -> Value.Kind { table.entries[slot].value.kind }

    /// Mutable access to the entry at `slot`, in place; counts as a modification of the key.
    public func withEntry<T>(at slot: Int, _ body: (inout Entry) -> T) -> T {
        if !watched.isEmpty { modified(table.key(at: slot)) }
        table.entries[slot].cas = nextCas()
        return body(&table.entries[slot])
    }

    /// The next CAS unique of this shard; never 0 (memcached's "no CAS").
    @inline(__always) public func nextCas() -> UInt64 {
        casCounter &+= 1
        if casCounter == 0 { casCounter = 1 }
        return UInt64(casCounter)
    }

    /// The CAS unique memcached clients see for `entry` of this shard: its 32-bit counter with
    /// the shard's index below, so that no two items share one.
    public func cas(_ entry: Entry) -> UInt64 { entry.cas << 8 | UInt64(index & 0xff) }

    /// memcached's client flags of the key at `slot`.
    public func clientFlags(at slot: Int) -> UInt32 {
        clientFlags.isEmpty ? 0 : clientFlags[Int32(slot)] ?? 0
    }

    public func setClientFlags(at slot: Int, _ flags: UInt32) {
        if flags != 0 {
            clientFlags[Int32(slot)] = flags
        } else if !clientFlags.isEmpty {
            clientFlags[Int32(slot)] = nil
        }
    }

    /// Changes an entry's metadata only (memcached touch, flags of state): the CAS stays.
    public func withEntryMetadata<T>(at slot: Int, _ body: (inout Entry) -> T) -> T {
        body(&table.entries[slot])
    }

    /// Records a read or write for LRU/LFU; not a modification.
    @inline(__always) public func touchAccess(slot: Int, now: Int64, policy: AccessPolicy) {
        table.entries[slot].access = policy.touched(table.entries[slot].access, now: now)
    }

    // MARK: WATCH

    private func modified(_ key: [UInt8]) {
        guard var w = watched[key] else { return }
        modifications += 1
        w.version = modifications
        watched[key] = w
    }

    /// Starts watching `key`; returns the version EXEC compares against.
    public func watch(_ key: [UInt8]) -> UInt64 {
        var w = watched[key] ?? (0, 0)
        w.watchers += 1
        watched[key] = w
        return w.version
    }

    public func unwatch(_ key: [UInt8]) {
        guard var w = watched[key] else { return }
        w.watchers -= 1
        watched[key] = w.watchers == 0 ? nil : w
    }

    /// The version of a watched key (0 if it never changed while watched).
    public func watchVersion(_ key: [UInt8]) -> UInt64 { watched[key]?.version ?? 0 }

    // MARK: writes

    /// Sets `key` to `value`. `expireAt` 0 removes any TTL unless `keepTTL`.
    @discardableResult
    public func set(_ key: ArraySlice<UInt8>, _ value: Value, expireAt: Int64 = 0, keepTTL: Bool = false,
                    access: UInt32 = 0) -> Int {
        key.withUnsafeBytes { raw in
            let h = KeyTable.hash(raw)
            return set(raw, KeyLookup(slot: table.findInPlace(raw, hash: h), hash: h), value,
                       expireAt: expireAt, keepTTL: keepTTL, access: access)
        }
    }

    /// A write after the command's own lookup (`findForWrite`): the key is neither hashed nor
    /// searched again. Nothing may have changed the shard in between.
    @discardableResult
    public func set(_ key: ArraySlice<UInt8>, found: KeyLookup, _ value: Value, expireAt: Int64 = 0,
                    keepTTL: Bool = false, access: UInt32 = 0) -> Int {
        key.withUnsafeBytes { set($0, found, value, expireAt: expireAt, keepTTL: keepTTL, access: access) }
    }

    private func set(_ raw: UnsafeRawBufferPointer, _ found: KeyLookup, _ value: Value, expireAt: Int64,
                     keepTTL: Bool, access: UInt32) -> Int {
        if !watched.isEmpty { modified(Array(raw)) }
        if let slot = found.slot {
            table.entries[slot].value = value
            table.entries[slot].rawEncoding = false
            table.entries[slot].access = access
            table.entries[slot].cas = nextCas()
            setClientFlags(at: slot, 0)
            table.entries[slot].itemState = []
            if !keepTTL { setExpire(slot: slot, at: expireAt) }
            return slot
        }
        var e = Entry(value: value, access: access)
        e.cas = nextCas()
        let slot = table.insert(key: raw, hash: found.hash, entry: e)
        if slotKeys != nil { slotKeys!.add(tableSlot: slot, clusterSlot: KeySlot.of(raw)) }
        if expireAt != 0 { setExpire(slot: slot, at: expireAt) }
        if let onNewKey { onNewKey(Array(raw)) }
        return slot
    }

    /// Inserts an entry under an owned key (RENAME, MOVE, COPY, SWAPDB-less moves), with the
    /// expiry time it had (0: none).
    @discardableResult
    public func insert(key: [UInt8], entry: Entry, expireAt exp: Int64) -> Int {
        if !watched.isEmpty { modified(key) }
        var e = entry
        e.cas = nextCas()
        e.volatileIndex = -1
        let slot: Int = key.withUnsafeBytes { raw in
            let h = KeyTable.hash(raw)
            if let old = table.findInPlace(raw, hash: h) {
                remove(slot: old)
            } else {
                onNewKey?(key)
            }
            let slot = table.insert(key: key, hash: h, entry: e)
            if slotKeys != nil { slotKeys!.add(tableSlot: slot, clusterSlot: KeySlot.of(raw)) }
            return slot
        }
        if exp != 0 { setExpire(slot: slot, at: exp) }
        return slot
    }

    /// Deletes `key` if present (expired keys count as absent).
    @discardableResult
    public func delete(_ key: ArraySlice<UInt8>, now: Int64) -> Bool {
        guard let slot = find(key, now: now) else { return false }
        remove(slot: slot)
        return true
    }

    @discardableResult
    public func remove(slot: Int) -> Entry {
        if !watched.isEmpty { modified(table.key(at: slot)) }
        if table.entries[slot].volatileIndex >= 0 { dropVolatile(slot: slot) }
        if !clientFlags.isEmpty { clientFlags[Int32(slot)] = nil }
        if slotKeys != nil {
            slotKeys!.remove(tableSlot: slot, clusterSlot: table.withKey(at: slot) { KeySlot.of($0) })
        }
        return table.remove(at: slot)
    }

    public func removeAll() {
        if !watched.isEmpty {
            for key in watched.keys where table.find(key) != nil { modified(key) }
        }
        table.removeAll()
        volatileSlots.removeAll()
        volatileExpireAt.removeAll()
        clientFlags.removeAll()
        if slotKeys != nil { slotKeys = SlotKeys(table, occupied: []) }
    }

    /// Swaps contents with another shard (SWAPDB); both must be locked.
    public func swapContents(with other: Shard) {
        // A watched key that exists on either side changes (as Redis's touchAllWatchedKeysInDb).
        for s in [self, other] where !s.watched.isEmpty {
            for key in s.watched.keys where table.find(key) != nil || other.table.find(key) != nil { s.modified(key) }
        }
        swap(&table, &other.table)
        swap(&volatileSlots, &other.volatileSlots)
        swap(&volatileExpireAt, &other.volatileExpireAt)
        swap(&clientFlags, &other.clientFlags)
        swap(&slotKeys, &other.slotKeys)
    }

    /// Creates `key` with `value` (known absent) or returns the existing slot.
    public func findOrCreate(_ key: ArraySlice<UInt8>, now: Int64, access: UInt32, _ make: () -> Value) -> Int {
        if let slot = find(key, now: now) { return slot }
        return set(key, make(), access: access)
    }

    // MARK: expiry

    /// Sets or clears (`at` 0) the TTL of the key at `slot`.
    public func setExpire(slot: Int, at: Int64) {
        if !watched.isEmpty { modified(table.key(at: slot)) }
        let idx = table.entries[slot].volatileIndex
        if at != 0 && idx >= 0 {
            volatileExpireAt[Int(idx)] = at
        } else if at != 0 {
            table.entries[slot].volatileIndex = Int32(volatileSlots.count)
            volatileSlots.append(Int32(slot))
            volatileExpireAt.append(at)
        } else if idx >= 0 {
            dropVolatile(slot: slot)
        }
    }

    private func dropVolatile(slot: Int) {
        let idx = Int(table.entries[slot].volatileIndex)
        table.entries[slot].volatileIndex = -1
        let last = volatileSlots.count - 1
        if idx != last {
            let moved = volatileSlots[last]
            volatileSlots[idx] = moved
            volatileExpireAt[idx] = volatileExpireAt[last]
            table.entries[Int(moved)].volatileIndex = Int32(idx)
        }
        volatileSlots.removeLast()
        volatileExpireAt.removeLast()
    }

    private func expire(slot: Int) {
        let key = table.key(at: slot)
        remove(slot: slot)
        expiredCount += 1
        onExpire?(key)
    }

    /// One round of active expiry, as Redis's activeExpireCycle: sample up to `samples` keys
    /// with a TTL and delete the expired ones. Returns (sampled, expired) so the caller can
    /// repeat while more than a quarter of the sample had expired.
    /// Closes the holes removals left in the table; moves slots, so only between commands.
    public func compact() {
        let before = table.slotCount
        let flagged = clientFlags.map { (table.key(at: Int($0.key)), $0.value) }
        table.compact()
        guard table.slotCount != before else { return }
        if slotKeys != nil { slotKeys = SlotKeys(table, occupied: table.occupiedSlots) }
        clientFlags.removeAll()
        for (key, flags) in flagged { if let s = table.find(key) { clientFlags[Int32(s)] = flags } }
        let expireAts = volatileExpireAt
        volatileSlots.removeAll(keepingCapacity: true)
        volatileExpireAt.removeAll(keepingCapacity: true)
        for s in table.occupiedSlots where table.entries[s].volatileIndex >= 0 {
            volatileExpireAt.append(expireAts[Int(table.entries[s].volatileIndex)])
            table.entries[s].volatileIndex = Int32(volatileSlots.count)
            volatileSlots.append(Int32(s))
        }
    }

    public func activeExpire(now: Int64, samples: Int = 20) -> (sampled: Int, expired: Int) {
        guard !keepsExpired else { return (0, 0) }
        let n = min(samples, volatileSlots.count)
        var expired = 0
        var rng = RandomSource()
        for _ in 0..<n {
            guard !volatileSlots.isEmpty else { break }
            let i = Int.random(in: 0..<volatileSlots.count, using: &rng)
            if volatileExpireAt[i] <= now {
                expire(slot: Int(volatileSlots[i]))
                expired += 1
            }
        }
        return (n, expired)
    }

    /// The time to live (ms) left to up to `samples` keys with a TTL, picked at random: INFO
    /// keyspace's avg_ttl is their mean, an estimate as Redis's is. Caller holds the lock.
    public func sampleTTL(now: Int64, samples: Int) -> (sum: Int64, count: Int) {
        let n = min(samples, volatileSlots.count)
        var sum: Int64 = 0
        var rng = RandomSource()
        for _ in 0..<n {
            let i = Int.random(in: 0..<volatileSlots.count, using: &rng)
            sum += max(0, volatileExpireAt[i] - now)
        }
        return (sum, n)
    }

    public func resetStats() { expiredCount = 0 }

    // MARK: cluster slots

    /// Keeps the shard's keys by cluster slot from now on (a cluster node's database 0).
    public func indexSlots() {
        if slotKeys == nil { slotKeys = SlotKeys(table, occupied: table.occupiedSlots) }
    }

    public var indexesSlots: Bool { slotKeys != nil }

    /// Keys of the shard in cluster slot `slot` (expired ones not yet removed included).
    public func countKeys(inSlot slot: Int) -> Int { slotKeys?.count(slot) ?? 0 }

    /// Up to `limit` of them (counting what `out` holds already), most recently added first.
    public func appendKeys(inSlot slot: Int, limit: Int, to out: inout [[UInt8]]) {
        guard slotKeys != nil else { return }
        var t = slotKeys!.first(slot)
        while t >= 0 && out.count < limit {
            out.append(table.key(at: t))
            t = slotKeys!.after(t)
        }
    }
}

/// A shard's keys as of one moment, for a snapshot: its table and its keys' expiry times.
public struct ShardImage: Sendable {
    public let table: KeyTable
    let expireAts: [Int64]

    public init(table: KeyTable = KeyTable(), expireAts: [Int64] = []) {
        self.table = table
        self.expireAts = expireAts
    }

    /// The expiry time of the key at `slot`, 0 for none.
    public func expireAt(slot: Int) -> Int64 {
        let i = table.entries[slot].volatileIndex
        return i < 0 ? 0 : expireAts[Int(i)]
    }
}

/// A client parked on keys of a shard by a blocking command (BLPOP and friends). The engine
/// defines it; the shard only keeps the FIFO lists, under its lock, so that checking a key and
/// parking on it is one atomic step.
public protocol KeyWaiter: AnyObject, Sendable {}

extension Shard {
    public func park(_ w: KeyWaiter, on key: [UInt8]) {
        waiters[key, default: []].append(w)
    }

    public func unpark(_ w: KeyWaiter, from key: [UInt8]) {
        guard var list = waiters[key] else { return }
        list.removeAll { $0 === w }
        waiters[key] = list.isEmpty ? nil : list
    }

    public func hasWaiters(_ key: ArraySlice<UInt8>) -> Bool {
        !waiters.isEmpty && waiters[Array(key)] != nil
    }

    public func waiters(on key: [UInt8]) -> [KeyWaiter] { waiters[key] ?? [] }

    public var keysWithWaiters: [[UInt8]] { Array(waiters.keys) }
}

/// Where a key is (or is not) in a shard, and its hash: a lookup a write can reuse.
public struct KeyLookup: Sendable {
    public let slot: Int?
    let hash: UInt64
}
