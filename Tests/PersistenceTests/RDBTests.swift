import DequeModule
import Testing
@testable import Persistence
import Storage

@Suite struct RDBTests {
    @Test func crc64MatchesRedis() {
        // Redis's crc64 self-test value for "123456789".
        #expect(CRC64.checksum(Array("123456789".utf8)) == 0xe9c6_d914_c4b8_d9ca)
    }

    @Test func lzfRoundTrips() {
        var rng = SystemRandomNumberGenerator()
        let inputs: [[UInt8]] = [
            Array(String(repeating: "abcabcabc-hello-", count: 200).utf8),
            Array(repeating: 0, count: 100_000),
            (0..<5000).map { _ in UInt8.random(in: 0...3, using: &rng) },
            Array("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".utf8),
        ]
        for input in inputs {
            guard let packed = LZF.compress(input, limit: input.count - 4) else {
                Issue.record("did not compress \(input.count) bytes")
                continue
            }
            #expect(packed.count < input.count)
            #expect(LZF.decompress(packed, length: input.count) == input)
        }
        let random = (0..<200).map { _ in UInt8.random(in: 0...255, using: &rng) }
        #expect(LZF.compress(random, limit: random.count - 4) == nil)
        #expect(LZF.decompress([0xE0, 0x05], length: 10) == nil)   // a reference before the start
    }

    @Test func stringsTakeRedisEncodings() throws {
        var w = RDBWriter()
        w.string(Array("12".utf8))
        w.string(Array("-300".utf8))
        w.string(Array("0012".utf8))
        w.string(Array("hello".utf8))
        #expect(w.bytes == [0xC0, 12, 0xC1, 0xD4, 0xFE, 4] + Array("0012".utf8) + [5] + Array("hello".utf8))
        var r = RDBReader(w.bytes)
        #expect(try r.string() == Array("12".utf8))
        #expect(try r.string() == Array("-300".utf8))
        #expect(try r.string() == Array("0012".utf8))
        #expect(try r.string() == Array("hello".utf8))
    }

    @Test func lengthsRoundTrip() throws {
        for n in [0, 63, 64, 16383, 16384, 1 << 31, 1 << 40] {
            var w = RDBWriter()
            w.length(n)
            var r = RDBReader(w.bytes)
            #expect(try r.length() == n)
        }
    }

    @Test func dumpRoundTripsEveryType() throws {
        var h = HashValue()
        _ = h.set(Array("f".utf8), Array("v".utf8), maxEntries: 128, maxValue: 64)
        var s = SetValue()
        _ = s.add(Array("1".utf8)[...], maxIntsetEntries: 512)
        _ = s.add(Array("x".utf8)[...], maxIntsetEntries: 512)
        var z = SortedSetValue()
        _ = z.set(Array("a".utf8), 1.5, maxEntries: 128, maxValue: 64)
        _ = z.set(Array("b".utf8), -.infinity, maxEntries: 128, maxValue: 64)
        let values: [Value] = [.int(-5), .bytes(Array(String(repeating: "xy", count: 100).utf8)),
                               .list(Deque([ElementBytes(Array("a".utf8)), ElementBytes(Array("b".utf8))])), .hash(h), .set(s), .zset(z)]
        for v in values {
            let payload = DumpPayload.make(v)
            #expect(DumpPayload.verify(payload))
            let back = try DumpPayload.value(payload, limits: EncodingLimits())
            #expect(back.typeName == v.typeName)
            #expect(DumpPayload.make(back) == payload)
        }
    }

    @Test func corruptPayloadsAreRefused() {
        var payload = DumpPayload.make(.bytes(Array("hello".utf8)))
        payload[1] ^= 0xff
        #expect(!DumpPayload.verify(payload))
        // A well-formed footer over nonsense content: refused by the reader, not a crash.
        var w = RDBWriter()
        w.byte(RDBValue.typeHashListpack)
        w.string([0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0xFF])
        for type in [RDBValue.typeHashListpack, RDBValue.typeSetIntset, RDBValue.typeListQuicklist2, 99] {
            var r = RDBReader(Array(w.bytes.dropFirst()))
            #expect(throws: RDBError.self) { try RDBValue.read(type: type, from: &r, limits: EncodingLimits()) }
        }
    }
}

@Suite struct OldEncodingTests {
    /// A hash as Redis before 7.0 wrote it: a ziplist of field, value, field, value.
    @Test func ziplistHash() throws {
        var blob: [UInt8] = [22, 0, 0, 0, 17, 0, 0, 0, 4, 0]
        blob += [0, 0x01, UInt8(ascii: "f")]
        blob += [3, 0x01, UInt8(ascii: "v")]
        blob += [3, 0x01, UInt8(ascii: "n")]
        blob += [3, 0xF6]                        // the immediate integer 5
        blob += [0xFF]
        #expect(try CompactEncodings.ziplist(blob) == [Array("f".utf8), Array("v".utf8), Array("n".utf8), Array("5".utf8)])
        var w = RDBWriter()
        w.string(blob)
        var r = RDBReader(w.bytes)
        let v = try RDBValue.read(type: RDBValue.typeHashZiplist, from: &r, limits: EncodingLimits())
        guard case .hash(let h) = v else { Issue.record("not a hash"); return }
        #expect(h.get(Array("n".utf8)[...]) == Array("5".utf8))
    }

    /// A hash as Redis 2.x wrote it: a zipmap.
    @Test func zipmapHash() throws {
        let blob: [UInt8] = [1, 1, UInt8(ascii: "f"), 2, 0, UInt8(ascii: "v"), UInt8(ascii: "w"), 0xFF]
        #expect(try CompactEncodings.zipmap(blob) == [Array("f".utf8), Array("vw".utf8)])
    }

    @Test func intsetWidths() throws {
        let blob: [UInt8] = [4, 0, 0, 0, 2, 0, 0, 0] + [0xFF, 0xFF, 0xFF, 0xFF] + [0x00, 0x00, 0x01, 0x00]
        #expect(try CompactEncodings.intset(blob) == [Array("-1".utf8), Array("65536".utf8)])
        #expect(throws: RDBError.self) { try CompactEncodings.intset([3, 0, 0, 0, 0, 0, 0, 0]) }
    }

    @Test func listpackIntegerForms() throws {
        // 7-bit 5, 13-bit -2, 16-bit 1000, 6-bit string "ab".
        var blob: [UInt8] = [0, 0, 0, 0, 4, 0]
        blob += [0x05, 1]
        blob += [0xDF, 0xFE, 2]
        blob += [0xF1, 0xE8, 0x03, 3]
        blob += [0x82, UInt8(ascii: "a"), UInt8(ascii: "b"), 3]
        blob += [0xFF]
        blob[0] = UInt8(blob.count)
        #expect(try CompactEncodings.listpack(blob) == [Array("5".utf8), Array("-2".utf8), Array("1000".utf8), Array("ab".utf8)])
    }
}
