import Testing
@testable import Storage

/// Every key pays for an Entry in its table slot: a value case with a large inline payload
/// would make every key bigger.
@Suite struct LayoutTests {
    @Test func valueIsOnePointerWide() {
        #expect(MemoryLayout<Value>.size <= 9)
        #expect(MemoryLayout<Entry>.stride <= 48)
    }
}

