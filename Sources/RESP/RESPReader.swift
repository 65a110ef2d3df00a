import NIOCore

/// Limits the reader enforces before it buffers anything, as Redis's `processMultibulkBuffer`.
public struct RESPLimits: Sendable {
    public var maxBulkLength: Int = 512 * 1024 * 1024     // proto-max-bulk-len
    public var maxInlineLength: Int = 64 * 1024           // PROTO_INLINE_MAX_SIZE
    public var unauthenticated: Bool = false               // tighter limits before AUTH
    public init() {}
}

public enum ParseResult: Equatable, Sendable {
    /// One command was parsed into the arguments; `consumed` bytes of input belong to it.
    case command(consumed: Int)
    /// Bytes that form no command (an empty inline line, `*0`); skip them.
    case skip(consumed: Int)
    /// More input is needed.
    case incomplete
    /// The input is not RESP; the message follows "ERR " in the reply, as Redis's.
    case error(String)
}

/// Parses requests, multibulk or inline, from the readable bytes of a buffer.
///
/// The reader keeps no state between calls: an incomplete command is parsed again from its
/// start when more bytes arrive. Only the header lines are scanned twice; bulk payloads are
/// skipped by their length, so a large value arriving in many reads costs no rescans.
public struct RESPReader: Sendable {
    public var limits: RESPLimits

    public init(limits: RESPLimits = RESPLimits()) { self.limits = limits }

    public func parse(_ buffer: ByteBuffer, into args: inout CommandArguments) -> ParseResult {
        buffer.withUnsafeReadableBytes { parse($0, into: &args) }
    }

    public func parse(_ bytes: UnsafeRawBufferPointer, into args: inout CommandArguments) -> ParseResult {
        args.removeAll()
        guard !bytes.isEmpty else { return .incomplete }
        if bytes[0] == UInt8(ascii: "*") {
            return parseMultibulk(bytes, into: &args)
        }
        return parseInline(bytes, into: &args)
    }

    private func findCRLF(_ b: UnsafeRawBufferPointer, from: Int) -> Int? {
        var i = from
        let end = b.count - 1
        while i < end {
            if b[i] == 13 && b[i + 1] == 10 { return i }
            i += 1
        }
        return nil
    }

    private func parseMultibulk(_ b: UnsafeRawBufferPointer, into args: inout CommandArguments) -> ParseResult {
        guard let lineEnd = findCRLF(b, from: 1) else {
            if b.count > limits.maxInlineLength { return .error("Protocol error: too big mbulk count string") }
            return .incomplete
        }
        guard let n = parseInt(b, 1, lineEnd), n <= Int(Int32.max) else {
            return .error("Protocol error: invalid multibulk length")
        }
        if n > 10 && limits.unauthenticated {
            return .error("Protocol error: unauthenticated multibulk length")
        }
        var pos = lineEnd + 2
        if n <= 0 { return .skip(consumed: pos) }
        for _ in 0..<n {
            guard pos < b.count else { return .incomplete }
            guard b[pos] == UInt8(ascii: "$") else {
                return .error("Protocol error: expected '$', got '\(printable(b[pos]))'")
            }
            let le: Int, len: Int
            if let quick = quickLength(b, pos + 1) {
                (len, le) = quick
            } else {
                guard let end = findCRLF(b, from: pos + 1) else {
                    if b.count - pos > limits.maxInlineLength { return .error("Protocol error: too big bulk count string") }
                    return .incomplete
                }
                guard let l = parseInt(b, pos + 1, end) else { return .error("Protocol error: invalid bulk length") }
                (len, le) = (l, end)
            }
            guard len >= 0, len <= limits.maxBulkLength else {
                return .error("Protocol error: invalid bulk length")
            }
            if len > 16384 && limits.unauthenticated {
                return .error("Protocol error: unauthenticated bulk length")
            }
            let start = le + 2
            // Redis does not check the CRLF after a payload; it skips two bytes.
            guard b.count >= start + len + 2 else { return .incomplete }
            args.append(UnsafeRawBufferPointer(rebasing: b[start ..< start + len]))
            pos = start + len + 2
        }
        return .command(consumed: pos)
    }

    /// A bulk length and the index of its CRLF in one pass, for the common line: 1 to 18
    /// digits, no sign, no leading zero, CRLF present. Anything else is nil and takes the
    /// general path (findCRLF, then parseInt), which tells incomplete from invalid.
    @inline(__always)
    private func quickLength(_ b: UnsafeRawBufferPointer, _ from: Int) -> (Int, Int)? {
        var i = from
        var v = 0
        let end = b.count
        while i < end {
            let d = Int(b[i]) &- 48
            guard d >= 0 && d <= 9 else { break }
            v = v &* 10 &+ d
            i += 1
        }
        let digits = i - from
        guard digits > 0, digits <= 18, i + 1 < end, b[i] == 13, b[i + 1] == 10 else { return nil }
        if digits > 1 && b[from] == UInt8(ascii: "0") { return nil }
        return (v, i)
    }

