#if canImport(Glibc)
import Glibc
#endif
/// The ordered half of a large sorted set: (score, member) pairs in Redis's order, with rank
/// and select in O(log n).
///
/// A treap whose nodes live in arrays and link by index, so the whole tree is a value: a copy
/// is O(1) and copy-on-write, which fork-less snapshots rely on (DESIGN §5).
public struct OrderTree: Sendable {
    private var score: [Double] = []
    private var member: [[UInt8]] = []
    private var left: [Int32] = []
    private var right: [Int32] = []
    private var size: [Int32] = []
    private var priority: [UInt32] = []
    private var freeList: [Int32] = []
    private var root: Int32 = -1

    public init() {}

    public var count: Int { root < 0 ? 0 : Int(size[Int(root)]) }

    /// Redis's order: by score, then by member bytes.
    @inline(__always)
    public static func less(_ s1: Double, _ m1: [UInt8], _ s2: Double, _ m2: [UInt8]) -> Bool {
        if s1 != s2 { return s1 < s2 }
        return compareBytes(m1, m2) < 0
    }

    @inline(__always) private func sz(_ n: Int32) -> Int32 { n < 0 ? 0 : size[Int(n)] }

    private mutating func update(_ n: Int32) {
        size[Int(n)] = 1 + sz(left[Int(n)]) + sz(right[Int(n)])
    }

    private mutating func newNode(_ s: Double, _ m: [UInt8]) -> Int32 {
        let p = UInt32.random(in: 0...UInt32.max)
        if let n = freeList.popLast() {
            let i = Int(n)
            score[i] = s; member[i] = m; left[i] = -1; right[i] = -1; size[i] = 1; priority[i] = p
            return n
        }
        score.append(s); member.append(m); left.append(-1); right.append(-1); size.append(1); priority.append(p)
        return Int32(score.count - 1)
    }

    /// Splits `t` into the nodes ordered before (s, m) and the rest.
    private mutating func split(_ t: Int32, _ s: Double, _ m: [UInt8]) -> (Int32, Int32) {
        if t < 0 { return (-1, -1) }
        let i = Int(t)
        if Self.less(score[i], member[i], s, m) {
            let (a, b) = split(right[i], s, m)
            right[i] = a
            update(t)
            return (t, b)
        } else {
            let (a, b) = split(left[i], s, m)
            left[i] = b
            update(t)
            return (a, t)
        }
    }

    private mutating func merge(_ a: Int32, _ b: Int32) -> Int32 {
        if a < 0 { return b }
        if b < 0 { return a }
        if priority[Int(a)] > priority[Int(b)] {
            right[Int(a)] = merge(right[Int(a)], b)
            update(a)
            return a
        } else {
            left[Int(b)] = merge(a, left[Int(b)])
            update(b)
            return b
        }
    }

    /// Inserts (s, m), which must be absent: down the path while the nodes outrank the new
    /// one (each subtree there grows by one), then the new node takes the place of the rest,
    /// split around it. Only that small subtree is split, not the whole path.
    public mutating func insert(_ s: Double, _ m: [UInt8]) {
        let n = newNode(s, m)
        let p = priority[Int(n)]
        var parent: Int32 = -1, goLeft = false
        var t = root
        while t >= 0 && priority[Int(t)] > p {
            size[Int(t)] += 1
            parent = t
            goLeft = Self.less(s, m, score[Int(t)], member[Int(t)])
            t = goLeft ? left[Int(t)] : right[Int(t)]
        }
        let (a, b) = split(t, s, m)
        left[Int(n)] = a
        right[Int(n)] = b
        update(n)
        attach(n, under: parent, left: goLeft)
    }

    private mutating func attach(_ n: Int32, under parent: Int32, left toLeft: Bool) {
        if parent < 0 {
            root = n
        } else if toLeft {
            left[Int(parent)] = n
        } else {
            right[Int(parent)] = n
        }
    }

    /// Removes (s, m) if present: its subtrees, merged, take its place; the subtrees above
    /// shrink by one.
    public mutating func remove(_ s: Double, _ m: [UInt8]) {
        var t = root
        while t >= 0 {
            let i = Int(t)
            if score[i] == s && member[i] == m { break }
            t = Self.less(s, m, score[i], member[i]) ? left[i] : right[i]
        }
        guard t >= 0 else { return }
        var parent: Int32 = -1, goLeft = false
        var u = root
        while u != t {
            size[Int(u)] -= 1
            parent = u
            goLeft = Self.less(s, m, score[Int(u)], member[Int(u)])
            u = goLeft ? left[Int(u)] : right[Int(u)]
        }
        attach(merge(left[Int(t)], right[Int(t)]), under: parent, left: goLeft)
        member[Int(t)] = []
        freeList.append(t)
    }

    /// 0-based rank of (s, m): how many pairs order before it.
    public func rank(_ s: Double, _ m: [UInt8]) -> Int {
        var t = root
        var r = 0
        while t >= 0 {
            let i = Int(t)
            if Self.less(score[i], member[i], s, m) {
                r += Int(sz(left[i])) + 1
                t = right[i]
            } else {
                t = left[i]
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
            let ls = sz(left[i])
            if k < ls { t = left[i] } else if k == ls { return (score[i], member[i]) } else { k -= ls + 1; t = right[i] }
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
            if score[i] < min || (exclusive && score[i] == min) {
                r += Int(sz(left[i])) + 1
                t = right[i]
            } else {
                t = left[i]
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
                r += Int(sz(left[i])) + 1
                t = right[i]
            } else {
                t = left[i]
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
