#if canImport(Glibc)
import Glibc
#endif
/// What goes wrong reading RDB data; loading and RESTORE report it and stop.
public struct RDBError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The RDB format's building blocks (Redis's rdb.c): lengths, strings with their integer and
/// LZF encodings, and binary doubles.
public struct RDBWriter {
    public var bytes: [UInt8] = []
    public var compress: Bool
    var lzf = LZF.Table()

    public init(compress: Bool = true) { self.compress = compress }

    public mutating func byte(_ b: UInt8) { bytes.append(b) }

    public mutating func length(_ n: Int) {
        if n < 1 << 6 {
            bytes.append(UInt8(n))
        } else if n < 1 << 14 {
            bytes.append(UInt8(0x40 | n >> 8))
            bytes.append(UInt8(n & 0xff))
        } else if n <= Int(UInt32.max) {
            bytes.append(0x80)
            withUnsafeBytes(of: UInt32(n).bigEndian) { bytes.append(contentsOf: $0) }
        } else {
            bytes.append(0x81)
            withUnsafeBytes(of: UInt64(n).bigEndian) { bytes.append(contentsOf: $0) }
        }
    }

    /// A length that may use all 64 bits (stream IDs and counters).
    public mutating func length64(_ n: UInt64) {
        if n <= UInt64(UInt32.max) {
            length(Int(n))
        } else {
            bytes.append(0x81)
            withUnsafeBytes(of: n.bigEndian) { bytes.append(contentsOf: $0) }
        }
    }

    /// A string as Redis stores it: a short decimal integer as an int8/16/32 encoding, a long
    /// compressible one LZF-compressed, anything else raw.
    public mutating func string<C: Collection>(_ s: C) where C.Element == UInt8 {
        if s.count <= 11, let v = canonicalInteger(s), let encoded = Self.intEncoding(v) {
            bytes.append(contentsOf: encoded)
            return
        }
        if compress && s.count > 20, let packed = LZF.compress(Array(s), limit: s.count - 4, table: &lzf) {
            bytes.append(0xC3)
            length(packed.count)
            length(s.count)
            bytes.append(contentsOf: packed)
            return
        }
        length(s.count)
        bytes.append(contentsOf: s)
    }

    public mutating func integerString(_ v: Int) {
        if let encoded = Self.intEncoding(v) { bytes.append(contentsOf: encoded) } else { string(Array(String(v).utf8)) }
    }

    static func intEncoding(_ v: Int) -> [UInt8]? {
        if v >= Int(Int8.min) && v <= Int(Int8.max) { return [0xC0, UInt8(truncatingIfNeeded: v)] }
        if v >= Int(Int16.min) && v <= Int(Int16.max) {
            return [0xC1, UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: v >> 8)]
        }
        if v >= Int(Int32.min) && v <= Int(Int32.max) {
            return [0xC2, UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: v >> 8),
                    UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 24)]
        }
        return nil
    }

    public mutating func double(_ d: Double) {
        withUnsafeBytes(of: d.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func uint64LE(_ v: UInt64) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func uint32LE(_ v: UInt32) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }
}

/// A decimal integer in canonical form (what Redis's string2ll accepts and prints back the same).
func canonicalInteger<C: Collection>(_ s: C) -> Int? where C.Element == UInt8 {
    guard !s.isEmpty, s.count <= 20 else { return nil }
    guard let v = Int(String(decoding: s, as: UTF8.self)) else { return nil }
    return String(v).utf8.elementsEqual(s) ? v : nil
}

public struct RDBReader {
    /// The bytes in memory: all of them, or, reading a file, a window of it that moves on as
    /// it is read (a file of any size then costs about a megabyte, not its size: a replica
    /// loading its primary's RDB held the whole file besides the data set it built).
    public private(set) var bytes: [UInt8]
    /// Where the next read starts in `bytes`.
    public var position: Int
    private let file: RDBFileSource?
    /// The CRC-64 of what left the window's front (the file's checksum covers it).
    private var droppedCRC: UInt64 = 0

    public init(_ bytes: [UInt8], position: Int = 0) {
        self.bytes = bytes
        self.position = position
        self.file = nil
    }

    /// A reader of the open file `fd`, from its start.
    init(file fd: Int32) {
        self.bytes = []
        self.position = 0
        self.file = RDBFileSource(fd: fd)
    }

    public mutating func byte() throws -> UInt8 {
        if position >= bytes.count { try refill(1) }
        defer { position += 1 }
        return bytes[position]
    }

