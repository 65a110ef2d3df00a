#if canImport(Glibc)
import Glibc
#endif

/// A growable byte string in one allocation with a 24-byte header (object header, count and
/// capacity), copied on write: the buffer of a small collection's packed form. An Array's
/// header is 32 bytes, which for the 20-40 bytes of a small hash moves it up a malloc size
/// class (27 bytes of pairs: an 80-byte chunk as an Array, 64 here).
///
/// Small buffers are allocated to the byte, as Redis sizes a listpack; past 64 bytes growth
/// is by half again, so appending stays amortized O(1).
struct PackedBytes: RandomAccessCollection, MutableCollection, RangeReplaceableCollection, @unchecked Sendable {
    struct Header {
        var count: UInt32
        var capacity: UInt32
    }

    private final class Storage: ManagedBuffer<Header, UInt8> {}
    // A Storage is written only through a uniquely referenced `storage` (hence @unchecked
    // Sendable, as Array's own buffer).
    private var storage: Storage? = nil

    init() {}

    var startIndex: Int { 0 }
    var endIndex: Int { storage.map { Int($0.header.count) } ?? 0 }

    subscript(i: Int) -> UInt8 {
        get {
            precondition(i >= 0 && i < endIndex, "PackedBytes index out of range")
            return storage!.withUnsafeMutablePointerToElements { $0[i] }
        }
        set {
            precondition(i >= 0 && i < endIndex, "PackedBytes index out of range")
            if !isKnownUniquelyReferenced(&storage) { storage = Self.copy(storage!, capacity: endIndex) }
            storage!.withUnsafeMutablePointerToElements { $0[i] = newValue }
        }
    }

    /// The bytes in place: element access through the subscript costs an optional unwrap, a
    /// bounds check and a closure per byte, which made scanning a small hash slow.
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        guard let s = storage else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return try s.withUnsafeMutablePointerToElements {
            try body(UnsafeRawBufferPointer(start: $0, count: Int(s.header.count)))
        }
    }

    func withContiguousStorageIfAvailable<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R? {
        try withUnsafeBytes { try body($0.bindMemory(to: UInt8.self)) }
    }

    private static func make(capacity: Int) -> Storage {
        unsafeDowncast(Storage.create(minimumCapacity: capacity) { _ in
            Header(count: 0, capacity: UInt32(capacity))
        }, to: Storage.self)
    }

    private static func copy(_ s: Storage, capacity: Int) -> Storage {
        let fresh = make(capacity: capacity)
        let n = Int(s.header.count)
        s.withUnsafeMutablePointerToElements { from in
            fresh.withUnsafeMutablePointerToElements { to in to.update(from: from, count: n) }
        }
        fresh.header.count = UInt32(n)
        return fresh
    }

    mutating func replaceSubrange<C: Collection>(_ r: Range<Int>, with new: C) where C.Element == UInt8 {
        let old = endIndex
        precondition(r.lowerBound >= 0 && r.upperBound <= old, "PackedBytes range out of bounds")
        let n = new.count
        let newCount = old - r.count + n
        precondition(newCount <= Int(UInt32.max), "PackedBytes too long")
        let tail = old - r.upperBound
        if let s = storage, isKnownUniquelyReferenced(&storage), Int(s.header.capacity) >= newCount {
            s.withUnsafeMutablePointerToElements { p in
                if tail > 0 { memmove(p + r.lowerBound + n, p + r.upperBound, tail) }   // may overlap
                _ = UnsafeMutableBufferPointer(start: p + r.lowerBound, count: n).update(fromContentsOf: new)
            }
            s.header.count = UInt32(newCount)
            return
        }
        let capacity = newCount <= 64 ? newCount : newCount + newCount / 2
        let fresh = Self.make(capacity: capacity)
        fresh.withUnsafeMutablePointerToElements { to in
            if let s = storage {
                s.withUnsafeMutablePointerToElements { from in
                    to.update(from: from, count: r.lowerBound)
                    (to + r.lowerBound + n).update(from: from + r.upperBound, count: tail)
                }
            }
            _ = UnsafeMutableBufferPointer(start: to + r.lowerBound, count: n).update(fromContentsOf: new)
        }
        fresh.header.count = UInt32(newCount)
        storage = fresh
    }

    // One replacement for the lot, not one per byte (the protocol's default).
    mutating func append<S: Sequence>(contentsOf new: S) where S.Element == UInt8 {
        let bytes = Array(new)
        replaceSubrange(endIndex..<endIndex, with: bytes)
    }

    mutating func append(_ byte: UInt8) {
        replaceSubrange(endIndex..<endIndex, with: CollectionOfOne(byte))
    }
}
