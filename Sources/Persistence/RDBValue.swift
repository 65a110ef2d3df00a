import DequeModule
import Storage

/// Larder's encoding thresholds, for building loaded values the way commands would.
public struct EncodingLimits: Sendable {
    public var hashMaxEntries = 512
    public var hashMaxValue = 64
    public var setMaxIntsetEntries = 512
    public var zsetMaxEntries = 128
    public var zsetMaxValue = 64
    public init() {}
}

/// One value in RDB form: its type byte and its payload, as rdbSaveObjectType/rdbSaveObject and
/// rdbLoadObject have them.
public enum RDBValue {
    public static let typeString: UInt8 = 0
    public static let typeList: UInt8 = 1
    public static let typeSet: UInt8 = 2
    public static let typeZSet: UInt8 = 3
    public static let typeHash: UInt8 = 4
    public static let typeZSet2: UInt8 = 5
    public static let typeHashZipmap: UInt8 = 9
    public static let typeListZiplist: UInt8 = 10
    public static let typeSetIntset: UInt8 = 11
    public static let typeZSetZiplist: UInt8 = 12
    public static let typeHashZiplist: UInt8 = 13
    public static let typeListQuicklist: UInt8 = 14
    public static let typeHashListpack: UInt8 = 16
    public static let typeZSetListpack: UInt8 = 17
    public static let typeListQuicklist2: UInt8 = 18
    public static let typeSetListpack: UInt8 = 20

    /// Writes the type byte and the value. Collections are written in their plain forms (list,
    /// set, hash, zset2), which every Redis since 2.x reads and re-encodes compactly on load.
    public static func write(_ value: Value, to w: inout RDBWriter) {
        switch value {
        case .int(let v):
            w.byte(typeString)
            w.integerString(v)
        case .small(let s):
            w.byte(typeString)
            w.string(s.array)
        case .compact(let s):
            w.byte(typeString)
            w.string(s.array)
        case .bytes(let b):
            w.byte(typeString)
            w.string(b)
        case .list(let l):
            w.byte(typeList)
            w.length(l.count)
            for e in l { w.string(e.bytes) }
        case .set(let s):
            w.byte(typeSet)
            let members = s.members
            w.length(members.count)
            for m in members { w.string(m) }
        case .hash(let h):
            w.byte(typeHash)
            let pairs = h.pairs
            w.length(pairs.count)
            for (f, v) in pairs {
                w.string(f)
                w.string(v)
            }
        case .zset(let z):
            w.byte(typeZSet2)
            w.length(z.count)
            for (score, member) in z.range(0, z.count - 1) {
                w.string(member)
                w.double(score)
            }
        case .stream(let st):
            RDBStream.write(st, to: &w)
        }
    }

    /// Reads a value of type `type`; throws on a malformed or unsupported one.
    public static func read(type: UInt8, from r: inout RDBReader, limits: EncodingLimits) throws -> Value {
        switch type {
        case typeString:
            return .string(try r.string())
        case typeList:
            let n = try r.length()
            var l = Deque<ElementBytes>()
            for _ in 0..<n { l.append(ElementBytes(try r.string())) }
            return try nonEmpty(.list(l), l.count)
        case typeListZiplist:
            return try list(try CompactEncodings.ziplist(try r.string()))
        case typeListQuicklist, typeListQuicklist2:
            let nodes = try r.length()
            var elements: [[UInt8]] = []
            for _ in 0..<nodes {
                if type == typeListQuicklist2 {
                    let container = try r.length()
                    let blob = try r.string()
                    switch container {
                    case 1: elements.append(blob)                       // a plain node: one large element
                    case 2: elements += try CompactEncodings.listpack(blob)
                    default: throw RDBError("Bad data format: quicklist container \(container)")
                    }
                } else {
                    elements += try CompactEncodings.ziplist(try r.string())
                }
            }
            return try list(elements)
        case typeSet:
            let n = try r.length()
            var members: [[UInt8]] = []
            for _ in 0..<n { members.append(try r.string()) }
            return try set(members, limits)
        case typeSetIntset:
            return try set(try CompactEncodings.intset(try r.string()), limits)
        case typeSetListpack:
            return try set(try CompactEncodings.listpack(try r.string()), limits)
        case typeHash:
            let n = try r.length()
            var flat: [[UInt8]] = []
            for _ in 0..<(2 * n) { flat.append(try r.string()) }
            return try hash(flat, limits)
        case typeHashZipmap:
            return try hash(try CompactEncodings.zipmap(try r.string()), limits)
        case typeHashZiplist:
            return try hash(try CompactEncodings.ziplist(try r.string()), limits)
        case typeHashListpack:
            return try hash(try CompactEncodings.listpack(try r.string()), limits)
        case typeZSet, typeZSet2:
            let n = try r.length()
            var z = SortedSetValue()
            for _ in 0..<n {
                let member = try r.string()
                let score = type == typeZSet2 ? try r.binaryDouble() : try r.stringDouble()
                guard !score.isNaN else { throw RDBError("Bad data format: zset score is NaN") }
                guard z.set(member, score, maxEntries: limits.zsetMaxEntries, maxValue: limits.zsetMaxValue) else {
                    throw RDBError("Bad data format: duplicate zset member")
                }
            }
            return try nonEmpty(.zset(z), z.count)
        case typeZSetZiplist, typeZSetListpack:
            let flat = type == typeZSetListpack ? try CompactEncodings.listpack(try r.string())
                                                : try CompactEncodings.ziplist(try r.string())
            guard flat.count % 2 == 0 else { throw RDBError("Bad data format: odd zset listpack") }
            var z = SortedSetValue()
            for i in stride(from: 0, to: flat.count, by: 2) {
                guard let score = Double(String(decoding: flat[i + 1], as: UTF8.self)), !score.isNaN else {
                    throw RDBError("Bad data format: zset score")
                }
                guard z.set(flat[i], score, maxEntries: limits.zsetMaxEntries, maxValue: limits.zsetMaxValue) else {
                    throw RDBError("Bad data format: duplicate zset member")
                }
            }
            return try nonEmpty(.zset(z), z.count)
        case RDBStream.typeStreamListpacks, RDBStream.typeStreamListpacks2, RDBStream.typeStreamListpacks3:
            return try RDBStream.read(type: type, from: &r)
        case 6, 7:
            throw RDBError("Module values are not supported")
        default:
            throw RDBError("Unknown RDB encoding type \(type)")
        }
    }

