import Testing
@testable import Storage

/// Every key pays for an Entry in its table slot: a value case with a large inline payload
/// would make every key bigger. Collections are boxed; short strings (15 bytes) are inline.
@Suite struct LayoutTests {
    @Test func valueAndEntryStaySmall() {
        #expect(MemoryLayout<Value>.size <= 17)   // an inline string: 15 bytes and a count
        #expect(MemoryLayout<Entry>.stride <= 32)
    }

    /// A small collection's box holds its packed form and one pointer for the large form,
    /// not an empty hash table (a table struct is some 80 bytes).
    @Test func smallCollectionsDoNotCarryTheirLargeForm() {
        #expect(MemoryLayout<HashValue>.size <= 16)   // inline in a Value, no box
        #expect(MemoryLayout<SetValue>.size <= 24)
        #expect(MemoryLayout<SortedSetValue>.size <= 24)
    }

    /// Writing a boxed large form after a copy (a snapshot holds one) leaves the copy as it was.
    @Test func boxedLargeFormsAreCopiedOnWrite() {
        var h = HashValue()
        for i in 0..<600 { h.set(Array("f\(i)".utf8), Array("v".utf8), maxEntries: 512, maxValue: 64) }
        #expect(h.encodingName == "hashtable")
        let snapshot = h
        h.set(Array("f1".utf8), Array("changed".utf8), maxEntries: 512, maxValue: 64)
        h.remove(Array("f2".utf8)[...])
        #expect(snapshot.get(Array("f1".utf8)[...]) == Array("v".utf8))
        #expect(snapshot.contains(Array("f2".utf8)[...]) && snapshot.count == 600)
        #expect(h.get(Array("f1".utf8)[...]) == Array("changed".utf8) && h.count == 599)
    }
}
