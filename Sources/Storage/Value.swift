import DequeModule

/// A value in the keyspace. Each type keeps its data structure in its own file; every one is a
/// value type (copy-on-write), so copying a shard's table for a snapshot is O(1).
///
/// Every table slot holds an Entry and so a Value, whatever its type, so no case is wider than
/// two pointers: collections keep their large form behind a CowBox. A stream is `indirect`
/// (boxed). Sets and sorted sets are not: an indirect case cannot be changed in place, so every
/// SADD or ZADD freed the box and allocated a new one.
public enum Value: Sendable {
    /// A string that is a 64-bit integer in canonical form, stored as the integer (Redis "int").
    case int(Int)
    /// A string of up to 15 bytes that is not an integer, stored inline.
    case small(InlineBytes)
    /// A string of 16 to 256 bytes, as SET and friends store it (Redis's embstr).
    case compact(CompactString)
    /// Any other string, and every string changed in place.
    case bytes([UInt8])
    /// A list (Redis 7.0 calls every list a "quicklist"); short elements inline (ElementBytes).
    case list(Deque<ElementBytes>)
    /// Not boxed: a HashValue is two pointers (the packed pairs or the boxed table).
    case hash(HashValue)
    case set(SetValue)
    case zset(SortedSetValue)
    indirect case stream(StreamValue)

    /// The type without the payload: what a type check needs, read without copying the value.
    public enum Kind: Sendable { case string, list, hash, set, zset, stream }

    public var kind: Kind {
        switch self {
        case .int, .small, .compact, .bytes: return .string
        case .list: return .list
        case .hash: return .hash
        case .set: return .set
        case .zset: return .zset
        case .stream: return .stream
        }
    }

    public var typeName: String {
        switch self {
        case .int, .small, .compact, .bytes: return "string"
        case .list: return "list"
        case .hash: return "hash"
        case .set: return "set"
        case .zset: return "zset"
        case .stream: return "stream"
        }
    }

    /// The value of a string as bytes.
    public var stringBytes: [UInt8]? {
        switch self {
        case .int(let v): return Array(String(v).utf8)
        case .small(let s): return s.array
        case .compact(let s): return s.array
        case .bytes(let b): return b
        default: return nil
        }
    }

    /// The length of a string value's bytes (0 for other types), without building them.
    public var stringLength: Int {
        switch self {
        case .int(let v):
            var n = v < 0 ? 2 : 1
            var m = v.magnitude
            while m >= 10 { m /= 10; n += 1 }
            return n
        case .small(let s): return s.count
        case .compact(let s): return s.count
        case .bytes(let b): return b.count
        default: return 0
        }
    }

    public var isString: Bool {
        switch self {
        case .int, .small, .compact, .bytes: return true
        default: return false
        }
    }

    /// A string value stored as Redis would: an integer when it reads back the same.
    public static func string<C: Collection>(_ bytes: C) -> Value where C.Element == UInt8 {
        if bytes.count <= 20, let v = parseCanonicalInt(bytes) { return .int(v) }
        if let s = InlineBytes(bytes) { return .small(s) }
        if let s = CompactString(bytes) { return .compact(s) }
        return .bytes(Array(bytes))
    }

    /// Approximate bytes held by the value, for MEMORY USAGE.
    public var memoryUsage: Int {
        switch self {
        case .int, .small: return 0
        case .compact(let s): return s.count + 24
        case .bytes(let b): return b.count + 32
        case .list(let l): return l.reduce(48 + 24 * l.count) { $0 + $1.heapBytes }
        case .hash(let h): return h.memoryUsage
        case .set(let s): return s.memoryUsage
        case .zset(let z): return z.memoryUsage
        case .stream(let st): return st.memoryUsage
        }
    }

    /// What freeing the value costs, as Redis's lazyfreeGetFreeEffort counts it: 1 for a
    /// string or a compact encoding (one allocation), the elements of a hash table or skip
    /// list. Redis counts a list's 8 KB nodes; Larder's list has no nodes, so its elements.
    public var freeEffort: Int {
        switch self {
        case .int, .small, .compact, .bytes: return 1
        case .list(let l): return l.count
        case .hash(let h): return h.encodingName == "hashtable" ? h.count : 1
        case .set(let s): return s.encodingName == "hashtable" ? s.count : 1
        case .zset(let z): return z.encodingName == "skiplist" ? z.count : 1
        case .stream(let st): return st.length
        }
    }

    /// Elements of a collection (0 for strings).
    public var elementCount: Int {
        switch self {
        case .int, .small, .compact, .bytes: return 0
        case .list(let l): return l.count
        case .hash(let h): return h.count
        case .set(let s): return s.count
        case .zset(let z): return z.count
        case .stream(let st): return st.length
        }
    }

    // In-place access to a collection: the payload is moved out of the enum first so that it
    // is uniquely referenced and mutates without a copy.

    public mutating func withList<T>(_ body: (inout Deque<ElementBytes>) -> T) -> T? {
        guard case .list(var l) = self else { return nil }
        self = .int(0)
        defer { self = .list(l) }
        return body(&l)
    }

    public mutating func withHash<T>(_ body: (inout HashValue) -> T) -> T? {
        guard case .hash(var h) = self else { return nil }
        self = .int(0)
        defer { self = .hash(h) }
        return body(&h)
    }

    public mutating func withSet<T>(_ body: (inout SetValue) -> T) -> T? {
        guard case .set(var s) = self else { return nil }
        self = .int(0)
        defer { self = .set(s) }
        return body(&s)
    }

    public mutating func withZSet<T>(_ body: (inout SortedSetValue) -> T) -> T? {
        guard case .zset(var z) = self else { return nil }
        self = .int(0)
        defer { self = .zset(z) }
        return body(&z)
    }
}

/// Parses a decimal integer that prints back identically (Redis's string2ll rules).
public func parseCanonicalInt<C: Collection>(_ bytes: C) -> Int? where C.Element == UInt8 {
    var it = bytes.makeIterator()
    guard let first = it.next() else { return nil }
    var negative = false
    var v = 0
    var digits = 0
    if first == UInt8(ascii: "-") {
        negative = true
    } else if first >= 48 && first <= 57 {
        v = Int(first) - 48
        digits = 1
        if first == 48 && bytes.count > 1 { return nil }
    } else {
        return nil
    }
    while let c = it.next() {
        guard c >= 48 && c <= 57 else { return nil }
        if digits == 0 && c == 48 && negative { return nil }   // "-0..." is not canonical
        let (m, o1) = v.multipliedReportingOverflow(by: 10)
        let d = Int(c) - 48
        let (a, o2) = negative ? m.subtractingReportingOverflow(d) : m.addingReportingOverflow(d)
        if o1 || o2 { return nil }
        v = a
        digits += 1
    }
    return digits == 0 ? nil : v
}
