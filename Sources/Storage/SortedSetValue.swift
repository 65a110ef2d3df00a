/// A sorted set: a sorted array of (score, member) while small (Redis's "listpack"), a
/// member→score table plus an OrderTree once it passes `zset-max-listpack-entries` or `-value`
/// (Redis's "skiplist"). Rank and range are O(log n) on the large form.
public struct SortedSetValue: Sendable {
    private var packed: [(score: Double, member: [UInt8])] = []
    /// The skiplist form (member table and ordered tree), boxed: nil while packed, so a small
    /// sorted set does not carry an empty table and tree.
    private struct Large: Sendable {
        var dict = ByteTable<Double>(vacant: 0)
        var tree = OrderTree()
    }
    private var large: CowBox<Large>? = nil
    private static let noLarge = Large()
    private var dict: ByteTable<Double> {
        _read {
            if large != nil { yield large!.value.dict } else { yield Self.noLarge.dict }
        }
        _modify {
            if large == nil { large = CowBox(Large()) }
            yield &large!.value.dict
        }
    }
    private var tree: OrderTree {
        _read {
            if large != nil { yield large!.value.tree } else { yield Self.noLarge.tree }
        }
        _modify {
            if large == nil { large = CowBox(Large()) }
            yield &large!.value.tree
        }
    }
    public private(set) var isSkiplist = false

    public init() {}

    public var count: Int { isSkiplist ? dict.count : packed.count }
    public var encodingName: String { isSkiplist ? "skiplist" : "listpack" }

    public func score(_ member: ArraySlice<UInt8>) -> Double? {
        if isSkiplist { return dict.get(member) }
        return packed.first { $0.member.elementsEqual(member) }?.score
    }

    private func packedRank(_ s: Double, _ m: [UInt8]) -> Int {
        var lo = 0, hi = packed.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if OrderTree.less(packed[mid].score, packed[mid].member, s, m) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Adds or updates a member; returns true when it is new.
    @discardableResult
    public mutating func set(_ member: [UInt8], _ score: Double, maxEntries: Int, maxValue: Int) -> Bool {
        // A new score for a member of the large form: its table slot is updated in place (one
        // lookup, where removing and adding it again would take three) and it moves in the tree.
        if isSkiplist, let slot = dict.find(member) {
            let old = dict.entries[slot]
            if old == score { return false }
            dict.entries[slot] = score
            tree.remove(old, member)
            tree.insert(score, member)
            return false
        }
        if let old = self.score(member[...]) {
            if old == score { return false }
            removeKnown(member, old)
            insertNew(member, score)
            return false
        }
        if !isSkiplist && (packed.count + 1 > maxEntries || member.count > maxValue) { convertToSkiplist() }
        insertNew(member, score)
        return true
    }

    private mutating func insertNew(_ m: [UInt8], _ s: Double) {
        if isSkiplist {
            dict.set(m, s)
            tree.insert(s, m)
        } else {
            packed.insert((s, m), at: packedRank(s, m))
        }
    }

    private mutating func removeKnown(_ m: [UInt8], _ s: Double) {
        if isSkiplist {
            dict.remove(m[...])
            tree.remove(s, m)
        } else {
            packed.remove(at: packedRank(s, m))
        }
    }

    @discardableResult
    public mutating func remove(_ member: ArraySlice<UInt8>) -> Bool {
        guard let s = score(member) else { return false }
        removeKnown(Array(member), s)
        return true
    }

    /// Converts to the large form now (Redis's SORT does this to any sorted set it reads).
    public mutating func convertToSkiplist() {
        guard !isSkiplist else { return }
        for (s, m) in packed {
            dict.set(m, s)
            tree.insert(s, m)
        }
        packed = []
        isSkiplist = true
    }

    /// 0-based rank in ascending order.
    public func rank(_ member: ArraySlice<UInt8>) -> Int? {
        guard let s = score(member) else { return nil }
        let m = Array(member)
        return isSkiplist ? tree.rank(s, m) : packedRank(s, m)
    }

    public func element(at rank: Int) -> (score: Double, member: [UInt8]) {
        isSkiplist ? tree.element(at: rank) : packed[rank]
    }

    /// Rank of the first element with score >= min (> min when exclusive).
    public func firstRank(score min: Double, exclusive: Bool) -> Int {
        if isSkiplist { return tree.countBelow(score: min, exclusive: exclusive) }
        var lo = 0, hi = packed.count
        while lo < hi {
            let mid = (lo + hi) / 2
            let s = packed[mid].score
            if s < min || (exclusive && s == min) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Rank of the first element with member >= min (> min when exclusive), for lex ranges.
    public func firstRank(member min: [UInt8], exclusive: Bool) -> Int {
        if isSkiplist { return tree.countBelow(member: min, exclusive: exclusive) }
        var lo = 0, hi = packed.count
        while lo < hi {
            let mid = (lo + hi) / 2
            let c = compareBytes(packed[mid].member, min)
            if c < 0 || (exclusive && c == 0) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Elements with ranks in start...end, ascending.
    public func range(_ start: Int, _ end: Int) -> [(score: Double, member: [UInt8])] {
        guard start <= end else { return [] }
        if !isSkiplist { return Array(packed[start...end]) }
        return (start...end).map { tree.element(at: $0) }
    }

    public func scan(cursor: UInt64, _ visit: ([UInt8], Double) -> Void) -> UInt64 {
        if !isSkiplist {
            for (s, m) in packed { visit(m, s) }
            return 0
        }
        return dict.scan(cursor: cursor) { visit(dict.key(at: $0), dict.entries[$0]) }
    }

    public func randomElement<G: RandomNumberGenerator>(using rng: inout G) -> (score: Double, member: [UInt8])? {
        guard count > 0 else { return nil }
        return element(at: Int.random(in: 0..<count, using: &rng))
    }

    public var memoryUsage: Int {
        isSkiplist ? 64 + count * 96 : 16 + (0..<count).reduce(0) { $0 + element(at: $1).member.count + 12 }
    }
}
