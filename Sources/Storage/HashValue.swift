/// A hash: a packed list of field/value pairs while small (Redis's "listpack", insertion order
/// kept), a hash table once it passes `hash-max-listpack-entries` or `-value`.
public struct HashValue: Sendable {
    /// field, value, field, value ... while packed.
    private var packed: [[UInt8]] = []
    private var table = ByteTable<[UInt8]>(vacant: [])
    public private(set) var isTable = false

    public init() {}

    public var count: Int { isTable ? table.count : packed.count / 2 }
    public var encodingName: String { isTable ? "hashtable" : "listpack" }

    private func packedIndex(_ field: ArraySlice<UInt8>) -> Int? {
        var i = 0
        while i < packed.count {
            if packed[i].elementsEqual(field) { return i }
            i += 2
        }
        return nil
    }

    public func get(_ field: ArraySlice<UInt8>) -> [UInt8]? {
        if isTable { return table.get(field) }
        return packedIndex(field).map { packed[$0 + 1] }
    }

    public func contains(_ field: ArraySlice<UInt8>) -> Bool { get(field) != nil }

    /// Sets a field; returns true when it is new. Converts to a table past the limits.
    @discardableResult
    public mutating func set(_ field: [UInt8], _ value: [UInt8], maxEntries: Int, maxValue: Int) -> Bool {
        if !isTable {
            if let i = packedIndex(field[...]) {
                packed[i + 1] = value
                if value.count > maxValue { convertToTable() }
                return false
            }
            packed.append(field)
            packed.append(value)
            if count > maxEntries || field.count > maxValue || value.count > maxValue { convertToTable() }
            return true
        }
        return table.set(field, value)
    }

    @discardableResult
    public mutating func remove(_ field: ArraySlice<UInt8>) -> Bool {
        if isTable { return table.remove(field) != nil }
        guard let i = packedIndex(field) else { return false }
        packed.removeSubrange(i...(i + 1))
        return true
    }

    private mutating func convertToTable() {
        var t = ByteTable<[UInt8]>(vacant: [])
        var i = 0
        while i < packed.count {
            t.set(packed[i], packed[i + 1])
            i += 2
        }
        table = t
        packed = []
        isTable = true
    }

    /// Every pair: insertion order while packed, table order after.
    public var pairs: [([UInt8], [UInt8])] {
        if isTable { return table.pairs }
        return stride(from: 0, to: packed.count, by: 2).map { (packed[$0], packed[$0 + 1]) }
    }

    public func randomPair<G: RandomNumberGenerator>(using rng: inout G) -> ([UInt8], [UInt8])? {
        guard count > 0 else { return nil }
        if isTable {
            let s = table.randomSlot(using: &rng)!
            return (table.keys[s], table.entries[s])
        }
        let i = Int.random(in: 0..<(packed.count / 2), using: &rng) * 2
        return (packed[i], packed[i + 1])
    }

    /// One step of HSCAN: a packed hash is returned whole with cursor 0, as Redis does.
    public func scan(cursor: UInt64, _ visit: ([UInt8], [UInt8]) -> Void) -> UInt64 {
        if !isTable {
            for (f, v) in pairs { visit(f, v) }
            return 0
        }
        return table.scan(cursor: cursor) { visit(table.keys[$0], table.entries[$0]) }
    }

    public var memoryUsage: Int {
        pairs.reduce(48) { $0 + $1.0.count + $1.1.count + (isTable ? 64 : 16) }
    }
}
