import NIOCore

/// Writes replies into an outbound buffer in RESP2 or RESP3.
///
/// Types RESP2 lacks are written as Redis does: maps and sets as flat arrays, null as a null
/// bulk string (or null array where Redis uses one), doubles as bulk strings, booleans as 0/1.
public struct RESPWriter: Sendable {
    public var buffer: ByteBuffer
    public var resp3: Bool = false

    public init(buffer: ByteBuffer) { self.buffer = buffer }

    @inlinable mutating func crlf() { buffer.writeInteger(UInt16(0x0D0A)) }

    // The framing writers below reserve once and store through a pointer: ByteBuffer's
    // writeInteger/writeBytes check capacity and uniqueness on every call, which made a
    // 3-byte GET reply cost four of those checks.

    /// Writes `value` in decimal at `p`; returns the number of bytes (at most 20).
    @inlinable public static func putDecimal(_ p: UnsafeMutableRawPointer, _ value: Int) -> Int {
        var m = value.magnitude
        var digits = 1
        var t = m
        while t >= 10 { t /= 10; digits += 1 }
        let sign = value < 0 ? 1 : 0
        if sign == 1 { p.storeBytes(of: UInt8(ascii: "-"), as: UInt8.self) }
        var i = sign + digits
        repeat {
            i -= 1
            p.storeBytes(of: UInt8(truncatingIfNeeded: 48 + m % 10), toByteOffset: i, as: UInt8.self)
            m /= 10
        } while m > 0
        return sign + digits
    }

    /// Writes `type`, `n` and CRLF at `p`; returns the number of bytes (at most 23).
    @inlinable static func putHeader(_ p: UnsafeMutableRawPointer, _ type: UInt8, _ n: Int) -> Int {
        p.storeBytes(of: type, as: UInt8.self)
        let end = 1 + putDecimal(p + 1, n)
        p.storeBytes(of: 13, toByteOffset: end, as: UInt8.self)
        p.storeBytes(of: 10, toByteOffset: end + 1, as: UInt8.self)
        return end + 2
    }

    @inlinable mutating func writeDecimal(_ value: Int) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 20) { Self.putDecimal($0.baseAddress!, value) }
    }

    @inlinable mutating func header(_ type: UInt8, _ n: Int) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 23) { Self.putHeader($0.baseAddress!, type, n) }
    }

    public mutating func simple(_ s: String) {
        var text = s
        text.withUTF8 { u in
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: u.count + 3) { out in
                let p = out.baseAddress!
                p.storeBytes(of: UInt8(ascii: "+"), as: UInt8.self)
                if u.count > 0 { (p + 1).copyMemory(from: u.baseAddress!, byteCount: u.count) }
                p.storeBytes(of: 13, toByteOffset: u.count + 1, as: UInt8.self)
                p.storeBytes(of: 10, toByteOffset: u.count + 2, as: UInt8.self)
                return u.count + 3
            }
        }
    }

    public mutating func ok() { raw("+OK\r\n") }

    /// An error reply. `message` starts with its code ("ERR ...", "WRONGTYPE ...").
    public mutating func error(_ message: String) {
        buffer.writeInteger(UInt8(ascii: "-"))
        // An error line must not break the framing.
        for b in message.utf8 { buffer.writeInteger((b == 13 || b == 10) ? UInt8(32) : b) }
        crlf()
    }

    public mutating func integer(_ v: Int) { header(UInt8(ascii: ":"), v) }

    public mutating func bulk<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        let done: Void? = bytes.withContiguousStorageIfAvailable { bulk(UnsafeRawBufferPointer($0)) }
        guard done == nil else { return }
        header(UInt8(ascii: "$"), bytes.count)
        buffer.writeBytes(bytes)
        crlf()
    }

    /// A bulk string: header, payload and CRLF in one reservation.
    public mutating func bulk(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: n + 25) { out in
            let p = out.baseAddress!
            var w = Self.putHeader(p, UInt8(ascii: "$"), n)
            if n > 0 { (p + w).copyMemory(from: bytes.baseAddress!, byteCount: n) }
            w += n
            p.storeBytes(of: 13, toByteOffset: w, as: UInt8.self)
            p.storeBytes(of: 10, toByteOffset: w + 1, as: UInt8.self)
            return w + 2
        }
    }

    public mutating func bulk(_ s: String) { bulk(s.utf8) }

    /// An integer written as a bulk string (GET of a value stored as an integer).
    public mutating func bulkDecimal(_ v: Int) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 2 * 23) { out in
            let p = out.baseAddress!
            // The digits go after a header sized for 20 of them, then move back if shorter.
            let n = Self.putDecimal(p + 24, v)
            var w = Self.putHeader(p, UInt8(ascii: "$"), n)
            (p + w).copyMemory(from: p + 24, byteCount: n)
            w += n
            p.storeBytes(of: 13, toByteOffset: w, as: UInt8.self)
            p.storeBytes(of: 10, toByteOffset: w + 1, as: UInt8.self)
            return w + 2
        }
    }

    /// The null reply: `$-1` in RESP2, `_` in RESP3.
    public mutating func null() {
        if resp3 { raw("_\r\n") } else { raw("$-1\r\n") }
    }

    /// The null array of RESP2 (`*-1`), `_` in RESP3.
    public mutating func nullArray() {
        if resp3 { raw("_\r\n") } else { raw("*-1\r\n") }
    }

    public mutating func array(_ n: Int) { header(UInt8(ascii: "*"), n) }

    public mutating func map(_ n: Int) {
        if resp3 { header(UInt8(ascii: "%"), n) } else { header(UInt8(ascii: "*"), 2 * n) }
    }

    public mutating func set(_ n: Int) {
        if resp3 { header(UInt8(ascii: "~"), n) } else { header(UInt8(ascii: "*"), n) }
    }

    public mutating func push(_ n: Int) {
        if resp3 { header(UInt8(ascii: ">"), n) } else { header(UInt8(ascii: "*"), n) }
    }

    public mutating func bool(_ b: Bool) {
        if resp3 { buffer.writeStaticString(b ? "#t\r\n" : "#f\r\n") } else { integer(b ? 1 : 0) }
    }

    /// A double: `,` in RESP3, a bulk string in RESP2, formatted by the caller as Redis does.
    public mutating func double(_ formatted: String) {
        if resp3 {
            buffer.writeInteger(UInt8(ascii: ","))
            buffer.writeString(formatted)
            crlf()
        } else {
            bulk(formatted)
        }
    }

    /// Text Redis sends as a verbatim string in RESP3 (INFO, CLIENT LIST) and a bulk in RESP2.
    public mutating func verbatim(_ text: String) {
        if resp3 {
            let n = text.utf8.count + 4
            header(UInt8(ascii: "="), n)
            buffer.writeStaticString("txt:")
            buffer.writeString(text)
            crlf()
        } else {
            bulk(text)
        }
    }

    /// A fixed reply (+OK, a null): one reservation and a copy, where writeStaticString cost
    /// about 150 instructions for five bytes (callgrind).
    @inline(__always) public mutating func raw(_ s: StaticString) {
        guard s.hasPointerRepresentation else { buffer.writeStaticString(s); return }
        let n = s.utf8CodeUnitCount
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: n) { out in
            out.baseAddress!.copyMemory(from: s.utf8Start, byteCount: n)
            return n
        }
    }
}
