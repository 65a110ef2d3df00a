/// One key's value and its metadata, stored inline in a shard's table.
public struct Entry: Sendable {
    // The fields are declared so that the small ones fill what the 17-byte value leaves of
    // its last word: an Entry is 48 bytes (LayoutTests).
    public var value: Value
    /// Set when the string was grown in place (APPEND, SETRANGE): OBJECT ENCODING says "raw".
    public var rawEncoding: Bool
    /// memcached meta-protocol state (`ItemState`): fetched, stale, win token handed out.
    public var itemState: ItemState
    /// Position of the key in the shard's list of keys with a TTL, or -1.
    var volatileIndex: Int32
    /// 24 bits as Redis's `lru` field: the LRU clock, or under an LFU policy the minutes of
    /// the last decrement (16 bits) and the logarithmic counter (8 bits).
    public var access: UInt32
    /// memcached's client flags, opaque to the server; 0 for values Redis commands write.
    public var clientFlags: UInt32
    /// Absolute expiry in Unix milliseconds; 0 when the key has no TTL.
    public var expireAt: Int64
    /// memcached's CAS unique: changed by every write (the shard assigns it), kept by TTL-only
    /// changes, so that a memcached `cas` fails after any write, from either protocol.
    public var cas: UInt64

    public init(value: Value, expireAt: Int64 = 0, access: UInt32 = 0) {
        self.value = value
        self.expireAt = expireAt
        self.volatileIndex = -1
        self.access = access
        self.cas = 0
        self.clientFlags = 0
        self.rawEncoding = false
        self.itemState = []
    }

    /// Redis's OBJECT ENCODING name.
    public var encodingName: String {
        switch value {
        case .int: return "int"
        case .small: return rawEncoding ? "raw" : "embstr"
        case .bytes(let b): return (b.count <= 44 && !rawEncoding) ? "embstr" : "raw"
        case .list: return "quicklist"
        case .hash(let h): return h.encodingName
        case .set(let s): return s.encodingName
        case .zset(let z): return z.encodingName
        case .stream: return "stream"
        }
    }
}

/// The per-item bits memcached's meta protocol reports and acts on.
public struct ItemState: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// Read at least once since it was stored (`mg` flag h, `me` fetch=yes).
    public static let fetched = ItemState(rawValue: 1)
    /// Invalidated (`md I`, `ms I`): served with X until a fresh value is stored.
    public static let stale = ItemState(rawValue: 2)
    /// A client was handed the right to recache it (W); others see Z.
    public static let won = ItemState(rawValue: 4)
}
