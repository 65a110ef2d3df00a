import Testing
@testable import Persistence
import Storage

@Suite struct StreamTests {
    /// A stream built by appends, deletes and trims, under limits that split nodes often.
    static func build(maxBytes: Int, maxEntries: Int, seed: UInt64) throws -> StreamValue {
        var rng = SeededGenerator(seed: seed)
        var s = StreamValue()
        var ms: UInt64 = 1
        for i in 0..<400 {
            ms += UInt64.random(in: 0...3, using: &rng)
            let id = s.nextID(given: StreamID(ms, 0), seqGiven: false, now: 0)!
            let same = Bool.random(using: &rng)
            let value: [UInt8] = Int.random(in: 0..<4, using: &rng) == 0
                ? [UInt8](repeating: 120, count: Int.random(in: 60...5000, using: &rng))
                : Array(String(Int.random(in: -100_000...100_000, using: &rng)).utf8)
            let fields: [[UInt8]] = same ? [Array("f".utf8), value] : [Array("k\(i % 3)".utf8), value, Array("n".utf8), Array("\(i)".utf8)]
            try s.append(id, fields, nodeMaxBytes: maxBytes, nodeMaxEntries: maxEntries)
            if i % 17 == 0 { _ = s.delete(s.range(.zero, .max, count: 3).last!.id) }
            if i % 53 == 0 { _ = s.trim(.maxLength(150), approximate: i % 2 == 0, limit: 0) }
        }
        return s
    }

    /// The size counted for each node while appending is the size of the listpack written.
    @Test(arguments: [(4096, 100), (120, 100), (4096, 3), (0, 0)])
    func nodeSizesAreTheListpackSizes(maxBytes: Int, maxEntries: Int) throws {
        let s = try Self.build(maxBytes: maxBytes, maxEntries: maxEntries, seed: 42)
        #expect(s.nodes.count > 1 || maxEntries == 0)
        for n in s.nodes { #expect(RDBStream.listpack(n).count == n.bytes) }
    }

    @Test func rdbRoundTripKeepsEverything() throws {
        var s = try Self.build(maxBytes: 300, maxEntries: 10, seed: 7)
        var g = ConsumerGroup(lastID: s.lastID, entriesRead: 12)
        g.consumers[Array("idle".utf8)] = StreamConsumer(seenTime: 5)
        for (i, e) in s.range(.zero, .max, count: 20).enumerated() {
            g.addPending(e.id, PendingEntry(consumer: Array("c\(i % 3)".utf8), deliveryTime: Int64(1000 + i), deliveryCount: Int64(i)))
        }
        s.groups[Array("g".utf8)] = g
        var w = RDBWriter()
        RDBValue.write(.stream(s), to: &w)
        var r = RDBReader(w.bytes)
        let type = try r.byte()
        guard case .stream(let back) = try RDBValue.read(type: type, from: &r, limits: EncodingLimits()) else {
            Issue.record("not a stream")
            return
        }
        #expect(back.length == s.length && back.lastID == s.lastID && back.firstID == s.firstID)
        #expect(back.maxDeletedID == s.maxDeletedID && back.entriesAdded == s.entriesAdded)
        #expect(back.range(.zero, .max).map(\.id) == s.range(.zero, .max).map(\.id))
        #expect(back.nodes.map(\.bytes) == s.nodes.map(\.bytes))
        let bg = back.groups[Array("g".utf8)]!
        #expect(bg.pendingIDs == g.pendingIDs && bg.entriesRead == 12 && bg.consumers.count == 4)
        for id in g.pendingIDs {
            #expect(bg.pending[id]!.consumer == g.pending[id]!.consumer)
            #expect(bg.pending[id]!.deliveryCount == g.pending[id]!.deliveryCount)
        }
    }

    @Test func corruptPayloadsAreRefused() {
        var w = RDBWriter()
        RDBValue.write(.stream((try? Self.build(maxBytes: 4096, maxEntries: 100, seed: 1)) ?? StreamValue()), to: &w)
        var rng = SeededGenerator(seed: 9)
        for _ in 0..<300 {
            var b = w.bytes
            let i = Int.random(in: 1..<b.count, using: &rng)
            b[i] ^= UInt8.random(in: 1...255, using: &rng)
            var r = RDBReader(b)
            // Anything but a crash: an error or some value.
            _ = try? RDBValue.read(type: try! r.byte(), from: &r, limits: EncodingLimits())
        }
    }
}

/// splitmix64, so failures reproduce.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