    private func parseInline(_ b: UnsafeRawBufferPointer, into args: inout CommandArguments) -> ParseResult {
        var nl = -1
        for i in 0..<b.count where b[i] == 10 { nl = i; break }
        if nl < 0 {
            if b.count > limits.maxInlineLength { return .error("Protocol error: too big inline request") }
            return .incomplete
        }
        var end = nl
        if end > 0 && b[end - 1] == 13 { end -= 1 }
        let line = UnsafeRawBufferPointer(rebasing: b[0..<end])
        guard splitArgs(line, into: &args) else {
            args.removeAll()
            return .error("Protocol error: unbalanced quotes in request")
        }
        return args.isEmpty ? .skip(consumed: nl + 1) : .command(consumed: nl + 1)
    }

    private func printable(_ c: UInt8) -> String {
        String(decoding: [c], as: UTF8.self)
    }
}

/// Parses a decimal integer as Redis's string2ll: optional '-', no '+', no spaces, no leading zeros.
func parseInt(_ b: UnsafeRawBufferPointer, _ from: Int, _ to: Int) -> Int? {
    var i = from
    guard i < to else { return nil }
    var negative = false
    if b[i] == UInt8(ascii: "-") {
        negative = true
        i += 1
        guard i < to else { return nil }
    }
    // As string2ll: no leading zeros, and no "-0".
    if (to - i > 1 || negative) && b[i] == UInt8(ascii: "0") { return nil }
    var v = 0
    while i < to {
        let d = Int(b[i]) - 48
        guard d >= 0 && d <= 9 else { return nil }
        let (m, o1) = v.multipliedReportingOverflow(by: 10)
        let (a, o2) = negative ? m.subtractingReportingOverflow(d) : m.addingReportingOverflow(d)
        if o1 || o2 { return nil }
        v = a
        i += 1
    }
    return v
}

/// Splits an inline command line as Redis's sdssplitargs: spaces separate, "double quotes"
/// take \n \r \t \b \a \\ \" and \xHH escapes, 'single quotes' take \'. A closing quote must be
/// followed by a space or the end of the line. Returns false on unbalanced quotes.
public func splitArgs(_ line: UnsafeRawBufferPointer, into args: inout CommandArguments) -> Bool {
    var i = 0
    let n = line.count
    var current: [UInt8] = []
    func isSpace(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 10 || c == 13 || c == 11 || c == 12 }
    func hexVal(_ c: UInt8) -> Int? {
        switch c {
        case 48...57: return Int(c) - 48
        case 65...70: return Int(c) - 55
        case 97...102: return Int(c) - 87
        default: return nil
        }
    }
    while true {
        while i < n && isSpace(line[i]) { i += 1 }
        if i >= n { return true }
        current.removeAll(keepingCapacity: true)
        var inDouble = false, inSingle = false, done = false
        while !done {
            if inDouble {
                guard i < n else { return false }
                let c = line[i]
                if c == UInt8(ascii: "\\") && i + 3 < n && line[i + 1] == UInt8(ascii: "x"),
                   let h = hexVal(line[i + 2]), let l = hexVal(line[i + 3]) {
                    current.append(UInt8(h * 16 + l))
                    i += 3
                } else if c == UInt8(ascii: "\\") && i + 1 < n {
                    i += 1
                    switch line[i] {
                    case UInt8(ascii: "n"): current.append(10)
                    case UInt8(ascii: "r"): current.append(13)
                    case UInt8(ascii: "t"): current.append(9)
                    case UInt8(ascii: "b"): current.append(8)
                    case UInt8(ascii: "a"): current.append(7)
                    default: current.append(line[i])
                    }
                } else if c == UInt8(ascii: "\"") {
                    if i + 1 < n && !isSpace(line[i + 1]) { return false }
                    done = true
                } else {
                    current.append(c)
                }
            } else if inSingle {
                guard i < n else { return false }
                let c = line[i]
                if c == UInt8(ascii: "\\") && i + 1 < n && line[i + 1] == UInt8(ascii: "'") {
                    i += 1
                    current.append(UInt8(ascii: "'"))
                } else if c == UInt8(ascii: "'") {
                    if i + 1 < n && !isSpace(line[i + 1]) { return false }
                    done = true
                } else {
                    current.append(c)
                }
            } else {
                if i >= n { done = true; break }
                let c = line[i]
                switch c {
                case 32, 9, 10, 13, 11, 12: done = true
                case UInt8(ascii: "\""): inDouble = true
                case UInt8(ascii: "'"): inSingle = true
                default: current.append(c)
                }
            }
            if i < n { i += 1 }
        }
        args.append(current)
    }
}
