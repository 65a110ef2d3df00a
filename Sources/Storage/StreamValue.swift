/// A stream entry ID: milliseconds and a sequence number, ordered as a 128-bit number.
public struct StreamID: Comparable, Hashable, Sendable {
    public var ms: UInt64
    public var seq: UInt64

    public init(_ ms: UInt64, _ seq: UInt64) {
        self.ms = ms
        self.seq = seq
    }

    public static let zero = StreamID(0, 0)
    public static let max = StreamID(.max, .max)

    public static func < (a: StreamID, b: StreamID) -> Bool { a.ms != b.ms ? a.ms < b.ms : a.seq < b.seq }

    public var isZero: Bool { ms == 0 && seq == 0 }

    /// The next ID (streamIncrID): nil past the last possible one.
    public var next: StreamID? {
        if seq < .max { return StreamID(ms, seq + 1) }
        if ms < .max { return StreamID(ms + 1, 0) }
        return nil
    }

    /// The previous ID (streamDecrID): nil before 0-0.
    public var previous: StreamID? {
        if seq > 0 { return StreamID(ms, seq - 1) }
        if ms > 0 { return StreamID(ms - 1, .max) }
        return nil
    }

    public var text: String { "\(ms)-\(seq)" }
    public var bytes: [UInt8] { Array(text.utf8) }

    /// The 16-byte big-endian form used as radix-tree key and in the RDB.
    public var raw: [UInt8] {
        var out = [UInt8](repeating: 0, count: 16)
        for i in 0..<8 {
            out[i] = UInt8(truncatingIfNeeded: ms >> (56 - 8 * UInt64(i)))
            out[8 + i] = UInt8(truncatingIfNeeded: seq >> (56 - 8 * UInt64(i)))
        }
        return out
    }

    public init?(raw: ArraySlice<UInt8>) {
        guard raw.count == 16 else { return nil }
        var ms: UInt64 = 0, seq: UInt64 = 0
        let b = raw.startIndex
        for i in 0..<8 {
            ms = ms << 8 | UInt64(raw[b + i])
            seq = seq << 8 | UInt64(raw[b + 8 + i])
        }
        self.init(ms, seq)
    }
}

/// One entry as read: its ID and field, value, field, value ...
public struct StreamEntry: Sendable {
    public var id: StreamID
    public var fields: [[UInt8]]
}

/// A pending (delivered, not acknowledged) entry of a consumer group.
public struct PendingEntry: Sendable {
    public var consumer: [UInt8]
    public var deliveryTime: Int64
    public var deliveryCount: Int64

    public init(consumer: [UInt8], deliveryTime: Int64, deliveryCount: Int64) {
        self.consumer = consumer
        self.deliveryTime = deliveryTime
        self.deliveryCount = deliveryCount
    }
}

public struct StreamConsumer: Sendable {
    public var seenTime: Int64
    /// IDs pending for this consumer, ascending.
    public var pending: [StreamID] = []

    public init(seenTime: Int64) { self.seenTime = seenTime }
}

public struct ConsumerGroup: Sendable {
    public var lastID: StreamID
    /// Entries read by the group (its logical offset), -1 when unknown.
    public var entriesRead: Int64
    /// The group's pending entries, ascending by ID, and their details.
    public var pendingIDs: [StreamID] = []
    public var pending: [StreamID: PendingEntry] = [:]
    public var consumers: [[UInt8]: StreamConsumer] = [:]

    public init(lastID: StreamID, entriesRead: Int64) {
        self.lastID = lastID
        self.entriesRead = entriesRead
    }

    /// Consumers in Redis's order (its radix tree: bytewise).
    public var consumerNames: [[UInt8]] { consumers.keys.sorted { $0.lexicographicallyPrecedes($1) } }

    public mutating func addPending(_ id: StreamID, _ p: PendingEntry) {
        if pending.updateValue(p, forKey: id) == nil { SortedIDs.insert(id, into: &pendingIDs) }
        consumers[p.consumer, default: StreamConsumer(seenTime: p.deliveryTime)].pending.insertSorted(id)
    }

