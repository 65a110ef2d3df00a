/// The arguments of one parsed command, packed into one reusable byte array.
///
/// A connection keeps one of these and the reader refills it for every command, keeping its
/// capacity, so parsing a command allocates nothing once the connection has warmed up.
public struct CommandArguments: Sendable {
    public private(set) var storage: [UInt8] = []
    @usableFromInline var bounds: [Int] = []   // start, end pairs into storage

    public init() {}

    public init(_ parts: [[UInt8]]) {
        for p in parts { append(p[...]) }
    }

    public init(strings: [String]) {
        for s in strings { append(Array(s.utf8)[...]) }
    }

    @inlinable public var count: Int { bounds.count >> 1 }
    @inlinable public var isEmpty: Bool { bounds.isEmpty }

    @inlinable public subscript(i: Int) -> ArraySlice<UInt8> {
        storage[bounds[2 * i] ..< bounds[2 * i + 1]]
    }

    /// A copy of argument `i` that the caller may keep.
    public func owned(_ i: Int) -> [UInt8] { Array(self[i]) }

    public func string(_ i: Int) -> String { String(decoding: self[i], as: UTF8.self) }

    public mutating func removeAll() {
        storage.removeAll(keepingCapacity: true)
        bounds.removeAll(keepingCapacity: true)
    }

    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        let start = storage.count
        storage.append(contentsOf: bytes)
        bounds.append(start)
        bounds.append(storage.count)
    }

    mutating func append(_ raw: UnsafeRawBufferPointer) {
        let start = storage.count
        storage.append(contentsOf: raw)
        bounds.append(start)
        bounds.append(storage.count)
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
