#if canImport(Glibc)
import Glibc
#endif
import RESP
import Storage

/// The commands as ACL rules see them: every command and sub-command with a number (its bit
/// in a selector), its full name and its categories. Built once from the table without
/// renames (rules name commands by their own names, as Redis's use its original table), plus
/// the Redis 7.0 commands Larder does not serve yet: rules naming them are accepted as Redis
/// accepts them (an ACL file saved by Redis names them), and they count in the categories, so
/// that a user's rules are described as Redis describes them.
final class ACLCommandIndex: Sendable {
    static let categories = CommandSpec.categoryOrder

    /// Redis 7.0's commands not in Larder's table, by their categories.
    static let notYetServed: [(categories: [String], names: [String])] = [
        (["fast", "connection"], ["asking", "readonly", "readwrite"]),
        (["slow"], ["cluster", "cluster|countkeysinslot", "cluster|getkeysinslot", "cluster|help", "cluster|info",
                    "cluster|keyslot", "cluster|links", "cluster|myid", "cluster|nodes", "cluster|shards", "cluster|slots",
                    "latency", "latency|help", "module", "module|help"]),
        (["admin", "slow", "dangerous"], ["cluster|addslots", "cluster|addslotsrange", "cluster|bumpepoch",
                                          "cluster|count-failure-reports", "cluster|delslots", "cluster|delslotsrange",
                                          "cluster|failover", "cluster|flushslots", "cluster|forget", "cluster|meet",
                                          "cluster|replicas", "cluster|replicate", "cluster|reset", "cluster|saveconfig",
                                          "cluster|set-config-epoch", "cluster|setslot", "cluster|slaves", "failover",
                                          "latency|doctor", "latency|graph", "latency|histogram", "latency|history",
                                          "latency|latest", "latency|reset", "module|list", "module|load",
                                          "module|loadex", "module|unload"]),
    ]

    let names: [String]
    let byName: [String: Int]
    /// For each command, its categories as bits (1 << index in `categories`).
    let categoryBits: [UInt32]
    /// For each command, the numbers of its sub-commands (empty for most).
    let children: [[Int]]
    let parent: [Int?]
    /// For each command, what its keys and channels need (see ACLKeyRules).
    let keyRules: [ACLKeyRules.Rule]

    init(_ table: CommandTable) {
        var names: [String] = []
        var cats: [[String]] = []
        var children: [[Int]] = []
        var parent: [Int?] = []
        var byName: [String: Int] = [:]
        var rules: [ACLKeyRules.Rule] = []
        func add(_ name: String, _ categories: [String], under: Int?, spec: CommandSpec? = nil) -> Int {
            let id = names.count
            names.append(name); cats.append(categories); children.append([]); parent.append(under)
            rules.append(spec.map(ACLKeyRules.rule) ?? ACLKeyRules.Rule(first: .readWrite, rest: .readWrite))
            if let under { children[under].append(id) }
            byName[name] = id
            return id
        }
        for c in table.commands {
            let id = add(c.name, c.aclCategories, under: nil, spec: c)
            c.aclID.store(id, ordering: .relaxed)
            for s in c.subcommands {
                s.aclID.store(add(s.name, s.aclCategories, under: id, spec: s), ordering: .relaxed)
            }
        }
        for (categories, list) in Self.notYetServed {
            for n in list where byName[n] == nil {
                let up = n.split(separator: "|").count > 1 ? byName[String(n.split(separator: "|")[0])] : nil
                _ = add(n, categories, under: up)
            }
        }
        self.names = names
        self.keyRules = rules
        self.children = children
        self.parent = parent
        self.byName = byName
        categoryBits = cats.map { list in
            list.reduce(UInt32(0)) { bits, c in
                bits | (Self.categories.firstIndex(of: c).map { UInt32(1) << UInt32($0) } ?? 0)
            }
        }
    }

    var count: Int { names.count }

    static func categoryBit(_ name: String) -> UInt32? {
        categories.firstIndex(of: name.lowercased()).map { UInt32(1) << UInt32($0) }
    }

    /// Every command (sub-commands included) in the categories of `bits`.
    func commands(in bits: UInt32) -> [Int] { (0..<count).filter { categoryBits[$0] & bits != 0 } }
}

