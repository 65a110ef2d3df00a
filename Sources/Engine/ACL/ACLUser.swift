import Crypto
import RESP

/// A user: whether it may log in, its passwords (SHA-256 only, never the password itself), its
/// root selector and any others. A value: ACL SETUSER builds a changed copy and stores it
/// whole, so a rule that fails leaves the user as it was, and a connection keeps the copy it
/// checks against until the users change.
struct ACLUser: Sendable {
    enum Sanitize: Sendable { case unset, sanitize, skip }

    var name: String
    var enabled = false
    var nopass = false
    var sanitize = Sanitize.unset
    /// Lower-case hex SHA-256 of each password, in the order added.
    var passwords: [String] = []
    /// The root selector first.
    var selectors: [ACLSelector]
    /// The root selector allows every command, key and channel and there is no other: no
    /// command needs checking (the default user, unless changed).
    private(set) var unrestricted = false

    init(name: String, index: ACLCommandIndex, allChannels: Bool) {
        self.name = name
        selectors = [ACLSelector(commandCount: index.count, allChannels: allChannels)]
        refresh()
    }

    mutating func refresh() {
        let r = selectors[0]
        unrestricted = r.allCommands && r.allKeys && r.allChannels
    }

    static func hash(_ password: some Sequence<UInt8>) -> String {
        SHA256.hash(data: Array(password)).map { b in
            let h = Array("0123456789abcdef".utf8)
            return String(decoding: [h[Int(b >> 4)], h[Int(b & 15)]], as: UTF8.self)
        }.joined()
    }

    /// Whether `password` is one of the user's, comparing every stored hash in full (no early
    /// exit on the first differing byte).
    func accepts(_ password: some Sequence<UInt8>) -> Bool {
        if nopass { return true }
        let given = Array(Self.hash(password).utf8)
        var found = false
        for p in passwords {
            var diff: UInt8 = 0
            for (a, b) in zip(given, p.utf8) { diff |= a ^ b }
            if diff == 0 && p.utf8.count == given.count { found = true }
        }
        return found
    }

    // MARK: rules

    struct RuleError: Error { let message: String }

    /// Applies ACL SETUSER's arguments in order, as Redis 7.0: a selector may span several
    /// arguments between "(" and ")". The error names the first rule that failed.
    mutating func apply(_ ops: [String], _ acl: ACL) throws(RuleError) {
        let (merged, open) = ACL.mergeSelectors(ops)
        if let open { throw RuleError(message: "ERR Unmatched parenthesis in acl selector starting at '\(open)'.") }
        for op in merged {
            do throws(RuleError) { try apply(op, acl) } catch {
                throw RuleError(message: "ERR Error in ACL SETUSER modifier '\(op)': \(error.message)")
            }
        }
    }

    /// One rule (ACLSetUser).
    mutating func apply(_ op: String, _ acl: ACL) throws(RuleError) {
        let lower = op.lowercased()
        let bytes = Array(op.utf8)
        switch lower {
        case "on": enabled = true
        case "off": enabled = false
        case "skip-sanitize-payload": sanitize = .skip
        case "sanitize-payload": sanitize = .sanitize
        case "nopass": nopass = true; passwords.removeAll()
        case "resetpass": nopass = false; passwords.removeAll()
        case "clearselectors": selectors.removeSubrange(1...)
        case "reset":
            for r in ["resetpass", "resetkeys", "resetchannels"] + (acl.pubsubDefaultAll ? ["allchannels"] : [])
                + ["off", "sanitize-payload", "clearselectors", "-@all"] {
                try apply(r, acl)
            }
        default:
            if let first = bytes.first, ">#<!".utf8.contains(first) {
                // >password and #hash add one, <password and !hash remove one.
                let h: String
                if first == UInt8(ascii: ">") || first == UInt8(ascii: "<") {
                    h = Self.hash(bytes.dropFirst())
                } else {
                    h = String(op.dropFirst())
                    guard h.utf8.count == 64, h.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else {
                        throw RuleError(message: "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters")
                    }
                }
                if first == UInt8(ascii: ">") || first == UInt8(ascii: "#") {
                    if !passwords.contains(h) { passwords.append(h) }
                    nopass = false
                } else {
                    guard let i = passwords.firstIndex(of: h) else {
                        throw RuleError(message: "The password you are trying to remove from the user does not exist")
                    }
                    passwords.remove(at: i)
                }
            } else if bytes.first == UInt8(ascii: "(") && bytes.last == UInt8(ascii: ")") {
                var s = ACLSelector(commandCount: acl.index.count, allChannels: acl.pubsubDefaultAll)
                for rule in op.dropFirst().dropLast().split(separator: " ") {
                    try Self.applySelectorRule(&s, String(rule), acl)
                }
                selectors.append(s)
            } else {
                try Self.applySelectorRule(&selectors[0], op, acl)
            }
        }
        refresh()
    }

    private static func applySelectorRule(_ s: inout ACLSelector, _ op: String, _ acl: ACL) throws(RuleError) {
        do throws(ACLSelector.RuleError) { try s.apply(op, acl.index) } catch {
            switch error {
            case .syntax: throw RuleError(message: "Syntax error")
            case .unknownCommand: throw RuleError(message: "Unknown command or category name in ACL")
            case .keyAfterAll:
                throw RuleError(message: "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns")
            case .channelAfterAll:
                throw RuleError(message: "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels")
            }
        }
    }

    // MARK: describing

    var flagNames: [String] {
        var f = [enabled ? "on" : "off"]
        if nopass { f.append("nopass") }
        if sanitize == .skip { f.append("skip-sanitize-payload") }
        if sanitize == .sanitize { f.append("sanitize-payload") }
        return f
    }

    /// The rules that rebuild the user, as ACL LIST and ACL SAVE write them.
    func describe(_ index: ACLCommandIndex) -> String {
        var parts = flagNames + passwords.map { "#" + $0 }
        parts.append(selectors[0].describe(index))
        for s in selectors.dropFirst() { parts.append("(" + s.describe(index) + ")") }
        return parts.joined(separator: " ")
    }

    /// Whether the user may run the call, trying each selector; when none allows it, the most
    /// telling refusal (a channel over a key over a command), as Redis reports.
    func check(_ spec: CommandSpec, _ args: CommandArguments, _ index: ACLCommandIndex) -> (ACLSelector.Denial, Int)? {
        let id = spec.aclID.load(ordering: .relaxed)
        guard id >= 0 else { return nil }
        // Through a buffer pointer: each selector is checked in place, not copied out.
        return selectors.withUnsafeBufferPointer { buf in
            var worst: (ACLSelector.Denial, Int)? = nil
            for i in 0..<buf.count {
                guard let d = buf[i].check(id, spec, args, index) else { return nil }
                if worst == nil || d.0 > worst!.0 { worst = d }
            }
            return worst
        }
    }

    /// Whether a selector that allows the call also allows keys of any name with `access`.
    func unrestrictedKeys(_ spec: CommandSpec, _ args: CommandArguments, _ access: KeyAccess, _ index: ACLCommandIndex) -> Bool {
        if unrestricted { return true }
        let id = spec.aclID.load(ordering: .relaxed)
        guard id >= 0 else { return true }
        return selectors.contains { $0.check(id, spec, args, index) == nil && $0.unrestrictedKeys(access) }
    }
}

/// A user as a connection keeps it: one reference to retain per checked command, where the
/// value itself would retain each of its arrays.
final class ACLUserBox: Sendable {
    let user: ACLUser
    init(_ user: ACLUser) { self.user = user }
}
