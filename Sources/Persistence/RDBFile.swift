import Foundation
import Storage

/// Whole RDB files in Redis 7.0's format (version 10): header, auxiliary fields, each
/// database's keys with their expiry, the EOF marker and a CRC-64 of the lot.
public enum RDBFile {
    public static let version = 10
    /// The newest file version read (Redis 7.4 writes 12); types newer than Larder knows are
    /// refused one by one.
    static let newestReadable = 12

    /// One database's contents at the moment of the snapshot: copies of its shards' tables.
    public struct Database: Sendable {
        public let index: Int
        public let tables: [ShardImage]
        public init(index: Int, tables: [ShardImage]) {
            self.index = index
            self.tables = tables
        }
    }

    public struct Options: Sendable {
        public var compress = true
        public var checksum = true
        public var redisVersion = "7.0.15"
        public var usedMemory = 0
        /// The code of each function library.
        public var functions: [[UInt8]] = []
        /// Where the file stands in the replication stream, written as Redis's repl-stream-db,
        /// repl-id and repl-offset: a replica synced from it knows the database the stream
        /// continues in, and a restarted replica can ask its primary to continue partially.
        public var replication: ReplicationPoint? = nil
        public init() {}
    }

    public struct ReplicationPoint: Sendable, Equatable {
        public var streamDb: Int
        public var replid: String
        public var offset: Int64
        public init(streamDb: Int, replid: String, offset: Int64) {
            self.streamDb = streamDb
            self.replid = replid
            self.offset = offset
        }
    }