    /// Drops a pending entry from the group and its consumer; whether it was there.
    @discardableResult
    public mutating func removePending(_ id: StreamID) -> Bool {
        guard let p = pending.removeValue(forKey: id) else { return false }
        SortedIDs.remove(id, from: &pendingIDs)
        consumers[p.consumer]?.pending.removeSorted(id)
        return true
    }

    /// Moves a pending entry to `consumer` (which must exist).
    public mutating func reassign(_ id: StreamID, to consumer: [UInt8]) {
        guard var p = pending[id], p.consumer != consumer else { return }
        consumers[p.consumer]?.pending.removeSorted(id)
        p.consumer = consumer
        pending[id] = p
        consumers[consumer]?.pending.insertSorted(id)
    }
}

enum SortedIDs {
    static func lowerBound(_ id: StreamID, in a: [StreamID]) -> Int {
        var lo = 0, hi = a.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if a[mid] < id { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    static func insert(_ id: StreamID, into a: inout [StreamID]) {
        if let last = a.last, last < id { a.append(id); return }
        let i = lowerBound(id, in: a)
        if i < a.count && a[i] == id { return }
        a.insert(id, at: i)
    }

    static func remove(_ id: StreamID, from a: inout [StreamID]) {
        let i = lowerBound(id, in: a)
        if i < a.count && a[i] == id { a.remove(at: i) }
    }
}

extension Array where Element == StreamID {
    public mutating func insertSorted(_ id: StreamID) { SortedIDs.insert(id, into: &self) }
    public mutating func removeSorted(_ id: StreamID) { SortedIDs.remove(id, from: &self) }
    /// The index of the first ID >= `id`.
    public func lowerBound(_ id: StreamID) -> Int { SortedIDs.lowerBound(id, in: self) }
}

/// A stream, kept in the shape Redis gives it: a sequence of nodes, each standing for one
/// listpack (a master entry with the first entry's field names, then entries stored as deltas,
/// deleted ones only flagged). Node boundaries follow `stream-node-max-bytes` and
/// `stream-node-max-entries` exactly, with each node's listpack size counted as Redis's
/// encoding would make it, so approximate trimming (`~`) removes the same entries as Redis and
/// the RDB can carry the same listpacks.
public struct StreamValue: Sendable {
    public struct Item: Sendable {
        public var id: StreamID
        public var fields: [[UInt8]]
        public var deleted: Bool
        public var sameFields: Bool

        public init(id: StreamID, fields: [[UInt8]], deleted: Bool, sameFields: Bool) {
            self.id = id
            self.fields = fields
            self.deleted = deleted
            self.sameFields = sameFields
        }
    }

    public struct Node: Sendable {
        public var master: StreamID
        public var masterFields: [[UInt8]]
        public var items: [Item]
        public var live: Int
        public var deletedCount: Int
        /// The size of the listpack Redis would hold for this node.
        public var bytes: Int

        public init(master: StreamID, masterFields: [[UInt8]], items: [Item], live: Int, deletedCount: Int, bytes: Int) {
            self.master = master
            self.masterFields = masterFields
            self.items = items
            self.live = live
            self.deletedCount = deletedCount
            self.bytes = bytes
        }
    }

    public var nodes: [Node] = []
    public private(set) var length = 0
    public var lastID = StreamID.zero
    public var firstID = StreamID.zero
    public var maxDeletedID = StreamID.zero
    public var entriesAdded: UInt64 = 0
    public var groups: [[UInt8]: ConsumerGroup] = [:]

    public init() {}

    /// Groups in Redis's order (bytewise names).
    public var groupNames: [[UInt8]] { groups.keys.sorted { $0.lexicographicallyPrecedes($1) } }

    // MARK: listpack sizes

    static func intSize(_ v: Int64) -> Int {
        let enc: Int
        switch v {
        case 0...127: enc = 1
        case -4096...4095: enc = 2
        case -32768...32767: enc = 3
        case -8_388_608...8_388_607: enc = 4
        case Int64(Int32.min)...Int64(Int32.max): enc = 5
        default: enc = 9
        }
        return enc + 1
    }

    static func backlenSize(_ l: Int) -> Int {
        l <= 127 ? 1 : l < 16383 ? 2 : l < 2_097_151 ? 3 : l < 268_435_455 ? 4 : 5
    }

    /// The bytes an element takes in a listpack (strings that are integers are stored as such).
    public static func elementSize(_ s: [UInt8]) -> Int {
        if s.count <= 20, let v = parseCanonicalInt(s) { return intSize(Int64(v)) }
        let l = (s.count < 64 ? 1 : s.count < 4096 ? 2 : 5) + s.count
        return l + backlenSize(l)
    }

    static let listpackOverhead = 7   // 6-byte header, 1-byte end

    // MARK: adding

    public enum AddFailure: Error { case notGreater, tooLarge }

    /// XADD's ID choice: `id` given with its sequence, given without (`ms-*`), or automatic
    /// (nil) from the clock `now`.
    public func nextID(given id: StreamID?, seqGiven: Bool, now: UInt64) -> StreamID? {
        guard let id else {
            if now > lastID.ms { return StreamID(now, 0) }
            return lastID.next
        }
        if seqGiven { return id }
        if lastID.ms == id.ms {
            guard lastID.seq < .max else { return nil }
            return StreamID(id.ms, lastID.seq + 1)
        }
        return StreamID(id.ms, 0)
    }

    /// streamAppendItem: appends an entry with `fields` (field, value, ...) under `id`, which
    /// must be greater than the last ID.
    public mutating func append(_ id: StreamID, _ fields: [[UInt8]], nodeMaxBytes: Int, nodeMaxEntries: Int) throws(AddFailure) {
        guard id > lastID else { throw .notGreater }
        let total = fields.reduce(0) { $0 + $1.count }
        let hardLimit = 1 << 30
        guard total <= hardLimit else { throw .tooLarge }
        var maxBytes = nodeMaxBytes
        if maxBytes == 0 || maxBytes > hardLimit { maxBytes = hardLimit }
        var newNode = nodes.isEmpty
        if let tail = nodes.last {
            if tail.bytes + total >= maxBytes {
                newNode = true
            } else if nodeMaxEntries > 0 && tail.live + tail.deletedCount >= nodeMaxEntries {
                newNode = true
            }
        }
        let n = fields.count / 2
        if newNode {
            let names = stride(from: 0, to: fields.count, by: 2).map { fields[$0] }
            var bytes = Self.listpackOverhead + Self.intSize(1) + Self.intSize(0) + Self.intSize(Int64(n)) + Self.intSize(0)
            for f in names { bytes += Self.elementSize(f) }
            nodes.append(Node(master: id, masterFields: names, items: [], live: 0, deletedCount: 0, bytes: bytes))
            nodes[nodes.count - 1].live = 1
            appendItem(id, fields, sameFields: true)
        } else {
            let t = nodes.count - 1
            let old = nodes[t].live
            nodes[t].bytes += Self.intSize(Int64(old + 1)) - Self.intSize(Int64(old))
            nodes[t].live = old + 1
            var same = nodes[t].masterFields.count == n
            if same {
                for i in 0..<n where nodes[t].masterFields[i] != fields[2 * i] {
                    same = false
                    break
                }
            }
            appendItem(id, fields, sameFields: same)
        }
        length += 1
        entriesAdded += 1
        lastID = id
        if length == 1 { firstID = id }
    }

    private mutating func appendItem(_ id: StreamID, _ fields: [[UInt8]], sameFields: Bool) {
        let t = nodes.count - 1
        let master = nodes[t].master
        let n = fields.count / 2
        var bytes = Self.intSize(sameFields ? 2 : 0)
        bytes += Self.intSize(Int64(bitPattern: id.ms &- master.ms))
        bytes += Self.intSize(Int64(bitPattern: id.seq &- master.seq))
        var count = n + 3
        if !sameFields {
            bytes += Self.intSize(Int64(n))
            count += n + 1
        }
        for (i, f) in fields.enumerated() where !sameFields || i % 2 == 1 { bytes += Self.elementSize(f) }
        bytes += Self.intSize(Int64(count))
        nodes[t].bytes += bytes
        nodes[t].items.append(Item(id: id, fields: fields, deleted: false, sameFields: sameFields))
    }

    // MARK: reading

    /// Position of the first live entry with ID >= `id`, or nil.
    func position(atOrAfter id: StreamID) -> (Int, Int)? {
        // The last node whose master ID is <= id holds it, or the entries after it.
        var lo = 0, hi = nodes.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if nodes[mid].master <= id { lo = mid + 1 } else { hi = mid }
        }
        var n = Swift.max(0, lo - 1)
        while n < nodes.count {
            let items = nodes[n].items
            var a = 0, b = items.count
            while a < b {
                let mid = (a + b) / 2
                if items[mid].id < id { a = mid + 1 } else { b = mid }
            }
            var i = a
            while i < items.count && items[i].deleted { i += 1 }
            if i < items.count { return (n, i) }
            n += 1
        }
        return nil
    }

    /// Live entries with start <= ID <= end, ascending (or descending when `reverse`), at most
    /// `count` (0: all).
    public func range(_ start: StreamID, _ end: StreamID, count: Int = 0, reverse: Bool = false) -> [StreamEntry] {
        guard start <= end, length > 0 else { return [] }
        var out: [StreamEntry] = []
        if !reverse {
            guard var (n, i) = position(atOrAfter: start) else { return [] }
            while n < nodes.count {
                let items = nodes[n].items
                while i < items.count {
                    let it = items[i]
                    if it.id > end { return out }
                    if !it.deleted {
                        out.append(StreamEntry(id: it.id, fields: it.fields))
                        if count > 0 && out.count == count { return out }
                    }
                    i += 1
                }
                n += 1
                i = 0
            }
            return out
        }
        // Descending: from the last entry <= end.
        var n = nodes.count - 1
        while n >= 0 {
            let items = nodes[n].items
            if let first = items.first, first.id > end { n -= 1; continue }
            var i = items.count - 1
            while i >= 0 {
                let it = items[i]
                if it.id < start { return out }
                if !it.deleted && it.id <= end {
                    out.append(StreamEntry(id: it.id, fields: it.fields))
                    if count > 0 && out.count == count { return out }
                }
                i -= 1
            }
            n -= 1
        }
        return out
    }

    public func entry(_ id: StreamID) -> StreamEntry? {
        guard let (n, i) = position(atOrAfter: id), nodes[n].items[i].id == id else { return nil }
        return StreamEntry(id: id, fields: nodes[n].items[i].fields)
    }

    public func contains(_ id: StreamID) -> Bool { entry(id) != nil }

    /// The last live entry's ID (streamLastValidID), 0-0 when empty.
    public var lastValidID: StreamID { range(.zero, .max, count: 1, reverse: true).first?.id ?? .zero }

    // MARK: deleting and trimming

    /// XDEL of one ID: flags it deleted, dropping its node when it was the node's last live
    /// entry; whether it was there.
    public mutating func delete(_ id: StreamID) -> Bool {
        guard let (n, i) = position(atOrAfter: id), nodes[n].items[i].id == id else { return false }
        if nodes[n].live == 1 {
            nodes.remove(at: n)
        } else {
            markDeleted(n, i)
        }
        length -= 1
        return true
    }

    private mutating func markDeleted(_ n: Int, _ i: Int) {
        nodes[n].items[i].deleted = true
        let live = nodes[n].live, dead = nodes[n].deletedCount
        nodes[n].bytes += Self.intSize(Int64(live - 1)) - Self.intSize(Int64(live))
        nodes[n].bytes += Self.intSize(Int64(dead + 1)) - Self.intSize(Int64(dead))
        nodes[n].live = live - 1
        nodes[n].deletedCount = dead + 1
    }

    /// After deletions: the recorded first ID follows the first live entry.
    public mutating func refreshFirstID() {
        firstID = length == 0 ? .zero : (range(.zero, .max, count: 1).first?.id ?? .zero)
    }

    public enum Trim: Sendable {
        case maxLength(Int)
        case minID(StreamID)
    }

    /// streamTrim: whole nodes first; inside a node only when exact. `limit` (0: none) caps
    /// the entries removed, counted per node as Redis does.
    public mutating func trim(_ strategy: Trim, approximate: Bool, limit: Int) -> Int {
        var deleted = 0
        while !nodes.isEmpty {
            if case .maxLength(let maxLen) = strategy, length <= maxLen { break }
            let entries = nodes[0].live
            if limit > 0 && deleted + entries > limit { break }
            let removeNode: Bool
            switch strategy {
            case .maxLength(let maxLen): removeNode = length - entries >= maxLen
            case .minID(let id): removeNode = (nodes[0].items.last?.id ?? .zero) < id
            }
            if removeNode {
                nodes.removeFirst()
                length -= entries
                deleted += entries
                continue
            }
            if approximate { break }
            var removed = 0
            for i in nodes[0].items.indices {
                let it = nodes[0].items[i]
                let stop: Bool
                switch strategy {
                case .maxLength(let maxLen): stop = length <= maxLen
                case .minID(let id): stop = it.id >= id
                }
                if stop { break }
                if !it.deleted {
                    markDeleted(0, i)
                    length -= 1
                    removed += 1
                }
            }
            deleted += removed
            break
        }
        refreshFirstID()
        return deleted
    }

    // MARK: consumer groups' offsets (Redis 7.0's entries-read and lag)

    /// Whether a deleted entry may lie within [start, end] (streamRangeHasTombstones).
    public func hasTombstones(from start: StreamID?, to end: StreamID? = nil) -> Bool {
        if length == 0 || maxDeletedID.isZero { return false }
        if firstID > maxDeletedID { return false }
        let s = start ?? .zero, e = end ?? .max
        return s <= maxDeletedID && maxDeletedID <= e
    }

    /// streamEstimateDistanceFromFirstEverEntry: the logical offset of `id`, -1 when unknown.
    public func estimateOffset(_ id: StreamID) -> Int64 {
        if entriesAdded == 0 { return 0 }
        if length == 0 && id <= lastID { return Int64(bitPattern: entriesAdded) }
        if id == lastID { return Int64(bitPattern: entriesAdded) }
        if id > lastID { return -1 }
        if maxDeletedID.isZero || maxDeletedID < firstID {
            if id < firstID { return Int64(bitPattern: entriesAdded) - Int64(length) }
            if id == firstID { return Int64(bitPattern: entriesAdded) - Int64(length) + 1 }
        }
        return -1
    }

    /// A group's lag, nil when it cannot be known.
    public func lag(_ g: ConsumerGroup) -> Int64? {
        if entriesAdded == 0 { return 0 }
        if g.entriesRead != -1 && !hasTombstones(from: g.lastID) {
            return Int64(bitPattern: entriesAdded) - g.entriesRead
        }
        let read = estimateOffset(g.lastID)
        return read == -1 ? nil : Int64(bitPattern: entriesAdded) - read
    }

    /// Records that a group read `id` (streamReplyWithRange's offset bookkeeping).
    public func advance(_ g: inout ConsumerGroup, to id: StreamID) {
        guard id > g.lastID else { return }
        if g.entriesRead != -1 && !hasTombstones(from: id) {
            g.entriesRead += 1
        } else if entriesAdded > 0 {
            g.entriesRead = estimateOffset(id)
        }
        g.lastID = id
    }

    // MARK: sizes

    public var memoryUsage: Int {
        nodes.reduce(96) { $0 + $1.bytes + 64 } + groups.values.reduce(0) { $0 + 64 + $1.pending.count * 48 + $1.consumers.count * 64 }
    }

    /// Rebuilds a stream from its nodes as loaded (RDB): counts and sizes recomputed.
    public mutating func setLength(_ n: Int) { length = n }
}
