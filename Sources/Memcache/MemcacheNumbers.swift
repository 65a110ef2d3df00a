/// Numbers as memcached reads them (its util.c safe_strto* over C's strtoull/strtol): leading
/// whitespace and a sign allowed, overflow refused, and what follows the digits must be
/// whitespace or the end. Matching these rules is what makes `set k 4294967296 0 1` store
/// flags 0 and `incr` accept " 12 " exactly as memcached does.
public enum MemcacheNumber {
    @inline(__always) static func isSpace(_ c: UInt8) -> Bool { c == 32 || (c >= 9 && c <= 13) }

    /// strtoull's reading of `bytes`: (value, negative, digitsEnd) or nil when no digits or on
    /// overflow (ERANGE).
    static func strtoull<C: Collection>(_ bytes: C) -> (UInt64, Bool, C.Index)? where C.Element == UInt8 {
        var i = bytes.startIndex
        while i != bytes.endIndex && isSpace(bytes[i]) { i = bytes.index(after: i) }
        var negative = false
        if i != bytes.endIndex && (bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+")) {
            negative = bytes[i] == UInt8(ascii: "-")
            i = bytes.index(after: i)
        }
        var v: UInt64 = 0
        var digits = 0
        var overflow = false
        while i != bytes.endIndex, bytes[i] >= 48, bytes[i] <= 57 {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(bytes[i] - 48))
            if o1 || o2 { overflow = true }
            v = a
            digits += 1
            i = bytes.index(after: i)
        }
        if digits == 0 || overflow { return nil }
        return (negative ? 0 &- v : v, negative, i)
    }

    /// safe_strtoull: an unsigned 64-bit number; a negative one is refused.
    public static func unsigned64<C: Collection>(_ bytes: C) -> UInt64? where C.Element == UInt8 {
        guard let (v, negative, end) = strtoull(bytes) else { return nil }
        guard end == bytes.endIndex || isSpace(bytes[end]) else { return nil }
        if Int64(bitPattern: v) < 0 && negative { return nil }
        return v
    }

    /// safe_strtoul into a 32-bit field (client flags in memcached 1.6.18): read as 64 bits,
    /// then truncated.
    public static func flags<C: Collection>(_ bytes: C) -> UInt32? where C.Element == UInt8 {
        unsigned64(bytes).map { UInt32(truncatingIfNeeded: $0) }
    }

    /// safe_strtol: a signed 64-bit number (strtol on a 64-bit system) stored into an int32,
    /// truncated: memcached 1.6.18 takes exptime 2147483648 as -2147483648.
    public static func signed32<C: Collection>(_ bytes: C) -> Int32? where C.Element == UInt8 {
        guard let (v, negative, end) = strtoull(bytes) else { return nil }
        guard end == bytes.endIndex || isSpace(bytes[end]) else { return nil }
        // strtol's range: a magnitude beyond Int64 is ERANGE.
        if negative {
            if v != 0 && (0 &- v) > UInt64(Int64.max) + 1 { return nil }
        } else if v > UInt64(Int64.max) {
            return nil
        }
        return Int32(truncatingIfNeeded: Int64(bitPattern: v))
    }
}
