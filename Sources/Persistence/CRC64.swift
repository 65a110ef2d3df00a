/// The CRC-64 Redis puts at the end of RDB files and DUMP payloads: the Jones polynomial
/// (0xad93d23594c935a9), reflected, initial value 0, no final xor.
public enum CRC64 {
    static let table: [UInt64] = (0..<256).map { i -> UInt64 in
        // The polynomial bit-reversed, for the reflected form.
        let poly: UInt64 = 0x95ac_9329_ac4b_c9b5
        var crc = UInt64(i)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ poly : crc >> 1 }
        return crc
    }

    public static func update<C: Collection>(_ crc: UInt64, _ bytes: C) -> UInt64 where C.Element == UInt8 {
        var c = crc
        for b in bytes { c = table[Int((c ^ UInt64(b)) & 0xff)] ^ (c >> 8) }
        return c
    }

    public static func checksum<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 { update(0, bytes) }
}