    /// Writes the snapshot to `path` through a temporary file, synced, then renamed over it, so
    /// that a crash leaves the old file or the new one, never half of one. Keys already
    /// expired at `now` are left out.
    public static func write(_ databases: [Database], to path: String, now: Int64, options: Options) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let temp = (directory.isEmpty ? "." : directory) + "/temp-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).rdb"
        guard FileManager.default.createFile(atPath: temp, contents: nil),
              let handle = FileHandle(forWritingAtPath: temp) else {
            throw RDBError("Failed opening the temp RDB file \(temp) for saving: \(String(cString: strerror(errno)))")
        }
        do {
            try encode(databases, now: now, options: options) { try handle.write(contentsOf: $0) }
            try handle.synchronize()
            try handle.close()
            guard rename(temp, path) == 0 else {
                throw RDBError("Error moving temp DB file \(temp) on the final destination \(path): \(String(cString: strerror(errno)))")
            }
        } catch {
            try? handle.close()
            unlink(temp)
            throw error
        }
    }

    /// The snapshot as bytes in memory (a full resynchronization sends it to a replica).
    public static func bytes(_ databases: [Database], now: Int64, options: Options) -> [UInt8] {
        var out: [UInt8] = []
        try? encode(databases, now: now, options: options) { out.append(contentsOf: $0) }
        return out
    }

    /// The snapshot encoded piece by piece into `sink` (about 1 MB at a time).
    public static func stream(_ databases: [Database], now: Int64, options: Options, into sink: ([UInt8]) -> Void) {
        try? encode(databases, now: now, options: options) { sink($0) }
    }

    /// Encodes the whole file, handing it to `sink` in pieces of about 1 MB.
    static func encode(_ databases: [Database], now: Int64, options: Options, sink: ([UInt8]) throws -> Void) throws {
        var crc: UInt64 = 0
        var w = RDBWriter(compress: options.compress)
        func flush(force: Bool = false) throws {
            guard force || w.bytes.count >= 1 << 20 else { return }
            if options.checksum { crc = CRC64.update(crc, w.bytes) }
            try sink(w.bytes)
            w.bytes.removeAll(keepingCapacity: true)
        }
        w.bytes.append(contentsOf: Array(String(format: "REDIS%04d", version).utf8))
        func aux(_ key: String, _ value: [UInt8]) {
            w.byte(0xFA)
            w.string(Array(key.utf8))
            w.string(value)
        }
        aux("redis-ver", Array(options.redisVersion.utf8))
        aux("redis-bits", Array(String(MemoryLayout<Int>.size * 8).utf8))
        aux("ctime", Array(String(now / 1000).utf8))
        aux("used-mem", Array(String(options.usedMemory).utf8))
        if let r = options.replication {
            aux("repl-stream-db", Array(String(r.streamDb).utf8))
            aux("repl-id", Array(r.replid.utf8))
            aux("repl-offset", Array(String(r.offset).utf8))
        }
        aux("aof-base", Array("0".utf8))
        // Function libraries come before the keys, as Redis writes them.
        for code in options.functions {
            w.byte(RDBFunctions.opcode)
            w.string(code)
        }
        for db in databases {
            let size = db.tables.reduce(0) { $0 + $1.table.count }
            guard size > 0 else { continue }
            let expires = db.tables.reduce(0) { acc, t in acc + t.table.occupiedSlots.reduce(0) { $0 + (t.expireAt(slot: $1) != 0 ? 1 : 0) } }
            w.byte(0xFE)
            w.length(db.index)
            w.byte(0xFB)
            w.length(size)
            w.length(expires)
            // One writer for every value: its LZF table is kept (see LZF.Table), its buffer reused.
            var value = RDBWriter(compress: options.compress)
            for image in db.tables {
                let table = image.table
                for slot in table.occupiedSlots {
                    let e = table.entries[slot]
                    let at = image.expireAt(slot: slot)
                    if at != 0 {
                        if at <= now { continue }
                        w.byte(0xFC)
                        w.uint64LE(UInt64(at))
                    }
                    value.bytes.removeAll(keepingCapacity: true)
                    RDBValue.write(e.value, to: &value)
                    // Type byte, then the key, then the value's payload.
                    w.byte(value.bytes[0])
                    w.string(table.key(at: slot))
                    w.bytes.append(contentsOf: value.bytes[1...])
                    try flush()
                }
            }
        }
        w.byte(0xFF)
        try flush(force: true)
        w.uint64LE(options.checksum ? crc : 0)
        try sink(w.bytes)
    }

    /// One key read from a file.
    public struct Key {
        public let db: Int
        public let key: [UInt8]
        public let value: Value
        public let expireAt: Int64
    }

    /// Reads an RDB file; `visit` gets every key not yet expired at `now`. Throws with a
    /// message for the log on a bad header, a malformed value, a truncated file or a
    /// checksum mismatch.
    /// `functions` gets each function library's code (Redis 7.0's FUNCTION2 opcode).
    /// `replication` gets the file's repl-stream-db / repl-id / repl-offset when it has them.
    public static func read(path: String, now: Int64, limits: EncodingLimits, verifyChecksum: Bool = true,
                            functions: (([UInt8]) throws -> Void)? = nil,
                            replication: ((ReplicationPoint) -> Void)? = nil, _ visit: (Key) throws -> Void) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw RDBError("can't read \(path)") }
        defer { close(fd) }
        var r = RDBReader(file: fd)
        try read(&r, now: now, limits: limits, verifyChecksum: verifyChecksum, functions: functions,
                 replication: replication, visit)
    }

    public static func read(bytes: [UInt8], now: Int64, limits: EncodingLimits, verifyChecksum: Bool = true,
                            functions: (([UInt8]) throws -> Void)? = nil,
                            replication: ((ReplicationPoint) -> Void)? = nil, _ visit: (Key) throws -> Void) throws {
        var r = RDBReader(bytes)
        try read(&r, now: now, limits: limits, verifyChecksum: verifyChecksum, functions: functions,
                 replication: replication, visit)
    }

    static func read(_ r: inout RDBReader, now: Int64, limits: EncodingLimits, verifyChecksum: Bool,
                     functions: (([UInt8]) throws -> Void)?,
                     replication: ((ReplicationPoint) -> Void)?, _ visit: (Key) throws -> Void) throws {
        let magic = Array(try r.take(9))
        guard magic.starts(with: Array("REDIS".utf8)),
              let fileVersion = Int(String(decoding: magic[5...], as: UTF8.self)) else {
            throw RDBError("Wrong signature trying to load DB from file")
        }
        guard fileVersion >= 1 && fileVersion <= newestReadable else {
            throw RDBError("Can't handle RDB format version \(fileVersion)")
        }
        var db = 0
        var expireAt: Int64 = 0
        var point = ReplicationPoint(streamDb: -1, replid: "", offset: -1)
        while true {
            let type = try r.byte()
            switch type {
            case 0xFA:                                   // AUX field
                let name = String(decoding: try r.string(), as: UTF8.self)
                let value = String(decoding: try r.string(), as: UTF8.self)
                switch name {
                case "repl-stream-db": point.streamDb = Int(value) ?? -1
                case "repl-id": point.replid = value
                case "repl-offset": point.offset = Int64(value) ?? -1
                default: break
                }
                continue
            case 0xFB:                                   // RESIZEDB
                _ = try r.length()
                _ = try r.length()
                continue
            case 0xFE:                                   // SELECTDB
                db = try r.length()
                continue
            case 0xFD:                                   // EXPIRETIME (seconds)
                expireAt = Int64(try r.uint32LE()) * 1000
                continue
            case 0xFC:                                   // EXPIRETIME_MS
                expireAt = Int64(bitPattern: try r.uint64LE())
                continue
            case 0xF8:                                   // IDLE
                _ = try r.length()
                continue
            case 0xF9:                                   // FREQ
                _ = try r.byte()
                continue
            case RDBFunctions.opcode:                    // FUNCTION2 (7.0): a library's code
                let code = try r.string()
                guard let functions else { throw RDBError("The RDB file holds functions, which this load cannot take") }
                try functions(code)
                continue
            case 0xF6:                                   // FUNCTION_PRE_GA (7.0 release candidates)
                throw RDBError("The RDB file holds functions in a pre-release format, which Larder cannot load")
            case 0xF7:
                throw RDBError("The RDB file holds module data, which Larder cannot load")
            case 0xFF:                                   // EOF
                if point.streamDb >= 0 || !point.replid.isEmpty { replication?(point) }
                if fileVersion >= 5 {
                    let computed = verifyChecksum ? r.checksumSoFar() : 0
                    let stored = try r.uint64LE()
                    if verifyChecksum && stored != 0 && stored != computed {
                        throw RDBError("Wrong RDB checksum expected: (\(String(stored, radix: 16))) got (\(String(computed, radix: 16))). Aborting now.")
                    }
                }
                return
            default:
                let key = try r.string()
                let exp = expireAt
                expireAt = 0
                let value: Value
                do {
                    value = try RDBValue.read(type: type, from: &r, limits: limits)
                } catch let e as RDBError where e.description == RDBValue.emptyKey {
                    continue
                }
                if exp != 0 && exp <= now { continue }
                try visit(Key(db: db, key: key, value: value, expireAt: exp))
            }
        }
    }
}
