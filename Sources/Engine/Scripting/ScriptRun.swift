import CScripting
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import RESP
import Storage

/// What a script declares in its shebang (`#!lua flags=...`) or a function in its
/// registration, as Redis 7.0.
struct ScriptFlags: OptionSet, Sendable {
    let rawValue: Int
    static let noWrites = ScriptFlags(rawValue: 1 << 0)
    static let allowOOM = ScriptFlags(rawValue: 1 << 1)
    static let allowStale = ScriptFlags(rawValue: 1 << 2)
    static let noCluster = ScriptFlags(rawValue: 1 << 3)
    static let allowCrossSlot = ScriptFlags(rawValue: 1 << 4)
    /// The script has a shebang (or is a function): its flags are what it declared, and one
    /// that may write is refused at once over maxmemory, not at its first write.
    static let declared = ScriptFlags(rawValue: 1 << 5)

    static let names: [(String, ScriptFlags)] = [
        ("no-writes", .noWrites), ("allow-oom", .allowOOM), ("allow-stale", .allowStale),
        ("no-cluster", .noCluster), ("allow-cross-slot-keys", .allowCrossSlot),
    ]
}

/// One running script or function: the client's context it runs for, the database it has
/// selected, the shard locks it holds, and what its commands did.
///
/// # Atomicity with every key
///
/// A script runs as one command: no other client sees part of its effect, and, as in Redis,
/// it may reach keys it did not declare in KEYS (and other databases with SELECT). Larder does
/// not lock the whole keyspace for it: each command the script runs takes the shard locks of
/// its own keys, and the script keeps every lock it took until it ends. So a script that keeps
/// to a few keys holds a few shards, and the rest of the server goes on around it.
///
/// Taking locks as it goes, a script may wait for a lower shard while holding a higher one,
/// which breaks the ascending order that keeps multi-key commands from deadlocking. It is
/// safe because nobody else ever waits while holding a lock: a one-key command holds one, and
/// every set of locks (multi-key commands, EXEC, whole databases, snapshots) is taken with
/// `lockPolitely`, which lets go of what it holds before it waits. And scripts run one at a
/// time (Scripting's mutex, taken before any shard lock), so two scripts never wait on each
/// other. A transaction with a script in it takes the script mutex first and then every shard
/// (EXEC cannot know the script's keys).
final class ScriptRun {
    /// The context of the client the script runs for; valid while the script runs.
    var ctx: UnsafeMutablePointer<CommandContext>
    /// The database the script's commands run in (SELECT inside a script changes it, and not
    /// the caller's).
    var db = 0
    /// The protocol of the replies the script's commands hand it (redis.setresp).
    var resp = 2
    /// EVAL_RO, FCALL_RO, or a script flagged no-writes: a write command is an error.
    var readOnly = false
    var flags: ScriptFlags = []
    /// Over maxmemory when the script started: an undeclared script's first denyoom write fails.
    var outOfMemory = false
    /// Set by the script's first write: SCRIPT KILL can no longer stop it (UNKILLABLE).
    var wrote = false
    /// redis.set_repl: where what follows goes (Effect.Destination; 0 nowhere).
    var replicationFlags = 3
    /// Every command the script ran, for what follows a command once the locks are released
    /// (statistics; tracking, which needs the arguments, only while some client tracks).
    var calls: [(spec: CommandSpec, args: CommandArguments?, changes: Int, db: Int)] = []
    /// The writer a command's reply goes to before it is handed to the script.
    var scratch = RESPWriter(buffer: ByteBufferAllocator().buffer(capacity: 256))
    /// The arguments of the command being built by redis.call, kept for their capacity.
    var arguments = CommandArguments()
    /// Keyspace-wide shard numbers held (see Keyspace.mutexes), as flags and in the order
    /// taken; `allHeld` when the caller holds every shard (a script inside EXEC).
    var held: [Bool] = []
    var heldList: [Int] = []
    var allHeld = false
    var startedMicros: Int64 = 0
    /// When the script's last command ended (µs), which is when the next one starts.
    var clock: Int64 = 0
    /// In a cluster: the slot the script's keys are in (its declared keys', or its first
    /// command's), -1 until known.
    var clusterSlot = -1

