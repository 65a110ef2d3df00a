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
    /// Derived from the box, so that a SortedSetValue is two pointers and fits in a Value unboxed.
    public var isSkiplist: Bool { large != nil }

    public init() {}

    /// The large form, read in place (see CowBox.peek); `body` must not write.
    @inline(__always) private func peekLarge<R>(_ body: (inout Large) -> R) -> R { large!.peek(body) }

    /// The large form, written in place (created on first use).
    @inline(__always) private mutating func modifyLarge<R>(_ body: (inout Large) -> R) -> R {
        if large == nil { large = CowBox(Large()) }
        return large!.modify(body)
    }

    public var count: Int { isSkiplist ? peekLarge { $0.dict.count } : packed.count }
    public var encodingName: String { isSkiplist ? "skiplist" : "listpack" }

    public func score(_ member: ArraySlice<UInt8>) -> Double? {
        if isSkiplist {
            return member.withUnsafeBytes { m in
                peekLarge { l in l.dict.findInPlace(m, hash: ByteTable<Double>.hash(m)).map { l.dict.entries[$0] } }
            }
        }
        return packed.first { $0.member.count == member.count && $0.member.elementsEqual(member) }?.score
    }

    private func packedRank(_ s: Double, _ m: [UInt8]) -> Int {
        var lo = 0, hi = packed.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if OrderTree.less(packed[mid].score, packed[mid].member, s, m) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// A score as the packed form keeps it. Redis's listpack stores an integral score as an
    /// integer (double2ll), so a -0 in a small sorted set reads back as 0; the skiplist form
    /// keeps the double, -0 included.
    @inline(__always) private static func packedScore(_ s: Double) -> Double { s == 0 ? 0 : s }

    /// Adds or updates a member; returns true when it is new.
    @discardableResult
    public mutating func set(_ member: [UInt8], _ score: Double, maxEntries: Int, maxValue: Int) -> Bool {
        if isSkiplist { return setLarge(member, score) }
        if let i = packed.firstIndex(where: { $0.member == member }) {
            if packed[i].score == score { return false }
            packed.remove(at: i)
            let score = Self.packedScore(score)
            packed.insert((score, member), at: packedRank(score, member))
            return false
        }
        if packed.count + 1 > maxEntries || member.count > maxValue {
            convertToSkiplist()
            return setLarge(member, score)
        }
        let score = Self.packedScore(score)
        packed.insert((score, member), at: packedRank(score, member))
        return true
    }

    /// ZADD's step for one member, with one lookup: `decide` gets the member's score (nil when
    /// absent) and returns the score to store, or nil to leave things as they are. Returns the
    /// score before and the score stored (nil when nothing was stored).
    public mutating func update(_ member: ArraySlice<UInt8>, maxEntries: Int, maxValue: Int,
                                _ decide: (Double?) -> Double?) -> (old: Double?, new: Double?) {
        if !isSkiplist {
            if let i = packed.firstIndex(where: { $0.member.count == member.count && $0.member.elementsEqual(member) }) {
                let old = packed[i].score
                guard let s = decide(old) else { return (old, nil) }
                if s != old {
                    let m = packed.remove(at: i).member
                    let stored = Self.packedScore(s)
                    packed.insert((stored, m), at: packedRank(stored, m))
                }
                return (old, s)
            }
            guard let s = decide(nil) else { return (nil, nil) }
            set(Array(member), s, maxEntries: maxEntries, maxValue: maxValue)
            return (nil, s)
        }
        return member.withUnsafeBytes { raw in
            let h = ByteTable<Double>.hash(raw)
            // Looked up through a read, so that a shared large form (a snapshot's) is copied
            // only when something is written.
            let found = peekLarge { l in l.dict.findInPlace(raw, hash: h).map { (slot: $0, score: l.dict.entries[$0]) } }
            guard let s = decide(found?.score) else { return (found?.score, nil) }
            if let found {
                if s != found.score {
                    modifyLarge { l in
                        l.dict.entries[found.slot] = s
                        let m = Array(member)
                        l.tree.removePresent(found.score, m)
                        l.tree.insert(s, m)
                    }
                }
                return (found.score, s)
            }
            modifyLarge { l in
                l.dict.insert(key: raw, hash: h, entry: s)
                l.tree.insert(s, Array(member))
            }
            return (nil, s)
        }
    }

    /// set() on the large form: one table lookup whether the member is new or not; a new score
    /// updates the table slot in place and moves the member in the tree.
    private mutating func setLarge(_ member: [UInt8], _ score: Double) -> Bool {
        member.withUnsafeBytes { m in
            let h = ByteTable<Double>.hash(m)
            return modifyLarge { l in
                if let slot = l.dict.findInPlace(m, hash: h) {
                    let old = l.dict.entries[slot]
                    if old == score { return false }
                    l.dict.entries[slot] = score
                    l.tree.removePresent(old, member)
                    l.tree.insert(score, member)
                    return false
                }
                l.dict.insert(key: m, hash: h, entry: score)
                l.tree.insert(score, member)
                return true
            }
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
    }

    /// 0-based rank in ascending order.
    public func rank(_ member: ArraySlice<UInt8>) -> Int? {
        guard let s = score(member) else { return nil }
        let m = Array(member)
        return isSkiplist ? peekLarge { $0.tree.rank(s, m) } : packedRank(s, m)
    }

    public func element(at rank: Int) -> (score: Double, member: [UInt8]) {
        isSkiplist ? peekLarge { $0.tree.element(at: rank) } : packed[rank]
    }

    /// Rank of the first element with score >= min (> min when exclusive).
    public func firstRank(score min: Double, exclusive: Bool) -> Int {
        if isSkiplist { return peekLarge { $0.tree.countBelow(score: min, exclusive: exclusive) } }
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
        if isSkiplist { return peekLarge { $0.tree.countBelow(member: min, exclusive: exclusive) } }
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
        return peekLarge { l in (start...end).map { l.tree.element(at: $0) } }
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
