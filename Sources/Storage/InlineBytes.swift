/// A string of up to 15 bytes kept inside the Value itself, so that short values (flags,
/// tokens, small counters' text) take no allocation of their own, on SET or in memory.
public struct InlineBytes: Sendable {
    public static let capacity = 15
    /// Bytes 0..<15 hold the data, byte 15 the count.
    private var storage: (UInt64, UInt64) = (0, 0)

    public init?<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        guard bytes.count <= Self.capacity else { return nil }
        Swift.withUnsafeMutableBytes(of: &storage) { raw in
            var i = 0
            for b in bytes {
                raw[i] = b
                i += 1
            }
            raw[15] = UInt8(i)
        }
    }

    public var count: Int { Swift.withUnsafeBytes(of: storage) { Int($0[15]) } }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: storage) { raw in
            try body(UnsafeRawBufferPointer(rebasing: raw[0..<Int(raw[15])]))
        }
    }

    public var array: [UInt8] { withUnsafeBytes { Array($0) } }
}