    /// A run is kept by its interpreter and reused, so that a script call allocates nothing
    /// for it: `start` resets it for the next script.
    init() { ctx = UnsafeMutablePointer(bitPattern: 1)! }

    func start(ctx: UnsafeMutablePointer<CommandContext>, readOnly: Bool, flags: ScriptFlags, outOfMemory: Bool,
               allHeld: Bool, shardCount: Int) {
        self.ctx = ctx
        db = ctx.pointee.dbIndex
        resp = 2
        self.readOnly = readOnly
        self.flags = flags
        self.outOfMemory = outOfMemory
        wrote = false
        clusterSlot = -1
        replicationFlags = 3
        calls.removeAll(keepingCapacity: true)
        self.allHeld = allHeld
        if held.count != shardCount { held = [Bool](repeating: false, count: shardCount) }
        startedMicros = ctx.pointee.startedMicros
        clock = unixMicros()
    }

    /// Takes the lock of shard `n` unless held already (blocking: see the type's comment).
    @inline(__always)
    func lock(_ n: Int, _ keyspace: Keyspace) {
        guard !allHeld, !held[n] else { return }
        keyspace.mutexes[n].lock()
        held[n] = true
        heldList.append(n)
    }

    func unlockAll(_ keyspace: Keyspace) {
        for n in heldList.reversed() {
            keyspace.mutexes[n].unlock()
            held[n] = false
        }
        heldList.removeAll(keepingCapacity: true)
    }
}

/// What a command run from a script gave back.
enum ScriptCallResult {
    case reply
    case error(String)
}

extension Engine {
    /// Runs one command for a script (redis.call / redis.pcall): Redis's checks for commands
    /// from scripts, the shard locks its keys need, then the one path every command takes
    /// (`callLocked`). The reply is in `run.scratch`.
    func scriptCall(_ run: ScriptRun, _ args: CommandArguments) -> ScriptCallResult {
        guard var spec = table.lookup(args[0]) else { return .error("ERR Unknown Redis command called from script") }
        if !spec.subcommands.isEmpty && args.count >= 2 {
            guard let sub = CommandTable.subcommand(of: spec, args[1]) else {
                return .error(Errors.unknownSubcommand(args.string(1), spec.name))
            }
            spec = sub
        }
        let argc = args.count
        if (spec.arity > 0 && argc != spec.arity) || argc < -spec.arity || spec.handler == nil {
            return .error("ERR Wrong number of args calling Redis command from script")
        }
        if spec.flags.contains(.noscript)
            && (!scripting.denyScriptsDisabled.load(ordering: .relaxed) || spec.flags.contains(.usesScripts)) {
            return .error("ERR This Redis command is not allowed from script")
        }
        if run.ctx.pointee.session.aclRestricted, let denial = aclDenial(spec, args, &run.ctx.pointee, context: "lua") {
            return .error(Self.scriptNopermMessage(denial))
        }
        if spec.flags.contains(.write) {
            if run.readOnly { return .error("ERR Write commands are not allowed from read-only scripts.") }
            if repl.gate.load(ordering: .relaxed) != 0 && !run.ctx.pointee.fromPrimary {
                if repl.following.load(ordering: .relaxed) {
                    if config.bool("replica-read-only") { return .error(Engine.readOnlyReplica) }
                } else {
                    return .error(Engine.noReplicas)
                }
            }
            if spec.flags.contains(.denyoom) && run.outOfMemory && !run.flags.contains(.allowOOM) {
                return .error("OOM command not allowed when used memory > 'maxmemory'.")
            }
        }
        if let cluster, !run.ctx.pointee.fromPrimary, let refusal = clusterScriptRefusal(spec, args, run, cluster) {
            return .error(refusal)
        }
        lockShards(of: spec, args, run)

        let c = run.ctx
        let savedArgs = c.pointee.args, savedDb = c.pointee.dbIndex
        // The reply writers are swapped, not copied: a second reference to a buffer would make
        // the next write copy it.
        run.scratch.buffer.clear()
        run.scratch.resp3 = run.resp == 3
        swap(&c.pointee.out, &run.scratch)
        c.pointee.args = args
        c.pointee.dbIndex = run.db
        // One clock read a command: each starts when the one before it ended.
        c.pointee.startedMicros = run.clock
        let effectsBefore = c.pointee.transactionEffects?.count ?? 0
        callLocked(spec, &c.pointee, fromScript: true)
        run.clock = c.pointee.startedMicros
        c.pointee.locks.oneKeyArgument = -1
        c.pointee.locks.oneKeyHash = nil
        if run.replicationFlags != Effect.Destination.both, c.pointee.transactionEffects != nil {
            let count = c.pointee.transactionEffects!.count
            if run.replicationFlags == 0 {
                c.pointee.transactionEffects!.removeLast(count - effectsBefore)
            } else {
                for i in effectsBefore..<count {
                    c.pointee.transactionEffects![i].effect = .only(run.replicationFlags, c.pointee.transactionEffects![i].effect)
                }
            }
        }
        if !run.wrote && (c.pointee.changes > 0 || spec.flags.contains(.write)) {
            run.wrote = true
            scripting.runningWrote.store(true, ordering: .relaxed)
        }
        run.calls.append((spec, trackingOn ? args : nil, c.pointee.changes, c.pointee.dbIndex))
        run.db = c.pointee.dbIndex
        swap(&c.pointee.out, &run.scratch)
        c.pointee.args = savedArgs
        c.pointee.dbIndex = savedDb
        return .reply
    }

