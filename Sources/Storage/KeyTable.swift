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
/// Entries are a dense array (a "slot" is a position in it); the hash index is an array of
/// 4-byte buckets, each a slot + 1 (0: empty). Empty buckets then cost 4 bytes rather than a
/// whole entry. Linear probing with backward-shift deletion (no tombstones), so every key
/// sits in the run that starts at its home bucket.
///
/// While the table has fewer than 2^24 slots, a bucket's top byte holds the top byte of its
/// key's 32 hash bits: a probe passes over a bucket of another key without reading that key's
/// span, which sits at a random place in memory (a cache miss per probe, seen as most of the
/// time of SADD and HSET on a big set or hash). A table that outgrows 24-bit slots drops the
/// tags and keeps working without them.
///
/// Each slot's span holds the low 32 bits of its key's hash (its home is `hash & mask`, and a
/// probe compares them before it reads the key) and where the key is: its bytes live back to
/// back in one arena, each after its length (LEB128, one byte below 128), so a key costs its
/// length plus one rather than an array of its own (a 16-byte key as a [UInt8] takes a 64-byte
/// allocation and an 8-byte reference). Removed keys leave dead bytes, reclaimed by copying
/// the live ones once they are a quarter of the arena; spans change then, slots do not. Keys of
/// 16 MB or more, and any key once the arena would pass 4 GB, are kept apart (`longKeys`).
///
/// A slot stays the same from its key's insertion to its removal: removing leaves a hole that
/// a later insertion reuses, and only `compact()`, called outside commands, closes holes. So a
/// command may hold one key's slot while it looks up, inserts or removes others in the same
/// table (a lookup may remove an expired key).
public struct ByteTable<Value: Sendable>: Sendable {
    /// 0 for an empty bucket, else a slot + 1.
    private var buckets: [UInt32] = []
    /// By slot: the key hash's low 32 bits << 32 | the key's offset in the arena, where its
    /// length comes first; the offset is `longKey` for a key kept in `longKeys`, `hole` for a
    /// slot without a key.
    private var spans: [UInt64] = []
    private var arena: [UInt8] = []
    private var deadBytes = 0
    private var longKeys: [Int: [UInt8]] = [:]
    public var entries: [Value] = []
    /// Holes left by removals, reused by insertions.
    private var holes: [Int] = []
    private var mask = -1
    /// The bits of a bucket that hold its slot + 1; the rest (`~slotMask`) hold the hash tag.
    private var slotMask: UInt32 = Self.taggedSlotMask
    private static var taggedSlotMask: UInt32 { 0x00FF_FFFF }
    /// What a hole's entry holds.
    private let vacant: Value

    private static var longKey: UInt64 { 0xFFFF_FFFF }
    private static var hole: UInt64 { 0xFFFF_FFFE }
    /// Keys this long go to `longKeys`, whatever room the arena has.
    private static var longKeyLength: Int { 1 << 24 }

    /// Grow by an eighth rather than double (see `grown`).
    private let slowGrowth: Bool

    /// `slowGrowth` for the keyspace, where the unused tail of the arrays counts against
    /// maxmemory; a collection's member table doubles, as Array does.
    public init(vacant: Value, slowGrowth: Bool = false) {
        self.vacant = vacant
        self.slowGrowth = slowGrowth
    }

    public var count: Int { spans.count - holes.count }
    @inline(__always) private static func offset(_ span: UInt64) -> UInt64 { span & 0xFFFF_FFFF }
    @inline(__always) private func isHole(_ slot: Int) -> Bool { Self.offset(spans[slot]) == Self.hole }
    public var capacity: Int { buckets.count }
    /// Slots in use or holes: every slot is below this.
    public var slotCount: Int { spans.count }

    /// The key's hash; the table keeps its low 32 bits (a slot's span, a key's home).
    @inline(__always) public static func hash(_ key: UnsafeRawBufferPointer) -> UInt64 {
        KeyHash.hash(key)
    }

