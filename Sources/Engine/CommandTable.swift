import RESP

/// The command table: every command's spec, found by name without allocating.
///
/// Names are looked up case-insensitively straight from the request bytes through a small
/// open-addressing table. Each slot keeps its name's first 16 bytes, lower-cased, as two
/// words, and its length: a lookup folds the request's name into two words once, hashes them,
/// and compares words, not bytes (the byte loop cost about 180 instructions a command in
/// callgrind). Only a name longer than 16 bytes compares its tail byte by byte.
public final class CommandTable: Sendable {
    public let commands: [CommandSpec]
    private struct Slot: Sendable {
        var index = -1            // into commands; -1: empty
        var length = 0
        var words: (UInt64, UInt64) = (0, 0)
    }
    private let slots: [Slot]
    private let mask: Int
    /// Every command's name in lower case, back to back, and each one's start in `names`:
    /// for the bytes past the sixteenth of a long name.
    private let names: [UInt8]
    private let nameStarts: [Int]

    public init(_ commands: [CommandSpec]) {
        self.commands = commands.sorted { $0.name < $1.name }
        var size = 16
        while size < commands.count * 4 { size <<= 1 }
        var s = [Slot](repeating: Slot(), count: size)
        let m = size - 1
        var all: [UInt8] = []
        var starts: [Int] = []
        for (i, c) in self.commands.enumerated() {
            let name = Array(c.name.utf8)
            starts.append(all.count)
            all.append(contentsOf: name.map(asciiLower))
            let w = Self.words(name)
            var h = Self.hash(w, name.count) & m
            while s[h].index >= 0 { h = (h + 1) & m }
            s[h] = Slot(index: i, length: name.count, words: w)
        }
        slots = s
        mask = m
        names = all
        nameStarts = starts
    }

    /// The first 16 bytes of a name, lower-cased, as two little-endian words (zero past its end).
    @inline(__always) static func words<C: Collection>(_ n: C) -> (UInt64, UInt64) where C.Element == UInt8 {
        var w0: UInt64 = 0, w1: UInt64 = 0
        var shift: UInt64 = 0
        for c in n.prefix(16) {
            let b = UInt64(asciiLower(c))
            if shift < 64 { w0 |= b << shift } else { w1 |= b << (shift - 64) }
            shift += 8
        }
        return (w0, w1)
    }

    @inline(__always) static func hash(_ w: (UInt64, UInt64), _ length: Int) -> Int {
        let x = (w.0 ^ (w.1 &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(truncatingIfNeeded: length)) &* 0xBF58_476D_1CE4_E5B9
        return Int(truncatingIfNeeded: x >> 32)
    }

    public func lookup(_ name: ArraySlice<UInt8>) -> CommandSpec? {
        let w = Self.words(name)
        let count = name.count
        var h = Self.hash(w, count) & mask
        while true {
            let slot = slots[h]
            if slot.index < 0 { return nil }
            if slot.length == count && slot.words.0 == w.0 && slot.words.1 == w.1
                && (count <= 16 || tailMatches(slot, name)) {
                return commands[slot.index]
            }
            h = (h + 1) & mask
        }
    }

    private func tailMatches(_ slot: Slot, _ n: ArraySlice<UInt8>) -> Bool {
        let start = nameStarts[slot.index]
        for (j, c) in n.dropFirst(16).enumerated() where names[start + 16 + j] != asciiLower(c) { return false }
        return true
    }

    public func lookup(_ name: String) -> CommandSpec? { lookup(Array(name.utf8)[...]) }

    /// A sub-command of a container command (CONFIG GET), by its own name.
    public static func subcommand(of parent: CommandSpec, _ name: ArraySlice<UInt8>) -> CommandSpec? {
        parent.subcommands.first { sub in
            let short = sub.name.split(separator: "|").last.map(String.init) ?? sub.name
            return equalsIgnoringCase(short, name)
        }
    }
}

@inline(__always) func equalsIgnoringCase(_ s: String, _ bytes: ArraySlice<UInt8>) -> Bool {
    var utf8 = s.utf8.makeIterator()
    var count = 0
    for b in bytes {
        guard let c = utf8.next(), c == asciiLower(b) else { return false }
        count += 1
    }
    return utf8.next() == nil
}