    static let emptyKey = "Bad data format: empty key"

    /// An empty collection: RESTORE refuses it, loading a file skips it (as Redis 7.0).
    static func nonEmpty(_ v: Value, _ count: Int) throws -> Value {
        guard count > 0 else { throw RDBError(emptyKey) }
        return v
    }

    static func list(_ elements: [[UInt8]]) throws -> Value {
        try nonEmpty(.list(Deque(elements.map { ElementBytes($0) })), elements.count)
    }

    static func set(_ members: [[UInt8]], _ limits: EncodingLimits) throws -> Value {
        var s = SetValue()
        for m in members {
            guard s.add(m[...], maxIntsetEntries: limits.setMaxIntsetEntries) else {
                throw RDBError("Bad data format: duplicate set member")
            }
        }
        return try nonEmpty(.set(s), s.count)
    }

    static func hash(_ flat: [[UInt8]], _ limits: EncodingLimits) throws -> Value {
        guard flat.count % 2 == 0 else { throw RDBError("Bad data format: odd hash") }
        var h = HashValue()
        for i in stride(from: 0, to: flat.count, by: 2) {
            guard h.set(flat[i], flat[i + 1], maxEntries: limits.hashMaxEntries, maxValue: limits.hashMaxValue) else {
                throw RDBError("Bad data format: duplicate hash field")
            }
        }
        return try nonEmpty(.hash(h), h.count)
    }
}

/// DUMP's payload: the value in RDB form, the RDB version (2 bytes) and a CRC-64 of it all.
public enum DumpPayload {
    public static let rdbVersion: UInt16 = 10

    public static func make(_ value: Value, compress: Bool = true) -> [UInt8] {
        var w = RDBWriter(compress: compress)
        RDBValue.write(value, to: &w)
        w.bytes.append(UInt8(rdbVersion & 0xff))
        w.bytes.append(UInt8(rdbVersion >> 8))
        w.uint64LE(CRC64.checksum(w.bytes))
        return w.bytes
    }

    /// Checks the footer as Redis's verifyDumpPayload: a known RDB version and the checksum.
    public static func verify(_ payload: [UInt8]) -> Bool {
        guard payload.count >= 10 else { return false }
        let footer = payload.count - 10
        let version = UInt16(payload[footer]) | UInt16(payload[footer + 1]) << 8
        guard version <= rdbVersion else { return false }
        var crc: UInt64 = 0
        for (i, b) in payload[(footer + 2)...].enumerated() { crc |= UInt64(b) << (8 * UInt64(i)) }
        return CRC64.checksum(payload[..<(footer + 2)]) == crc
    }

    /// The value of a verified payload; throws when its content is malformed.
    public static func value(_ payload: [UInt8], limits: EncodingLimits) throws -> Value {
        // As Redis's RESTORE: the value is read from the whole payload, footer included, and
        // what it leaves unread is not looked at.
        var r = RDBReader(payload)
        let type = try r.byte()
        return try RDBValue.read(type: type, from: &r, limits: limits)
    }
}

/// Redis 7.0's function libraries in an RDB file or a FUNCTION DUMP payload: the opcode, then
/// the library's code as an RDB string.
public enum RDBFunctions {
    public static let opcode: UInt8 = 245
}