/// One set of permissions: which commands, which keys (read, write or both), which channels.
/// A user has a root selector and may have more; a command is allowed when one of them allows
/// all of it. Rules are applied one at a time as Redis 7.0's ACLSetSelector applies them.
struct ACLSelector: Sendable, Equatable {
    struct KeyPattern: Sendable, Equatable {
        let pattern: [UInt8]
        var access: KeyAccess
        /// The pattern is this literal prefix and a final `*` ("app:*", the usual kind): matched
        /// by comparing bytes, not by the glob matcher (about 200 instructions a key).
        let prefix: [UInt8]?

        init(pattern: [UInt8], access: KeyAccess) {
            self.pattern = pattern
            self.access = access
            let special: Set<UInt8> = [UInt8(ascii: "*"), UInt8(ascii: "?"), UInt8(ascii: "["), UInt8(ascii: "\\")]
            if pattern.last == UInt8(ascii: "*"), !pattern.dropLast().contains(where: special.contains) {
                prefix = Array(pattern.dropLast())
            } else {
                prefix = nil
            }
        }

        func matches(_ key: ArraySlice<UInt8>) -> Bool {
            guard let prefix else { return globMatch(pattern, key) }
            guard key.count >= prefix.count else { return false }
            if prefix.isEmpty { return true }
            return prefix.withUnsafeBytes { p in
                key.withUnsafeBytes { k in memcmp(p.baseAddress!, k.baseAddress!, p.count) == 0 }
            }
        }

        static func == (a: KeyPattern, b: KeyPattern) -> Bool { a.pattern == b.pattern && a.access == b.access }
    }

    /// One bit per command of the index.
    var allowed: [UInt64]
    /// Redis's reserved command bit: set by +@all, cleared by -@all only. It decides whether a
    /// description starts from +@all (commands added later are allowed) or -@all.
    var futureCommands = false
    /// Every command allowed, none taken away since +@all: commands are not checked.
    var allCommands = false
    /// `+cmd|arg` for a command without sub-commands (SELECT|0): the first arguments allowed
    /// while the command itself is not.
    var firstArgs: [Int: [String]] = [:]
    var keys: [KeyPattern] = []
    var allKeys = false
    var channels: [[UInt8]] = []
    var allChannels = false

    init(commandCount: Int, allChannels: Bool) {
        allowed = [UInt64](repeating: 0, count: (commandCount + 63) / 64)
        self.allChannels = allChannels
    }

    func allows(_ id: Int) -> Bool { allowed[id >> 6] & (1 << UInt64(id & 63)) != 0 }

    mutating func set(_ id: Int, _ on: Bool) {
        if on { allowed[id >> 6] |= 1 << UInt64(id & 63) } else { allowed[id >> 6] &= ~(1 << UInt64(id & 63)) }
    }

    /// ACLChangeSelectorPerm: a command, and every sub-command of it, on or off; its
    /// first-argument exceptions go.
    mutating func change(_ id: Int, _ on: Bool, _ index: ACLCommandIndex) {
        set(id, on)
        firstArgs[id] = nil
        for s in index.children[id] { set(s, on) }
    }

    mutating func changeCategory(_ bits: UInt32, _ on: Bool, _ index: ACLCommandIndex) {
        for id in index.commands(in: bits) { change(id, on, index) }
    }

    enum RuleError: Error { case syntax, unknownCommand, keyAfterAll, channelAfterAll }

