/// A set: a sorted array of integers while every member is one and there are at most
/// `set-max-intset-entries` (Redis's "intset"), a hash table otherwise.
public struct SetValue: Sendable {
    private var ints: [Int] = []
    /// The table form, boxed: nil while an intset, so a small set does not carry an empty table.
    private var tableBox: CowBox<ByteTable<Bool>>? = nil
    private static let noTable = ByteTable<Bool>(vacant: false)
    private var table: ByteTable<Bool> {
        _read {
            if tableBox != nil { yield tableBox!.value } else { yield Self.noTable }
        }
        _modify {
            if tableBox == nil { tableBox = CowBox(ByteTable(vacant: false)) }
            yield &tableBox!.value
        }
    }
    /// Derived from the box, so that a SetValue is two pointers and fits in a Value unboxed.
    public var isTable: Bool { tableBox != nil }

    public init() {}

    public var count: Int { isTable ? tableBox!.peek { $0.count } : ints.count }
    public var encodingName: String { isTable ? "hashtable" : "intset" }

    private func intIndex(_ v: Int) -> (found: Bool, index: Int) {
        var lo = 0, hi = ints.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ints[mid] < v { lo = mid + 1 } else { hi = mid }
        }
        return (lo < ints.count && ints[lo] == v, lo)
    }

    public func contains(_ member: ArraySlice<UInt8>) -> Bool {
        if isTable { return tableBox!.peek { $0.containsInPlace(member) } }
        guard let v = parseCanonicalInt(member) else { return false }
        return intIndex(v).found
    }

    /// Adds a member; returns true when it is new.
    @discardableResult
    public mutating func add(_ member: ArraySlice<UInt8>, maxIntsetEntries: Int) -> Bool {
        if !isTable {
            if let v = parseCanonicalInt(member) {
                let (found, i) = intIndex(v)
                if found { return false }
                ints.insert(v, at: i)
                if ints.count > maxIntsetEntries { convertToTable() }
                return true
            }
            convertToTable()
        }
        return tableBox!.modify { $0.insertIfAbsent(member, true) }
    }

    @discardableResult
    public mutating func remove(_ member: ArraySlice<UInt8>) -> Bool {
        if isTable { return tableBox!.modify { $0.remove(member) != nil } }
        guard let v = parseCanonicalInt(member) else { return false }
        let (found, i) = intIndex(v)
        if found { ints.remove(at: i) }
        return found
    }

    private mutating func convertToTable() {
        var t = ByteTable<Bool>(vacant: false)
        for v in ints { t.set(Array(String(v).utf8), true) }
        table = t
        ints = []
    }

    /// Every member: ascending for an intset, table order after.
    public var members: [[UInt8]] {
        if isTable { return table.occupiedSlots.map { table.key(at: $0) } }
        return ints.map { Array(String($0).utf8) }
    }

    public func randomMember<G: RandomNumberGenerator>(using rng: inout G) -> [UInt8]? {
        guard count > 0 else { return nil }
        if isTable { return table.key(at: table.randomSlot(using: &rng)!) }
        return Array(String(ints[Int.random(in: 0..<ints.count, using: &rng)]).utf8)
    }

    public func scan(cursor: UInt64, _ visit: ([UInt8]) -> Void) -> UInt64 {
        if !isTable {
            for m in members { visit(m) }
            return 0
        }
        return table.scan(cursor: cursor) { visit(table.key(at: $0)) }
    }

    public var memoryUsage: Int {
        isTable ? members.reduce(48) { $0 + $1.count + 64 } : 16 + ints.count * 8
    }
}
