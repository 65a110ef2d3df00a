#if canImport(Glibc)
import Glibc
#endif
/// The ordered half of a large sorted set: (score, member) pairs in Redis's order, with rank
/// and select in O(log n).
///
/// A treap whose nodes live in arrays and link by index, so the whole tree is a value: a copy
/// is O(1) and copy-on-write, which fork-less snapshots rely on (DESIGN §5).
public struct OrderTree: Sendable {
    /// What a descent reads at each level, together in 24 bytes: one cache line per level,
    /// where an array per field cost a miss per field (the members are read only on a tie).
    private struct Node {
        var score: Double
        var left: Int32
        var right: Int32
        var size: Int32
        var priority: UInt32
    }
    private var nodes: [Node] = []
    private var member: [[UInt8]] = []
    private var freeList: [Int32] = []
    private var root: Int32 = -1
    private var rng = RandomSource()

    public init() {}

    public var count: Int { root < 0 ? 0 : Int(nodes[Int(root)].size) }

    /// Redis's order: by score, then by member bytes.
    @inline(__always)
    public static func less(_ s1: Double, _ m1: [UInt8], _ s2: Double, _ m2: [UInt8]) -> Bool {
        if s1 != s2 { return s1 < s2 }
        return compareBytes(m1, m2) < 0
    }

    /// Whether (s, m) orders before node `i`; its member is read only when the scores tie.
    @inline(__always) private func before(_ s: Double, _ m: [UInt8], _ i: Int) -> Bool {
        let ns = nodes[i].score
        if s != ns { return s < ns }
        return compareBytes(m, member[i]) < 0
    }

    /// Whether node `i` orders before (s, m).
    @inline(__always) private func after(_ i: Int, _ s: Double, _ m: [UInt8]) -> Bool {
        let ns = nodes[i].score
        if s != ns { return ns < s }
        return compareBytes(member[i], m) < 0
    }

    @inline(__always) private func sz(_ n: Int32) -> Int32 { n < 0 ? 0 : nodes[Int(n)].size }

    private mutating func update(_ n: Int32) {
        let i = Int(n)
        nodes[i].size = 1 + sz(nodes[i].left) + sz(nodes[i].right)
    }

    private mutating func newNode(_ s: Double, _ m: [UInt8]) -> Int32 {
        let node = Node(score: s, left: -1, right: -1, size: 1, priority: UInt32(truncatingIfNeeded: rng.next()))
        if let n = freeList.popLast() {
            nodes[Int(n)] = node
            member[Int(n)] = m
            return n
        }
        nodes.append(node)
        member.append(m)
        return Int32(nodes.count - 1)
    }

    /// Splits `t` into the nodes ordered before (s, m) and the rest.
    private mutating func split(_ t: Int32, _ s: Double, _ m: [UInt8]) -> (Int32, Int32) {
        if t < 0 { return (-1, -1) }
        let i = Int(t)
        if after(i, s, m) {
            let (a, b) = split(nodes[i].right, s, m)
            nodes[i].right = a
            update(t)
            return (t, b)
        } else {
            let (a, b) = split(nodes[i].left, s, m)
            nodes[i].left = b
            update(t)
            return (a, t)
        }
    }

    private mutating func merge(_ a: Int32, _ b: Int32) -> Int32 {
        if a < 0 { return b }
        if b < 0 { return a }
        if nodes[Int(a)].priority > nodes[Int(b)].priority {
            nodes[Int(a)].right = merge(nodes[Int(a)].right, b)
            update(a)
            return a
        } else {
            nodes[Int(b)].left = merge(a, nodes[Int(b)].left)
            update(b)
            return b
        }
    }

    /// Inserts (s, m), which must be absent: down the path while the nodes outrank the new
    /// one (each subtree there grows by one), then the new node takes the place of the rest,
    /// split around it. Only that small subtree is split, not the whole path.
    public mutating func insert(_ s: Double, _ m: [UInt8]) {
        let n = newNode(s, m)
        let p = nodes[Int(n)].priority
        var parent: Int32 = -1, goLeft = false
        var t = root
        while t >= 0 && nodes[Int(t)].priority > p {
            nodes[Int(t)].size += 1
            parent = t
            goLeft = before(s, m, Int(t))
            t = goLeft ? nodes[Int(t)].left : nodes[Int(t)].right
        }
        let (a, b) = split(t, s, m)
        nodes[Int(n)].left = a
        nodes[Int(n)].right = b
        update(n)
        attach(n, under: parent, left: goLeft)
    }

