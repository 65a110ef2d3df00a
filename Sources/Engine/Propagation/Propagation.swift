import RESP
import Storage

/// What a write sends to the AOF and to replicas, as Redis 7.0's propagation does it.
///
/// A command that changed something propagates its own words unless its handler said
/// otherwise: a relative TTL made absolute (SET ... PXAT, PEXPIREAT), GETDEL as DEL, SPOP as
/// SREM or DEL, a served BLPOP as LPOP, a float increment as the value it set. A handler says
/// so with `propagateInstead` (Redis's rewriteClientCommandVector) or `alsoPropagate` (Redis's
/// alsoPropagate); the dispatcher then hands the command's effects to `propagateNow`, under the
/// command's shard locks, so that the AOF's and the stream's order is the keyspace's.
///
/// Two effects or more leave inside MULTI/EXEC, one alone does not: a transaction of one write
/// is that write, and a command with several effects (SPOP 3 as three SREMs, XREADGROUP's
/// XCLAIMs) stays atomic on the replica. The whole batch is appended under one lock of the AOF
/// and one of the stream, so no other client's write lands inside it.
public enum Effect: Sendable {
    /// The command as the client sent it.
    case arguments(CommandArguments)
    /// A command the handler built.
    case words([[UInt8]])
    /// An effect for one destination only (a script's redis.set_repl): `Destination.aof` or
    /// `.replicas`.
    indirect case only(Int, Effect)

    /// Where an effect goes: the AOF, replicas, or both.
    public enum Destination {
        public static let aof = 1, replicas = 2, both = 3
    }

    var destinations: Int {
        if case .only(let d, _) = self { return d }
        return Destination.both
    }
}

/// Names of the commands handlers propagate, as bytes built once.
enum Verb {
    static let set = Array("SET".utf8), del = Array("DEL".utf8), pxat = Array("PXAT".utf8)
    static let pexpireat = Array("PEXPIREAT".utf8), persist = Array("PERSIST".utf8)
    static let keepttl = Array("KEEPTTL".utf8), absttl = Array("ABSTTL".utf8)
    static let lpop = Array("LPOP".utf8), rpop = Array("RPOP".utf8), lmove = Array("LMOVE".utf8)
    static let rpoplpush = Array("RPOPLPUSH".utf8), zpopmin = Array("ZPOPMIN".utf8), zpopmax = Array("ZPOPMAX".utf8)
    static let srem = Array("SREM".utf8), hset = Array("HSET".utf8)
    static let multi = Array("MULTI".utf8), exec = Array("EXEC".utf8), select = Array("SELECT".utf8)

    static func number<I: BinaryInteger>(_ n: I) -> [UInt8] { Array(String(n).utf8) }
}

extension CommandContext {
    /// Propagates `words` in place of the command's own (Redis's rewriteClientCommandVector).
    /// Handlers build the words only when `propagating`, so that nothing is allocated for them
    /// when there is neither an AOF nor a replica.
    public mutating func propagateInstead(_ words: [[UInt8]]) {
        guard propagating else { return }
        effects = [words]
    }

    /// Adds `words` to the command's effects (Redis's alsoPropagate): the command's own words
    /// are then not propagated unless the handler added them too.
    public mutating func alsoPropagate(_ words: [[UInt8]]) {
        guard propagating else { return }
        if effects == nil { effects = [] }
        effects!.append(words)
    }

    /// Propagates nothing for this command even though it changed something.
    public mutating func propagateNothing() {
        guard propagating else { return }
        effects = []
    }
}

/// Encodes a batch of effects for one destination (the AOF or the stream), which remembers
/// the database it last selected.
struct EffectEncoder {
    var selectedDb = -1

    /// The batch's effects that go to `destination`, inside MULTI/EXEC when the batch has two
    /// or more (whatever their destinations, as Redis: a destination may get an empty one).
    mutating func encode(_ ops: some Collection<(db: Int, effect: Effect)>, for destination: Int = Effect.Destination.both,
                         into out: inout [UInt8]) {
        let wrap = ops.count > 1
        if wrap { CommandEncoder.append([Verb.multi], into: &out) }
        for op in ops where op.effect.destinations & destination != 0 {
            select(op.db, into: &out)
            encode(op.effect, into: &out)
        }
        if wrap { CommandEncoder.append([Verb.exec], into: &out) }
    }

