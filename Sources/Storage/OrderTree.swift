#if canImport(Glibc)
import Glibc
#endif
/// The ordered half of a large sorted set: (score, member) pairs in Redis's order, with rank
/// and select in O(log n).
///
/// The pairs live in blocks of at most `capacity` (128), the blocks in order, each holding
/// its scores and its members in two arrays. A search binary-searches the blocks' last scores
/// (one small array) and then one block's scores: three or four cache misses at 100k pairs,
/// where the treap this replaced took one per level, about 23 (bench/README.md). A Fenwick
/// tree over the block sizes gives ranks. A split or a merge shifts the block list and
/// rebuilds that tree, O(n / 64); but a split leaves two half-full blocks and a merge needs a
/// block down to a quarter, so each split-and-merge is paid for by dozens of changes: a few
/// hundred word moves per change at a million members, a treap's O(log n) bound traded for
/// far fewer cache misses. It is all
/// arrays, so the whole structure is a value: a copy is O(1) and copy-on-write, which
/// fork-less snapshots rely on (DESIGN §5).
public struct OrderTree: Sendable {
    private struct Block: Sendable {
        var scores: [Double]
        var members: [[UInt8]]
    }
    private var blocks: [Block] = []
    /// Each block's last score, for the search across blocks.
    private var lastScores: [Double] = []
    /// Fenwick tree over the block sizes, 1-based (index 0 unused).
    private var sizes: [Int32] = [0]
    private var total = 0
    let capacity: Int

    public init() { self.init(capacity: 128) }

    /// A small capacity lets the tests split and merge blocks often.
    init(capacity: Int) {
        precondition(capacity >= 4, "OrderTree capacity below 4")
        self.capacity = capacity
    }

    public var count: Int { total }

    /// Redis's order: by score, then by member bytes.
    @inline(__always)
    public static func less(_ s1: Double, _ m1: [UInt8], _ s2: Double, _ m2: [UInt8]) -> Bool {
        if s1 != s2 { return s1 < s2 }
        return compareBytes(m1, m2) < 0
    }

    // MARK: search

