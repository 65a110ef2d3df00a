/// Readers of the compact blobs Redis embeds in RDB values: listpack (7.0), ziplist (before
/// 7.0), intset and zipmap. Each returns the elements as strings, integers in decimal, and
/// throws on anything malformed, so that a corrupt payload is refused rather than crashing.
enum CompactEncodings {
    static func bad(_ what: String) -> RDBError { RDBError("Bad data format: corrupt \(what)") }

    static func le(_ b: ArraySlice<UInt8>) -> UInt64 {
        var v: UInt64 = 0
        for (i, x) in b.enumerated() { v |= UInt64(x) << (8 * UInt64(i)) }
        return v
    }

    static func signExtend(_ v: UInt64, bits: Int) -> Int {
        let shift = 64 - bits
        return Int(Int64(bitPattern: v << UInt64(shift)) >> Int64(shift))
    }

    static func decimal(_ v: Int) -> [UInt8] { Array(String(v).utf8) }

    // MARK: listpack

    static func listpack(_ blob: [UInt8]) throws -> [[UInt8]] {
        guard blob.count >= 7, Int(le(blob[0..<4])) == blob.count, blob.last == 0xFF else { throw bad("listpack") }
        var out: [[UInt8]] = []
        var p = 6
        func need(_ n: Int) throws { if n < 0 || p + n > blob.count - 1 { throw bad("listpack") } }
        while p < blob.count - 1 {
            let start = p
            let b = blob[p]
            let element: [UInt8]
            if b & 0x80 == 0 {
                element = decimal(Int(b & 0x7f)); p += 1
            } else if b & 0xC0 == 0x80 {
                let n = Int(b & 0x3f); try need(1 + n)
                element = Array(blob[(p + 1)..<(p + 1 + n)]); p += 1 + n
            } else if b & 0xE0 == 0xC0 {
                try need(2)
                element = decimal(signExtend(UInt64(b & 0x1f) << 8 | UInt64(blob[p + 1]), bits: 13)); p += 2
            } else if b & 0xF0 == 0xE0 {
                try need(2)
                let n = Int(b & 0x0f) << 8 | Int(blob[p + 1]); try need(2 + n)
                element = Array(blob[(p + 2)..<(p + 2 + n)]); p += 2 + n
            } else {
                switch b {
                case 0xF0:
                    try need(5)
                    let n = Int(le(blob[(p + 1)..<(p + 5)])); try need(5 + n)
                    element = Array(blob[(p + 5)..<(p + 5 + n)]); p += 5 + n
                case 0xF1: try need(3); element = decimal(signExtend(le(blob[(p + 1)..<(p + 3)]), bits: 16)); p += 3
                case 0xF2: try need(4); element = decimal(signExtend(le(blob[(p + 1)..<(p + 4)]), bits: 24)); p += 4
                case 0xF3: try need(5); element = decimal(signExtend(le(blob[(p + 1)..<(p + 5)]), bits: 32)); p += 5
                case 0xF4: try need(9); element = decimal(Int(Int64(bitPattern: le(blob[(p + 1)..<(p + 9)])))); p += 9
                default: throw bad("listpack")
                }
            }
            // The entry's length, written backwards after it in 1-5 bytes.
            let size = p - start
            let backlen = size < 128 ? 1 : size < 16384 ? 2 : size < 2_097_152 ? 3 : size < 268_435_456 ? 4 : 5
            try need(backlen)
            p += backlen
            out.append(element)
        }
        let declared = Int(le(blob[4..<6]))
        if declared != 65535 && declared != out.count { throw bad("listpack") }
        return out
    }

    // MARK: ziplist

    static func ziplist(_ blob: [UInt8]) throws -> [[UInt8]] {
        guard blob.count >= 11, Int(le(blob[0..<4])) == blob.count, blob.last == 0xFF else { throw bad("ziplist") }
        var out: [[UInt8]] = []
        var p = 10
        func need(_ n: Int) throws { if n < 0 || p + n > blob.count - 1 { throw bad("ziplist") } }
        while p < blob.count - 1 {
            try need(1)
            p += blob[p] == 0xFE ? 5 : 1       // the previous entry's length
            try need(1)
            let b = blob[p]
            switch b >> 6 {
            case 0:
                let n = Int(b & 0x3f); try need(1 + n)
                out.append(Array(blob[(p + 1)..<(p + 1 + n)])); p += 1 + n
            case 1:
                try need(2)
                let n = Int(b & 0x3f) << 8 | Int(blob[p + 1]); try need(2 + n)
                out.append(Array(blob[(p + 2)..<(p + 2 + n)])); p += 2 + n
            case 2:
                try need(5)
                var n = 0
                for x in blob[(p + 1)..<(p + 5)] { n = n << 8 | Int(x) }
                try need(5 + n)
                out.append(Array(blob[(p + 5)..<(p + 5 + n)])); p += 5 + n
            default:
                switch b {
                case 0xC0: try need(3); out.append(decimal(signExtend(le(blob[(p + 1)..<(p + 3)]), bits: 16))); p += 3
                case 0xD0: try need(5); out.append(decimal(signExtend(le(blob[(p + 1)..<(p + 5)]), bits: 32))); p += 5
                case 0xE0: try need(9); out.append(decimal(Int(Int64(bitPattern: le(blob[(p + 1)..<(p + 9)]))))); p += 9
                case 0xF0: try need(4); out.append(decimal(signExtend(le(blob[(p + 1)..<(p + 4)]), bits: 24))); p += 4
                case 0xFE: try need(2); out.append(decimal(Int(Int8(bitPattern: blob[p + 1])))); p += 2
                case 0xF1...0xFD: out.append(decimal(Int(b & 0x0f) - 1)); p += 1
                default: throw bad("ziplist")
                }
            }
        }
        let declared = Int(le(blob[8..<10]))
        if declared != 65535 && declared != out.count { throw bad("ziplist") }
        return out
    }

    // MARK: intset

    static func intset(_ blob: [UInt8]) throws -> [[UInt8]] {
        guard blob.count >= 8 else { throw bad("intset") }
        let width = Int(le(blob[0..<4]))
        let n = Int(le(blob[4..<8]))
        guard [2, 4, 8].contains(width), n >= 0, blob.count == 8 + width * n else { throw bad("intset") }
        return (0..<n).map { i in
            let s = 8 + i * width
            return decimal(signExtend(le(blob[s..<(s + width)]), bits: width * 8))
        }
    }

    // MARK: zipmap

    static func zipmap(_ blob: [UInt8]) throws -> [[UInt8]] {
        var out: [[UInt8]] = []
        var p = 1
        func need(_ n: Int) throws { if n < 0 || p + n > blob.count { throw bad("zipmap") } }
        func len() throws -> Int {
            try need(1)
            let b = blob[p]
            if b < 254 { p += 1; return Int(b) }
            guard b == 254 else { throw bad("zipmap") }
            try need(5)
            defer { p += 5 }
            return Int(le(blob[(p + 1)..<(p + 5)]))
        }
        while true {
            try need(1)
            if blob[p] == 0xFF { break }
            let kl = try len(); try need(kl)
            out.append(Array(blob[p..<(p + kl)])); p += kl
            let vl = try len(); try need(1)
            let free = Int(blob[p]); p += 1
            try need(vl + free)
            out.append(Array(blob[p..<(p + vl)])); p += vl + free
        }
        return out
    }
}
