/// One key's value and its metadata, stored inline in a shard's table.
public struct Entry: Sendable {
    // Every key pays for an Entry, so it is packed into 32 bytes (LayoutTests): the value's
    // 17 bytes, then three 4-byte fields in what alignment leaves. The 24-bit access field and
    // the flag bits share one word; a key's expiry time is kept by its shard, next to the list
    // of keys with a TTL (most keys have none: as Redis's separate `expires` dict), and
    // memcached's client flags, almost always 0, are kept by the shard apart too.
    public var value: Value
    /// Position of the key in the shard's list of keys with a TTL (and of its expiry time
    /// there), or -1.
    var volatileIndex: Int32
    /// Bits 0-27: `access`; bit 28: `rawEncoding`; bits 29-31: `itemState`.
    private var bits: UInt32
    /// memcached's CAS unique: changed by every write (the shard assigns it), kept by TTL-only
    /// changes, so that a memcached `cas` fails after any write, from either protocol.
    private var cas32: UInt32

    public init(value: Value, access: UInt32 = 0) {
        self.value = value
        self.volatileIndex = -1
        self.bits = access & 0x0FFF_FFFF
        self.cas32 = 0
    }

    /// Redis's 24-bit `lru` field in the low bits: the LRU clock (seconds), or under an LFU
    /// policy the minutes of the last decrement (16 bits) and the logarithmic counter (8 bits).
    /// Under LRU, 4 more bits above it hold sixteenths of the second (`lruAccess`), so that
    /// eviction tells apart keys last used in the same second.
    public var access: UInt32 {
        @inline(__always) get { bits & 0x0FFF_FFFF }
        @inline(__always) set { bits = (bits & 0xF000_0000) | (newValue & 0x0FFF_FFFF) }
    }

    /// Set when the string was grown in place (APPEND, SETRANGE): OBJECT ENCODING says "raw".
    public var rawEncoding: Bool {
        get { bits & (1 << 28) != 0 }
        set { bits = newValue ? bits | (1 << 28) : bits & ~(1 << 28) }
    }

    /// memcached meta-protocol state (`ItemState`): fetched, stale, win token handed out.
    public var itemState: ItemState {
        get { ItemState(rawValue: UInt8(truncatingIfNeeded: (bits >> 29) & 0x7)) }
        set { bits = (bits & ~(0x7 << 29)) | (UInt32(newValue.rawValue & 0x7) << 29) }
    }

    /// The CAS unique as memcached clients see it.
    public var cas: UInt64 {
        get { UInt64(cas32) }
        set { cas32 = UInt32(truncatingIfNeeded: newValue) }
    }

    /// Redis's OBJECT ENCODING name.
    public var encodingName: String {
        switch value {
        case .int: return "int"
        case .small: return rawEncoding ? "raw" : "embstr"
        case .compact(let s): return (s.count <= 44 && !rawEncoding) ? "embstr" : "raw"
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