    /// In a cluster, a script's commands touch only keys this node serves, all in one slot
    /// unless the script allows cross-slot keys (Redis's scriptVerifyClusterState).
    private func clusterScriptRefusal(_ spec: CommandSpec, _ args: CommandArguments, _ run: ScriptRun, _ cluster: Cluster) -> String? {
        let indexes = spec.keyIndexes(args)
        guard !indexes.isEmpty else { return nil }
        let slots = Set(indexes.map { i in args[i].withUnsafeBytes { KeySlot.of($0) } })
        let writes = spec.flags.contains(.write)
        let allowReads = config.bool("cluster-allow-reads-when-down")
        let refusal: String? = cluster.withState { st in
            if !st.ok {
                if !allowReads { return "ERR Script attempted to execute a command while the cluster is down" }
                if writes { return "ERR Script attempted to execute a write command while the cluster is down and readonly" }
            }
            guard slots.count == 1, let slot = slots.first else { return "ERR Script attempted to access a non local key in a cluster node" }
            let local = st.owners[slot] == st.myself || (st.importing[slot] != nil && run.ctx.pointee.session.asking)
                || (run.ctx.pointee.session.clusterReadOnly && !writes && st.me.primary == st.owners[slot])
            return local ? nil : "ERR Script attempted to access a non local key in a cluster node"
        }
        if let refusal { return refusal }
        let slot = slots.first!
        if run.clusterSlot < 0 {
            // The declared keys (EVAL script numkeys key ...) set the slot when there are some.
            let caller = run.ctx.pointee.args
            if caller.count > 3, let n = Int(caller.string(2)), n > 0 {
                run.clusterSlot = caller[3].withUnsafeBytes { KeySlot.of($0) }
            } else {
                run.clusterSlot = slot
            }
        }
        if run.clusterSlot != slot && !run.flags.contains(.allowCrossSlot) {
            return "ERR Script attempted to access keys that do not hash to the same slot"
        }
        return nil
    }

