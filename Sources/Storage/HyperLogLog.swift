#if canImport(Glibc)
import Glibc
#endif

/// Redis's HyperLogLog as the bytes of a string value, so that GET, DUMP and the RDB carry
/// exactly what Redis stores: a 16-byte header ("HYLL", encoding, 3 unused bytes, the cached
/// cardinality in little endian with bit 63 meaning "stale"), then 16384 6-bit registers,
/// either dense (12288 bytes) or sparse (run-length opcodes). The element hash is
/// MurmurHash64A with Redis's seed, and counts use Ertl's estimator as Redis 5 and later do.
public enum HyperLogLog {
    public static let p = 14
    public static let q = 64 - p
    public static let registers = 1 << p
    public static let headerSize = 16
    public static let denseSize = headerSize + (registers * 6 + 7) / 8
    public static let maxEncoding: UInt8 = 1
    static let dense: UInt8 = 0
    static let sparse: UInt8 = 1
    static let registerMax: UInt8 = 63
    static let sparseValueMax = 32
    static let sparseValueMaxLength = 4
    static let sparseZeroMaxLength = 64
    static let sparseXZeroMaxLength = 16384

    public enum Failure: Error { case invalid }

    /// A new, empty HyperLogLog: sparse, one XZERO opcode covering every register, with a
    /// valid cached cardinality of 0.
    public static func empty() -> [UInt8] {
        var b: [UInt8] = Array("HYLL".utf8) + [sparse, 0, 0, 0] + [UInt8](repeating: 0, count: 8)
        let l = sparseXZeroMaxLength - 1
        b.append(UInt8(l >> 8) | 0x40)
        b.append(UInt8(l & 0xFF))
        return b
    }

    /// Whether `bytes` is a HyperLogLog string (isHLLObjectOrReply's checks).
    public static func isValid(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= headerSize, bytes[0] == 0x48, bytes[1] == 0x59, bytes[2] == 0x4C, bytes[3] == 0x4C,
              bytes[4] <= maxEncoding else { return false }
        return bytes[4] != dense || bytes.count == denseSize
    }

    public static func isSparse(_ bytes: [UInt8]) -> Bool { bytes[4] == sparse }

    // MARK: the hash

