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

    @inlinable mutating func writeDecimal(_ value: Int) {
        if value >= 0 && value < 10 {
            buffer.writeInteger(UInt8(48 + value))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)   // 24 bytes of scratch
        withUnsafeMutableBytes(of: &digits) { scratch in
            var v = value.magnitude
            var i = scratch.count
            repeat {
                i -= 1
                scratch[i] = UInt8(48 + v % 10)
                v /= 10
            } while v > 0
            if value < 0 { i -= 1; scratch[i] = UInt8(ascii: "-") }
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: scratch[i...]))
        }
    }

    @inlinable mutating func header(_ type: UInt8, _ n: Int) {
        buffer.writeInteger(type)
        writeDecimal(n)
        crlf()
    }

    public mutating func simple(_ s: String) {
        buffer.writeInteger(UInt8(ascii: "+"))
        buffer.writeString(s)
        crlf()
    }

    public mutating func ok() { buffer.writeStaticString("+OK\r\n") }

    /// An error reply. `message` starts with its code ("ERR ...", "WRONGTYPE ...").
    public mutating func error(_ message: String) {
        buffer.writeInteger(UInt8(ascii: "-"))
        // An error line must not break the framing.
        for b in message.utf8 { buffer.writeInteger((b == 13 || b == 10) ? UInt8(32) : b) }
        crlf()
    }

    public mutating func integer(_ v: Int) { header(UInt8(ascii: ":"), v) }

    public mutating func bulk<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        header(UInt8(ascii: "$"), bytes.count)
        buffer.writeBytes(bytes)
        crlf()
    }

    public mutating func bulk(_ s: String) { bulk(s.utf8) }

    /// An integer written as a bulk string (GET of a value stored as an integer).
    public mutating func bulkDecimal(_ v: Int) {
        var digits = v < 0 ? 2 : 1
        var m = v.magnitude
        while m >= 10 { m /= 10; digits += 1 }
        header(UInt8(ascii: "$"), digits)
        writeDecimal(v)
        crlf()
    }

    /// The null reply: `$-1` in RESP2, `_` in RESP3.
    public mutating func null() {
        if resp3 { buffer.writeStaticString("_\r\n") } else { buffer.writeStaticString("$-1\r\n") }
    }

    /// The null array of RESP2 (`*-1`), `_` in RESP3.
    public mutating func nullArray() {
        if resp3 { buffer.writeStaticString("_\r\n") } else { buffer.writeStaticString("*-1\r\n") }
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

    public mutating func raw(_ s: StaticString) { buffer.writeStaticString(s) }
}
