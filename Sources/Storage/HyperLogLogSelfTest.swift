/// PFSELFTEST: checks the dense register packing and that counts stay within the expected
/// error, with the sparse and dense encodings agreeing, on a random run of elements.
public enum HyperLogLogSelfTest {
    /// nil when everything holds, else what failed.
    public static func run() -> String? {
        var rng = RandomSource()
        // Every register written with random values reads back, neighbours untouched.
        var dense = [UInt8](repeating: 0, count: HyperLogLog.denseSize)
        var expected = [UInt8](repeating: 0, count: HyperLogLog.registers)
        for _ in 0..<100 {
            for r in 0..<HyperLogLog.registers {
                let v = UInt8.random(in: 0...HyperLogLog.registerMax, using: &rng)
                expected[r] = v
                HyperLogLog.denseSet(&dense, r, v)
            }
            for r in 0..<HyperLogLog.registers where HyperLogLog.denseGet(dense, r) != expected[r] {
                return "TESTFAILED Register error at \(r): \(HyperLogLog.denseGet(dense, r)) instead of \(expected[r])"
            }
        }
        // Counts of the same elements in a sparse-then-promoted HLL and a dense one.
        var sparse = HyperLogLog.empty()
        dense = HyperLogLog.empty()
        do {
            try HyperLogLog.toDense(&dense)
            let seed = UInt64.random(in: 0...UInt64.max, using: &rng)
            let relativeError = 1.04 / Double(HyperLogLog.registers).squareRoot()
            var checkpoint = 1
            for j in 1...100_000 {
                var element = UInt64(j) ^ seed
                let bytes = withUnsafeBytes(of: &element) { Array($0) }
                _ = try HyperLogLog.add(&sparse, bytes, sparseMaxBytes: 3000)
                _ = try HyperLogLog.add(&dense, bytes, sparseMaxBytes: 3000)
                guard j == checkpoint else { continue }
                checkpoint *= 10
                let a = try HyperLogLog.count(sparse), b = try HyperLogLog.count(dense)
                if a != b { return "TESTFAILED Sparse and dense counts differ at \(j): \(a) vs \(b)" }
                let allowed = max(1.0, relativeError * 6 * Double(j))
                if abs(Double(a - j)) > allowed {
                    return "TESTFAILED Too big error. card:\(j) abserr:\(abs(a - j))"
                }
            }
        } catch {
            return "TESTFAILED invalid HLL"
        }
        return nil
    }
}
