/// memcached's binary protocol, which memcached 1.6 still serves on the text port and many
/// clients still speak (pylibmc with `binary=True`, several Java and PHP clients by default):
/// a 24-byte header (magic 0x80, opcode, key length, extras length, data type, vbucket, body
/// length, opaque, CAS), then extras, key and value. A connection's first byte tells which
/// protocol it speaks, as memcached decides.
public struct MemcacheBinaryRequest {
    public let opcode: UInt8
    public let opaque: UInt32
    public let cas: UInt64
    public let extras: ArraySlice<UInt8>
    public let key: ArraySlice<UInt8>
    public let value: ArraySlice<UInt8>

    public static let requestMagic: UInt8 = 0x80
    public static let responseMagic: UInt8 = 0x81
    public static let headerLength = 24
    /// Bodies larger than this close the connection (memcached refuses what it cannot hold).
    public static let maxBody = 64 << 20

    public enum Parse {
        case request(MemcacheBinaryRequest)
        /// Not all of it has arrived.
        case incomplete
        /// Not a request memcached would read (bad magic, lengths that do not add up).
        case invalid
    }

    /// The request at `start` in `input`; on success `start` moves past it.
    public static func parse(_ input: [UInt8], from start: inout Int) -> Parse {
        guard input.count - start >= headerLength else { return .incomplete }
        let h = start
        guard input[h] == requestMagic else { return .invalid }
        let keyLength = Int(input[h + 2]) << 8 | Int(input[h + 3])
        let extrasLength = Int(input[h + 4])
        let body = Int(be32(input, h + 8))
        guard body <= maxBody, keyLength + extrasLength <= body else { return .invalid }
        guard input.count - start >= headerLength + body else { return .incomplete }
        let e = h + headerLength, k = e + extrasLength, v = k + keyLength, end = h + headerLength + body
        let request = MemcacheBinaryRequest(opcode: input[h + 1], opaque: be32(input, h + 12), cas: be64(input, h + 16),
                                            extras: input[e..<k], key: input[k..<v], value: input[v..<end])
        start = end
        return .request(request)
    }

    public static func be32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }

    public static func be64(_ b: [UInt8], _ i: Int) -> UInt64 {
        UInt64(be32(b, i)) << 32 | UInt64(be32(b, i + 4))
    }

    /// An integer of the extras, big-endian, at `offset`.
    public func extra32(_ offset: Int) -> UInt32 {
        let b = Array(extras)
        return b.count >= offset + 4 ? Self.be32(b, offset) : 0
    }

    public func extra64(_ offset: Int) -> UInt64 {
        let b = Array(extras)
        return b.count >= offset + 8 ? Self.be64(b, offset) : 0
    }
}

/// The opcodes and statuses of the binary protocol (memcached's protocol_binary.h).
public enum MemcacheBinary {
    public enum Opcode {
        public static let get: UInt8 = 0x00, set: UInt8 = 0x01, add: UInt8 = 0x02, replace: UInt8 = 0x03
        public static let delete: UInt8 = 0x04, increment: UInt8 = 0x05, decrement: UInt8 = 0x06, quit: UInt8 = 0x07
        public static let flush: UInt8 = 0x08, getq: UInt8 = 0x09, noop: UInt8 = 0x0a, version: UInt8 = 0x0b
        public static let getk: UInt8 = 0x0c, getkq: UInt8 = 0x0d, append: UInt8 = 0x0e, prepend: UInt8 = 0x0f
        public static let stat: UInt8 = 0x10, setq: UInt8 = 0x11, addq: UInt8 = 0x12, replaceq: UInt8 = 0x13
        public static let deleteq: UInt8 = 0x14, incrementq: UInt8 = 0x15, decrementq: UInt8 = 0x16, quitq: UInt8 = 0x17
        public static let flushq: UInt8 = 0x18, appendq: UInt8 = 0x19, prependq: UInt8 = 0x1a, verbosity: UInt8 = 0x1b
        public static let touch: UInt8 = 0x1c, gat: UInt8 = 0x1d, gatq: UInt8 = 0x1e, gatk: UInt8 = 0x23, gatkq: UInt8 = 0x24
    }

    public enum Status {
        public static let ok: UInt16 = 0x0000, notFound: UInt16 = 0x0001, exists: UInt16 = 0x0002
        public static let tooLarge: UInt16 = 0x0003, invalid: UInt16 = 0x0004, notStored: UInt16 = 0x0005
        public static let nonNumeric: UInt16 = 0x0006, unknownCommand: UInt16 = 0x0081, outOfMemory: UInt16 = 0x0082
    }

    /// The text memcached puts in an error response's value.
    public static func message(_ status: UInt16) -> String {
        switch status {
        case Status.notFound: return "Not found"
        case Status.exists: return "Data exists for key."
        case Status.tooLarge: return "Too large."
        case Status.invalid: return "Invalid arguments"
        case Status.notStored: return "Not stored."
        case Status.nonNumeric: return "Non-numeric server-side value for incr or decr"
        case Status.unknownCommand: return "Unknown command"
        case Status.outOfMemory: return "Out of memory"
        default: return "Unknown error"
        }
    }

    /// Appends a response: header, then extras, key and value.
    public static func writeResponse(opcode: UInt8, status: UInt16, opaque: UInt32, cas: UInt64,
                                     extras: [UInt8] = [], key: ArraySlice<UInt8> = [], value: ArraySlice<UInt8> = [],
                                     into out: inout [UInt8]) {
        let body = extras.count + key.count + value.count
        out.append(MemcacheBinaryRequest.responseMagic)
        out.append(opcode)
        out.append(UInt8(truncatingIfNeeded: key.count >> 8)); out.append(UInt8(truncatingIfNeeded: key.count))
        out.append(UInt8(truncatingIfNeeded: extras.count))
        out.append(0)                                         // data type
        out.append(UInt8(truncatingIfNeeded: status >> 8)); out.append(UInt8(truncatingIfNeeded: status))
        appendBE32(UInt32(body), &out)
        appendBE32(opaque, &out)
        appendBE32(UInt32(truncatingIfNeeded: cas >> 32), &out)
        appendBE32(UInt32(truncatingIfNeeded: cas), &out)
        out.append(contentsOf: extras)
        out.append(contentsOf: key)
        out.append(contentsOf: value)
    }

    public static func appendBE32(_ v: UInt32, _ out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: v >> 24)); out.append(UInt8(truncatingIfNeeded: v >> 16))
        out.append(UInt8(truncatingIfNeeded: v >> 8)); out.append(UInt8(truncatingIfNeeded: v))
    }

    public static func appendBE64(_ v: UInt64, _ out: inout [UInt8]) {
        appendBE32(UInt32(truncatingIfNeeded: v >> 32), &out)
        appendBE32(UInt32(truncatingIfNeeded: v), &out)
    }
}