    // A table never has 2^32 buckets, so the hash's low 32 bits hold every bit of its home.
    @inline(__always) func home(_ hash: UInt64) -> Int { Int(truncatingIfNeeded: hash & 0xFFFF_FFFF) & mask }
    /// The home of the key a bucket points at, from the hash bits in its span.
    @inline(__always) func home(bucket: UInt32) -> Int { Int(truncatingIfNeeded: spans[slot(bucket)] >> 32) & mask }
    @inline(__always) func slot(_ bucket: UInt32) -> Int { Int(bucket & slotMask) - 1 }
    /// The bucket for `slot`, whose key's hash has `hash32` as its low 32 bits.
    @inline(__always) func bucket(_ slot: Int, hash32: UInt32) -> UInt32 {
        UInt32(truncatingIfNeeded: slot + 1) | (hash32 & ~slotMask)
    }

    /// The length written before a key in the arena (LEB128) and the bytes it took.
    @inline(__always)
    private static func readLength(_ a: UnsafeRawBufferPointer, _ offset: Int) -> (length: Int, size: Int) {
        let first = Int(a[offset])
        if first < 0x80 { return (first, 1) }
        var length = first & 0x7F, shift = 7, i = offset + 1
        while true {
            let b = Int(a[i])
            length |= (b & 0x7F) << shift
            i += 1
            if b < 0x80 { return (length, i - offset) }
            shift += 7
        }
    }

    private static func lengthSize(_ n: Int) -> Int { n < 1 << 7 ? 1 : n < 1 << 14 ? 2 : n < 1 << 21 ? 3 : 4 }

    // MARK: keys

    /// The key at `slot`, borrowed for the duration of `body`.
    @inline(__always)
    public func withKey<T>(at slot: Int, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        let offset = Self.offset(spans[slot])
        if offset == Self.longKey { return try longKeys[slot]!.withUnsafeBytes(body) }
        return try arena.withUnsafeBytes { a in
            let o = Int(truncatingIfNeeded: offset)
            let (length, size) = Self.readLength(a, o)
            return try body(UnsafeRawBufferPointer(rebasing: a[(o + size)..<(o + size + length)]))
        }
    }

    /// A copy of the key at `slot`.
    public func key(at slot: Int) -> [UInt8] { withKey(at: slot) { Array($0) } }

    public func keyLength(at slot: Int) -> Int { withKey(at: slot) { $0.count } }

    /// Puts `key` in the arena (or with the long keys) for `slot`; returns its span.
    private mutating func store(_ key: UnsafeRawBufferPointer, hash: UInt64, slot: Int) -> UInt64 {
        let hashBits = (hash & 0xFFFF_FFFF) << 32
        if deadBytes > 1024 && deadBytes * 4 > arena.count { compactArena() }
        let size = Self.lengthSize(key.count)
        guard key.count < Self.longKeyLength, UInt64(arena.count + size + key.count) < Self.hole else {
            longKeys[slot] = Array(key)
            return hashBits | Self.longKey
        }
        let offset = UInt64(arena.count)
        let needed = arena.count + size + key.count
        if needed > arena.capacity { arena.reserveCapacity(grown(needed)) }
        var n = key.count
        while n >= 0x80 {
            arena.append(UInt8(truncatingIfNeeded: n & 0x7F) | 0x80)
            n >>= 7
        }
        arena.append(UInt8(truncatingIfNeeded: n))
        arena.append(contentsOf: key)
        return hashBits | offset
    }

    /// Frees the arena bytes of the key at `slot`.
    private mutating func release(slot: Int) {
        if Self.offset(spans[slot]) == Self.longKey {
            longKeys[slot] = nil
        } else {
            let length = keyLength(at: slot)
            deadBytes += length + Self.lengthSize(length)
        }
    }

