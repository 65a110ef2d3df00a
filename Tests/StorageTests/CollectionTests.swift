import Testing
@testable import Storage

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

@Suite struct OrderTreeTests {
    /// Capacity 4 splits and merges blocks all the time; 128 is the one the server uses.
    @Test(arguments: [4, 128]) func randomOperationsAgreeWithSortedArray(capacity: Int) {
        var tree = OrderTree(capacity: capacity)
        var model: [(Double, [UInt8])] = []
        var rng = SystemRandomNumberGenerator()
        func sortModel() { model.sort { OrderTree.less($0.0, $0.1, $1.0, $1.1) } }
        for step in 0..<4000 {
            let m = bytes("m\(Int.random(in: 0..<300, using: &rng))")
            if let i = model.firstIndex(where: { $0.1 == m }) {
                if Bool.random(using: &rng) {
                    // Both removals: the searching one and the one-walk one for known pairs.
                    if Bool.random(using: &rng) { tree.remove(model[i].0, m) } else { tree.removePresent(model[i].0, m) }
                    model.remove(at: i)
                } else {
                    #expect(tree.rank(model[i].0, m) == i)
                }
            } else {
                let s = Double(Int.random(in: -50...50, using: &rng)) / 2
                tree.insert(s, m)
                model.append((s, m))
                sortModel()
            }
            if step % 97 == 0 {
                #expect(tree.count == model.count)
                for (i, e) in model.enumerated() {
                    let got = tree.element(at: i)
                    #expect(got.score == e.0 && got.member == e.1)
                }
                let probe = Double(Int.random(in: -30...30, using: &rng)) / 2
                #expect(tree.countBelow(score: probe, exclusive: false) == model.filter { $0.0 < probe }.count)
                #expect(tree.countBelow(score: probe, exclusive: true) == model.filter { $0.0 <= probe }.count)
            }
        }
    }
}

@Suite struct SortedSetValueTests {
    @Test func packedAndSkiplistAgree() {
        var small = SortedSetValue()
        var large = SortedSetValue()
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let m = bytes("k\(Int.random(in: 0..<200, using: &rng))")
            if Int.random(in: 0..<4, using: &rng) == 0 {
                let a = small.remove(m[...]), b = large.remove(m[...])
                #expect(a == b)
            } else if Bool.random(using: &rng) {
                let s = Double(Int.random(in: 0..<20, using: &rng))
                let a = small.set(m, s, maxEntries: Int.max, maxValue: Int.max)
                let b = large.set(m, s, maxEntries: 0, maxValue: 0)
                #expect(a == b)
            } else {
                // ZADD's path: one lookup, the new score decided from the old one.
                let delta = Double(Int.random(in: -3...3, using: &rng))
                let decide: (Double?) -> Double? = { old in old.map { $0 + delta } ?? (delta == 0 ? nil : delta) }
                let a = small.update(m[...], maxEntries: Int.max, maxValue: Int.max, decide)
                let b = large.update(m[...], maxEntries: 0, maxValue: 0, decide)
                #expect(a.old == b.old && a.new == b.new)
            }
        }
        #expect(small.encodingName == "listpack" && large.encodingName == "skiplist")
        #expect(small.count == large.count)
        for i in 0..<small.count {
            #expect(small.element(at: i).member == large.element(at: i).member)
            #expect(small.rank(small.element(at: i).member[...]) == i)
            #expect(large.rank(small.element(at: i).member[...]) == i)
        }
        for s in stride(from: -1.0, through: 21, by: 0.5) {
            #expect(small.firstRank(score: s, exclusive: false) == large.firstRank(score: s, exclusive: false))
            #expect(small.firstRank(score: s, exclusive: true) == large.firstRank(score: s, exclusive: true))
        }
    }

    @Test func convertsAtThresholds() {
        var z = SortedSetValue()
        for i in 0..<3 { z.set(bytes("m\(i)"), Double(i), maxEntries: 3, maxValue: 10) }
        #expect(z.encodingName == "listpack")
        z.set(bytes("m3"), 3, maxEntries: 3, maxValue: 10)
        #expect(z.encodingName == "skiplist")
        var w = SortedSetValue()
        w.set(bytes("a-very-long-member"), 1, maxEntries: 128, maxValue: 5)
        #expect(w.encodingName == "skiplist")
    }
}

@Suite struct HashAndSetValueTests {
    @Test func hashKeepsInsertionOrderWhilePackedAndConverts() {
        var h = HashValue()
        let new1 = h.set(bytes("b"), bytes("1"), maxEntries: 3, maxValue: 8)
        let new2 = h.set(bytes("a"), bytes("2"), maxEntries: 3, maxValue: 8)
        let new3 = h.set(bytes("b"), bytes("3"), maxEntries: 3, maxValue: 8)
        #expect(new1 && new2 && !new3)
        #expect(h.pairs.map(\.0) == [bytes("b"), bytes("a")])
        #expect(h.encodingName == "listpack")
        h.set(bytes("c"), bytes("123456789"), maxEntries: 3, maxValue: 8)
        #expect(h.encodingName == "hashtable")
        #expect(h.get(bytes("b")[...]) == bytes("3") && h.count == 3)
        let first = h.remove(bytes("a")[...]), second = h.remove(bytes("a")[...])
        #expect(first && !second)
    }

    @Test func hashAgreesWithDictionary() {
        var h = HashValue()
        var model: [[UInt8]: [UInt8]] = [:]
        var rng = SystemRandomNumberGenerator()
        for i in 0..<3000 {
            let f = bytes("f\(Int.random(in: 0..<400, using: &rng))")
            if Bool.random(using: &rng) {
                h.set(f, bytes("\(i)"), maxEntries: 128, maxValue: 64)
                model[f] = bytes("\(i)")
            } else {
                let removed = h.remove(f[...])
                #expect(removed == (model.removeValue(forKey: f) != nil))
            }
        }
        #expect(h.count == model.count)
        for (f, v) in model { #expect(h.get(f[...]) == v) }
    }

    @Test func intsetStaysSortedAndConverts() {
        var s = SetValue()
        for v in [5, -3, 100, 5, 0] { s.add(bytes("\(v)")[...], maxIntsetEntries: 10) }
        #expect(s.encodingName == "intset")
        #expect(s.members == [bytes("-3"), bytes("0"), bytes("5"), bytes("100")])
        s.add(bytes("007")[...], maxIntsetEntries: 10)
        #expect(s.encodingName == "hashtable" && s.count == 5 && s.contains(bytes("-3")[...]))
        var t = SetValue()
        for v in 0..<4 { t.add(bytes("\(v)")[...], maxIntsetEntries: 3) }
        #expect(t.encodingName == "hashtable" && t.count == 4)
    }
}
