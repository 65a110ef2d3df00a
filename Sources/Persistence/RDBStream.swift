import Storage

/// Streams in the RDB as Redis 7.0 writes them (RDB_TYPE_STREAM_LISTPACKS_2): each node as
/// its 16-byte master ID and its listpack, then the stream's counters, then the consumer
/// groups with their pending entries and consumers. Types 15 (Redis 5/6) and 21 (7.2) load too.
public enum RDBStream {
    public static let typeStreamListpacks: UInt8 = 15
    public static let typeStreamListpacks2: UInt8 = 19
    public static let typeStreamListpacks3: UInt8 = 21

    static let flagDeleted: Int64 = 1
    static let flagSameFields: Int64 = 2

    /// The listpack Redis holds for a node.
    public static func listpack(_ n: StreamValue.Node) -> [UInt8] {
        var lp = ListpackWriter()
        lp.integer(Int64(n.live))
        lp.integer(Int64(n.deletedCount))
        lp.integer(Int64(n.masterFields.count))
        for f in n.masterFields { lp.string(f) }
        lp.integer(0)
        for it in n.items {
            let pairs = it.fields.count / 2
            lp.integer((it.deleted ? flagDeleted : 0) | (it.sameFields ? flagSameFields : 0))
            lp.integer(Int64(bitPattern: it.id.ms &- n.master.ms))
            lp.integer(Int64(bitPattern: it.id.seq &- n.master.seq))
            if !it.sameFields { lp.integer(Int64(pairs)) }
            for (i, f) in it.fields.enumerated() where !it.sameFields || i % 2 == 1 { lp.string(f) }
            lp.integer(Int64(pairs + 3 + (it.sameFields ? 0 : pairs + 1)))
        }
        return lp.finish()
    }

    public static func write(_ s: StreamValue, to w: inout RDBWriter) {
        w.byte(typeStreamListpacks2)
        w.length(s.nodes.count)
        for n in s.nodes {
            w.string(n.master.raw)
            w.string(listpack(n))
        }
        w.length(s.length)
        w.length64(s.lastID.ms)
        w.length64(s.lastID.seq)
        w.length64(s.firstID.ms)
        w.length64(s.firstID.seq)
        w.length64(s.maxDeletedID.ms)
        w.length64(s.maxDeletedID.seq)
        w.length64(s.entriesAdded)
        w.length(s.groups.count)
        for name in s.groupNames {
            let g = s.groups[name]!
            w.string(name)
            w.length64(g.lastID.ms)
            w.length64(g.lastID.seq)
            w.length64(UInt64(bitPattern: g.entriesRead))
            w.length(g.pendingIDs.count)
            for id in g.pendingIDs {
                let p = g.pending[id]!
                w.bytes += id.raw
                w.uint64LE(UInt64(bitPattern: p.deliveryTime))
                w.length64(UInt64(bitPattern: p.deliveryCount))
            }
            let consumers = g.consumerNames
            w.length(consumers.count)
            for cn in consumers {
                let cons = g.consumers[cn]!
                w.string(cn)
                w.uint64LE(UInt64(bitPattern: cons.seenTime))
                w.length(cons.pending.count)
                for id in cons.pending { w.bytes += id.raw }
            }
        }
    }

    static func bad(_ what: String) -> RDBError { RDBError("Bad data format: stream \(what)") }

    static func int(_ e: [UInt8]) throws -> Int64 {
        guard let v = parseCanonicalInt(e) else { throw bad("listpack integer") }
        return Int64(v)
    }

