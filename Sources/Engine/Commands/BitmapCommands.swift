import RESP
import Storage

/// Bitmaps on string values: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and
/// BITFIELD_RO, with Redis 7.0's argument rules. Bits count from the most significant bit of
/// the first byte; a string grows zero-padded to the highest bit written.
enum BitmapCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("setbit", arity: 4, flags: [.write, .denyoom], keys: (1, 1, 1), group: "bitmap",
                    summary: "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.",
                    handler: setbit),
        CommandSpec("getbit", arity: 3, flags: [.readonly, .fast], keys: (1, 1, 1), group: "bitmap",
                    summary: "Returns a bit value by offset.", handler: getbit),
        CommandSpec("bitcount", arity: -2, flags: [.readonly], keys: (1, 1, 1), group: "bitmap",
                    summary: "Counts the number of set bits (population counting) in a string.", complexity: "O(N)",
                    handler: bitcount),
        CommandSpec("bitpos", arity: -3, flags: [.readonly], keys: (1, 1, 1), group: "bitmap",
                    summary: "Finds the first set (1) or clear (0) bit in a string.", complexity: "O(N)", handler: bitpos),
        CommandSpec("bitop", arity: -4, flags: [.write, .denyoom], keys: (2, -1, 1), group: "bitmap",
                    summary: "Performs bitwise operations on multiple strings, and stores the result.", complexity: "O(N)",
                    handler: bitop),
        CommandSpec("bitfield", arity: -2, flags: [.write, .denyoom], keys: (1, 1, 1), group: "bitmap",
                    summary: "Performs arbitrary bitfield integer operations on strings.",
                    complexity: "O(1) for each subcommand specified", handler: { bitfield(&$0, readOnly: false) }),
        CommandSpec("bitfield_ro", arity: -2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "bitmap",
                    summary: "Performs arbitrary read-only bitfield integer operations on strings.",
                    complexity: "O(1) for each subcommand specified", handler: { bitfield(&$0, readOnly: true) }),
    ]

    static let offsetError = "ERR bit offset is not an integer or out of range"

    /// A bit offset as getBitOffsetFromArgument: an integer, with `#n` meaning n * bits for
    /// BITFIELD, not negative and within proto-max-bulk-len bytes.
    static func offset(_ c: inout CommandContext, _ i: Int, hashBits: Int = 0) -> Int? {
        var arg = c.args[i]
        let useHash = hashBits > 0 && arg.first == UInt8(ascii: "#")
        if useHash { arg = arg.dropFirst() }
        guard var v = parseCanonicalInt(arg) else { c.error(offsetError); return nil }
        if useHash {
            let (m, overflow) = v.multipliedReportingOverflow(by: hashBits)
            guard !overflow else { c.error(offsetError); return nil }
            v = m
        }
        guard v >= 0, v >> 3 < c.engine.protoMaxBulkLen else { c.error(offsetError); return nil }
        return v
    }

    /// The string at argument `i` (nil when missing); replies WRONGTYPE and returns .wrongType.
    enum Lookup { case missing, found(Shard, Int, [UInt8]), wrongType }

    static func lookup(_ c: inout CommandContext, _ i: Int) -> Lookup {
        let (shard, slot) = c.lookupRead(i)
        guard let slot else { return .missing }
        guard let bytes = shard.entry(at: slot).value.stringBytes else {
            c.error(Errors.wrongType)
            return .wrongType
        }
        return .found(shard, slot, bytes)
    }

    @inline(__always) static func bit(_ bytes: [UInt8], _ offset: Int) -> Int {
        let byte = offset >> 3
        guard byte < bytes.count else { return 0 }
        return Int(bytes[byte] >> (7 - UInt8(offset & 7))) & 1
    }

    /// The key's bytes grown to hold bit `maxBit`, for a write; nil after a WRONGTYPE reply.
    static func writable(_ c: inout CommandContext, maxBit: Int) -> (Shard, [UInt8], grew: Bool)? {
        let shard = c.shard(1)
        var bytes: [UInt8] = []
        if let slot = shard.find(c.args[1], now: c.lookupNow) {
            guard let b = shard.entry(at: slot).value.stringBytes else { c.error(Errors.wrongType); return nil }
            bytes = b
            // Redis unshares the string for any bit write, changed or not: it is "raw" after.
            shard.withEntryMetadata(at: slot) { e in
                e.value = .bytes(b)
                e.rawEncoding = true
            }
        }
        let need = maxBit >> 3 + 1
        let grew = bytes.count < need || shard.find(c.args[1], now: c.lookupNow) == nil
        if bytes.count < need { bytes += [UInt8](repeating: 0, count: need - bytes.count) }
        return (shard, bytes, grew)
    }

    static func store(_ c: inout CommandContext, _ shard: Shard, _ bytes: [UInt8]) {
        if let slot = shard.find(c.args[1], now: c.lookupNow) {
            shard.withEntry(at: slot) { $0.value = .bytes(bytes); $0.rawEncoding = true }
        } else {
            let slot = shard.set(c.args[1], .bytes(bytes), access: c.newAccess)
            shard.withEntryMetadata(at: slot) { $0.rawEncoding = true }
        }
    }

    /// SETBIT key offset value
    static func setbit(_ c: inout CommandContext) {
        guard let off = offset(&c, 2) else { return }
        guard let on = c.integer(3, error: "ERR bit is not an integer or out of range") else { return }
        guard on == 0 || on == 1 else { c.error("ERR bit is not an integer or out of range"); return }
        guard let (shard, b, grew) = writable(&c, maxBit: off) else { return }
        var bytes = b
        let old = bit(bytes, off)
        if grew || old != on {
            let mask = UInt8(1) << (7 - UInt8(off & 7))
            if on == 1 { bytes[off >> 3] |= mask } else { bytes[off >> 3] &= ~mask }
            store(&c, shard, bytes)
            c.dirty()
            c.notify(.string, "setbit", 1)
        }
        c.out.integer(old)
    }

    /// GETBIT key offset
    static func getbit(_ c: inout CommandContext) {
        guard let off = offset(&c, 2) else { return }
        switch lookup(&c, 1) {
        case .wrongType: return
        case .missing: c.out.integer(0)
        case .found(_, _, let bytes): c.out.integer(bit(bytes, off))
        }
    }

    /// A range of BITCOUNT / BITPOS resolved as Redis does: negative indexes from the end,
    /// clamped; in BIT mode, the edge bytes' masks.
    struct Range {
        var start: Int, end: Int
        var firstMask: UInt8 = 0, lastMask: UInt8 = 0
    }

    static func resolve(_ start: Int, _ end: Int, length: Int, bitMode: Bool) -> Range {
        var total = length
        if bitMode { total <<= 3 }
        var s = start, e = end
        if s < 0 { s = total + s }
        if e < 0 { e = total + e }
        if s < 0 { s = 0 }
        if e < 0 { e = 0 }
        if e >= total { e = total - 1 }
        var r = Range(start: s, end: e)
        if bitMode && s <= e {
            r.firstMask = ~UInt8(truncatingIfNeeded: (1 << (8 - (s & 7))) - 1)
            r.lastMask = UInt8(truncatingIfNeeded: (1 << (7 - (e & 7))) - 1)
            r.start = s >> 3
            r.end = e >> 3
        }
        return r
    }

    static func popcount<C: Collection>(_ bytes: C) -> Int where C.Element == UInt8 {
        bytes.reduce(0) { $0 + $1.nonzeroBitCount }
    }

    /// BITCOUNT key [start end [BYTE | BIT]]
    static func bitcount(_ c: inout CommandContext) {
        var bytes: [UInt8] = []
        switch lookup(&c, 1) {
        case .wrongType: return
        case .missing:
            c.out.integer(0)
            return
        case .found(_, _, let b): bytes = b
        }
        var r = Range(start: 0, end: bytes.count - 1)
        if c.argc == 4 || c.argc == 5 {
            guard let start = c.integer(2), let end = c.integer(3) else { return }
            // As Redis 7.0: an empty negative range answers 0 before the unit is looked at.
            if start < 0 && end < 0 && start > end {
                c.out.integer(0)
                return
            }
            var bitMode = false
            if c.argc == 5 {
                if c.args.matches(4, "bit") { bitMode = true } else if !c.args.matches(4, "byte") { c.error(Errors.syntax); return }
            }
            r = resolve(start, end, length: bytes.count, bitMode: bitMode)
        } else if c.argc != 2 {
            c.error(Errors.syntax)
            return
        }
        guard r.start <= r.end else { c.out.integer(0); return }
        var count = popcount(bytes[r.start...r.end])
        if r.firstMask != 0 { count -= (bytes[r.start] & r.firstMask).nonzeroBitCount }
        if r.lastMask != 0 { count -= (bytes[r.end] & r.lastMask).nonzeroBitCount }
        c.out.integer(count)
    }

    /// The first bit equal to `bit` in `bytes`: -1 when looking for 1 and there is none; when
    /// looking for 0 and there is none, the bit just past the end (as redisBitpos).
    static func firstBit<C: Collection>(_ bytes: C, _ bit: Int) -> Int where C.Element == UInt8 {
        var pos = 0
        for b in bytes {
            if bit == 1 ? b != 0 : b != 0xFF {
                for i in 0..<8 where Int(b >> (7 - UInt8(i))) & 1 == bit { return pos + i }
            }
            pos += 8
        }
        return bit == 1 ? -1 : pos
    }

    /// BITPOS key bit [start [end [BYTE | BIT]]]
    static func bitpos(_ c: inout CommandContext) {
        guard let bit = c.integer(2) else { return }
        guard bit == 0 || bit == 1 else { c.error("ERR The bit argument must be 1 or 0."); return }
        var bytes: [UInt8] = []
        switch lookup(&c, 1) {
        case .wrongType: return
        case .missing:
            c.out.integer(bit == 1 ? -1 : 0)
            return
        case .found(_, _, let b): bytes = b
        }
        var endGiven = false
        var r = Range(start: 0, end: bytes.count - 1)
        if c.argc >= 4 && c.argc <= 6 {
            guard let start = c.integer(3) else { return }
            var bitMode = false
            if c.argc == 6 {
                if c.args.matches(5, "bit") { bitMode = true } else if !c.args.matches(5, "byte") { c.error(Errors.syntax); return }
            }
            var end: Int
            if c.argc >= 5 {
                guard let e = c.integer(4) else { return }
                end = e
                endGiven = true
            } else {
                end = bitMode ? (bytes.count << 3) + 7 : bytes.count - 1
            }
            r = resolve(start, end, length: bytes.count, bitMode: bitMode)
        } else if c.argc != 3 {
            c.error(Errors.syntax)
            return
        }
        guard r.start <= r.end else { c.out.integer(-1); return }
        var start = r.start
        var count = r.end - r.start + 1
        var pos: Int
        search: do {
            if r.firstMask != 0 {
                var b = bit == 1 ? bytes[start] & ~r.firstMask : bytes[start] | r.firstMask
                if r.lastMask != 0 && count == 1 { b = bit == 1 ? b & ~r.lastMask : b | r.lastMask }
                pos = firstBit([b], bit)
                if count == 1 || (pos != -1 && pos != 8) { break search }
                start += 1
                count -= 1
            }
            let whole = count - (r.lastMask != 0 ? 1 : 0)
            if whole > 0 {
                pos = firstBit(bytes[start..<(start + whole)], bit)
                if count == whole || (pos != -1 && pos != whole << 3) { break search }
                start += whole
                count -= whole
            }
            let last = bit == 1 ? bytes[r.end] & ~r.lastMask : bytes[r.end] | r.lastMask
            pos = firstBit([last], bit)
        }
        if endGiven && bit == 0 && pos == count << 3 {
            c.out.integer(-1)
            return
        }
        c.out.integer(pos == -1 ? -1 : pos + start << 3)
    }

    /// BITOP AND | OR | XOR | NOT destkey key [key ...]
    static func bitop(_ c: inout CommandContext) {
        enum Op { case and, or, xor, not }
        let op: Op
        if c.args.matches(1, "and") { op = .and } else if c.args.matches(1, "or") { op = .or }
        else if c.args.matches(1, "xor") { op = .xor } else if c.args.matches(1, "not") { op = .not }
        else { c.error(Errors.syntax); return }
        if op == .not && c.argc != 4 {
            c.error("ERR BITOP NOT must be called with a single source key.")
            return
        }
        var sources: [[UInt8]] = []
        for i in 3..<c.argc {
            let shard = c.shard(i)
            guard let slot = shard.find(c.args[i], now: c.lookupNow) else { sources.append([]); continue }
            guard let b = shard.entry(at: slot).value.stringBytes else { c.error(Errors.wrongType); return }
            sources.append(b)
        }
        let maxLen = sources.map(\.count).max() ?? 0
        var out = [UInt8](repeating: 0, count: maxLen)
        for j in 0..<maxLen {
            var v: UInt8 = j < sources[0].count ? sources[0][j] : 0
            if op == .not { v = ~v }
            for s in sources.dropFirst() {
                let b: UInt8 = j < s.count ? s[j] : 0
                switch op {
                case .and: v &= b
                case .or: v |= b
                case .xor: v ^= b
                case .not: break
                }
            }
            out[j] = v
        }
        let dest = c.shard(2)
        if maxLen > 0 {
            dest.set(c.args[2], .bytes(out), access: c.newAccess)
            if let slot = dest.find(c.args[2], now: c.lookupNow) { dest.withEntryMetadata(at: slot) { $0.rawEncoding = true } }
            c.dirty()
            c.notify(.string, "set", 2)
        } else if dest.delete(c.args[2], now: c.lookupNow) {
            c.dirty()
            c.notify(.generic, "del", 2)
        }
        c.out.integer(maxLen)
    }

    // MARK: BITFIELD

    struct FieldOp {
        enum Kind { case get, set, incrby }
        var kind: Kind
        var offset: Int
        var bits: Int
        var signed: Bool
        var value: Int
        var overflow: Overflow
    }

    enum Overflow { case wrap, sat, fail }

    static func unsignedField(_ bytes: [UInt8], _ offset: Int, _ bits: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<bits { v = v << 1 | UInt64(bit(bytes, offset + i)) }
        return v
    }

    static func signedField(_ bytes: [UInt8], _ offset: Int, _ bits: Int) -> Int64 {
        let u = unsignedField(bytes, offset, bits)
        if bits == 64 { return Int64(bitPattern: u) }
        let shift = UInt64(64 - bits)
        return Int64(bitPattern: u << shift) >> Int64(shift)
    }

    static func setField(_ bytes: inout [UInt8], _ offset: Int, _ bits: Int, _ value: UInt64) {
        for i in 0..<bits {
            let on = (value >> UInt64(bits - 1 - i)) & 1 == 1
            let o = offset + i
            let mask = UInt8(1) << (7 - UInt8(o & 7))
            if on { bytes[o >> 3] |= mask } else { bytes[o >> 3] &= ~mask }
        }
    }

    /// Redis's checkUnsignedBitfieldOverflow: 0, or ±1 with the wrapped / saturated value.
    static func unsignedOverflow(_ value: UInt64, _ incr: Int64, _ bits: Int, _ ow: Overflow) -> (Int, UInt64) {
        let max: UInt64 = bits == 64 ? .max : (1 << UInt64(bits)) - 1
        let maxIncr = Int64(bitPattern: max &- value)
        let minIncr = Int64(bitPattern: 0 &- value)
        func wrapped() -> UInt64 { (value &+ UInt64(bitPattern: incr)) & max }
        if value > max || (incr > 0 && incr > maxIncr) { return (1, ow == .wrap ? wrapped() : max) }
        if incr < 0 && incr < minIncr { return (-1, ow == .wrap ? wrapped() : 0) }
        return (0, 0)
    }

    /// Redis's checkSignedBitfieldOverflow.
    static func signedOverflow(_ value: Int64, _ incr: Int64, _ bits: Int, _ ow: Overflow) -> (Int, Int64) {
        let max: Int64 = bits == 64 ? .max : (1 << Int64(bits - 1)) - 1
        let min = -max - 1
        let maxIncr = Int64(bitPattern: UInt64(bitPattern: max) &- UInt64(bitPattern: value))
        let minIncr = min &- value
        func wrapped() -> Int64 {
            var r = UInt64(bitPattern: value) &+ UInt64(bitPattern: incr)
            if bits < 64 {
                let mask = UInt64.max << UInt64(bits)
                if r & (1 << UInt64(bits - 1)) != 0 { r |= mask } else { r &= ~mask }
            }
            return Int64(bitPattern: r)
        }
        if value > max || (bits != 64 && incr > maxIncr) || (value >= 0 && incr > 0 && incr > maxIncr) {
            return (1, ow == .wrap ? wrapped() : max)
        }
        if value < min || (bits != 64 && incr < minIncr) || (value < 0 && incr < 0 && incr < minIncr) {
            return (-1, ow == .wrap ? wrapped() : min)
        }
        return (0, 0)
    }

    /// BITFIELD key [GET type offset] [SET type offset value] [INCRBY type offset increment]
    /// [OVERFLOW WRAP | SAT | FAIL] ... ; BITFIELD_RO key [GET type offset] ...
    static func bitfield(_ c: inout CommandContext, readOnly: Bool) {
        var ops: [FieldOp] = []
        var overflow = Overflow.wrap
        var writes = false
        var highest = 0
        var j = 2
        let typeError = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
        while j < c.argc {
            let remaining = c.argc - j - 1
            let kind: FieldOp.Kind
            if c.args.matches(j, "get") && remaining >= 2 { kind = .get }
            else if c.args.matches(j, "set") && remaining >= 3 { kind = .set }
            else if c.args.matches(j, "incrby") && remaining >= 3 { kind = .incrby }
            else if c.args.matches(j, "overflow") && remaining >= 1 {
                if c.args.matches(j + 1, "wrap") { overflow = .wrap }
                else if c.args.matches(j + 1, "sat") { overflow = .sat }
                else if c.args.matches(j + 1, "fail") { overflow = .fail }
                else { c.error("ERR Invalid OVERFLOW type specified"); return }
                j += 2
                continue
            } else {
                c.error(Errors.syntax)
                return
            }
            let type = c.args[j + 1]
            guard let sign = type.first, sign == UInt8(ascii: "i") || sign == UInt8(ascii: "u"),
                  let bits = parseCanonicalInt(type.dropFirst()), bits >= 1,
                  bits <= (sign == UInt8(ascii: "i") ? 64 : 63) else {
                c.error(typeError)
                return
            }
            guard let off = offset(&c, j + 2, hashBits: bits) else { return }
            var value = 0
            if kind != .get {
                writes = true
                highest = max(highest, off + bits - 1)
                guard let v = c.integer(j + 3) else { return }
                value = v
            }
            ops.append(FieldOp(kind: kind, offset: off, bits: bits, signed: sign == UInt8(ascii: "i"), value: value, overflow: overflow))
            j += kind == .get ? 3 : 4
        }
        var bytes: [UInt8] = []
        var shard: Shard? = nil
        var grew = false
        if !writes {
            switch lookup(&c, 1) {
            case .wrongType: return
            case .missing: break
            case .found(_, _, let b): bytes = b
            }
        } else {
            if readOnly {
                c.error("ERR BITFIELD_RO only supports the GET subcommand")
                return
            }
            guard let (s, b, g) = writable(&c, maxBit: highest) else { return }
            shard = s
            bytes = b
            grew = g
        }
        c.out.array(ops.count)
        var changes = 0
        for op in ops {
            switch op.kind {
            case .get:
                if op.signed { c.out.integer(Int(signedField(bytes, op.offset, op.bits))) }
                else { c.out.integer(Int(unsignedField(bytes, op.offset, op.bits))) }
            case .set, .incrby:
                if op.signed {
                    let old = signedField(bytes, op.offset, op.bits)
                    var new: Int64
                    var over: Int
                    let reply: Int64
                    if op.kind == .incrby {
                        let (o, w) = signedOverflow(old, Int64(op.value), op.bits, op.overflow)
                        over = o
                        new = o != 0 ? w : old &+ Int64(op.value)
                        reply = new
                    } else {
                        new = Int64(op.value)
                        let (o, w) = signedOverflow(new, 0, op.bits, op.overflow)
                        over = o
                        if o != 0 { new = w }
                        reply = old
                    }
                    if over != 0 && op.overflow == .fail {
                        c.out.null()
                    } else {
                        c.out.integer(Int(reply))
                        setField(&bytes, op.offset, op.bits, UInt64(bitPattern: new))
                        if grew || old != new { changes += 1 }
                    }
                } else {
                    let old = unsignedField(bytes, op.offset, op.bits)
                    var new: UInt64
                    var over: Int
                    let reply: UInt64
                    if op.kind == .incrby {
                        new = old &+ UInt64(bitPattern: Int64(op.value))
                        let (o, w) = unsignedOverflow(old, Int64(op.value), op.bits, op.overflow)
                        over = o
                        if o != 0 { new = w }
                        reply = new
                    } else {
                        new = UInt64(bitPattern: Int64(op.value))
                        let (o, w) = unsignedOverflow(new, 0, op.bits, op.overflow)
                        over = o
                        if o != 0 { new = w }
                        reply = old
                    }
                    if over != 0 && op.overflow == .fail {
                        c.out.null()
                    } else {
                        c.out.integer(Int(bitPattern: UInt(reply)))
                        setField(&bytes, op.offset, op.bits, new)
                        if grew || old != new { changes += 1 }
                    }
                }
            }
        }
        // Redis creates or grows the string before running the operations, so the key exists
        // (zero-filled) even when every SET or INCRBY failed on OVERFLOW FAIL; only changes
        // are notified and counted.
        if let shard, changes > 0 || grew {
            store(&c, shard, bytes)
            if changes > 0 {
                c.dirty(changes)
                c.notify(.string, "setbit", 1)
            }
        }
    }
}
