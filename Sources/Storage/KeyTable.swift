#if canImport(Glibc)
import Glibc
#endif

/// An open-addressing hash table from byte-string keys to entries.
///
/// Written for the keyspace rather than using Dictionary because the keyspace needs what
/// Dictionary cannot give: lookups by a borrowed byte view (no key copy per command), a SCAN
/// cursor that stays valid across resizes (Redis's reverse-binary cursor over home buckets),
/// and O(1) random sampling for RANDOMKEY, expiry and eviction.
///
/// Linear probing with backward-shift deletion (no tombstones), so every key sits in the run
/// that starts at its home bucket `hash & mask`.
public struct ByteTable<Value: Sendable>: Sendable {
    /// The key's hash with the top bit set, or 0 for an empty slot. Kept apart from keys and
    /// entries so that probing scans a dense array.
    private var tags: [UInt64] = []
    public private(set) var keys: [[UInt8]] = []
    public var entries: [Value] = []
    public private(set) var count = 0
    private var mask = -1
    /// What an empty slot's value holds, so that entries need no Optional wrapper.
    private let vacant: Value

    public init(vacant: Value) { self.vacant = vacant }

    public var capacity: Int { tags.count }

    @inline(__always) public static func hash(_ key: UnsafeRawBufferPointer) -> UInt64 {
        var h = Hasher()
        h.combine(bytes: key)
        return UInt64(bitPattern: Int64(h.finalize())) | (1 << 63)
    }

    @inline(__always) func home(_ tag: UInt64) -> Int { Int(truncatingIfNeeded: tag) & mask }

    /// The slot holding `key`, or nil.
    public func find(_ key: UnsafeRawBufferPointer, hash: UInt64) -> Int? {
        guard count > 0 else { return nil }
        var i = home(hash)
        while true {
            let t = tags[i]
            if t == 0 { return nil }
            if t == hash && keys[i].withUnsafeBytes({ k in
                k.count == key.count && (k.count == 0 || memcmp(k.baseAddress!, key.baseAddress!, k.count) == 0)
            }) {
                return i
            }
            i = (i + 1) & mask
        }
    }

    public func isOccupied(_ slot: Int) -> Bool { tags[slot] != 0 }

    /// Inserts a key known to be absent; returns its slot.
    @discardableResult
    public mutating func insert(key: [UInt8], hash: UInt64, entry: Value) -> Int {
        if (count + 1) * 4 > tags.count * 3 { resize(Swift.max(8, tags.count * 2)) }
        var i = home(hash)
        while tags[i] != 0 { i = (i + 1) & mask }
        tags[i] = hash
        keys[i] = key
        entries[i] = entry
        count += 1
        return i
    }

    /// Removes the key at `slot`, returning its entry.
    @discardableResult
    public mutating func remove(at slot: Int) -> (key: [UInt8], entry: Value) {
        let removed = (keys[slot], entries[slot])
        var hole = slot
        var j = (slot + 1) & mask
        // Backward shift: pull later members of the run into the hole when their home allows.
        while tags[j] != 0 {
            let h = home(tags[j])
            let distHole = (hole - h) & mask
            let distJ = (j - h) & mask
            if distHole <= distJ {
                tags[hole] = tags[j]
                keys[hole] = keys[j]
                entries[hole] = entries[j]
                hole = j
            }
            j = (j + 1) & mask
        }
        tags[hole] = 0
        keys[hole] = []
        entries[hole] = vacant
        count -= 1
        if tags.count > 64 && count * 8 < tags.count { resize(tags.count / 2) }
        return removed
    }

    public mutating func removeAll() {
        self = ByteTable(vacant: vacant)
    }

    private mutating func resize(_ newCapacity: Int) {
        let oldTags = tags, oldKeys = keys, oldEntries = entries
        tags = Array(repeating: 0, count: newCapacity)
        keys = Array(repeating: [], count: newCapacity)
        entries = Array(repeating: vacant, count: newCapacity)
        mask = newCapacity - 1
        for s in 0..<oldTags.count where oldTags[s] != 0 {
            var i = home(oldTags[s])
            while tags[i] != 0 { i = (i + 1) & mask }
            tags[i] = oldTags[s]
            keys[i] = oldKeys[s]
            entries[i] = oldEntries[s]
        }
    }

    /// Occupied slots, for whole-table walks (KEYS, FLUSHDB, snapshots).
    public var occupiedSlots: some Sequence<Int> {
        let t = tags
        return t.indices.lazy.filter { t[$0] != 0 }
    }

    /// Visits the keys whose home bucket is `cursor`'s bucket and returns the next cursor
    /// (0 when the walk is complete), as Redis's dictScan: the cursor's bits are incremented
    /// from the top, so buckets visited before a resize are not visited again after it.
    public func scan(cursor: UInt64, _ visit: (Int) -> Void) -> UInt64 {
        guard count > 0 else { return 0 }
        let m = UInt64(mask)
        let bucket = Int(cursor & m)
        var i = bucket
        while tags[i] != 0 {
            if home(tags[i]) == bucket { visit(i) }
            i = (i + 1) & mask
        }
        var v = cursor | ~m
        v = v.bitReversed()
        v = v &+ 1
        return v.bitReversed()
    }

    /// A slot chosen at random among the occupied ones (biased by run length, as Redis's
    /// bucket sampling is biased by chain length).
    public func randomSlot<G: RandomNumberGenerator>(using rng: inout G) -> Int? {
        guard count > 0 else { return nil }
        var i = Int.random(in: 0...mask, using: &rng)
        while tags[i] == 0 { i = (i + 1) & mask }
        return i
    }
}

extension UInt64 {
    func bitReversed() -> UInt64 {
        var v = self
        var r: UInt64 = 0
        for _ in 0..<64 {
            r = (r << 1) | (v & 1)
            v >>= 1
        }
        return r
    }
}

/// The keyspace's table: key to entry.
public typealias KeyTable = ByteTable<Entry>

extension ByteTable where Value == Entry {
    public init() { self.init(vacant: Entry(value: .int(0))) }
}

extension ByteTable {
    /// The slot of `key`, hashing it here.
    public func find(_ key: ArraySlice<UInt8>) -> Int? {
        key.withUnsafeBytes { find($0, hash: Self.hash($0)) }
    }

    public func find(_ key: [UInt8]) -> Int? {
        key.withUnsafeBytes { find($0, hash: Self.hash($0)) }
    }

    /// Inserts or replaces; returns true when the key was new.
    @discardableResult
    public mutating func set(_ key: [UInt8], _ value: Value) -> Bool {
        let h = key.withUnsafeBytes { Self.hash($0) }
        if let slot = key.withUnsafeBytes({ find($0, hash: h) }) {
            entries[slot] = value
            return false
        }
        insert(key: key, hash: h, entry: value)
        return true
    }

    /// Removes `key`; returns its value when it was there.
    @discardableResult
    public mutating func remove(_ key: ArraySlice<UInt8>) -> Value? {
        guard let slot = find(key) else { return nil }
        return remove(at: slot).entry
    }

    public func get(_ key: ArraySlice<UInt8>) -> Value? {
        find(key).map { entries[$0] }
    }

    public func contains(_ key: ArraySlice<UInt8>) -> Bool { find(key) != nil }

    /// Every (key, value), in table order.
    public var pairs: [([UInt8], Value)] { occupiedSlots.map { (keys[$0], entries[$0]) } }
}
