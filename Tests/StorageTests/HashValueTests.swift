import Testing
@testable import Storage

@Suite struct HashValueTests {
    /// Random sets and removes against a model, with binary bytes and lengths that need
    /// multi-byte length headers, in the packed form and across the conversion to a table.
    @Test(arguments: [8, 512])
    func randomOperationsAgreeWithModel(maxEntries: Int) {
        var rng = SystemRandomNumberGenerator()
        var h = HashValue()
        var model: [[UInt8]: [UInt8]] = [:]
        var order: [[UInt8]] = []
        func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) } }
        let fields = (0..<40).map { i in i % 5 == 0 ? bytes(Int.random(in: 120...300, using: &rng)) : bytes(i % 7) + [UInt8(i)] }
        for _ in 0..<3000 {
            let f = fields.randomElement(using: &rng)!
            if Bool.random(using: &rng) {
                let v = Bool.random(using: &rng) ? bytes(Int.random(in: 0...20, using: &rng)) : bytes(Int.random(in: 100...200, using: &rng))
                let new = h.set(f, v, maxEntries: maxEntries, maxValue: 1 << 20)
                #expect(new == (model[f] == nil))
                if model[f] == nil { order.append(f) }
                model[f] = v
            } else {
                #expect(h.remove(f[...]) == (model[f] != nil))
                if model.removeValue(forKey: f) != nil { order.removeAll { $0 == f } }
            }
            #expect(h.count == model.count)
            #expect(h.get(f[...]) == model[f])
        }
        for (f, v) in model { #expect(h.get(f[...]) == v) }
        if !h.isTable {
            #expect(h.pairs.map(\.0) == order)   // insertion order while packed
        }
        #expect(Set(h.pairs.map(\.0)) == Set(model.keys))
    }

    /// A field overwritten in place (FieldValue.assign) must not show through a copy of the
    /// hash (a snapshot's) or a value read before the write; short values (kept in the
    /// table) and long ones (rewritten in their arrays) both, and one turning into the other.
    @Test(arguments: [0, 20, 100])
    func overwritesLeaveCopiesAlone(padding: Int) {
        let pad = String(repeating: "p", count: padding)
        var h = HashValue()
        for i in 0..<100 { h.set(Array("f\(i)".utf8), Array("v\(i)\(pad)".utf8), maxEntries: 8, maxValue: 1024) }
        #expect(h.isTable)
        let snapshot = h
        let read = h.get(Array("f7".utf8)[...])
        for i in 0..<100 {
            let v = i % 3 == 0 ? "w\(i)" : "w\(i)\(pad)"
            h.set(Array("f\(i)".utf8)[...], Array(v.utf8)[...], maxEntries: 8, maxValue: 1024)
        }
        #expect(read == Array("v7\(pad)".utf8))
        for i in 0..<100 {
            #expect(snapshot.get(Array("f\(i)".utf8)[...]) == Array("v\(i)\(pad)".utf8))
            #expect(h.get(Array("f\(i)".utf8)[...]) == Array((i % 3 == 0 ? "w\(i)" : "w\(i)\(pad)").utf8))
        }
        // A long value replaced by a short one gets an array of its own size again.
        h.set(Array("f1".utf8)[...], [UInt8](repeating: 120, count: 4000)[...], maxEntries: 8, maxValue: 1 << 20)
        h.set(Array("f1".utf8)[...], Array("x".utf8)[...], maxEntries: 8, maxValue: 1 << 20)
        #expect(h.get(Array("f1".utf8)[...]) == Array("x".utf8))
    }
}