    private func encode(_ effect: Effect, into out: inout [UInt8]) {
        switch effect {
        case .arguments(let args): CommandEncoder.append(arguments: args, into: &out)
        case .words(let words): CommandEncoder.append(words, into: &out)
        case .only(_, let inner): encode(inner, into: &out)
        }
    }

    /// The command's own words, the usual case, without building an Effect.
    mutating func encode(db: Int, arguments args: CommandArguments, into out: inout [UInt8]) {
        select(db, into: &out)
        CommandEncoder.append(arguments: args, into: &out)
    }

    mutating func encode<C: Collection>(db: Int, words: C, into out: inout [UInt8])
    where C.Element: Collection, C.Element.Element == UInt8 {
        select(db, into: &out)
        CommandEncoder.append(words, into: &out)
    }

    private mutating func select(_ db: Int, into out: inout [UInt8]) {
        guard db >= 0, db != selectedDb else { return }
        CommandEncoder.append([Verb.select, Verb.number(db)], into: &out)
        selectedDb = db
    }
}

extension Engine {
    /// Whether writes are recorded: in the AOF, or in the replication stream.
    @inline(__always) var propagating: Bool {
        (aof.on.load(ordering: .relaxed) || repl.active.load(ordering: .relaxed)) && !aof.loading.load(ordering: .relaxed)
    }

    /// A command's effects, called under its shard locks once its handler has run: appended
    /// now, or, inside EXEC, kept for the transaction's batch. The check that there is nothing
    /// to do is inlined into call(): every write passes here.
    @inline(__always)
    func propagateCommand(_ c: inout CommandContext) {
        guard c.changes > 0, propagating else {
            if c.effects != nil { c.effects = nil }
            return
        }
        propagateChanges(&c)
    }

    private func propagateChanges(_ c: inout CommandContext) {
        if c.transactionEffects != nil {
            if let effects = c.effects {
                for e in effects { c.transactionEffects!.append((c.dbIndex, .words(e))) }
            } else {
                c.transactionEffects!.append((c.dbIndex, .arguments(c.args)))
            }
        } else if let effects = c.effects {
            c.session.aofSeq = propagateNow(effects.map { (c.dbIndex, Effect.words($0)) })
        } else {
            c.session.aofSeq = propagateWords(db: c.dbIndex, arguments: c.args)
        }
        c.effects = nil
        if repl.active.load(ordering: .relaxed) { c.session.writeOffset = replicationOffset }
    }

    /// Appends a batch of effects to the stream and the AOF (inside MULTI/EXEC when there are
    /// two or more); returns the AOF sequence number the replies must wait for.
    @discardableResult
    func propagateNow(_ ops: [(db: Int, effect: Effect)]) -> UInt64 {
        guard !ops.isEmpty else { return 0 }
        if repl.active.load(ordering: .relaxed) {
            replicationFeed { $0.encode(ops, for: Effect.Destination.replicas, into: &$1) }
        }
        return aofAppend { $0.encode(ops, for: Effect.Destination.aof, into: &$1) }
    }

    /// The command's own words, the usual case, encoded from its packed arguments.
    func propagateWords(db: Int, arguments args: CommandArguments) -> UInt64 {
        if repl.active.load(ordering: .relaxed) { replicationFeed { $0.encode(db: db, arguments: args, into: &$1) } }
        return aofAppend { $0.encode(db: db, arguments: args, into: &$1) }
    }

    /// A command that changes nothing but that replicas must run too (PUBLISH): its words in
    /// the replication stream only, inside the transaction or script it is part of.
    func propagateToReplicas(_ c: inout CommandContext) {
        guard repl.active.load(ordering: .relaxed) else { return }
        if c.transactionEffects != nil {
            c.transactionEffects!.append((c.dbIndex, .only(Effect.Destination.replicas, .arguments(c.args))))
        } else {
            replicationFeed { $0.encode(db: c.dbIndex, arguments: c.args, into: &$1) }
            c.session.writeOffset = replicationOffset
        }
    }

    /// A write made outside any command (a key expired or evicted, a memcached store):
    /// propagated alone.
    @discardableResult
    public func propagateAlone(db: Int, _ words: [[UInt8]]) -> UInt64 {
        guard propagating else { return 0 }
        if repl.active.load(ordering: .relaxed) { replicationFeed { $0.encode(db: db, words: words, into: &$1) } }
        return aofAppend { $0.encode(db: db, words: words, into: &$1) }
    }
}
