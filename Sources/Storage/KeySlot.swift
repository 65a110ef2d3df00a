import Glibc

/// Redis Cluster's key slot: CRC16 (XMODEM) of the key, or of its `{hash tag}`, mod 16384.
/// Shards are chosen from the slot, so keys that share a hash tag share a shard, as they
/// share a node in a cluster.
public enum KeySlot {
    public static let count = 16384

    /// The CRC table behind a plain pointer: a static array would be retained and released
    /// on every key (seen in profiles). Written once, before any reader, and never freed.
    nonisolated(unsafe) private static let table: UnsafePointer<UInt16> = {
        let t = UnsafeMutablePointer<UInt16>.allocate(capacity: 256)
        for i in 0..<256 {
            var crc = UInt16(i) << 8
            for _ in 0..<8 {
                crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1
            }
            t[i] = crc
        }
        return UnsafePointer(t)
    }()

    public static func crc16(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        var crc: UInt16 = 0
        let t = table
        for b in bytes {
            crc = (crc << 8) ^ t[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ b)]
        }
        return crc
    }

    public static func of(_ key: UnsafeRawBufferPointer) -> Int {
        Int(crc16(hashTag(key) ?? key)) & (count - 1)
    }

    /// The bytes between the first `{` and the next `}` when there are some, as Redis Cluster
    /// hashes them. memchr: most keys have no hash tag, and looking for one must cost little.
    @inline(__always)
    public static func hashTag(_ key: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard let base = key.baseAddress, !key.isEmpty,
              let open = memchr(base, Int32(UInt8(ascii: "{")), key.count) else { return nil }
        let from = base.distance(to: UnsafeRawPointer(open)) + 1
        guard from < key.count, let close = memchr(base + from, Int32(UInt8(ascii: "}")), key.count - from) else { return nil }
        let length = (base + from).distance(to: UnsafeRawPointer(close))
        return length > 0 ? UnsafeRawBufferPointer(start: base + from, count: length) : nil
    }

    public static func of(_ key: ArraySlice<UInt8>) -> Int {
        key.withUnsafeBytes { of($0) }
    }
}
