/// A value in the keyspace. Collections come with their own issues; each adds a case here and
/// keeps its data structure in its own file.
public enum Value: Sendable {
    /// A string that is a 64-bit integer in canonical form, stored as the integer (Redis "int").
    case int(Int)
    /// Any other string.
    case bytes([UInt8])

    public var typeName: String {
        switch self {
        case .int, .bytes: return "string"
        }
    }

    /// The value of a string as bytes.
    public var stringBytes: [UInt8]? {
        switch self {
        case .int(let v): return Array(String(v).utf8)
        case .bytes(let b): return b
        }
    }

    public var isString: Bool {
        switch self {
        case .int, .bytes: return true
        }
    }

    /// A string value stored as Redis would: an integer when it reads back the same.
    public static func string<C: Collection>(_ bytes: C) -> Value where C.Element == UInt8 {
        if bytes.count <= 20, let v = parseCanonicalInt(bytes) { return .int(v) }
        return .bytes(Array(bytes))
    }

    /// Approximate bytes held by the value, for MEMORY USAGE.
    public var memoryUsage: Int {
        switch self {
        case .int: return 0
        case .bytes(let b): return b.count + 32
        }
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
