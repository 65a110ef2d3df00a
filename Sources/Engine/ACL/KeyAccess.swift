import RESP

/// What an ACL key pattern must grant for a key a command names: read (the command returns or
/// uses the value: Redis's key-spec flag ACCESS), write (INSERT, UPDATE or DELETE), both, or
/// neither (EXISTS, TYPE, LLEN: any pattern that matches the key will do).
struct KeyAccess: OptionSet, Sendable {
    let rawValue: UInt8
    static let read = KeyAccess(rawValue: 1)
    static let write = KeyAccess(rawValue: 2)
    static let readWrite: KeyAccess = [.read, .write]
}

/// Which keys and channels of a command ACL rules are checked against, and what each key
/// needs: Redis 7.0's key specs reduced to what `%R~` / `%W~` patterns test. Commands not
/// listed follow their flags: a write needs write (DEL, LPUSH, HSET, EXPIRE), a read needs
/// read, a command that is neither (EVAL, FCALL) both.
enum ACLKeyRules {
    /// The first key's needs, then every other key's.
    static let byCommand: [String: (first: KeyAccess, rest: KeyAccess)] = {
        var t: [String: (first: KeyAccess, rest: KeyAccess)] = [:]
        // Writes that read the value they change (INCR, LPOP, GETSET...).
        for n in ["bitfield", "blmpop", "blpop", "brpop", "bzmpop", "bzpopmax", "bzpopmin", "decr", "decrby",
                  "getdel", "getex", "getset", "hincrby", "hincrbyfloat", "incr", "incrby", "incrbyfloat",
                  "lmpop", "lpop", "migrate", "move", "rpop", "setbit", "spop", "zincrby", "zmpop",
                  "zpopmax", "zpopmin"] {
            t[n] = (.readWrite, .readWrite)
        }
        // Reads that only look at a key's existence, type or size.
        for n in ["exists", "hexists", "hlen", "hstrlen", "llen", "memory|usage", "object|encoding", "object|freq",
                  "object|idletime", "object|refcount", "scard", "sismember", "strlen", "touch", "type", "watch",
                  "xlen", "zcard"] {
            t[n] = ([], [])
        }
        // A source popped and a destination pushed.
        for n in ["blmove", "brpoplpush", "lmove", "rpoplpush", "smove", "rename", "renamenx"] {
            t[n] = (.readWrite, .write)
        }
        // A destination first, then sources read.
        for n in ["bitop", "sdiffstore", "sinterstore", "sunionstore", "zdiffstore", "zinterstore", "zunionstore",
                  "zrangestore", "geosearchstore"] {
            t[n] = (.write, .read)
        }
        t["pfmerge"] = (.readWrite, .read)
        // A source read, then a destination written (COPY; GEORADIUS ... STORE).
        for n in ["copy", "georadius", "georadiusbymember", "sort"] { t[n] = (.read, .write) }
        // Writes whose keys Redis marks as read only (PFCOUNT caches, XREADGROUP acknowledges).
        for n in ["pfdebug", "xreadgroup"] { t[n] = (.read, .read) }
        return t
    }()

    /// Commands whose "key" is a shard channel (checked as a channel, not a key).
    static let channelNotKey: Set<String> = ["spublish", "ssubscribe", "sunsubscribe"]

    /// Commands whose arguments are channels to check: the first one, or all of them; patterns
    /// (PSUBSCRIBE) must equal an allowed pattern, not merely match it.
    enum Channels { case first, all, allPatterns }
    static let channels: [String: Channels] = [
        "publish": .first, "spublish": .first, "subscribe": .all, "ssubscribe": .all, "psubscribe": .allPatterns,
    ]

    /// What a command's keys need, worked out once per command for the ACL index.
    struct Rule: Sendable {
        enum Special: Sendable { case none, notKeys, set, sort }
        var first: KeyAccess
        var rest: KeyAccess
        var special = Special.none
        var channels: Channels? = nil
    }

    static func rule(for spec: CommandSpec) -> Rule {
        let (first, rest) = byCommand[spec.name] ?? {
            let a: KeyAccess = spec.flags.contains(.write) ? .write : spec.flags.contains(.readonly) ? .read : .readWrite
            return (a, a)
        }()
        var r = Rule(first: first, rest: rest, channels: channels[spec.name])
        if channelNotKey.contains(spec.name) { r.special = .notKeys }
        if spec.name == "set" { r.special = .set }
        if spec.name == "sort" { r.special = .sort }
        return r
    }
}
