import Testing
@testable import Storage

@Suite struct PackedBytesTests {
    /// Random replacements, appends and removals, checked against an Array doing the same;
    /// a copy taken on the way must not change (copy on write).
    @Test func behavesAsAnArray() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            var p = PackedBytes()
            var a: [UInt8] = []
            var copies: [(PackedBytes, [UInt8])] = []
            for _ in 0..<60 {
                let lo = Int.random(in: 0...a.count, using: &rng)
                let hi = Int.random(in: lo...a.count, using: &rng)
                let new = (0..<Int.random(in: 0..<40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: p.append(contentsOf: new); a.append(contentsOf: new)
                case 1: p.removeSubrange(lo..<hi); a.removeSubrange(lo..<hi)
                case 2 where !a.isEmpty: let i = Int.random(in: 0..<a.count, using: &rng); p[i] = 7; a[i] = 7
                default: p.replaceSubrange(lo..<hi, with: new); a.replaceSubrange(lo..<hi, with: new)
                }
                #expect(Array(p) == a)
                if Int.random(in: 0..<10, using: &rng) == 0 { copies.append((p, a)) }
            }
            for (copy, expected) in copies { #expect(Array(copy) == expected) }
        }
    }
}
