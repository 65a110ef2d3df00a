/// One element of a collection (a hash field's value in the table form, a list element): up
/// to 15 bytes inside the element itself, longer in an array of its own.
///
/// An array for every element cost a malloc per new element and a cache miss on the array's
/// header at a random address whenever the element was read or replaced (perf: a tenth of an
/// HSET's time on a 100k-field hash). Short elements, the usual ones, cost neither, and take
/// 24 bytes where a reference and its allocation took about 56.
public enum ElementBytes: Sendable {
    case short(InlineBytes)
    case long([UInt8])

    public static var empty: ElementBytes { .short(InlineBytes([UInt8]())!) }

    /// From any bytes; an array too long to be short is kept as it is (no copy).
    public init<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        if let s = InlineBytes(bytes) { self = .short(s) } else { self = .long(Array(bytes)) }
    }

    public var bytes: [UInt8] {
        switch self {
        case .short(let s): return s.array
        case .long(let a): return a
        }
    }

    public var count: Int {
        switch self {
        case .short(let s): return s.count
        case .long(let a): return a.count
        }
    }

    /// Bytes of memory outside the element itself.
    public var heapBytes: Int {
        if case .long(let a) = self { return a.capacity + 32 }
        return 0
    }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch self {
        case .short(let s): return try s.withUnsafeBytes(body)
        case .long(let a): return try a.withUnsafeBytes(body)
        }
    }

    public func elementsEqual(_ other: ArraySlice<UInt8>) -> Bool {
        withUnsafeBytes { mine in other.withUnsafeBytes { mine.elementsEqual($0) } }
    }

    /// Sets the element to `value`. A long value replacing a long one is written into its array
    /// when that array is not shared (copy-on-write keeps a snapshot's or a reader's copy
    /// intact) and not far larger than the new value: no allocation, no free.
    public mutating func assign(_ value: ArraySlice<UInt8>) {
        if case .long(var a) = self, value.count > InlineBytes.capacity, a.capacity <= 2 * value.count + 32 {
            self = .empty   // drops this enum's reference, so that `a` alone holds the array
            a.replaceSubrange(0..<a.count, with: value)
            self = .long(a)
            return
        }
        self = ElementBytes(value)
    }
}
