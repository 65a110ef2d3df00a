/// A string value of moderate length in one allocation with a small header, as Redis's
/// embstr: 16 bytes of object header, a 4-byte length, then the bytes. An Array of the same
/// bytes has a 32-byte header, so that 32 bytes of data take an 80-byte malloc chunk rather
/// than 64; an 8-byte length would put a 100-byte value in a 144-byte chunk rather than 128.
///
/// Immutable. A command that changes a string in place (APPEND, SETRANGE, SETBIT, PFADD)
/// turns it into a plain array first, as Redis turns an embstr into a raw string.
public struct CompactString: @unchecked Sendable {
    /// Longer strings stay arrays: reading a part of one (GETRANGE) copies no more than this.
    public static let maxCount = 256

    private final class Storage: ManagedBuffer<UInt32, UInt8> {}
    // Written once, in init, before the reference is shared; never written after (hence
    // @unchecked Sendable).
    private let storage: Storage

    public init?<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        let n = bytes.count
        guard n <= Self.maxCount else { return nil }
        storage = unsafeDowncast(Storage.create(minimumCapacity: n) { _ in UInt32(n) }, to: Storage.self)
        storage.withUnsafeMutablePointerToElements { p in
            _ = UnsafeMutableBufferPointer(start: p, count: n).initialize(from: bytes)
        }
    }

    public var count: Int { Int(storage.header) }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try storage.withUnsafeMutablePointerToElements { p in
            try body(UnsafeRawBufferPointer(start: p, count: Int(storage.header)))
        }
    }

    public var array: [UInt8] { withUnsafeBytes { Array($0) } }
}
