/// The arguments of one parsed command, packed into one reusable byte array.
///
/// A connection keeps one of these and the reader refills it for every command, keeping its
/// capacity, so parsing a command allocates nothing once the connection has warmed up.
public struct CommandArguments: Sendable {
    /// Argument bytes; only the first `used` are current (the rest is kept capacity).
    @usableFromInline var storage: [UInt8] = []
    @usableFromInline var used = 0
    /// Start, end pairs into storage; only the first `2 * count` are current.
    @usableFromInline var bounds: [Int] = []
    public private(set) var count = 0

    public init() {}

    public init(_ parts: [[UInt8]]) {
        for p in parts { append(p[...]) }
    }

    public init(strings: [String]) {
        for s in strings { append(Array(s.utf8)[...]) }
    }

    @inlinable public var isEmpty: Bool { count == 0 }

    @inlinable public subscript(i: Int) -> ArraySlice<UInt8> {
        precondition(i < count)
        return storage[bounds[2 * i] ..< bounds[2 * i + 1]]
    }

    /// Argument `i`'s bytes, borrowed for `body`: unlike the slice, no retain of the storage.
    @inlinable public func withBytes<T>(_ i: Int, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        precondition(i < count)
        let start = bounds[2 * i], end = bounds[2 * i + 1]
        return try storage.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
    }

    /// A copy of argument `i` that the caller may keep.
    public func owned(_ i: Int) -> [UInt8] { Array(self[i]) }

    public func string(_ i: Int) -> String { String(decoding: self[i], as: UTF8.self) }

    /// Forgets the arguments and keeps the arrays for the next command: resetting two counters
    /// costs nothing, where removeAll(keepingCapacity:) walked both arrays' buffers. A buffer
    /// grown past a megabyte by one large argument is let go, as Redis frees a big query buffer.
    public mutating func removeAll() {
        count = 0
        used = 0
        if storage.count > 1 << 20 { storage = [] }
    }

    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        let done: Void? = bytes.withContiguousStorageIfAvailable { append(UnsafeRawBufferPointer($0)) }
        if done == nil { append(Array(bytes)[...]) }
    }

    public mutating func append(_ raw: UnsafeRawBufferPointer) {
        let start = used
        let end = start + raw.count
        if storage.count < end {
            storage.append(contentsOf: repeatElement(0, count: max(end, 2 * storage.count, 64) - storage.count))
        }
        if raw.count > 0 {
            storage.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: start).copyMemory(from: raw.baseAddress!, byteCount: raw.count) }
        }
        used = end
        if bounds.count < 2 * count + 2 {
            bounds.append(start)
            bounds.append(end)
        } else {
            bounds[2 * count] = start
            bounds[2 * count + 1] = end
        }
        count += 1
    }

    /// Arguments `from...` as a new list (MULTI queues, sub-commands).
    public func dropping(first n: Int) -> CommandArguments {
        var out = CommandArguments()
        for i in n..<count { out.append(self[i]) }
        return out
    }

    /// True when argument `i` equals `word`, ignoring ASCII case (options such as "nx", "EX").
    @inlinable public func matches(_ i: Int, _ word: StaticString) -> Bool {
        let arg = self[i]
        guard arg.count == word.utf8CodeUnitCount else { return false }
        return word.withUTF8Buffer { w in
            var j = arg.startIndex
            for c in w {
                if asciiLower(arg[j]) != asciiLower(c) { return false }
                j += 1
            }
            return true
        }
    }
}

@inlinable public func asciiLower(_ c: UInt8) -> UInt8 {
    (c >= 65 && c <= 90) ? c | 0x20 : c
}
