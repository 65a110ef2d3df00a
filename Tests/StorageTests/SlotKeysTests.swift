import Testing
@testable import Storage

@Suite struct SlotKeysTests {
    /// What the index must answer: every live key of the shard, grouped by its cluster slot.
    func expected(_ shard: Shard) -> [Int: Set<[UInt8]>] {
        var bySlot: [Int: Set<[UInt8]>] = [:]
        for s in shard.table.occupiedSlots {
            let k = shard.key(at: s)
            bySlot[KeySlot.of(k[...]), default: []].insert(k)
        }
        return bySlot
    }

    func check(_ shard: Shard, _ note: String) {
        let want = expected(shard)
        var total = 0
        for slot in 0..<KeySlot.count {
            let n = shard.countKeys(inSlot: slot)
            total += n
            var listed: [[UInt8]] = []
            shard.appendKeys(inSlot: slot, limit: Int.max, to: &listed)
            #expect(listed.count == n, "\(note): slot \(slot) count")
            #expect(Set(listed) == (want[slot] ?? []), "\(note): slot \(slot) keys")
        }
        #expect(total == shard.count, "\(note)")
    }

    /// The lists follow inserts (new keys, RENAME-style inserts over an old key), removals,
    /// compaction that renumbers table slots, a flush and a swap with another shard; keys
    /// sharing a hash tag share a slot.
    @Test func indexFollowsEveryChange() {
        let shard = Shard(index: 0)
        for i in 0..<500 { shard.set(Array("before:\(i)".utf8)[...], .int(i)) }
        shard.indexSlots()
        check(shard, "built from existing keys")
        var rng = SystemRandomNumberGenerator()
        for step in 0..<6000 {
            let k = Array((step % 3 == 0 ? "{tag}:\(step % 700)" : "k:\(Int.random(in: 0..<2000, using: &rng))").utf8)
            switch Int.random(in: 0..<4, using: &rng) {
            case 0, 1: shard.set(k[...], .int(step))
            case 2: shard.delete(k[...], now: 0)
            default: shard.insert(key: k, entry: Entry(value: .int(1)), expireAt: 0)
            }
            if step % 1500 == 1499 {
                for s in Array(shard.table.occupiedSlots).prefix(shard.count * 2 / 3) { shard.remove(slot: s) }
                shard.compact()
                check(shard, "after compaction at \(step)")
            }
        }
        check(shard, "after churn")
        #expect(shard.countKeys(inSlot: KeySlot.of(Array("{tag}".utf8)[...])) ==
                expected(shard)[KeySlot.of(Array("tag".utf8)[...])]?.count ?? 0)
        let other = Shard(index: 1)
        other.set(Array("elsewhere".utf8)[...], .int(1))
        shard.swapContents(with: other)
        #expect(!shard.indexesSlots && other.indexesSlots)
        check(other, "swapped out")
        other.removeAll()
        check(other, "flushed")
        #expect(other.indexesSlots)
    }
}
