/// A shard's keys by Redis Cluster slot, kept only on a cluster node: CLUSTER
/// COUNTKEYSINSLOT reads a count and GETKEYSINSLOT follows a list, where without it each
/// walked every key of the node (as Redis's slot_to_keys, which a resharding tool calls for
/// every slot it moves).
///
/// Keys shard by their hash, not their slot, so any shard may hold keys of any slot: each
/// shard keeps its own lists, under its own lock, and a node's answer is the sum over its
/// shards. A list runs through the table's slots (positions, which stay put from a key's
/// insertion to its removal; see KeyTable): two Int32 per key, half of Redis's two pointers,
/// plus a head and a count per cluster slot in each shard (128 KB a shard).
///
/// Invariant: every occupied table slot is in the list of its key's cluster slot, and only
/// those; `counts[s]` is the length of list `s`. Expired keys not yet removed are counted,
/// as Redis counts them.
struct SlotKeys: Sendable {
    private var heads = [Int32](repeating: -1, count: KeySlot.count)
    private var counts = [Int32](repeating: 0, count: KeySlot.count)
    /// By table slot: the next and previous table slot in the same cluster slot, -1 at an end.
    private var next: [Int32] = []
    private var prev: [Int32] = []

    init<S: Sequence<Int>>(_ table: KeyTable, occupied: S) {
        for s in occupied { add(tableSlot: s, clusterSlot: table.withKey(at: s) { KeySlot.of($0) }) }
    }

    mutating func add(tableSlot t: Int, clusterSlot c: Int) {
        if t >= next.count {
            let more = t + 1 - next.count
            next.append(contentsOf: repeatElement(-1, count: more))
            prev.append(contentsOf: repeatElement(-1, count: more))
        }
        let head = heads[c]
        next[t] = head
        prev[t] = -1
        if head >= 0 { prev[Int(head)] = Int32(t) }
        heads[c] = Int32(t)
        counts[c] += 1
    }

    mutating func remove(tableSlot t: Int, clusterSlot c: Int) {
        let n = next[t], p = prev[t]
        if p >= 0 { next[Int(p)] = n } else { heads[c] = n }
        if n >= 0 { prev[Int(n)] = p }
        counts[c] -= 1
    }

    func count(_ c: Int) -> Int { Int(counts[c]) }

    /// The list of cluster slot `c`, latest insertion first: its first table slot, and the
    /// one after each (-1 at the end).
    func first(_ c: Int) -> Int { Int(heads[c]) }
    func after(_ t: Int) -> Int { Int(next[t]) }
}