    public static func murmur64A(_ data: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
        let m: UInt64 = 0xc6a4_a793_5bd1_e995
        let len = data.count
        var h = seed ^ (UInt64(len) &* m)
        var i = 0
        while i + 8 <= len {
            var k = UInt64(littleEndian: data.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            k &*= m
            k ^= k >> 47
            k &*= m
            h ^= k
            h &*= m
            i += 8
        }
        let rest = len & 7
        if rest > 0 {
            for j in stride(from: rest - 1, through: 0, by: -1) { h ^= UInt64(data[i + j]) << (8 * UInt64(j)) }
            h &*= m
        }
        h ^= h >> 47
        h &*= m
        h ^= h >> 47
        return h
    }

    /// The register an element lands in and the length of its run of zeros plus one.
    public static func patternLength<C: Collection>(_ element: C) -> (index: Int, count: Int) where C.Element == UInt8 {
        let hash = element.withContiguousStorageIfAvailable { murmur64A(UnsafeRawBufferPointer($0), seed: 0xadc8_3b19) }
            ?? Array(element).withUnsafeBytes { murmur64A($0, seed: 0xadc8_3b19) }
        let index = Int(hash & UInt64(registers - 1))
        let rest = (hash >> UInt64(p)) | (1 << UInt64(q))
        return (index, rest.trailingZeroBitCount + 1)
    }

    // MARK: dense registers

    @inline(__always) static func denseGet(_ b: [UInt8], _ reg: Int) -> UInt8 {
        let bit = reg * 6
        let byte = headerSize + bit >> 3
        let fb = bit & 7
        let b0 = UInt(b[byte])
        let b1 = byte + 1 < b.count ? UInt(b[byte + 1]) : 0
        return UInt8(truncatingIfNeeded: ((b0 >> fb) | (b1 << (8 - fb))) & 63)
    }

    @inline(__always) static func denseSet(_ b: inout [UInt8], _ reg: Int, _ value: UInt8) {
        let bit = reg * 6
        let byte = headerSize + bit >> 3
        let fb = bit & 7
        let v = UInt(value)
        b[byte] &= ~UInt8(truncatingIfNeeded: 63 << fb)
        b[byte] |= UInt8(truncatingIfNeeded: v << fb)
        if byte + 1 < b.count {
            b[byte + 1] &= ~UInt8(truncatingIfNeeded: 63 >> (8 - fb))
            b[byte + 1] |= UInt8(truncatingIfNeeded: v >> (8 - fb))
        }
    }

    /// Raises register `reg` to `count` when that is higher; whether it changed.
    static func denseRaise(_ b: inout [UInt8], _ reg: Int, _ count: UInt8) -> Bool {
        guard count > denseGet(b, reg) else { return false }
        denseSet(&b, reg, count)
        return true
    }

    // MARK: sparse opcodes

    /// One opcode at `i`: its byte length, how many registers it covers and their value.
    @inline(__always) static func opcode(_ b: [UInt8], _ i: Int) -> (size: Int, run: Int, value: Int) {
        let x = b[i]
        if x & 0xC0 == 0 { return (1, Int(x & 0x3F) + 1, 0) }
        if x & 0xC0 == 0x40 {
            // Redis reads the byte after a truncated XZERO from the string's terminating zero.
            let y = i + 1 < b.count ? Int(b[i + 1]) : 0
            return (2, (Int(x & 0x3F) << 8 | y) + 1, 0)
        }
        return (1, Int(x & 0x3) + 1, Int((x >> 2) & 0x1F) + 1)
    }

    static func valOp(_ value: Int, _ run: Int) -> UInt8 { UInt8(((value - 1) << 2) | (run - 1)) | 0x80 }

    static func appendZeros(_ seq: inout [UInt8], _ run: Int) {
        if run > sparseZeroMaxLength {
            seq.append(UInt8((run - 1) >> 8) | 0x40)
            seq.append(UInt8((run - 1) & 0xFF))
        } else {
            seq.append(UInt8(run - 1))
        }
    }

    /// hllSparseToDense: the same header, registers filled from the opcodes.
    public static func toDense(_ b: inout [UInt8]) throws(Failure) {
        guard b[4] == sparse else { return }
        var d = [UInt8](repeating: 0, count: denseSize)
        for i in 0..<headerSize { d[i] = b[i] }
        d[4] = dense
        var i = headerSize, reg = 0
        while i < b.count {
            let op = opcode(b, i)
            if reg + op.run > registers { throw .invalid }
            if op.value != 0 {
                for r in reg..<(reg + op.run) { denseSet(&d, r, UInt8(op.value)) }
            }
            reg += op.run
            i += op.size
        }
        guard reg == registers else { throw .invalid }
        b = d
    }

    /// hllSparseSet: raises register `index` to `count` in a sparse HLL, splitting the opcode
    /// that covers it, merging equal neighbours, and turning the whole thing dense when the
    /// value does not fit an opcode or the string would pass `maxBytes`.
    static func sparseRaise(_ b: inout [UInt8], _ index: Int, _ count: Int, maxBytes: Int) throws(Failure) -> Bool {
        if count > sparseValueMax { return try promote(&b, index, count) }
        var i = headerSize, first = 0, prev = -1
        var op = (size: 0, run: 0, value: 0)
        while i < b.count {
            op = opcode(b, i)
            if index <= first + op.run - 1 { break }
            prev = i
            i += op.size
            first += op.run
        }
        guard op.run != 0, i < b.count else { throw .invalid }
        let isVal = op.value != 0
        if isVal {
            if op.value >= count { return false }
            if op.run == 1 {
                b[i] = valOp(count, 1)
                mergeValues(&b, from: prev >= 0 ? prev : headerSize)
                return true
            }
        } else if op.size == 1 && op.run == 1 {
            b[i] = valOp(count, 1)
            mergeValues(&b, from: prev >= 0 ? prev : headerSize)
            return true
        }
        // The general case: the covering opcode becomes up to three.
        let last = first + op.run - 1
        var seq: [UInt8] = []
        seq.reserveCapacity(5)
        if isVal {
            if index != first { seq.append(valOp(op.value, index - first)) }
            seq.append(valOp(count, 1))
            if index != last { seq.append(valOp(op.value, last - index)) }
        } else {
            if index != first { appendZeros(&seq, index - first) }
            seq.append(valOp(count, 1))
            if index != last { appendZeros(&seq, last - index) }
        }
        let delta = seq.count - op.size
        if delta > 0 && b.count + delta > maxBytes { return try promote(&b, index, count) }
        b.replaceSubrange(i..<min(i + op.size, b.count), with: seq)
        mergeValues(&b, from: prev >= 0 ? prev : headerSize)
        return true
    }

    static func promote(_ b: inout [UInt8], _ index: Int, _ count: Int) throws(Failure) -> Bool {
        try toDense(&b)
        return denseRaise(&b, index, UInt8(count))
    }

    /// Joins adjacent VAL opcodes of the same value while the run fits, over at most five
    /// opcodes from `start`, as Redis does after each update.
    static func mergeValues(_ b: inout [UInt8], from start: Int) {
        var i = start, scan = 5
        while i < b.count && scan > 0 {
            scan -= 1
            let x = b[i]
            if x & 0xC0 == 0x40 { i += 2; continue }
            if x & 0xC0 == 0 { i += 1; continue }
            if i + 1 < b.count && b[i + 1] & 0x80 != 0 {
                let a = opcode(b, i), n = opcode(b, i + 1)
                if a.value == n.value && a.run + n.run <= sparseValueMaxLength {
                    b[i + 1] = valOp(a.value, a.run + n.run)
                    b.remove(at: i)
                    continue
                }
            }
            i += 1
        }
    }

    // MARK: adding and counting

    /// PFADD of one element; whether a register changed.
    public static func add<C: Collection>(_ b: inout [UInt8], _ element: C, sparseMaxBytes: Int) throws(Failure) -> Bool
    where C.Element == UInt8 {
        let (index, count) = patternLength(element)
        return try raise(&b, index, count, sparseMaxBytes: sparseMaxBytes)
    }

    /// Raises one register in either encoding.
    public static func raise(_ b: inout [UInt8], _ index: Int, _ count: Int, sparseMaxBytes: Int) throws(Failure) -> Bool {
        switch b[4] {
        case dense: return denseRaise(&b, index, UInt8(count))
        case sparse: return try sparseRaise(&b, index, count, maxBytes: sparseMaxBytes)
        default: throw .invalid
        }
    }

    public static func invalidateCache(_ b: inout [UInt8]) { b[15] |= 0x80 }

    public static func cachedCount(_ b: [UInt8]) -> Int? {
        guard b[15] & 0x80 == 0 else { return nil }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(b[8 + i]) << (8 * UInt64(i)) }
        return Int(v)
    }

