/// A hash: a packed list of field/value pairs while small (Redis's "listpack", insertion order
/// kept), a hash table once it passes `hash-max-listpack-entries` or `-value`.
///
/// Packed, the pairs live in one byte buffer (each element a LEB128 length and its bytes), so
/// a small hash costs one allocation rather than one per field and value.
public struct HashValue: Sendable {
    private var packed = PackedElements()
    /// The table form, boxed: nil while packed, so a small hash does not carry an empty table.
    private var tableBox: CowBox<ByteTable<ElementBytes>>? = nil
    private static let noTable = ByteTable<ElementBytes>(vacant: .empty)
    /// Two pointers wide, so that a hash fits in a Value without a box of its own.
    public var isTable: Bool { tableBox != nil }
    private var table: ByteTable<ElementBytes> {
        _read {
            if tableBox != nil { yield tableBox!.value } else { yield Self.noTable }
        }
        _modify {
            if tableBox == nil { tableBox = CowBox(ByteTable(vacant: .empty)) }
            yield &tableBox!.value
        }
    }

    public init() {}

    public var count: Int { isTable ? tableBox!.peek { $0.count } : packed.count / 2 }
    public var encodingName: String { isTable ? "hashtable" : "listpack" }

    public func get(_ field: ArraySlice<UInt8>) -> [UInt8]? {
        if isTable { return tableBox!.peek { $0.getInPlace(field)?.bytes } }
        return packed.pairValue(of: field).map { Array(packed.bytes[$0.range]) }
    }

    public func contains(_ field: ArraySlice<UInt8>) -> Bool {
        isTable ? tableBox!.peek { $0.getInPlace(field) != nil } : packed.pairValue(of: field) != nil
    }

    /// Sets a field; returns true when it is new. Converts to a table past the limits.
    @discardableResult
    public mutating func set(_ field: [UInt8], _ value: [UInt8], maxEntries: Int, maxValue: Int) -> Bool {
        set(field[...], value[...], maxEntries: maxEntries, maxValue: maxValue)
    }

    /// As above from argument slices: the field is copied only into the packed bytes or the
    /// table's key arena, and a table's value is kept in the table's entry (ElementBytes), so
    /// overwriting a field allocates nothing.
    @discardableResult
    public mutating func set(_ field: ArraySlice<UInt8>, _ value: ArraySlice<UInt8>, maxEntries: Int, maxValue: Int) -> Bool {
        if !isTable {
            if let r = packed.pairValue(of: field) {
                packed.replace(r, with: value)
                if value.count > maxValue { convertToTable() }
                return false
            }
            packed.append(field)
            packed.append(value)
            if count > maxEntries || field.count > maxValue || value.count > maxValue { convertToTable() }
            return true
        }
        return tableBox!.modify { $0.setField(field, value) }
    }

    @discardableResult
    public mutating func remove(_ field: ArraySlice<UInt8>) -> Bool {
        if isTable { return tableBox!.modify { $0.remove(field) != nil } }
        return packed.removePair(field)
    }

    private mutating func convertToTable() {
        var t = ByteTable<ElementBytes>(vacant: .empty)
        for (f, v) in packed.pairs() { t.set(f, ElementBytes(v)) }
        table = t
        packed = PackedElements()
    }

    /// Every pair: insertion order while packed, table order after.
    public var pairs: [([UInt8], [UInt8])] {
        if isTable { return table.pairs.map { ($0.0, $0.1.bytes) } }
        return packed.pairs()
    }

    public func randomPair<G: RandomNumberGenerator>(using rng: inout G) -> ([UInt8], [UInt8])? {
        guard count > 0 else { return nil }
        if isTable {
            let s = table.randomSlot(using: &rng)!
            return (table.key(at: s), table.entries[s].bytes)
        }
        return packed.pair(Int.random(in: 0..<(packed.count / 2), using: &rng))
    }

    /// One step of HSCAN: a packed hash is returned whole with cursor 0, as Redis does.
    public func scan(cursor: UInt64, _ visit: ([UInt8], [UInt8]) -> Void) -> UInt64 {
        if !isTable {
            for (f, v) in pairs { visit(f, v) }
            return 0
        }
        return table.scan(cursor: cursor) { visit(table.key(at: $0), table.entries[$0].bytes) }
    }

    /// An estimate, as MEMORY USAGE's: packed, each element's bytes and length; in the table,
    /// each field's key bytes, its 24-byte value (plus the array of a long one) and its slot.
    public var memoryUsage: Int {
        if isTable {
            return tableBox!.peek { t in
                t.occupiedSlots.reduce(48) { $0 + t.keyLength(at: $1) + 1 + 24 + 16 + t.entries[$1].heapBytes }
            }
        }
        return pairs.reduce(48) { $0 + $1.0.count + $1.1.count + 16 }
    }
}

extension ByteTable where Value == ElementBytes {
    /// Sets `key` to `value`; returns true when the key was new.
    mutating func setField(_ key: ArraySlice<UInt8>, _ value: ArraySlice<UInt8>) -> Bool {
        key.withUnsafeBytes { raw in
            let h = Self.hash(raw)
            if let slot = findInPlace(raw, hash: h) {
                entries[slot].assign(value)
                return false
            }
            insert(key: raw, hash: h, entry: ElementBytes(value))
            return true
        }
    }
}