    public mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0 else { throw RDBError("Unexpected EOF reading RDB file") }
        if n > bytes.count - position { try refill(n) }
        defer { position += n }
        return bytes[position..<(position + n)]
    }

    /// Makes `n` bytes from `position` available: drops what was read, reads on.
    private mutating func refill(_ n: Int) throws {
        guard let file else { throw RDBError("Unexpected EOF reading RDB file") }
        if position > 0 {
            droppedCRC = CRC64.update(droppedCRC, bytes[..<position])
            bytes.removeSubrange(..<position)
            position = 0
        }
        while bytes.count < n {
            guard try file.read(into: &bytes, atLeast: n - bytes.count) else {
                throw RDBError("Unexpected EOF reading RDB file")
            }
        }
    }

    /// The CRC-64 of everything before `position`, from the start of the file.
    func checksumSoFar() -> UInt64 { CRC64.update(droppedCRC, bytes[..<position]) }

    func littleEndian(_ s: ArraySlice<UInt8>) -> UInt64 {
        var v: UInt64 = 0
        for (i, b) in s.enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        return v
    }

    public mutating func uint64LE() throws -> UInt64 { littleEndian(try take(8)) }
    public mutating func uint32LE() throws -> UInt32 { UInt32(littleEndian(try take(4))) }

    /// A length, or the special encoding it announces (strings only).
    public mutating func lengthOrEncoding() throws -> (value: Int, encoded: Bool) {
        let first = try byte()
        switch first >> 6 {
        case 0: return (Int(first & 0x3f), false)
        case 1: return (Int(first & 0x3f) << 8 | Int(try byte()), false)
        case 2:
            if first == 0x80 {
                var v = 0
                for b in try take(4) { v = v << 8 | Int(b) }
                return (v, false)
            }
            if first == 0x81 {
                var v: UInt64 = 0
                for b in try take(8) { v = v << 8 | UInt64(b) }
                guard v <= UInt64(Int.max) else { throw RDBError("length out of range") }
                return (Int(v), false)
            }
            throw RDBError("Unknown length encoding \(first) in rdbLoadLen()")
        default:
            return (Int(first & 0x3f), true)
        }
    }

    /// A length that may use all 64 bits (stream IDs and counters).
    public mutating func length64() throws -> UInt64 {
        let first = try byte()
        switch first >> 6 {
        case 0: return UInt64(first & 0x3f)
        case 1: return UInt64(first & 0x3f) << 8 | UInt64(try byte())
        case 2 where first == 0x80:
            var v: UInt64 = 0
            for b in try take(4) { v = v << 8 | UInt64(b) }
            return v
        case 2 where first == 0x81:
            var v: UInt64 = 0
            for b in try take(8) { v = v << 8 | UInt64(b) }
            return v
        default:
            throw RDBError("Unknown length encoding \(first) in rdbLoadLen()")
        }
    }

    public mutating func length() throws -> Int {
        let (v, encoded) = try lengthOrEncoding()
        guard !encoded else { throw RDBError("unexpected encoded length") }
        return v
    }

    public mutating func string() throws -> [UInt8] {
        let (v, encoded) = try lengthOrEncoding()
        guard encoded else { return Array(try take(v)) }
        switch v {
        case 0: return Array(String(Int(Int8(bitPattern: try byte()))).utf8)
        case 1: return Array(String(Int(Int16(truncatingIfNeeded: littleEndian(try take(2))))).utf8)
        case 2: return Array(String(Int(Int32(truncatingIfNeeded: littleEndian(try take(4))))).utf8)
        case 3:
            let compressed = try length()
            let plain = try length()
            let data = try take(compressed)
            guard let out = LZF.decompress(data, length: plain) else { throw RDBError("Invalid LZF compressed string") }
            return out
        default:
            throw RDBError("Unknown RDB string encoding type \(v)")
        }
    }

    public mutating func binaryDouble() throws -> Double { Double(bitPattern: try uint64LE()) }

    /// The string-encoded double of RDB_TYPE_ZSET (version 1): a length byte, 253 nan, 254
    /// +inf, 255 -inf.
    public mutating func stringDouble() throws -> Double {
        let n = try byte()
        switch n {
        case 253: return .nan
        case 254: return .infinity
        case 255: return -.infinity
        default:
            guard let d = Double(String(decoding: try take(Int(n)), as: UTF8.self)) else { throw RDBError("bad double") }
            return d
        }
    }
}

/// An RDB file read in pieces of a megabyte or more.
final class RDBFileSource {
    let fd: Int32
    init(fd: Int32) { self.fd = fd }

    /// Appends at least `atLeast` bytes (a megabyte or more at a time) to `bytes`; false at the
    /// end of the file.
    func read(into bytes: inout [UInt8], atLeast: Int) throws -> Bool {
        let want = max(atLeast, 1 << 20)
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: want))
        var got = 0
        while got < atLeast {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + start + got, want - got) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw RDBError("Error reading the RDB file: \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            got += n
        }
        bytes.removeLast(want - got)
        return got >= atLeast
    }
}
