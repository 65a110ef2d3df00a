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

/// Under LRU an entry's access field keeps sixteenths of a second above Redis's 24-bit
/// seconds clock; what Redis shows (the clock, idle seconds) is unchanged, and the flag bits
/// beside it are kept apart.
@Suite struct AccessFieldTests {
    @Test func sixteenthsRankWithinASecondAndIdleSecondsIgnoreThem() {
        let base: Int64 = 1_700_000_000_000   // a whole second
        let early = lruAccess(base + 100), late = lruAccess(base + 900)
        #expect(early & lruClockMax == late & lruClockMax)
        let now = base + 950
        #expect(idleSeconds(access: early, nowMs: now) == 0 && idleSeconds(access: late, nowMs: now) == 0)
        #expect(idleSixteenths(access: early, nowMs: now) > idleSixteenths(access: late, nowMs: now))
        // Across a second boundary, and after 10 s.
        #expect(idleSixteenths(access: late, nowMs: base + 1_050) == 2)
        #expect(idleSeconds(access: early, nowMs: base + 10_100) == 10)
    }

    @Test func flagBitsDoNotTouchTheAccessField() {
        var e = Entry(value: .int(1), access: lruAccess(1_700_000_000_937))
        let access = e.access
        e.rawEncoding = true
        e.itemState = [.fetched, .stale, .won]
        #expect(e.access == access && e.rawEncoding && e.itemState == [.fetched, .stale, .won])
        e.access = 0x0FFF_FFFF
        #expect(e.rawEncoding && e.itemState == [.fetched, .stale, .won])
        e.rawEncoding = false
        e.itemState = []
        #expect(e.access == 0x0FFF_FFFF)
    }
}