    private mutating func attach(_ n: Int32, under parent: Int32, left toLeft: Bool) {
        if parent < 0 {
            root = n
        } else if toLeft {
            nodes[Int(parent)].left = n
        } else {
            nodes[Int(parent)].right = n
        }
    }

    /// Removes (s, m) if present: its subtrees, merged, take its place; the subtrees above
    /// shrink by one.
    public mutating func remove(_ s: Double, _ m: [UInt8]) {
        var t = root
        while t >= 0 {
            let i = Int(t)
            if nodes[i].score == s && member[i] == m { break }
            t = before(s, m, i) ? nodes[i].left : nodes[i].right
        }
        guard t >= 0 else { return }
        var parent: Int32 = -1, goLeft = false
        var u = root
        while u != t {
            nodes[Int(u)].size -= 1
            parent = u
            goLeft = before(s, m, Int(u))
            u = goLeft ? nodes[Int(u)].left : nodes[Int(u)].right
        }
        attach(merge(nodes[Int(t)].left, nodes[Int(t)].right), under: parent, left: goLeft)
        member[Int(t)] = []
        freeList.append(t)
    }

    /// Removes (s, m), which must be present (its table said so): one walk down, shrinking
    /// each subtree on the way, where remove() walks once to find it and again to shrink.
    public mutating func removePresent(_ s: Double, _ m: [UInt8]) {
        var parent: Int32 = -1, goLeft = false
        var t = root
        while t >= 0 {
            let i = Int(t)
            if nodes[i].score == s && member[i] == m { break }
            nodes[i].size -= 1
            parent = t
            goLeft = before(s, m, i)
            t = goLeft ? nodes[i].left : nodes[i].right
        }
        precondition(t >= 0, "OrderTree.removePresent: the pair is not in the tree")
        attach(merge(nodes[Int(t)].left, nodes[Int(t)].right), under: parent, left: goLeft)
        member[Int(t)] = []
        freeList.append(t)
    }

    /// 0-based rank of (s, m): how many pairs order before it.
    public func rank(_ s: Double, _ m: [UInt8]) -> Int {
        var t = root
        var r = 0
        while t >= 0 {
            let i = Int(t)
            if after(i, s, m) {
                r += Int(sz(nodes[i].left)) + 1
                t = nodes[i].right
            } else {
                t = nodes[i].left
            }
        }
        return r
    }

    /// The pair at 0-based rank `k`.
    public func element(at k: Int) -> (score: Double, member: [UInt8]) {
        var t = root
        var k = Int32(k)
        while t >= 0 {
            let i = Int(t)
            let ls = sz(nodes[i].left)
            if k < ls {
                t = nodes[i].left
            } else if k == ls {
                return (nodes[i].score, member[i])
            } else {
                k -= ls + 1
                t = nodes[i].right
            }
        }
        preconditionFailure("rank out of range")
    }

    /// How many pairs have a score below `min` (or at most `min` when `exclusive`): the rank
    /// of the first pair inside a range that starts at `min`.
    public func countBelow(score min: Double, exclusive: Bool) -> Int {
        var t = root
        var r = 0
        while t >= 0 {
            let i = Int(t)
            let ns = nodes[i].score
            if ns < min || (exclusive && ns == min) {
                r += Int(sz(nodes[i].left)) + 1
                t = nodes[i].right
            } else {
                t = nodes[i].left
            }
        }
        return r
    }

    /// As countBelow, comparing members only (lex ranges assume equal scores, as Redis).
    public func countBelow(member min: [UInt8], exclusive: Bool) -> Int {
        var t = root
        var r = 0
        while t >= 0 {
            let i = Int(t)
            let c = compareBytes(member[i], min)
            if c < 0 || (exclusive && c == 0) {
                r += Int(sz(nodes[i].left)) + 1
                t = nodes[i].right
            } else {
                t = nodes[i].left
            }
        }
        return r
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
