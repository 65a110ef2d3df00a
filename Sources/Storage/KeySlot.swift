/// Redis Cluster's key slot: CRC16 (XMODEM) of the key, or of its `{hash tag}`, mod 16384.
/// Shards are chosen from the slot, so keys that share a hash tag share a shard, as they
/// share a node in a cluster.
public enum KeySlot {
    public static let count = 16384

    private static let table: [UInt16] = (0..<256).map { i -> UInt16 in
        var crc = UInt16(i) << 8
        for _ in 0..<8 {
            crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1
        }
        return crc
    }

    public static func crc16(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        var crc: UInt16 = 0
        table.withUnsafeBufferPointer { t in
            for b in bytes {
                crc = (crc << 8) ^ t[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ b)]
            }
        }
        return crc
    }

    public static func of(_ key: UnsafeRawBufferPointer) -> Int {
        if let open = key.firstIndex(of: UInt8(ascii: "{")),
           let close = key[(open + 1)...].firstIndex(of: UInt8(ascii: "}")),
           close > open + 1 {
            return Int(crc16(UnsafeRawBufferPointer(rebasing: key[(open + 1)..<close]))) & (count - 1)
        }
        return Int(crc16(key)) & (count - 1)
    }

    public static func of(_ key: ArraySlice<UInt8>) -> Int {
        key.withUnsafeBytes { of($0) }
    }
}