    public static func read(type: UInt8, from r: inout RDBReader) throws -> Value {
        var s = StreamValue()
        let nodeCount = try r.length()
        var total = 0
        var previous: StreamID? = nil
        for _ in 0..<nodeCount {
            guard let master = StreamID(raw: try r.string()[...]) else { throw bad("node key") }
            let blob = try r.string()
            let e = try CompactEncodings.listpack(blob)
            guard e.count >= 4 else { throw bad("empty listpack") }
            var p = 0
            func next() throws -> [UInt8] {
                guard p < e.count else { throw bad("listpack ends early") }
                defer { p += 1 }
                return e[p]
            }
            let live = Int(try int(try next())), dead = Int(try int(try next()))
            let nf = Int(try int(try next()))
            guard nf >= 0, nf <= e.count else { throw bad("master fields") }
            var masterFields: [[UInt8]] = []
            for _ in 0..<nf { masterFields.append(try next()) }
            guard try int(try next()) == 0 else { throw bad("master terminator") }
            var items: [StreamValue.Item] = []
            var liveSeen = 0, deadSeen = 0
            while p < e.count {
                let flags = try int(try next())
                let msd = UInt64(bitPattern: try int(try next())), seqd = UInt64(bitPattern: try int(try next()))
                let id = StreamID(master.ms &+ msd, master.seq &+ seqd)
                let same = flags & flagSameFields != 0
                var fields: [[UInt8]] = []
                if same {
                    for f in masterFields {
                        fields.append(f)
                        fields.append(try next())
                    }
                } else {
                    let n = Int(try int(try next()))
                    guard n >= 0, n <= e.count else { throw bad("entry fields") }
                    for _ in 0..<(2 * n) { fields.append(try next()) }
                }
                _ = try next()   // lp-count, for walking backwards
                if let prev = previous, id <= prev { throw bad("entry IDs out of order") }
                previous = id
                let deleted = flags & flagDeleted != 0
                if deleted { deadSeen += 1 } else { liveSeen += 1 }
                items.append(StreamValue.Item(id: id, fields: fields, deleted: deleted, sameFields: same))
            }
            guard liveSeen == live, deadSeen == dead, !items.isEmpty else { throw bad("node counters") }
            total += live
            s.nodes.append(StreamValue.Node(master: master, masterFields: masterFields, items: items, live: live,
                                            deletedCount: dead, bytes: blob.count))
        }
        let length = try r.length()
        guard length == total else { throw bad("length") }
        s.setLength(length)
        s.lastID = StreamID(try r.length64(), try r.length64())
        if type != typeStreamListpacks {
            s.firstID = StreamID(try r.length64(), try r.length64())
            s.maxDeletedID = StreamID(try r.length64(), try r.length64())
            s.entriesAdded = try r.length64()
        } else {
            // Redis 5/6 streams: what 7.0 assumes for them on load.
            s.entriesAdded = UInt64(length)
            s.refreshFirstID()
        }
        let groupCount = try r.length()
        for _ in 0..<groupCount {
            let name = try r.string()
            var g = ConsumerGroup(lastID: StreamID(try r.length64(), try r.length64()), entriesRead: -1)
            if type != typeStreamListpacks {
                g.entriesRead = Int64(bitPattern: try r.length64())
            } else {
                g.entriesRead = s.estimateOffset(g.lastID)
            }
            let pelCount = try r.length()
            var nacks: [StreamID: (Int64, Int64)] = [:]
            for _ in 0..<pelCount {
                guard let id = StreamID(raw: try r.take(16)) else { throw bad("PEL ID") }
                let time = Int64(bitPattern: try r.uint64LE())
                let count = Int64(bitPattern: try r.length64())
                nacks[id] = (time, count)
            }
            let consumerCount = try r.length()
            for _ in 0..<consumerCount {
                let cn = try r.string()
                let seen = Int64(bitPattern: try r.uint64LE())
                if type == typeStreamListpacks3 { _ = try r.uint64LE() }   // active-time (7.2)
                g.consumers[cn] = StreamConsumer(seenTime: seen)
                let n = try r.length()
                for _ in 0..<n {
                    guard let id = StreamID(raw: try r.take(16)), let (time, count) = nacks.removeValue(forKey: id) else {
                        throw bad("consumer PEL entry not in the group PEL")
                    }
                    g.addPending(id, PendingEntry(consumer: cn, deliveryTime: time, deliveryCount: count))
                }
            }
            guard nacks.isEmpty else { throw bad("group PEL entry without consumer") }
            guard s.groups.updateValue(g, forKey: name) == nil else { throw bad("duplicate group") }
        }
        return .stream(s)
    }
}

/// Builds a listpack the way Redis encodes one: integers (and strings that are integers) in
/// the smallest integer encoding, other strings with a 6-, 12- or 32-bit length, each entry
/// followed by its length backwards.
struct ListpackWriter {
    var bytes: [UInt8] = [0, 0, 0, 0, 0, 0]
    var count = 0

    mutating func integer(_ v: Int64) {
        let start = bytes.count
        let u = UInt64(bitPattern: v)
        switch v {
        case 0...127:
            bytes.append(UInt8(v))
        case -4096...4095:
            bytes.append(0xC0 | UInt8((u >> 8) & 0x1F))
            bytes.append(UInt8(u & 0xFF))
        case -32768...32767:
            bytes.append(0xF1)
            for i in 0..<2 { bytes.append(UInt8(truncatingIfNeeded: u >> (8 * UInt64(i)))) }
        case -8_388_608...8_388_607:
            bytes.append(0xF2)
            for i in 0..<3 { bytes.append(UInt8(truncatingIfNeeded: u >> (8 * UInt64(i)))) }
        case Int64(Int32.min)...Int64(Int32.max):
            bytes.append(0xF3)
            for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: u >> (8 * UInt64(i)))) }
        default:
            bytes.append(0xF4)
            for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: u >> (8 * UInt64(i)))) }
        }
        backlen(bytes.count - start)
    }

    mutating func string(_ s: [UInt8]) {
        if s.count <= 20, let v = parseCanonicalInt(s) {
            integer(Int64(v))
            return
        }
        let start = bytes.count
        let n = s.count
        if n < 64 {
            bytes.append(0x80 | UInt8(n))
        } else if n < 4096 {
            bytes.append(0xE0 | UInt8(n >> 8))
            bytes.append(UInt8(n & 0xFF))
        } else {
            bytes.append(0xF0)
            for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: n >> (8 * i))) }
        }
        bytes += s
        backlen(bytes.count - start)
    }

    private mutating func backlen(_ l: Int) {
        count += 1
        if l <= 127 {
            bytes.append(UInt8(l))
        } else if l < 16383 {
            bytes += [UInt8(l >> 7), UInt8(l & 127) | 128]
        } else if l < 2_097_151 {
            bytes += [UInt8(l >> 14), UInt8((l >> 7) & 127) | 128, UInt8(l & 127) | 128]
        } else if l < 268_435_455 {
            bytes += [UInt8(l >> 21), UInt8((l >> 14) & 127) | 128, UInt8((l >> 7) & 127) | 128, UInt8(l & 127) | 128]
        } else {
            bytes += [UInt8(l >> 28), UInt8((l >> 21) & 127) | 128, UInt8((l >> 14) & 127) | 128,
                      UInt8((l >> 7) & 127) | 128, UInt8(l & 127) | 128]
        }
    }

    mutating func finish() -> [UInt8] {
        bytes.append(0xFF)
        let total = UInt32(bytes.count)
        for i in 0..<4 { bytes[i] = UInt8(truncatingIfNeeded: total >> (8 * UInt32(i))) }
        let n = UInt16(min(count, 65535))
        bytes[4] = UInt8(n & 0xFF)
        bytes[5] = UInt8(n >> 8)
        return bytes
    }
}
