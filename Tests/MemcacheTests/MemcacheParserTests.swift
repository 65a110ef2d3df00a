import Testing
@testable import Memcache

@Suite struct MemcacheParserTests {
    /// Parses all of `s`, in one piece; returns the requests and where parsing stopped.
    func parse(_ s: String, itemSizeMax: Int = 1 << 20) -> ([MemcacheRequest], Int) {
        var p = MemcacheParser(itemSizeMax: itemSizeMax)
        let input = Array(s.utf8)
        var start = 0
        var out: [MemcacheRequest] = []
        while let r = p.next(input, from: &start) {
            out.append(r)
            if case .close = r { break }
        }
        return (out, start)
    }

    func reply(_ r: MemcacheRequest) -> String? {
        if case .reply(let s, _) = r { return s }
        return nil
    }

    @Test func numbersFollowMemcachedRules() {
        #expect(MemcacheNumber.unsigned64(Array("18446744073709551615".utf8)) == UInt64.max)
        #expect(MemcacheNumber.unsigned64(Array("18446744073709551616".utf8)) == nil)
        #expect(MemcacheNumber.unsigned64(Array("-1".utf8)) == nil)
        #expect(MemcacheNumber.unsigned64(Array(" 12 ".utf8)) == 12)
        #expect(MemcacheNumber.unsigned64(Array("12x".utf8)) == nil)
        #expect(MemcacheNumber.flags(Array("4294967297".utf8)) == 1)
        #expect(MemcacheNumber.signed32(Array("-5".utf8)) == -5)
        #expect(MemcacheNumber.signed32(Array("2147483648".utf8)) == Int32.min)
        #expect(MemcacheNumber.signed32(Array("9223372036854775808".utf8)) == nil)
        #expect(MemcacheNumber.signed32(Array("".utf8)) == nil)
    }

    @Test func storageCommandWaitsForItsData() {
        var p = MemcacheParser(itemSizeMax: 1 << 20)
        var input = Array("set k 5 0 3\r\nab".utf8)
        var start = 0
        #expect(p.next(input, from: &start) == nil)
        #expect(start == 0)
        input += Array("c\r\n".utf8)
        guard case .store(.set, let key, 5, 0, 0, let data, false)? = p.next(input, from: &start) else {
            Issue.record("no store")
            return
        }
        #expect(Array(key) == Array("k".utf8))
        #expect(Array(data) == Array("abc".utf8))
        #expect(start == input.count)
    }

    @Test func badDataChunkAndTokenCounts() {
        let (r, _) = parse("set b 0 0 3\r\nabcde\r\nset x 0 0\r\nfoo\r\n\r\n")
        #expect(r.compactMap(reply) == ["CLIENT_ERROR bad data chunk", "ERROR", "ERROR", "ERROR", "ERROR"])
    }

    @Test func tooLargeIsSwallowed() {
        let (r, start) = parse("set k 0 0 100\r\n" + String(repeating: "x", count: 100) + "\r\nversion\r\n", itemSizeMax: 64)
        guard case .tooLarge(_, true, false) = r[0] else { Issue.record("expected tooLarge"); return }
        guard case .version = r[1] else { Issue.record("expected version"); return }
        #expect(start == 15 + 102 + 9)
    }

    @Test func longLineWithoutNewlineCloses() {
        let (r, _) = parse(String(repeating: "x", count: 3000))
        guard case .close = r.first else { Issue.record("expected close"); return }
        let (g, _) = parse("get " + String(repeating: "k ", count: 1500))
        #expect(g.isEmpty)   // a multi-get may be longer: wait for its end
    }

    @Test func metaFlags() {
        let (r, _) = parse("mg k v v\r\nmg k zz\r\nmg k Nabc\r\nms k 2 MX\r\nhi\r\nmg k s v O12 k\r\n")
        #expect(r.prefix(4).compactMap(reply) == ["CLIENT_ERROR duplicate flag", "CLIENT_ERROR invalid flag",
                                                 "CLIENT_ERROR bad token in command line format",
                                                 "CLIENT_ERROR invalid mode for ms M token"])
        guard case .metaGet(let key, let flags) = r[4] else { Issue.record("expected mg"); return }
        #expect(key == Array("k".utf8))
        #expect(flags.returnValue)
        #expect(flags.list.map { Character(UnicodeScalar($0.flag)) } == ["s", "v", "O", "k"])
        #expect(flags.opaque.map { Array($0) } == Array("12".utf8))
    }

    @Test func base64Keys() {
        let (r, _) = parse("mg bQ== b v\r\nmg m b\r\n")
        guard case .metaGet(let key, _) = r[0] else { Issue.record("expected mg"); return }
        #expect(key == Array("m".utf8))
        #expect(reply(r[1]) == "CLIENT_ERROR error decoding key")
    }
}
