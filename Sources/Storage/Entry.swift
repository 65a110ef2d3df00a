/// One key's value and its metadata, stored inline in a shard's table.
public struct Entry: Sendable {
    public var value: Value
    /// Absolute expiry in Unix milliseconds; 0 when the key has no TTL.
    public var expireAt: Int64
    /// Position of the key in the shard's list of keys with a TTL, or -1.
    var volatileIndex: Int32
    /// 24 bits as Redis's `lru` field: the LRU clock, or under an LFU policy the minutes of
    /// the last decrement (16 bits) and the logarithmic counter (8 bits).
    public var access: UInt32
    /// Set when the string was grown in place (APPEND, SETRANGE): OBJECT ENCODING says "raw".
    public var rawEncoding: Bool

    public init(value: Value, expireAt: Int64 = 0, access: UInt32 = 0) {
        self.value = value
        self.expireAt = expireAt
        self.volatileIndex = -1
        self.access = access
        self.rawEncoding = false
    }

    /// Redis's OBJECT ENCODING name.
    public var encodingName: String {
        switch value {
        case .int: return "int"
        case .bytes(let b): return (b.count <= 44 && !rawEncoding) ? "embstr" : "raw"
        case .list: return "quicklist"
        case .hash(let h): return h.encodingName
        case .set(let s): return s.encodingName
        case .zset(let z): return z.encodingName
        }
    }
}
