import Testing
@testable import Storage

@Suite struct KeyTableTests {
    func key(_ s: String) -> [UInt8] { Array(s.utf8) }

    /// The key hash is SipHash: with 2 and 4 rounds and the paper's key 00..0f it gives the
    /// paper's answers (every message length up to 15 goes through the tail code), and the
    /// 1-3 variant the tables use spreads keys differing in one byte.
    @Test func keyHashIsSipHash() {
        let k0 = UInt64(littleEndian: 0x0706_0504_0302_0100), k1 = UInt64(littleEndian: 0x0f0e_0d0c_0b0a_0908)
        let message = (0..<15).map { UInt8($0) }
        func sip24(_ n: Int) -> UInt64 {
            message[0..<n].withUnsafeBytes { KeyHash.hash($0, seed: (k0, k1), compression: 2, finalization: 4) }
        }
        let expected: [UInt64] = [
            0x726f_db47_dd0e_0e31, 0x74f8_39c5_93dc_67fd, 0x0d6c_8009_d9a9_4f5a, 0x8567_6696_d7fb_7e2d,
            0xcf27_94e0_2771_87b7, 0x1876_5564_cd99_a68d, 0xcbc9_466e_58fe_e3ce, 0xab02_00f5_8b01_d137,
            0x93f5_f579_9a93_2462, 0x9e00_82df_0ba9_e4b0, 0x7a5d_bbc5_94dd_b9f3, 0xf4b3_2f46_226b_ada7,
            0x751e_8fbc_860e_e5fb, 0x14ea_5627_c084_3d90, 0xf723_ca90_8e7a_f2ee, 0xa129_ca61_49be_45e5,
        ]
        for n in 0..<16 { #expect(sip24(n) == expected[n], "length \(n)") }
        var seen = Set<UInt64>()
        for i in 0..<1000 { seen.insert(key("key:\(i)").withUnsafeBytes { KeyTable.hash($0) }) }
        #expect(seen.count == 1000)
    }

    func find(_ t: KeyTable, _ k: [UInt8]) -> Int? {
        k.withUnsafeBytes { t.find($0, hash: KeyTable.hash($0)) }
    }

    /// A slot names the same key until that key is removed, whatever else is inserted or
    /// removed meanwhile; compaction closes the holes and keeps every key findable.
    @Test func slotsStayPutUntilCompaction() {
        var table = KeyTable()
        var rng = SystemRandomNumberGenerator()
        var slots: [[UInt8]: Int] = [:]
        for i in 0..<3000 {
            let k = key("s\(i)")
            slots[k] = k.withUnsafeBytes { table.insert(key: k, hash: KeyTable.hash($0), entry: Entry(value: .int(i))) }
        }
        for step in 0..<6000 {
            if Bool.random(using: &rng), let (k, s) = slots.randomElement(using: &rng) {
                #expect(table.key(at: s) == k)
                table.remove(at: s)
                slots[k] = nil
            } else {
                let k = key("n\(step)")
                slots[k] = k.withUnsafeBytes { table.insert(key: k, hash: KeyTable.hash($0), entry: Entry(value: .int(step))) }
            }
            if step % 500 == 0 {
                for (k, s) in slots { #expect(table.key(at: s) == k && find(table, k) == s) }
                if let r = table.randomSlot(using: &rng) { #expect(table.isOccupied(r)) }
            }
        }
        #expect(Array(table.occupiedSlots).count == slots.count)
        for (k, s) in slots where Bool.random(using: &rng) { table.remove(at: s); slots[k] = nil }
        table.compact()
        #expect(table.count == slots.count)
        #expect(Set(table.occupiedSlots.map { table.key(at: $0) }) == Set(slots.keys))
        for k in slots.keys { #expect(find(table, k) != nil) }
    }

    /// Also with the buckets' hash tags dropped halfway, as a table past 2^24 slots does.
    @Test(arguments: [false, true]) func randomOperationsAgreeWithDictionary(dropTags: Bool) {
        var rng = SystemRandomNumberGenerator()
        var table = KeyTable()
        var model: [[UInt8]: Int] = [:]
        for step in 0..<20_000 {
            if dropTags && step == 10_000 { table.dropTags() }
            if step % 2_500 == 0 { table.compact() }
            let k = key("k\(Int.random(in: 0..<2000, using: &rng))")
            if Bool.random(using: &rng) || step % 7 == 0 {
                if let slot = find(table, k) {
                    table.entries[slot].value = .int(step)
                } else {
                    k.withUnsafeBytes { table.insert(key: k, hash: KeyTable.hash($0), entry: Entry(value: .int(step))) }
                }
                model[k] = step
            } else if let slot = find(table, k) {
                table.remove(at: slot)
                model[k] = nil
            } else {
                #expect(model[k] == nil)
            }
        }
        #expect(table.count == model.count)
        for (k, v) in model {
            let slot = find(table, k)
            #expect(slot != nil)
            if let slot, case .int(let stored) = table.entries[slot].value { #expect(stored == v) }
        }
    }

    @Test func scanReturnsEveryKeyAcrossResizes() {
        var table = KeyTable()
        func add(_ s: String) {
            let k = key(s)
            k.withUnsafeBytes { table.insert(key: k, hash: KeyTable.hash($0), entry: Entry(value: .int(0))) }
        }
        for i in 0..<500 { add("orig\(i)") }
        var seen = Set<[UInt8]>()
        var cursor: UInt64 = 0
        var round = 0
        repeat {
            cursor = table.scan(cursor: cursor) { seen.insert(table.key(at: $0)) }
            // Grow, then shrink, while the scan is going on.
            if round < 30 { for j in 0..<50 { add("grow\(round)-\(j)") } }
            if round == 40 {
                for s in table.occupiedSlots.map({ table.key(at: $0) }) where String(decoding: s, as: UTF8.self).hasPrefix("grow") {
                    if let slot = find(table, s) { table.remove(at: slot) }
                }
            }
            round += 1
        } while cursor != 0
        for i in 0..<500 { #expect(seen.contains(key("orig\(i)"))) }
    }

    /// Keys live in one arena; removals leave dead bytes that later insertions reclaim by
    /// copying the live keys, which must keep every key's bytes and slot. Keys of 16 MB or
    /// more are kept apart.
    @Test func arenaReclaimsDeadBytesAndKeepsLongKeys() {
        var table = KeyTable()
        var slots: [[UInt8]: Int] = [:]
        let long = [UInt8](repeating: 7, count: 1 << 24) + [1]
        let longSlot = long.withUnsafeBytes { table.insert(key: long, hash: KeyTable.hash($0), entry: Entry(value: .int(-1))) }
        for round in 0..<20 {
            for i in 0..<500 {
                let k = key("round\(round)-key\(i)-" + String(repeating: "x", count: i % 40))
                slots[k] = k.withUnsafeBytes { table.insert(key: k, hash: KeyTable.hash($0), entry: Entry(value: .int(i))) }
            }
            for (k, s) in slots where k.count % 3 != 0 {
                table.remove(at: s)
                slots[k] = nil
            }
        }
        for (k, s) in slots { #expect(table.key(at: s) == k && find(table, k) == s) }
        #expect(table.key(at: longSlot) == long && find(table, long) == longSlot)
        #expect(find(table, Array(long.dropLast())) == nil)
        table.remove(at: longSlot)
        #expect(find(table, long) == nil)
        #expect(table.count == slots.count)
    }

    /// Keys carry their length in the arena, one to four bytes: lengths on both sides of each
    /// step read back, and survive removals around them and the arena's compaction.
    @Test func keyLengthsOfEveryPrefixSize() {
        var table = KeyTable()
        let lengths = [0, 1, 127, 128, 129, 16383, 16384, 16385, 2_097_151, 2_097_152]
        var slots: [[UInt8]: Int] = [:]
        for (i, n) in lengths.enumerated() {
            let k = [UInt8](repeating: UInt8(i), count: n)
            slots[k] = k.withUnsafeBytes { table.insert(key: k, hash: KeyTable.hash($0), entry: Entry(value: .int(n))) }
        }
        for (k, s) in slots {
            #expect(table.key(at: s) == k && table.keyLength(at: s) == k.count && find(table, k) == s)
        }
        // Remove every other key, then churn small keys until the arena is compacted.
        for (k, s) in slots where k.count % 2 == 1 {
            table.remove(at: s)
            slots[k] = nil
        }
        for i in 0..<5000 {
            let k = key("churn\(i)")
            let s = k.withUnsafeBytes { table.insert(key: k, hash: KeyTable.hash($0), entry: Entry(value: .int(i))) }
            table.remove(at: s)
        }
        for (k, s) in slots { #expect(table.key(at: s) == k && find(table, k) == s) }
        #expect(find(table, [UInt8](repeating: 2, count: 126)) == nil)
    }

    @Test func randomSlotIsOccupied() {
        var table = KeyTable()
        var rng = SystemRandomNumberGenerator()
        #expect(table.randomSlot(using: &rng) == nil)
        for i in 0..<10 {
            let k = key("r\(i)")
            k.withUnsafeBytes { table.insert(key: k, hash: KeyTable.hash($0), entry: Entry(value: .int(i))) }
        }
        for _ in 0..<100 {
            let s = table.randomSlot(using: &rng)!
            #expect(table.isOccupied(s))
        }
    }
}

@Suite struct ShardTests {
    @Test func lazyExpiryAndVolatileIndex() {
        let shard = Shard(index: 0)
        let now: Int64 = 1_000_000
        shard.set(Array("a".utf8)[...], .int(1), expireAt: now + 10)
        shard.set(Array("b".utf8)[...], .int(2), expireAt: now + 1000)
        shard.set(Array("c".utf8)[...], .int(3))
        #expect(shard.volatileCount == 2)
        #expect(shard.find(Array("a".utf8)[...], now: now + 5) != nil)
        #expect(shard.find(Array("a".utf8)[...], now: now + 10) == nil)
        #expect(shard.count == 2 && shard.volatileCount == 1 && shard.expiredCount == 1)
        let r = shard.activeExpire(now: now + 2000)
        #expect(r.expired == 1)
        #expect(shard.count == 1 && shard.volatileCount == 0)
    }

    /// Keys with a TTL are listed by slot; compaction moves slots, and active expiry must
    /// still find exactly the expired keys afterwards.
    @Test func volatileSlotsFollowCompaction() {
        let shard = Shard(index: 0)
        let now: Int64 = 1_000_000
        for i in 0..<400 {
            shard.set(Array("k\(i)".utf8)[...], .int(i), expireAt: i % 2 == 0 ? now + 10 : (i % 3 == 0 ? now + 100_000 : 0))
        }
        for i in stride(from: 1, to: 400, by: 4) { shard.delete(Array("k\(i)".utf8)[...], now: now) }
        shard.compact()
        let volatileLeft = (0..<400).filter { $0 % 2 == 0 || ($0 % 3 == 0 && $0 % 4 != 1) }.count
        #expect(shard.volatileCount == volatileLeft)
        while shard.activeExpire(now: now + 20).sampled > 0 && shard.volatileCount > volatileLeft - 200 {}
        #expect(shard.volatileCount == volatileLeft - 200)
        for i in 0..<400 {
            let alive = shard.find(Array("k\(i)".utf8)[...], now: now + 20) != nil
            #expect(alive == (i % 2 == 1 && i % 4 != 1), "k\(i)")
        }
    }

    @Test func persistAndOverwriteClearTTL() {
        let shard = Shard(index: 0)
        let k = Array("k".utf8)[...]
        let slot = shard.set(k, .int(1), expireAt: 5000)
        shard.setExpire(slot: slot, at: 0)
        #expect(shard.volatileCount == 0)
        shard.set(k, .int(2), expireAt: 6000)
        shard.set(k, .int(3))
        #expect(shard.volatileCount == 0)
        #expect(shard.expireAt(slot: shard.find(k, now: 0)!) == 0)
    }
}

@Suite struct GlobTests {
    @Test func redisGlobRules() {
        func m(_ p: String, _ s: String) -> Bool { globMatch(Array(p.utf8), Array(s.utf8)) }
        #expect(m("*", "anything"))
        #expect(m("h?llo", "hello") && !m("h?llo", "hllo"))
        #expect(m("h[ae]llo", "hallo") && !m("h[ae]llo", "hillo"))
        #expect(m("h[^e]llo", "hallo") && !m("h[^e]llo", "hello"))
        #expect(m("h[a-b]llo", "hbllo") && m("h[b-a]llo", "hallo"))
        #expect(m("h\\*llo", "h*llo") && !m("h\\*llo", "hello"))
        #expect(m("a*b*c", "aXXbYYc") && !m("a*b*c", "aXXbYY"))
        #expect(globMatch(Array("HELLO".utf8), Array("hello".utf8), nocase: true))
        #expect(!m(String(repeating: "a*", count: 40) + "b", String(repeating: "a", count: 60)))
    }

    @Test func keySlotMatchesRedisCluster() {
        // Values from the Redis Cluster specification.
        #expect(KeySlot.of(Array("123456789".utf8)[...]) == 0x31C3 & 16383)
        #expect(KeySlot.of(Array("{user1000}.following".utf8)[...]) == KeySlot.of(Array("{user1000}.followers".utf8)[...]))
        #expect(KeySlot.of(Array("foo{}{bar}".utf8)[...]) == KeySlot.of(Array("foo{}{bar}".utf8)[...]))
    }

    /// Keys sharing a hash tag share a shard, whatever else they hold; a key without a tag
    /// hands its table hash to the lookup that follows; keys spread over every shard.
    @Test func databaseLocatesKeysByHashTag() {
        let db = Database(index: 0, shardCount: 16)
        func locate(_ s: String) -> (shard: Int, hash: UInt64?) { db.locate(Array(s.utf8)[...]) }
        for i in 0..<200 {
            #expect(locate("{user\(i)}.following").shard == locate("{user\(i)}.followers").shard)
            #expect(locate("x{user\(i)}").shard == locate("{user\(i)}").shard)
            #expect(locate("{user\(i)}").hash == nil)
        }
        // An empty tag is no tag: the whole key is hashed, as Redis Cluster does.
        let plain = locate("foo{}{bar}")
        let key = Array("foo{}{bar}".utf8)
        #expect(plain.hash == key.withUnsafeBytes { KeyTable.hash($0) })
        #expect(Set((0..<1000).map { locate("key:\($0)").shard }).count == 16)
    }
}