    /// Copies the live keys to a new arena, back to back.
    private mutating func compactArena() {
        var fresh: [UInt8] = []
        fresh.reserveCapacity(arena.count - deadBytes + 64)
        arena.withUnsafeBytes { a in
            for s in 0..<spans.count {
                let offset = Self.offset(spans[s])
                guard offset != Self.hole, offset != Self.longKey else { continue }
                let o = Int(truncatingIfNeeded: offset)
                let (length, size) = Self.readLength(a, o)
                spans[s] = (spans[s] & 0xFFFF_FFFF_0000_0000) | UInt64(fresh.count)
                fresh.append(contentsOf: a[o..<(o + size + length)])
            }
        }
        arena = fresh
        deadBytes = 0
    }

    // MARK: lookups and changes

    /// The slot holding `key`, or nil.
    @inline(__always)
    public func find(_ key: UnsafeRawBufferPointer, hash: UInt64) -> Int? {
        guard count > 0 else { return nil }
        let bits = (hash & 0xFFFF_FFFF) << 32
        let tag = UInt32(truncatingIfNeeded: hash) & ~slotMask
        var i = home(hash)
        return arena.withUnsafeBytes { a in
            while true {
                let b = buckets[i]
                if b == 0 { return nil }
                if b & ~slotMask != tag {
                    i = (i + 1) & mask
                    continue
                }
                let s = slot(b)
                let span = spans[s]
                // The span's 32 hash bits decide before the key is read (the bits above the
                // mask tell apart keys with the same home).
                if span & 0xFFFF_FFFF_0000_0000 == bits {
                    let offset = Self.offset(span)
                    if offset == Self.longKey {
                        if longKeys[s]!.withUnsafeBytes({ $0.elementsEqual(key) }) { return s }
                    } else {
                        let o = Int(truncatingIfNeeded: offset)
                        let (length, size) = Self.readLength(a, o)
                        if length == key.count
                            && (length == 0 || memcmp(a.baseAddress! + o + size, key.baseAddress!, length) == 0) {
                            return s
                        }
                    }
                }
                i = (i + 1) & mask
            }
        }
    }

    /// `find` for a table held in a class's stored property (a shard's). Calling a non-mutating
    /// method there makes Swift copy the whole struct first, a retain and a release of each of
    /// its arrays per lookup (seen in profiles); an inout access reads the table in place.
    @inline(__always)
    public mutating func findInPlace(_ key: UnsafeRawBufferPointer, hash: UInt64) -> Int? {
        find(key, hash: hash)
    }

    public func isOccupied(_ slot: Int) -> Bool { slot >= 0 && slot < spans.count && !isHole(slot) }

    /// Inserts a key known to be absent; returns its slot.
    @discardableResult
    public mutating func insert(key: UnsafeRawBufferPointer, hash: UInt64, entry: Value) -> Int {
        if (count + 1) * 4 > buckets.count * 3 { resize(Swift.max(8, buckets.count * 2)) }
        let s: Int
        if let hole = holes.popLast() {
            s = hole
            spans[s] = store(key, hash: hash, slot: s)
            entries[s] = entry
        } else {
            s = spans.count
            if s == entries.capacity {
                let n = grown(s + 1)
                spans.reserveCapacity(n)
                entries.reserveCapacity(n)
            }
            spans.append(store(key, hash: hash, slot: s))
            entries.append(entry)
        }
        if s + 1 > Int(slotMask) { dropTags() }
        var i = home(hash)
        while buckets[i] != 0 { i = (i + 1) & mask }
        buckets[i] = bucket(s, hash32: UInt32(truncatingIfNeeded: hash))
        return s
    }

    @discardableResult
    public mutating func insert(key: [UInt8], hash: UInt64, entry: Value) -> Int {
        key.withUnsafeBytes { insert(key: $0, hash: hash, entry: entry) }
    }