    /// The shard locks a command run from a script needs, in the script's database. A one-key
    /// command's key is located once, and its shard and hash noted for the handler, as the
    /// dispatcher does (hashing it three times was a tenth of a ten-command script).
    private func lockShards(of spec: CommandSpec, _ args: CommandArguments, _ run: ScriptRun) {
        let per = keyspace.shardsPerDatabase
        if spec.hasOneKey && spec.firstKey < args.count {
            let (shard, hash) = args.withBytes(spec.firstKey) { keyspace.databases[run.db].locate($0) }
            let c = run.ctx
            c.pointee.locks.oneKeyArgument = spec.firstKey
            c.pointee.locks.oneKeyShardIndex = shard
            c.pointee.locks.oneKeyHash = hash
            run.lock(run.db * per + shard, keyspace)
            return
        }
        guard !run.allHeld else { return }
        switch spec.scope {
        case .none:
            break
        case .keys:
            let db = keyspace.databases[run.db]
            for i in spec.keyIndexes(args) { run.lock(run.db * per + db.shardIndex(args[i]), keyspace) }
        case .database:
            for s in 0..<per { run.lock(run.db * per + s, keyspace) }
        case .all:
            for n in 0..<keyspace.mutexes.count { run.lock(n, keyspace) }
        }
    }
}

extension LuaVM {
    /// redis.call(command, arg, ...) / redis.pcall: runs the command and hands its reply to
    /// the script. A failed command raises its error (call) or returns {err = ...} (pcall).
    func redisCall(_ L: LuaState, protected: Bool) -> Int32 {
        func fail(_ message: String) -> Int32 {
            if protected { LuaVM.pushErrorTable(L, message); return 1 }
            return LuaVM.raiseTable(L, message)
        }
        guard let run else { return fail("ERR redis.call() can only be called inside a script invocation") }
        let argc = lua_gettop(L)
        guard argc > 0 else { return fail("ERR Please specify at least one argument for this redis lib call") }
        // The run's argument buffer, reused: unless some client tracks keys, nothing keeps it
        // past the command.
        var args = CommandArguments()
        swap(&args, &run.arguments)
        args.removeAll()
        for i in 1...argc {
            switch lua_type(L, i) {
            case LUA_TSTRING:
                args.append(LuaVM.bytes(L, i)!)
            case LUA_TNUMBER:
                // As Redis 7.0: a number argument is written with %.17g, not Lua's %.14g.
                appendNumber(lua_tonumber(L, i), to: &args)
            default:
                swap(&args, &run.arguments)
                return fail("ERR Lua redis lib command arguments must be strings or integers")
            }
        }
        let result = engine.scriptCall(run, args)
        swap(&args, &run.arguments)
        if case .error(let message) = result { return fail(message) }
        let error: String? = run.scratch.buffer.withUnsafeReadableBytes { ScriptReplies.push(L, reply: $0) }
        if let error { return fail(error) }
        return 1
    }
}

/// A number as C's "%.17g" writes it; an integer below 10^17 (what scripts pass as counts,
/// indexes and TTLs) without printf, which gives the same digits.
func appendNumber(_ d: Double, to args: inout CommandArguments) {
    if d == d.rounded(.towardZero) && abs(d) < 1e17 && !(d == 0 && d.sign == .minus) {
        var buf: (UInt64, UInt64, UInt64) = (0, 0, 0)
        let n = withUnsafeMutableBytes(of: &buf) { RESPWriter.putDecimal($0.baseAddress!, Int(d)) }
        withUnsafeBytes(of: &buf) { args.append(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
        return
    }
    var buf = [CChar](repeating: 0, count: 40)
    let n = withVaList([d]) { va in buf.withUnsafeMutableBufferPointer { vsnprintf($0.baseAddress!, 40, "%.17g", va) } }
    buf.withUnsafeBytes { args.append(UnsafeRawBufferPointer(rebasing: $0[..<Int(n)])) }
}