    /// The first block whose last pair does not order before (s, m); blocks.count if none.
    private func block(for s: Double, _ m: [UInt8]) -> Int {
        var lo = 0, hi = blocks.count
        while lo < hi {
            let mid = (lo + hi) / 2
            let last = lastScores[mid]
            let before = last != s ? last < s : compareBytes(blocks[mid].members[blocks[mid].members.count - 1], m) < 0
            if before { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// The first position in block `b` whose pair does not order before (s, m).
    private func position(in b: Int, _ s: Double, _ m: [UInt8]) -> Int {
        var lo = 0, hi = blocks[b].scores.count
        while lo < hi {
            let mid = (lo + hi) / 2
            let x = blocks[b].scores[mid]
            let before = x != s ? x < s : compareBytes(blocks[b].members[mid], m) < 0
            if before { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    // MARK: block sizes

    private mutating func addSize(_ b: Int, _ delta: Int32) {
        var i = b + 1
        while i < sizes.count {
            sizes[i] += delta
            i += i & -i
        }
    }

    /// How many pairs the blocks before `b` hold.
    private func pairsBefore(_ b: Int) -> Int {
        var i = b, r = 0
        while i > 0 {
            r += Int(sizes[i])
            i -= i & -i
        }
        return r
    }

    /// Rebuilt in O(blocks) after a block is split, merged or dropped.
    private mutating func rebuildSizes() {
        let n = blocks.count
        var f = [Int32](repeating: 0, count: n + 1)
        if n > 0 {
            for i in 1...n {
                f[i] += Int32(blocks[i - 1].scores.count)
                let j = i + (i & -i)
                if j <= n { f[j] += f[i] }
            }
        }
        sizes = f
    }

    // MARK: changes

    /// Inserts (s, m), which must be absent.
    public mutating func insert(_ s: Double, _ m: [UInt8]) {
        total += 1
        if blocks.isEmpty {
            blocks = [Block(scores: [s], members: [m])]
            lastScores = [s]
            rebuildSizes()
            return
        }
        var b = block(for: s, m)
        if b == blocks.count { b -= 1 }
        let p = position(in: b, s, m)
        blocks[b].scores.insert(s, at: p)
        blocks[b].members.insert(m, at: p)
        if p == blocks[b].scores.count - 1 { lastScores[b] = s }
        if blocks[b].scores.count > capacity {
            split(b)
        } else {
            addSize(b, 1)
        }
    }

    private mutating func split(_ b: Int) {
        let half = blocks[b].scores.count / 2
        let right = Block(scores: Array(blocks[b].scores[half...]), members: Array(blocks[b].members[half...]))
        blocks[b].scores.removeSubrange(half...)
        blocks[b].members.removeSubrange(half...)
        lastScores[b] = blocks[b].scores[half - 1]
        blocks.insert(right, at: b + 1)
        lastScores.insert(right.scores[right.scores.count - 1], at: b + 1)
        rebuildSizes()
    }

    /// Where (s, m) is, if it is there.
    private func locate(_ s: Double, _ m: [UInt8]) -> (block: Int, position: Int)? {
        guard !blocks.isEmpty else { return nil }
        let b = block(for: s, m)
        guard b < blocks.count else { return nil }
        let p = position(in: b, s, m)
        guard p < blocks[b].scores.count, blocks[b].scores[p] == s, blocks[b].members[p] == m else { return nil }
        return (b, p)
    }

    /// Removes (s, m) if present.
    public mutating func remove(_ s: Double, _ m: [UInt8]) {
        if let (b, p) = locate(s, m) { remove(block: b, position: p) }
    }

    /// Removes (s, m), which must be present (its table said so).
    public mutating func removePresent(_ s: Double, _ m: [UInt8]) {
        guard let (b, p) = locate(s, m) else { preconditionFailure("OrderTree.removePresent: the pair is not there") }
        remove(block: b, position: p)
    }

    private mutating func remove(block b: Int, position p: Int) {
        total -= 1
        blocks[b].scores.remove(at: p)
        blocks[b].members.remove(at: p)
        let n = blocks[b].scores.count
        if n == 0 {
            blocks.remove(at: b)
            lastScores.remove(at: b)
            rebuildSizes()
            return
        }
        lastScores[b] = blocks[b].scores[n - 1]
        // A block down to a quarter takes in its right neighbour when both fit in one, so that
        // deletions do not leave many near-empty blocks behind.
        if n < capacity / 4, b + 1 < blocks.count, n + blocks[b + 1].scores.count <= capacity {
            let next = blocks.remove(at: b + 1)
            lastScores.remove(at: b + 1)
            blocks[b].scores.append(contentsOf: next.scores)
            blocks[b].members.append(contentsOf: next.members)
            lastScores[b] = next.scores[next.scores.count - 1]
            rebuildSizes()
            return
        }
        addSize(b, -1)
    }

    // MARK: order statistics

    /// 0-based rank of (s, m): how many pairs order before it.
    public func rank(_ s: Double, _ m: [UInt8]) -> Int {
        guard !blocks.isEmpty else { return 0 }
        let b = block(for: s, m)
        if b == blocks.count { return total }
        return pairsBefore(b) + position(in: b, s, m)
    }

    /// The pair at 0-based rank `k`.
    public func element(at k: Int) -> (score: Double, member: [UInt8]) {
        precondition(k >= 0 && k < total, "rank out of range")
        // Fenwick descent: the last block boundary at or below k.
        let n = blocks.count
        var step = 1
        while step * 2 <= n { step *= 2 }
        var b = 0, rest = k
        while step > 0 {
            let next = b + step
            if next <= n && Int(sizes[next]) <= rest {
                b = next
                rest -= Int(sizes[next])
            }
            step >>= 1
        }
        return (blocks[b].scores[rest], blocks[b].members[rest])
    }

    /// How many pairs have a score below `min` (or at most `min` when `exclusive`): the rank
    /// of the first pair inside a range that starts at `min`.
    public func countBelow(score min: Double, exclusive: Bool) -> Int {
        func below(_ x: Double) -> Bool { x < min || (exclusive && x == min) }
        return countWhile(lastOf: { below(lastScores[$0]) }, at: { below(blocks[$0].scores[$1]) })
    }

    /// As countBelow, comparing members only (lex ranges assume equal scores, as Redis).
    public func countBelow(member min: [UInt8], exclusive: Bool) -> Int {
        func below(_ m: [UInt8]) -> Bool {
            let c = compareBytes(m, min)
            return c < 0 || (exclusive && c == 0)
        }
        return countWhile(lastOf: { below(blocks[$0].members[blocks[$0].members.count - 1]) },
                          at: { below(blocks[$0].members[$1]) })
    }

    /// How many pairs, in order, satisfy a test that holds for a prefix of the order: blocks
    /// are skipped by their last pair (`lastOf`), then one block is searched (`at`).
    private func countWhile(lastOf: (Int) -> Bool, at: (Int, Int) -> Bool) -> Int {
        var lo = 0, hi = blocks.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if lastOf(mid) { lo = mid + 1 } else { hi = mid }
        }
        if lo == blocks.count { return total }
        var l = 0, h = blocks[lo].scores.count
        while l < h {
            let mid = (l + h) / 2
            if at(lo, mid) { l = mid + 1 } else { h = mid }
        }
        return pairsBefore(lo) + l
    }
}

/// memcmp order, shorter first on a common prefix (Redis's sdscmp).
@inline(__always)
public func compareBytes(_ a: [UInt8], _ b: [UInt8]) -> Int {
    let n = min(a.count, b.count)
    let c = a.withUnsafeBytes { pa in
        b.withUnsafeBytes { pb in n == 0 ? 0 : Int(memcmp(pa.baseAddress!, pb.baseAddress!, n)) }
    }
    if c != 0 { return c }
    return a.count - b.count
}
