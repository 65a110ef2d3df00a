/// LZF, the compression Redis uses for long strings in RDB files (`rdbcompression`): literal
/// runs of up to 32 bytes and back references of 3 to 264 bytes up to 8 KB behind.
public enum LZF {
    static let maxOffset = 1 << 13
    static let maxLiteral = 32
    static let maxMatch = 264

    /// The hash table of recent positions, kept from one string to the next. A table per
    /// call was 128 KB allocated and cleared for every string of 21 bytes or more: on an event
    /// loop's thread each one was a fresh mmap, faulted in page by page (SAVE of 1M such
    /// strings took 79 s, against 0.6 s without compression). Positions are stored shifted by
    /// `base`, which moves past every string compressed: an entry left by an earlier string is
    /// below it and is not taken for a match, so the table is never cleared.
    public struct Table {
        var slots: [Int] = []
        var base = 0
        public init() {}
    }

    /// Compresses `input`; nil when the result would not be shorter than `limit` bytes.
    public static func compress(_ input: [UInt8], limit: Int) -> [UInt8]? {
        var table = Table()
        return compress(input, limit: limit, table: &table)
    }

    public static func compress(_ input: [UInt8], limit: Int, table state: inout Table) -> [UInt8]? {
        let n = input.count
        guard n >= 4 else { return nil }
        if state.slots.isEmpty { state.slots = [Int](repeating: -1, count: 1 << 14) }
        let base = state.base
        state.base += n + 1
        var out: [UInt8] = []
        out.reserveCapacity(limit)
        var literalStart = 0
        var i = 0
        func flushLiterals(upTo end: Int) {
            var s = literalStart
            while s < end {
                let run = min(maxLiteral, end - s)
                out.append(UInt8(run - 1))
                out.append(contentsOf: input[s..<(s + run)])
                s += run
            }
        }
        while i + 2 < n {
            let h = (Int(input[i]) << 16 | Int(input[i + 1]) << 8 | Int(input[i + 2])) &* 2_654_435_761 >> 18 & 0x3fff
            let stored = state.slots[h]
            state.slots[h] = base + i
            let candidate = stored - base
            if stored >= base, i - candidate <= maxOffset,
               input[candidate] == input[i], input[candidate + 1] == input[i + 1], input[candidate + 2] == input[i + 2] {
                var length = 3
                while i + length < n && length < maxMatch && input[candidate + length] == input[i + length] { length += 1 }
                flushLiterals(upTo: i)
                let offset = i - candidate - 1
                let l = length - 2
                if l < 7 {
                    out.append(UInt8(l << 5 | offset >> 8))
                } else {
                    out.append(UInt8(7 << 5 | offset >> 8))
                    out.append(UInt8(l - 7))
                }
                out.append(UInt8(offset & 0xff))
                i += length
                literalStart = i
                if out.count >= limit { return nil }
            } else {
                i += 1
            }
        }
        flushLiterals(upTo: n)
        return out.count < limit ? out : nil
    }

    /// Decompresses into exactly `length` bytes; nil when the data is malformed.
    public static func decompress<C: Collection>(_ input: C, length: Int) -> [UInt8]? where C.Element == UInt8, C.Index == Int {
        var out: [UInt8] = []
        out.reserveCapacity(length)
        var i = input.startIndex
        let end = input.endIndex
        while i < end {
            let ctrl = Int(input[i])
            i += 1
            if ctrl < 32 {
                let run = ctrl + 1
                guard i + run <= end, out.count + run <= length else { return nil }
                out.append(contentsOf: input[i..<(i + run)])
                i += run
            } else {
                var len = ctrl >> 5
                if len == 7 {
                    guard i < end else { return nil }
                    len += Int(input[i])
                    i += 1
                }
                guard i < end else { return nil }
                let back = ((ctrl & 0x1f) << 8) + Int(input[i]) + 1
                i += 1
                len += 2
                guard back <= out.count, out.count + len <= length else { return nil }
                var from = out.count - back
                for _ in 0..<len {
                    out.append(out[from])
                    from += 1
                }
            }
        }
        return out.count == length ? out : nil
    }
}
