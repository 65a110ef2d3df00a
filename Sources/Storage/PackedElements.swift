import Glibc

/// Byte strings packed one after another in a single buffer, each as a LEB128 length and its
/// bytes: the compact form of small hashes (pairs of field and value), scanned linearly as
/// Redis scans a listpack. The element count is the buffer's first 4 bytes (none while
/// empty), so the whole thing is one pointer wide.
struct PackedElements: Sendable {
    private(set) var bytes = PackedBytes()

    /// Where the elements start, after the count.
    static let start = 4

    var count: Int {
        get {
            bytes.withUnsafeBytes { p in
                p.count < 4 ? 0 : Int(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 0, as: UInt32.self)))
            }
        }
        set {
            if bytes.isEmpty { bytes.append(contentsOf: [0, 0, 0, 0]) }
            bytes[0] = UInt8(truncatingIfNeeded: newValue)
            bytes[1] = UInt8(truncatingIfNeeded: newValue >> 8)
            bytes[2] = UInt8(truncatingIfNeeded: newValue >> 16)
            bytes[3] = UInt8(truncatingIfNeeded: newValue >> 24)
        }
    }

    /// The element starting at `offset`: where its bytes are and where the next one starts.
    @inline(__always) func element(at offset: Int) -> (range: Range<Int>, next: Int) {
        bytes.withUnsafeBytes { Self.element($0, at: offset) }
    }

    @inline(__always)
    static func element(_ p: UnsafeRawBufferPointer, at offset: Int) -> (range: Range<Int>, next: Int) {
        var length = 0, shift = 0, i = offset
        while true {
            let b = p[i]
            length |= Int(b & 0x7F) << shift
            i += 1
            if b < 0x80 { break }
            shift += 7
        }
        return (i..<(i + length), i + length)
    }

    static func header(_ n: Int) -> [UInt8] {
        var out: [UInt8] = []
        var v = n
        repeat {
            var b = UInt8(v & 0x7F)
            v >>= 7
            if v > 0 { b |= 0x80 }
            out.append(b)
        } while v > 0
        return out
    }

    mutating func append<C: Collection>(_ element: C) where C.Element == UInt8 {
        count += 1
        var chunk = Self.header(element.count)
        chunk.append(contentsOf: element)
        bytes.append(contentsOf: chunk)
    }

    /// For pairs: the value whose field equals `field`, as the offset its element starts at
    /// and the range of its bytes.
    func pairValue(of field: ArraySlice<UInt8>) -> (start: Int, range: Range<Int>)? {
        findPair(field).map { (start: $0.value, range: $0.range) }
    }

    /// The pair whose field is `field`: where the field's element and the value's element
    /// start, and the value's bytes. One pass over the raw bytes, memcmp per same-length field.
    private func findPair(_ field: ArraySlice<UInt8>) -> (field: Int, value: Int, range: Range<Int>, end: Int)? {
        field.withUnsafeBytes { f in
            bytes.withUnsafeBytes { p in
                var offset = Self.start
                while offset < p.count {
                    let k = Self.element(p, at: offset)
                    let v = Self.element(p, at: k.next)
                    if k.range.count == f.count
                        && (f.count == 0 || memcmp(p.baseAddress! + k.range.lowerBound, f.baseAddress!, f.count) == 0) {
                        return (offset, k.next, v.range, v.next)
                    }
                    offset = v.next
                }
                return nil
            }
        }
    }

    /// Replaces the element found by pairValue.
    mutating func replace<C: Collection>(_ found: (start: Int, range: Range<Int>), with value: C) where C.Element == UInt8 {
        bytes.replaceSubrange(found.start..<found.range.upperBound, with: Self.header(value.count) + value)
    }

    /// Removes a field and its value; whether the field was there.
    mutating func removePair(_ field: ArraySlice<UInt8>) -> Bool {
        guard let found = findPair(field) else { return false }
        bytes.removeSubrange(found.field..<found.end)
        count -= 2
        return true
    }

    func pairs() -> [([UInt8], [UInt8])] {
        var out: [([UInt8], [UInt8])] = []
        out.reserveCapacity(count / 2)
        var offset = Self.start
        while offset < bytes.count {
            let f = element(at: offset)
            let v = element(at: f.next)
            out.append((Array(bytes[f.range]), Array(bytes[v.range])))
            offset = v.next
        }
        return out
    }

    /// The `n`th pair.
    func pair(_ n: Int) -> ([UInt8], [UInt8]) {
        var offset = Self.start
        for _ in 0..<n { offset = element(at: element(at: offset).next).next }
        let f = element(at: offset)
        let v = element(at: f.next)
        return (Array(bytes[f.range]), Array(bytes[v.range]))
    }
}