    public static func storeCount(_ b: inout [UInt8], _ count: Int) {
        let v = UInt64(count)
        for i in 0..<8 { b[8 + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
    }

    /// hllMerge: `maxima[r] = max(maxima[r], register r)` for one HLL.
    public static func merge(_ b: [UInt8], into maxima: inout [UInt8]) throws(Failure) {
        if b[4] == dense {
            for r in 0..<registers {
                let v = denseGet(b, r)
                if v > maxima[r] { maxima[r] = v }
            }
            return
        }
        var i = headerSize, reg = 0
        while i < b.count {
            let op = opcode(b, i)
            // Any run past the last register is corruption (Redis returns an error there too).
            if reg + op.run > registers { throw .invalid }
            if op.value != 0 {
                for r in reg..<(reg + op.run) where op.value > maxima[r] { maxima[r] = UInt8(op.value) }
            }
            reg += op.run
            i += op.size
        }
        guard reg == registers else { throw .invalid }
    }

    /// The histogram of register values (index 0...63).
    static func histogram(_ b: [UInt8]) throws(Failure) -> [Int] {
        var h = [Int](repeating: 0, count: 64)
        if b[4] == dense {
            for r in 0..<registers { h[Int(denseGet(b, r))] += 1 }
            return h
        }
        var i = headerSize, reg = 0
        while i < b.count {
            let op = opcode(b, i)
            reg += op.run
            h[op.value] += op.run
            i += op.size
        }
        guard reg == registers else { throw .invalid }
        return h
    }

    public static func histogram(raw maxima: [UInt8]) -> [Int] {
        var h = [Int](repeating: 0, count: 64)
        for v in maxima { h[Int(v)] += 1 }
        return h
    }

    public static func count(_ b: [UInt8]) throws(Failure) -> Int { estimate(try histogram(b)) }

    /// Ertl's improved raw estimator ("New cardinality estimation algorithms for HyperLogLog
    /// sketches", 2017), with Redis's rounding.
    public static func estimate(_ histogram: [Int]) -> Int {
        let m = Double(registers)
        var z = m * tau((m - Double(histogram[q + 1])) / m)
        for j in stride(from: q, through: 1, by: -1) {
            z += Double(histogram[j])
            z *= 0.5
        }
        z += m * sigma(Double(histogram[0]) / m)
        let alphaInf = 0.721347520444481703680
        return Int((alphaInf * m * m / z).rounded())
    }

    static func sigma(_ x0: Double) -> Double {
        if x0 == 1 { return .infinity }
        var x = x0, y = 1.0, z = x0, prior = 0.0
        repeat {
            x *= x
            prior = z
            z += x * y
            y += y
        } while prior != z
        return z
    }

    static func tau(_ x0: Double) -> Double {
        if x0 == 0 || x0 == 1 { return 0 }
        var x = x0, y = 1.0, z = 1 - x0, prior = 0.0
        repeat {
            x = x.squareRoot()
            prior = z
            y *= 0.5
            z -= pow(1 - x, 2) * y
        } while prior != z
        return z / 3
    }

    // MARK: PFDEBUG

    public static func register(_ b: [UInt8], _ reg: Int) -> Int { Int(denseGet(b, reg)) }

    /// PFDEBUG DECODE: the sparse opcodes as "z:len", "Z:len" and "v:value,len".
    public static func decode(_ b: [UInt8]) -> String {
        var parts: [String] = []
        var i = headerSize
        while i < b.count {
            let op = opcode(b, i)
            if op.value != 0 {
                parts.append("v:\(op.value),\(op.run)")
            } else {
                parts.append(op.size == 2 ? "Z:\(op.run)" : "z:\(op.run)")
            }
            i += op.size
        }
        return parts.joined(separator: " ")
    }
}