    /// The capacity to grow a dense array to. The keyspace grows by an eighth rather than
    /// Array's double, so that the unused tail (counted in used_memory, and so against
    /// maxmemory) averages a sixteenth of the array rather than a third; still amortized O(1)
    /// per insertion, but each element is copied about eight times over the array's growth.
    /// A member table doubles: on a growing set or hash those copies were most of the cache
    /// misses of an SADD or HSET (callgrind's cache simulation, about 4 a command).
    @inline(__always) func grown(_ needed: Int) -> Int {
        slowGrowth ? Swift.max(8, needed + needed / 8) : Swift.max(8, 2 * needed)
    }

    /// Slot numbers no longer fit beside a tag: buckets hold the whole slot + 1 from now on.
    /// (Internal rather than private so that the tests can run a small table in this form.)
    mutating func dropTags() {
        guard slotMask == Self.taggedSlotMask else { return }
        for i in buckets.indices { buckets[i] &= slotMask }
        slotMask = 0xFFFF_FFFF
    }

    /// The bucket that points at `slot`.
    private func bucketIndex(of slot: Int) -> Int {
        var i = home(spans[slot] >> 32)
        let b = bucket(slot, hash32: UInt32(truncatingIfNeeded: spans[slot] >> 32))
        while buckets[i] != b { i = (i + 1) & mask }
        return i
    }

    /// Removes the key at `slot`, returning its entry; the slot becomes a hole.
    @discardableResult
    public mutating func remove(at slot: Int) -> Value {
        // Backward shift: pull later members of the run into the hole when their home allows.
        var hole = bucketIndex(of: slot)
        var j = (hole + 1) & mask
        while buckets[j] != 0 {
            let h = home(bucket: buckets[j])
            if (hole - h) & mask <= (j - h) & mask {
                buckets[hole] = buckets[j]
                hole = j
            }
            j = (j + 1) & mask
        }
        buckets[hole] = 0
        release(slot: slot)
        spans[slot] = Self.hole
        var entry = vacant
        swap(&entry, &entries[slot])
        if slot == spans.count - 1 {
            spans.removeLast()
            entries.removeLast()
        } else {
            holes.append(slot)
        }
        if count == 0 {
            // An empty table gives its arena back at once.
            arena = []
            deadBytes = 0
        }
        if buckets.count > 64 && count * 8 < buckets.count { resize(buckets.count / 2) }
        return entry
    }

    public mutating func removeAll() {
        buckets = []
        spans = []
        arena = []
        deadBytes = 0
        longKeys = [:]
        entries = []
        holes = []
        mask = -1
        slotMask = Self.taggedSlotMask
    }

    /// Closes the holes when they are a quarter of the slots or more. Moves keys to other
    /// slots: only for callers that hold no slot (the expiry cycle, between commands).
    public mutating func compact() {
        guard holes.count > 16, holes.count * 4 >= spans.count else { return }
        var sp: [UInt64] = [], e: [Value] = []
        var long: [Int: [UInt8]] = [:]
        var moved = [Int](repeating: -1, count: spans.count)
        sp.reserveCapacity(count)
        e.reserveCapacity(count)
        for s in 0..<spans.count where !isHole(s) {
            if let k = longKeys[s] { long[sp.count] = k }
            moved[s] = sp.count
            sp.append(spans[s])
            e.append(entries[s])
        }
        spans = sp
        entries = e
        longKeys = long
        holes = []
        if deadBytes > 0 { compactArena() }
        // Same buckets, new slot numbers.
        for i in buckets.indices where buckets[i] != 0 {
            buckets[i] = (buckets[i] & ~slotMask) | UInt32(truncatingIfNeeded: moved[slot(buckets[i])] + 1)
        }
    }

    private mutating func resize(_ newCapacity: Int) {
        let old = buckets
        buckets = Array(repeating: 0, count: newCapacity)
        mask = newCapacity - 1
        for b in old where b != 0 {
            var i = home(bucket: b)
            while buckets[i] != 0 { i = (i + 1) & mask }
            buckets[i] = b
        }
    }

