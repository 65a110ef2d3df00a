import Testing
@testable import Storage

/// Every key pays for an Entry in its table slot: a value case with a large inline payload
/// would make every key bigger. Collections are boxed; short strings (15 bytes) are inline.
@Suite struct LayoutTests {
    @Test func valueAndEntryStaySmall() {
        #expect(MemoryLayout<Value>.size <= 17)   // an inline string: 15 bytes and a count
        #expect(MemoryLayout<Entry>.stride <= 48)
    }
}

