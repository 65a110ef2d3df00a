/// The hash of a key (or member) for the byte tables: SipHash-1-2, the reduced-round variant
/// Redis's dict uses (Swift's Hasher computes 1-3), keyed with a random seed per process so
/// that clients cannot choose keys that collide.
///
/// One call over the bytes rather than Hasher's streaming interface: Hasher buffers its input
/// and finalizes through a resilient call, about 300 instructions for a 16-byte key where this
/// is about 100 (callgrind), and every command hashes at least one key.
enum KeyHash {
    static let seed: (UInt64, UInt64) = {
        var g = SystemRandomNumberGenerator()
        return (g.next(), g.next())
    }()

    @inline(__always) private static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }

    @inline(__always)
    private static func round(_ v0: inout UInt64, _ v1: inout UInt64, _ v2: inout UInt64, _ v3: inout UInt64) {
        v0 &+= v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
        v2 &+= v3; v3 = rotl(v3, 16); v3 ^= v2
        v0 &+= v3; v3 = rotl(v3, 21); v3 ^= v0
        v2 &+= v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
    }

    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        hash(bytes, seed: seed, compression: 1, finalization: 2)
    }

    /// SipHash-c-d of `bytes` under `seed` (the tests check 2-4 against the paper's vectors).
    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer, seed: (UInt64, UInt64), compression: Int, finalization: Int) -> UInt64 {
        var v0 = seed.0 ^ 0x736f_6d65_7073_6575
        var v1 = seed.1 ^ 0x646f_7261_6e64_6f6d
        var v2 = seed.0 ^ 0x6c79_6765_6e65_7261
        var v3 = seed.1 ^ 0x7465_6462_7974_6573
        let n = bytes.count
        var i = 0
        while i + 8 <= n {
            let m = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            v3 ^= m
            for _ in 0..<compression { round(&v0, &v1, &v2, &v3) }
            v0 ^= m
            i += 8
        }
        var last = UInt64(truncatingIfNeeded: n) << 56
        let tail = n - i
        if tail > 0 && n >= 8 {
            // The tail bytes are the top of the key's last 8 bytes: one load, no byte loop.
            let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self))
            last |= word >> UInt64(8 * (8 - tail))
        } else {
            var shift: UInt64 = 0
            while i < n {
                last |= UInt64(bytes[i]) << shift
                shift += 8
                i += 1
            }
        }
        v3 ^= last
        for _ in 0..<compression { round(&v0, &v1, &v2, &v3) }
        v0 ^= last
        v2 ^= 0xff
        for _ in 0..<finalization { round(&v0, &v1, &v2, &v3) }
        return v0 ^ v1 ^ v2 ^ v3
    }
}
