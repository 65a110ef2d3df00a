import RESP

/// The command table: every command's spec, found by name without allocating.
///
/// Names are looked up case-insensitively straight from the request bytes through a small
/// open-addressing table, so dispatch costs a hash and a compare, not a lowercased copy.
public final class CommandTable: Sendable {
    public let commands: [CommandSpec]
    private let slots: [Int]          // index into commands, -1 empty
    private let mask: Int
    /// Every command's name in lower case, back to back, and each one's end in `names`:
    /// comparing bytes is several times cheaper than walking a String's UTF-8 view.
    private let names: [UInt8]
    private let nameEnds: [Int]

    public init(_ commands: [CommandSpec]) {
        self.commands = commands.sorted { $0.name < $1.name }
        var size = 16
        while size < commands.count * 4 { size <<= 1 }
        var s = [Int](repeating: -1, count: size)
        let m = size - 1
        for (i, c) in self.commands.enumerated() {
            var h = Self.hash(Array(c.name.utf8)[...]) & m
            while s[h] >= 0 { h = (h + 1) & m }
            s[h] = i
        }
        slots = s
        mask = m
        var all: [UInt8] = []
        var ends: [Int] = []
        for c in self.commands {
            all.append(contentsOf: c.name.utf8.map(asciiLower))
            ends.append(all.count)
        }
        names = all
        nameEnds = ends
    }

    @inline(__always) static func hash(_ name: ArraySlice<UInt8>) -> Int {
        var h: UInt32 = 2166136261
        for c in name { h = (h ^ UInt32(asciiLower(c))) &* 16777619 }
        return Int(h)
    }

    public func lookup(_ name: ArraySlice<UInt8>) -> CommandSpec? {
        var h = Self.hash(name) & mask
        let found: Int? = name.withUnsafeBytes { n in
            names.withUnsafeBytes { all in
                while true {
                    let i = slots[h]
                    if i < 0 { return nil }
                    let start = i == 0 ? 0 : nameEnds[i - 1]
                    if nameEnds[i] - start == n.count {
                        var j = 0
                        while j < n.count && all[start + j] == asciiLower(n[j]) { j += 1 }
                        if j == n.count { return i }
                    }
                    h = (h + 1) & mask
                }
            }
        }
        return found.map { commands[$0] }
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