    /// Occupied slots, for whole-table walks (KEYS, FLUSHDB, snapshots).
    public var occupiedSlots: some Sequence<Int> {
        let sp = spans
        return sp.indices.lazy.filter { Self.offset(sp[$0]) != Self.hole }
    }

    /// Visits the keys whose home bucket is `cursor`'s bucket and returns the next cursor
    /// (0 when the walk is complete), as Redis's dictScan: the cursor's bits are incremented
    /// from the top, so buckets visited before a resize are not visited again after it.
    public func scan(cursor: UInt64, _ visit: (Int) -> Void) -> UInt64 {
        guard count > 0 else { return 0 }
        let m = UInt64(mask)
        let bucket = Int(cursor & m)
        var i = bucket
        while buckets[i] != 0 {
            let s = slot(buckets[i])
            if home(bucket: buckets[i]) == bucket { visit(s) }
            i = (i + 1) & mask
        }
        var v = cursor | ~m
        v = v.bitReversed()
        v = v &+ 1
        return v.bitReversed()
    }

    /// A slot chosen uniformly at random among the occupied ones.
    public func randomSlot<G: RandomNumberGenerator>(using rng: inout G) -> Int? {
        guard count > 0 else { return nil }
        for _ in 0..<8 {
            let s = Int.random(in: 0..<spans.count, using: &rng)
            if !isHole(s) { return s }
        }
        // Mostly holes (compaction pending): walk on from a random point.
        var s = Int.random(in: 0..<spans.count, using: &rng)
        while isHole(s) { s = (s + 1) % spans.count }
        return s
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
    public init() { self.init(vacant: Entry(value: .int(0)), slowGrowth: true) }
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
        set(key[...], value)
    }

    /// As set(_:_:), from a slice (a member argument), copying the key only into the arena.
    /// Mutating paths look up in place: a non-mutating find called here copies the table
    /// struct (a retain and release per array; seen in profiles).
    @discardableResult
    public mutating func set(_ key: ArraySlice<UInt8>, _ value: Value) -> Bool {
        key.withUnsafeBytes { raw in
            let h = Self.hash(raw)
            if let slot = findInPlace(raw, hash: h) {
                entries[slot] = value
                return false
            }
            insert(key: raw, hash: h, entry: value)
            return true
        }
    }

    /// Removes `key`; returns its value when it was there.
    @discardableResult
    public mutating func remove(_ key: ArraySlice<UInt8>) -> Value? {
        guard let slot = key.withUnsafeBytes({ findInPlace($0, hash: Self.hash($0)) }) else { return nil }
        return remove(at: slot)
    }

    /// Inserts `key` with `value` unless it is there; true when inserted. A key already there
    /// has its entry neither read nor written: a set's members carry no value, and the entry
    /// array is one more cache miss per lookup in a large set.
    public mutating func insertIfAbsent(_ key: ArraySlice<UInt8>, _ value: Value) -> Bool {
        key.withUnsafeBytes { raw in
            let h = Self.hash(raw)
            if findInPlace(raw, hash: h) != nil { return false }
            insert(key: raw, hash: h, entry: value)
            return true
        }
    }

    /// Whether `key` is there, reading the table in place and not the entry.
    public mutating func containsInPlace(_ key: ArraySlice<UInt8>) -> Bool {
        key.withUnsafeBytes { raw in findInPlace(raw, hash: Self.hash(raw)) != nil }
    }

    /// get, reading the table in place.
    public mutating func getInPlace(_ key: ArraySlice<UInt8>) -> Value? {
        key.withUnsafeBytes { raw in findInPlace(raw, hash: Self.hash(raw)).map { entries[$0] } }
    }

    public func get(_ key: ArraySlice<UInt8>) -> Value? {
        find(key).map { entries[$0] }
    }

    public func contains(_ key: ArraySlice<UInt8>) -> Bool { find(key) != nil }

    /// Every (key, value), in table order.
    public var pairs: [([UInt8], Value)] { occupiedSlots.map { (key(at: $0), entries[$0]) } }
}
