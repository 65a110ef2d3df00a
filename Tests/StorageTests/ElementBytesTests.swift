import Testing
@testable import Storage

@Suite struct ElementBytesTests {
    /// Every length around the inline limit reads back the same bytes, compares equal to them
    /// and to nothing one byte different, and is short exactly up to 15 bytes.
    @Test func lengthsAroundTheInlineLimit() {
        for n in 0...40 {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 * 37 + n) }
            let e = ElementBytes(bytes[...])
            #expect(e.bytes == bytes)
            #expect(e.count == n)
            #expect(e.elementsEqual(bytes[...]))
            if n > 0 {
                var other = bytes
                other[n - 1] &+= 1
                #expect(!e.elementsEqual(other[...]))
            }
            #expect(!e.elementsEqual((bytes + [0])[...]))
            if case .short = e { #expect(n <= InlineBytes.capacity) } else { #expect(n > InlineBytes.capacity) }
            #expect(e.heapBytes == 0 || n > InlineBytes.capacity)
        }
    }

    /// A long element rewritten in place leaves a copy taken before as it was.
    @Test func assignLeavesCopiesAlone() {
        var e = ElementBytes([UInt8](repeating: 1, count: 40))
        let copy = e
        e.assign([UInt8](repeating: 2, count: 30)[...])
        #expect(copy.bytes == [UInt8](repeating: 1, count: 40))
        #expect(e.bytes == [UInt8](repeating: 2, count: 30))
        e.assign([3][...])
        #expect(e.bytes == [3])
        e.assign([UInt8](repeating: 4, count: 100)[...])
        #expect(e.bytes == [UInt8](repeating: 4, count: 100))
    }
}
