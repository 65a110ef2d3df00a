import Testing
@testable import Storage

@Suite struct HyperLogLogTests {
    /// A new HLL is what Redis's PFADD of no element makes before it marks the cache stale.
    @Test func emptyIsOneXZeroOpcode() throws {
        let e = HyperLogLog.empty()
        #expect(e == Array("HYLL".utf8) + [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 0xFF])
        #expect(HyperLogLog.isValid(e))
        #expect(HyperLogLog.decode(e) == "Z:16384")
        #expect(try HyperLogLog.count(e) == 0)
    }

    /// Counts redis-server 7.0 gave for "e0", "e1", ... (PFADD then PFCOUNT).
    @Test(arguments: [(500, 506), (3000, 2979), (20000, 19901)])
    func countsEqualRedis(n: Int, redis: Int) throws {
        var h = HyperLogLog.empty()
        for i in 0..<n { _ = try HyperLogLog.add(&h, Array("e\(i)".utf8), sparseMaxBytes: 3000) }
        #expect(try HyperLogLog.count(h) == redis)
        #expect(h.count == (n >= 3000 ? HyperLogLog.denseSize : h.count))
    }

    @Test func sparseAndDenseAgreeRegisterByRegister() throws {
        var sparse = HyperLogLog.empty()
        var dense = HyperLogLog.empty()
        try HyperLogLog.toDense(&dense)
        for i in 0..<2000 {
            let e = Array("k\(i)".utf8)
            let a = try HyperLogLog.add(&sparse, e, sparseMaxBytes: 1 << 20)
            let b = try HyperLogLog.add(&dense, e, sparseMaxBytes: 1 << 20)
            #expect(a == b)
        }
        #expect(HyperLogLog.isSparse(sparse))
        var converted = sparse
        try HyperLogLog.toDense(&converted)
        #expect(converted == dense)
        #expect(try HyperLogLog.count(sparse) == (try HyperLogLog.count(dense)))
    }

    @Test func corruptSparseValuesAreRefusedNotCrashed() {
        var h = HyperLogLog.empty()
        h.append(0x80)   // one register past the last
        #expect(throws: HyperLogLog.Failure.self) { try HyperLogLog.count(h) }
        var m = [UInt8](repeating: 0, count: HyperLogLog.registers)
        #expect(throws: HyperLogLog.Failure.self) { try HyperLogLog.merge(h, into: &m) }
        var truncated = Array(HyperLogLog.empty().dropLast())   // an XZERO missing its second byte
        #expect(throws: HyperLogLog.Failure.self) { try HyperLogLog.toDense(&truncated) }
        var headerOnly = Array(HyperLogLog.empty().prefix(HyperLogLog.headerSize))
        #expect(throws: HyperLogLog.Failure.self) { try HyperLogLog.add(&headerOnly, [1], sparseMaxBytes: 3000) }
    }

    @Test func selfTestPasses() {
        #expect(HyperLogLogSelfTest.run() == nil)
    }
}