    /// Applies one command, key or channel rule.
    mutating func apply(_ op: String, _ index: ACLCommandIndex) throws(RuleError) {
        let lower = op.lowercased()
        let bytes = Array(op.utf8)
        if lower == "allkeys" || op == "~*" {
            allKeys = true
            keys.removeAll()
        } else if lower == "resetkeys" {
            allKeys = false
            keys.removeAll()
        } else if lower == "allchannels" || op == "&*" {
            allChannels = true
            channels.removeAll()
        } else if lower == "resetchannels" {
            allChannels = false
            channels.removeAll()
        } else if lower == "allcommands" || lower == "+@all" {
            allowed = allowed.map { _ in ~0 }
            futureCommands = true
            allCommands = true
            firstArgs.removeAll()
        } else if lower == "nocommands" || lower == "-@all" {
            allowed = allowed.map { _ in 0 }
            futureCommands = false
            allCommands = false
            firstArgs.removeAll()
        } else if bytes.first == UInt8(ascii: "~") || bytes.first == UInt8(ascii: "%") {
            var access: KeyAccess = .readWrite
            var start = 1
            if bytes[0] == UInt8(ascii: "%") {
                access = []
                var i = 1
                while i < bytes.count && bytes[i] != UInt8(ascii: "~") {
                    switch bytes[i] | 0x20 {
                    case UInt8(ascii: "r"): access.insert(.read)
                    case UInt8(ascii: "w"): access.insert(.write)
                    default: throw .syntax
                    }
                    i += 1
                }
                guard i < bytes.count, !access.isEmpty else { throw .syntax }
                start = i + 1
            }
            if allKeys { throw .keyAfterAll }
            let p = KeyPattern(pattern: Array(bytes[start...]), access: access)
            if let i = keys.firstIndex(where: { $0.pattern == p.pattern }) {
                keys[i].access.formUnion(access)
            } else {
                keys.append(p)
            }
        } else if bytes.first == UInt8(ascii: "&") {
            if allChannels { throw .channelAfterAll }
            let c = Array(bytes[1...])
            if !channels.contains(c) { channels.append(c) }
        } else if let sign = bytes.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            let on = sign == UInt8(ascii: "+")
            let name = String(lower.dropFirst())
            if !on { allCommands = false }
            if name.hasPrefix("@") {
                guard let bit = ACLCommandIndex.categoryBit(String(name.dropFirst())) else { throw .unknownCommand }
                changeCategory(bit, on, index)
            } else if let id = index.byName[name] {
                change(id, on, index)
            } else if let bar = name.firstIndex(of: "|"), let id = index.byName[String(name[..<bar])],
                      index.children[id].isEmpty, on {
                // A first argument of a command without sub-commands (SELECT|0): allowed only
                // while the command itself is not.
                let arg = String(name[name.index(after: bar)...])
                guard !arg.isEmpty, !arg.contains("|") else { throw .unknownCommand }
                if !allows(id) {
                    if !(firstArgs[id]?.contains(arg) ?? false) { firstArgs[id, default: []].append(arg) }
                }
            } else {
                throw .unknownCommand
            }
        } else {
            throw .syntax
        }
    }

    // MARK: checking

    enum Denial: Int, Comparable, Sendable {
        case command = 1, key = 2, channel = 4
        static func < (a: Denial, b: Denial) -> Bool { a.rawValue < b.rawValue }
    }

    /// Whether this selector allows the call; when not, why and at which argument.
    func check(_ id: Int, _ spec: CommandSpec, _ args: CommandArguments, _ index: ACLCommandIndex) -> (Denial, Int)? {
        if !allCommands && !spec.flags.contains(.noAuth) && !allows(id) {
            guard args.count > 1, let firsts = firstArgs[id],
                  firsts.contains(where: { equalsIgnoringCase($0, args[1]) }) else { return (.command, 0) }
        }
        let rule = index.keyRules[id]
        if !allKeys, let refused = refusedKey(spec, rule, args) { return (.key, refused) }
        if !allChannels, let kind = rule.channels {
            let range = kind == .first ? 1..<min(2, args.count) : 1..<args.count
            for i in range where !channelAllowed(args[i], pattern: kind == .allPatterns) {
                return (.channel, i)
            }
        }
        return nil
    }

    /// The first key of the call this selector does not allow, if any. Keys at fixed places are
    /// walked without building an array (and without a closure, which copied the selector).
    private func refusedKey(_ spec: CommandSpec, _ rule: ACLKeyRules.Rule, _ args: CommandArguments) -> Int? {
        var first = rule.first
        switch rule.special {
        case .none: break
        case .notKeys: return nil
        // SET reads the old value only with GET (Redis's variable flags).
        case .set: first = (3..<max(3, args.count)).contains { args.matches($0, "get") } ? .readWrite : .write
        // SORT's STORE destination is found in its options (its table row names the source only).
        case .sort:
            var i = 2
            while i < args.count - 1 {
                if args.matches(i, "store") && !keyAllowed(args[i + 1], .write) { return i + 1 }
                i += 1
            }
        }
        if spec.keyFinder == nil {
            guard let keys = spec.keyStride(argc: args.count) else { return nil }
            var access = first
            for i in keys {
                if !keyAllowed(args[i], access) { return i }
                access = rule.rest
            }
            return nil
        }
        for (n, i) in spec.keyIndexes(args).enumerated() where !keyAllowed(args[i], n == 0 ? first : rule.rest) {
            return i
        }
        return nil
    }

    func keyAllowed(_ key: ArraySlice<UInt8>, _ access: KeyAccess) -> Bool {
        if allKeys { return true }
        for i in keys.indices where keys[i].access.isSuperset(of: access) && keys[i].matches(key) { return true }
        return false
    }

    func channelAllowed(_ channel: ArraySlice<UInt8>, pattern: Bool) -> Bool {
        if allChannels { return true }
        return channels.contains { pattern ? $0.elementsEqual(channel) : globMatch($0, channel) }
    }

    /// Whether keys of any name may be accessed with `access` (SORT's BY and GET need it).
    func unrestrictedKeys(_ access: KeyAccess) -> Bool {
        allKeys || keys.contains { $0.pattern == [UInt8(ascii: "*")] && $0.access.isSuperset(of: access) }
    }

    // MARK: describing

    /// The selector as ACL LIST writes it: keys, channels, then commands.
    func describe(_ index: ACLCommandIndex) -> String {
        var parts: [String] = []
        if !keysDescription.isEmpty { parts.append(keysDescription) }
        parts.append(allChannels ? "&*" : (["resetchannels"] + channels.map { "&" + String(decoding: $0, as: UTF8.self) }).joined(separator: " "))
        parts.append(commandRules(index))
        return parts.joined(separator: " ")
    }

    var keysDescription: String {
        if allKeys { return "~*" }
        return keys.map { k in
            let p = String(decoding: k.pattern, as: UTF8.self)
            return k.access == .readWrite ? "~" + p : (k.access == .read ? "%R~" : "%W~") + p
        }.joined(separator: " ")
    }

    var channelsDescription: String {
        allChannels ? "&*" : channels.map { "&" + String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
    }

    /// The command rules as Redis 7.0 describes them (ACLDescribeSelectorCommandRules): start
    /// from +@all when commands added later are allowed, else from -@all; then, while some
    /// category has more commands in common with the selector than different, the one with the
    /// fewest differences (ties: the most in common); then each command that still differs,
    /// and the allowed first arguments.
    func commandRules(_ index: ACLCommandIndex) -> String {
        var rules: [String] = []
        let additive = !futureCommands
        var fake = ACLSelector(commandCount: index.count, allChannels: false)
        try? fake.apply(additive ? "-@all" : "+@all", index)
        rules.append(additive ? "-@all" : "+@all")
        var temp = self
        while true {
            var best = -1
            var minDiff = Int.max, maxSame = 0
            for (j, _) in ACLCommandIndex.categories.enumerated() {
                var on = 0, off = 0
                for id in index.commands(in: UInt32(1) << UInt32(j)) {
                    if temp.allows(id) { on += 1 } else { off += 1 }
                }
                let diff = additive ? off : on
                let same = additive ? on : off
                if same > diff && (diff < minDiff || (diff == minDiff && same > maxSame)) {
                    best = j; minDiff = diff; maxSame = same
                }
            }
            if best < 0 { break }
            let bit = UInt32(1) << UInt32(best)
            let name = ACLCommandIndex.categories[best]
            fake.changeCategory(bit, additive, index)
            temp.changeCategory(bit, !additive, index)
            rules.append((additive ? "+@" : "-@") + name)
        }
        for id in 0..<index.count where index.parent[id] == nil {
            single(id, &fake, &rules, index)
            for s in index.children[id] { single(s, &fake, &rules, index) }
        }
        return rules.joined(separator: " ")
    }

    private func single(_ id: Int, _ fake: inout ACLSelector, _ rules: inout [String], _ index: ACLCommandIndex) {
        let mine = allows(id)
        if mine != fake.allows(id) {
            rules.append((mine ? "+" : "-") + index.names[id])
            if index.children[id].isEmpty { fake.set(id, mine) } else { fake.change(id, mine, index) }
        }
        if !mine, let firsts = firstArgs[id] {
            for a in firsts { rules.append("+" + index.names[id] + "|" + a) }
        }
    }
}
