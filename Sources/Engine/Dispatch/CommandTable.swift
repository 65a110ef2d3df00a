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
        var nameStart = 0         // into names
    }
    private let slots: [Slot]
    private let mask: Int
    /// Every command's name in lower case, back to back (a slot keeps its start): for the
    /// bytes past the sixteenth of a long name.
    private let names: [UInt8]

    /// `renames` are the file's rename-command lines: a command is found under its new name
    /// only, or not at all when renamed to "" (its spec and statistics keep its own name).
    public init(_ commands: [CommandSpec], renames: [String: String] = [:]) {
        self.commands = commands.sorted { $0.name < $1.name }
        var size = 16
        while size < commands.count * 4 { size <<= 1 }
        var s = [Slot](repeating: Slot(), count: size)
        let m = size - 1
        var all: [UInt8] = []
        for (i, c) in self.commands.enumerated() {
            let name = Array((renames[c.name] ?? c.name).utf8)
            if name.isEmpty { continue }
            let start = all.count
            all.append(contentsOf: name.map(asciiLower))
            let w = name.withUnsafeBytes { Self.words($0) }
            var h = Self.hash(w, name.count) & m
            while s[h].index >= 0 { h = (h + 1) & m }
            s[h] = Slot(index: i, length: name.count, words: w, nameStart: start)
        }
        slots = s
        mask = m
        names = all
    }

    /// The first 16 bytes of a name, lower-cased, as two little-endian words (zero past its end).
    /// Loaded a word at a time and lower-cased eight bytes at once (`lowered`): a byte loop
    /// was most of a lookup's 150 instructions (callgrind).
    @inline(__always) static func words(_ n: UnsafeRawBufferPointer) -> (UInt64, UInt64) {
        let c = n.count
        var w0: UInt64 = 0, w1: UInt64 = 0
        @inline(__always) func load(_ at: Int) -> UInt64 {
            UInt64(littleEndian: n.loadUnaligned(fromByteOffset: at, as: UInt64.self))
        }
        if c >= 8 {
            w0 = load(0)
            // Past 8 bytes: the last 8 (or bytes 8..<16), shifted so that the bytes before 8 fall off.
            if c >= 16 { w1 = load(8) } else if c > 8 { w1 = load(c - 8) >> UInt64(8 * (16 - c)) }
        } else if c >= 4 {
            // Two 4-byte loads that overlap when c < 8; the shared bytes are the same bytes.
            let lo = UInt64(UInt32(littleEndian: n.loadUnaligned(fromByteOffset: 0, as: UInt32.self)))
            let hi = UInt64(UInt32(littleEndian: n.loadUnaligned(fromByteOffset: c - 4, as: UInt32.self)))
            w0 = lo | hi << UInt64(8 * (c - 4))
        } else if c > 0 {
            // Bytes 0, c / 2 and c - 1 are every byte of a name of 1 to 3 bytes.
            let mid = c / 2
            w0 = UInt64(n[0]) | UInt64(n[mid]) << UInt64(8 * mid) | UInt64(n[c - 1]) << UInt64(8 * (c - 1))
        }
        return (lowered(w0), lowered(w1))
    }

    /// ASCII upper-case letters of eight bytes lower-cased; every other byte, those of 0x80 and
    /// above included, unchanged.
    @inline(__always) static func lowered(_ x: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let low7 = x & (0x7F &* ones)
        let atLeastA = low7 &+ (0x3F &* ones)     // high bit set where low7 >= 'A'
        let aboveZ = low7 &+ (0x25 &* ones)       // high bit set where low7 > 'Z'
        let upper = atLeastA & ~aboveZ & ~x & (0x80 &* ones)
        return x | (upper >> 2)                   // 0x80 >> 2 is the case bit
    }

    @inline(__always) static func hash(_ w: (UInt64, UInt64), _ length: Int) -> Int {
        let x = (w.0 ^ (w.1 &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(truncatingIfNeeded: length)) &* 0xBF58_476D_1CE4_E5B9
        return Int(truncatingIfNeeded: x >> 32)
    }

    public func lookup(_ name: ArraySlice<UInt8>) -> CommandSpec? {
        let w = name.withUnsafeBytes { Self.words($0) }
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
        let start = slot.nameStart
        for (j, c) in n.dropFirst(16).enumerated() where names[start + 16 + j] != asciiLower(c) { return false }
        return true
    }

    public func lookup(_ name: String) -> CommandSpec? { lookup(Array(name.utf8)[...]) }

    /// A sub-command of a container command (CONFIG GET), by its own name.
    public static func subcommand(of parent: CommandSpec, _ name: ArraySlice<UInt8>) -> CommandSpec? {
        for (i, short) in parent.subcommandNames.enumerated() where short.count == name.count {
            if zip(short, name).allSatisfy({ $0 == asciiLower($1) }) { return parent.subcommands[i] }
        }
        return nil
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
