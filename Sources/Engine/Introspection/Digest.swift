import Crypto
import Foundation
import Storage

/// DEBUG DIGEST and DIGEST-VALUE: a fingerprint of the data set and of single values, as
/// Redis computes it, so that a Larder replica and a redis-server primary (or two Larder
/// servers) can be checked equal. SHA-1 mixing as Redis's: a value's digest mixes its type,
/// then its elements (in order for lists, hashes of fields and values and of members and
/// scores XORed in any order for hashes, sets and sorted sets), then a mark when it has a
/// TTL; a key's digest mixes its name first; the data set's XORs every key's, after mixing in
/// each database number. Checked equal to redis-server's for every type but streams. Streams are the exception: Redis digests its own listpack bytes,
/// which Larder does not keep, so a stream's digest is Larder's own (its entries and groups).
enum Digest {
    typealias D = [UInt8]

    static func xor(_ d: inout D, _ data: some Sequence<UInt8>) {
        let h = Array(Insecure.SHA1.hash(data: Array(data)))
        for i in 0..<20 { d[i] ^= h[i] }
    }

    static func mix(_ d: inout D, _ data: some Sequence<UInt8>) {
        xor(&d, data)
        d = Array(Insecure.SHA1.hash(data: d))
    }

    static func bigEndian32(_ v: Int) -> [UInt8] {
        let u = UInt32(truncatingIfNeeded: v)
        return [UInt8(u >> 24), UInt8(u >> 16 & 0xff), UInt8(u >> 8 & 0xff), UInt8(u & 0xff)]
    }

    /// Mixes a value into `d` (Redis's xorObjectDigest): its type, its elements, and a mark
    /// when its key has a TTL. From a zero digest, DIGEST-VALUE's; from a key's, the key's.
    static func mixValue(_ d: inout D, _ v: Value, volatile: Bool) {
        func xorIn(_ parts: [[UInt8]]) {
            var e = D(repeating: 0, count: 20)
            for p in parts { mix(&e, p) }
            xor(&d, e)
        }
        switch v {
        case .list(let l):
            mix(&d, bigEndian32(1))
            for e in l { mix(&d, e.bytes) }
        case .set(let s):
            mix(&d, bigEndian32(2))
            for m in s.members { xor(&d, m) }
        case .zset(let z):
            mix(&d, bigEndian32(3))
            for (score, member) in z.count == 0 ? [] : z.range(0, z.count - 1) {
                xorIn([member, Array(formatScore(score).utf8)])
            }
        case .hash(let h):
            mix(&d, bigEndian32(4))
            for (f, value) in h.pairs { xorIn([f, value]) }
        case .stream(let s):
            mix(&d, bigEndian32(6))
            for entry in s.range(.zero, .max) {
                mix(&d, Array(entry.id.text.utf8))
                for f in entry.fields { mix(&d, f) }
            }
            mix(&d, Array(s.lastID.text.utf8))
        default:
            mix(&d, bigEndian32(0))
            mix(&d, v.stringBytes ?? [])
        }
        if volatile { xor(&d, Array("!!expire!!".utf8)) }
    }

    /// A score as Redis's digest writes it (%.17g).
    static func formatScore(_ s: Double) -> String {
        if s.isInfinite { return s > 0 ? "inf" : "-inf" }
        return String(format: "%.17g", s)
    }

    static func hex(_ d: D) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: d.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }, as: UTF8.self)
    }
}

extension Engine {
    /// DEBUG DIGEST: every key of every database; 40 zeros for an empty data set. The caller
    /// holds every shard.
    func datasetDigest() -> String {
        var final = Digest.D(repeating: 0, count: 20)
        for db in keyspace.databases where db.shards.contains(where: { $0.count > 0 }) {
            Digest.mix(&final, Digest.bigEndian32(db.index))
            for shard in db.shards {
                let image = shard.image
                for slot in image.table.occupiedSlots {
                    var d = Digest.D(repeating: 0, count: 20)
                    Digest.mix(&d, image.table.key(at: slot))
                    Digest.mixValue(&d, image.table.entries[slot].value, volatile: image.expireAt(slot: slot) != 0)
                    Digest.xor(&final, d)
                }
            }
        }
        return Digest.hex(final)
    }
}
