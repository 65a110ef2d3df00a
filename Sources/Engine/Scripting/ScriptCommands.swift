import CScripting
import RESP
import Storage

/// EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT: Redis 7.0's scripts, run in the shared EVAL
/// interpreter under Scripting's mutex (see ScriptRun for how they stay atomic).
///
/// The specs lock nothing themselves (scope .none): a script takes the locks of the keys its
/// commands touch as it runs. Their key finder still names KEYS, for COMMAND GETKEYS.
enum ScriptCommands {
    static let specs: [CommandSpec] = [
        evalSpec("eval", flags: [.noscript, .skipMonitor, .mayReplicate, .stale, .movableKeys],
                 summary: "Executes a server-side Lua script.", handler: { c in eval(&c, bySha: false, readOnly: false) }),
        evalSpec("evalsha", flags: [.noscript, .skipMonitor, .mayReplicate, .stale, .movableKeys],
                 summary: "Executes a server-side Lua script by SHA1 digest.", handler: { c in eval(&c, bySha: true, readOnly: false) }),
        evalSpec("eval_ro", flags: [.noscript, .skipMonitor, .readonly, .stale, .movableKeys],
                 summary: "Executes a read-only server-side Lua script.", handler: { c in eval(&c, bySha: false, readOnly: true) }),
        evalSpec("evalsha_ro", flags: [.noscript, .skipMonitor, .readonly, .stale, .movableKeys],
                 summary: "Executes a read-only server-side Lua script by SHA1 digest.", handler: { c in eval(&c, bySha: true, readOnly: true) }),
        CommandSpec("script", arity: -2, flags: [], group: "scripting",
                    summary: "A container for Lua scripts management commands.", complexity: "Depends on subcommand.",
                    subcommands: [
                        sub("script|load", 3, [.usesScripts, .noscript, .stale], "Loads a server-side Lua script to the script cache.", load),
                        sub("script|exists", -3, [.usesScripts, .noscript], "Determines whether server-side Lua scripts exist in the script cache.", exists),
                        sub("script|flush", -2, [.usesScripts, .noscript], "Removes all server-side Lua scripts from the script cache.", flush),
                        sub("script|kill", 2, [.noscript, .allowBusy], "Terminates a server-side Lua script during execution.", kill),
                        sub("script|debug", 3, [.noscript], "Sets the debug mode of server-side Lua scripts.", debug),
                        sub("script|help", 2, [.loading, .stale], "Returns helpful text about the different subcommands.", help),
                    ], handler: nil),
    ]

    private static func evalSpec(_ name: String, flags: CommandFlags, summary: String, handler: @escaping CommandHandler) -> CommandSpec {
        runnerSpec(name, flags: flags, summary: summary, complexity: "Depends on the script that is executed.",
                   handler: handler)
    }

    /// A command that runs a script (EVAL's and FCALL's forms): `name script-or-function
    /// numkeys key ... arg ...`. It locks nothing itself (the script locks as it goes); its
    /// key finder names KEYS for COMMAND GETKEYS.
    static func runnerSpec(_ name: String, flags: CommandFlags, summary: String, complexity: String,
                           handler: @escaping CommandHandler) -> CommandSpec {
        CommandSpec(name, arity: -3, flags: flags.union([.usesScripts, .noMandatoryKeys]), scope: LockScope.none, group: "scripting", summary: summary, complexity: complexity, keyFinder: { CommandSpec.keysAfterCount(2, $0) }, handler: handler)
    }

    static func sub(_ name: String, _ arity: Int, _ flags: CommandFlags, _ summary: String,
                    _ handler: @escaping CommandHandler) -> CommandSpec {
        CommandSpec(name, arity: arity, flags: flags, group: "scripting", summary: summary, handler: handler)
    }

    /// Takes the script mutex unless the caller's transaction holds it (EXEC with a script);
    /// returns whether it was taken here, for `release`.
    static func acquire(_ c: CommandContext) -> Bool {
        guard !c.holdsEveryShard else { return false }
        c.engine.scripting.mutex.lock()
        return true
    }

    static func release(_ c: CommandContext, _ taken: Bool) {
        if taken { c.engine.scripting.mutex.unlock() }
    }

    /// Runs `body` under the script mutex, unless the caller's transaction holds it already:
    /// a SCRIPT or FUNCTION command inside EXEC must not wait for it while holding shard locks
    /// (EXEC takes it first for them, see runTransaction).
    static func exclusive<T>(_ engine: Engine, heldByTransaction: Bool, _ body: () throws -> T) rethrows -> T {
        if !heldByTransaction { engine.scripting.mutex.lock() }
        defer { if !heldByTransaction { engine.scripting.mutex.unlock() } }
        return try body()
    }

    /// The numkeys argument at `i`, checked as Redis: nil after replying the error.
    static func numkeys(_ c: inout CommandContext, _ i: Int, notInteger: String = Errors.notInteger) -> Int? {
        guard let n = c.integer(i, error: notInteger) else { return nil }
        if n > c.argc - i - 1 { c.error("ERR Number of keys can't be greater than number of args"); return nil }
        if n < 0 { c.error("ERR Number of keys can't be negative"); return nil }
        return n
    }

    /// Pushes KEYS and ARGV (args after numkeys at `i`) as two tables.
    static func pushKeysAndArgs(_ L: LuaState, _ c: CommandContext, numkeysAt i: Int, numkeys: Int) {
        lua_createtable(L, Int32(numkeys), 0)
        for k in 0..<numkeys {
            c.args.withBytes(i + 1 + k) { LuaVM.push(L, $0) }
            lua_rawseti(L, -2, Int32(k + 1))
        }
        let first = i + 1 + numkeys
        lua_createtable(L, Int32(c.argc - first), 0)
        for a in first..<c.argc {
            c.args.withBytes(a) { LuaVM.push(L, $0) }
            lua_rawseti(L, -2, Int32(a - first + 1))
        }
    }

    /// EVAL script numkeys [key [key ...]] [arg [arg ...]]
    /// EVALSHA sha1 numkeys [key [key ...]] [arg [arg ...]] (and the _RO forms)
    static func eval(_ c: inout CommandContext, bySha: Bool, readOnly: Bool) {
        // As Redis: a digest of the wrong length is NOSCRIPT before numkeys is looked at.
        if bySha && c.args[1].count != 40 { c.error("NOSCRIPT No matching script. Please use EVAL."); return }
        guard let n = numkeys(&c, 2) else { return }
        let engine = c.engine, s = engine.scripting
        let taken = acquire(c)
        defer { release(c, taken) }
        let vm = s.vm(.eval, engine)
        let L = vm.L
        let sha: ScriptID
        let index: Dictionary<ScriptID, Scripting.CachedScript>.Index
        if bySha {
            // One hash of the name; the entry is then reached by its index.
            guard let id = c.args.withBytes(1, { ScriptID(hex: $0) }), let i = s.scripts.index(forKey: id) else {
                c.error("NOSCRIPT No matching script. Please use EVAL.")
                return
            }
            (sha, index) = (id, i)
        } else {
            let body = c.args.owned(1)
            sha = ScriptID(Scripting.sha1(body))
            if s.scripts[sha] == nil {
                if let error = cache(body, sha: sha, loaded: false, engine) { c.error(error); return }
            }
            index = s.scripts.index(forKey: sha)!
        }
        s.useClock += 1
        s.scripts.values[index].lastUse = s.useClock
        let flags = s.scripts.values[index].flags
        if let refusal = engine.scriptAdmissionRefusal(flags, c) {
            c.error(refusal)
            return
        }
        if readOnly && flags.contains(.declared) && !flags.contains(.noWrites) {
            c.error("ERR Can not execute a script with write flag using *_ro command.")
            return
        }
        lua_rawgeti(L, LUA_REGISTRYINDEX, s.scripts.values[index].function)
        pushKeysAndArgs(L, c, numkeysAt: 2, numkeys: n)
        vm.rawSetGlobal("ARGV")
        vm.rawSetGlobal("KEYS")
        engine.runScript(&c, vm: vm, argCount: 0, readOnly: readOnly, flags: flags,
                         origin: "script: " + sha.string, kind: 1, name: "")
    }

    /// Compiles `body` into the EVAL interpreter as f_<sha> and caches it; the error reply
    /// when it does not compile. Called under the script mutex.
    static func cache(_ body: [UInt8], sha: ScriptID, loaded: Bool, _ engine: Engine) -> String? {
        let s = engine.scripting
        let flags: ScriptFlags
        switch parseScriptShebang(body) {
        case .failure(let e): return e.message
        case .success(let f): flags = f
        }
        let vm = s.vm(.eval, engine), L = vm.L
        if let message = vm.compile(body, blankingFirstLine: flags.contains(.declared), chunk: "@user_script") {
            return "ERR Error compiling script (new function): \(message)"
        }
        vm.bindGlobals()
        let function = luaL_ref(L, LUA_REGISTRYINDEX)
        s.useClock += 1
        s.scripts[sha] = .init(body: body, flags: flags, function: function, loaded: loaded, lastUse: s.useClock)
        s.scriptBytes += body.count
        if !loaded { evictOldScripts(engine) }
        s.cachedScripts.store(s.scripts.count, ordering: .relaxed)
        s.updateMemory()
        return nil
    }

    /// Past `maxEvalScripts` scripts that came with EVAL, the least recently used goes (a
    /// client that builds a new script per call would otherwise grow the cache forever).
    private static func evictOldScripts(_ engine: Engine) {
        let s = engine.scripting
        var evalCount = s.scripts.values.reduce(0) { $0 + ($1.loaded ? 0 : 1) }
        while evalCount > Scripting.maxEvalScripts {
            guard let oldest = s.scripts.filter({ !$0.value.loaded }).min(by: { $0.value.lastUse < $1.value.lastUse }) else { return }
            s.scripts[oldest.key] = nil
            s.scriptBytes -= oldest.value.body.count
            luaL_unref(s.vm(.eval, engine).L, LUA_REGISTRYINDEX, oldest.value.function)
            s.evictedScripts.wrappingAdd(1, ordering: .relaxed)
            evalCount -= 1
        }
    }

    /// SCRIPT LOAD script
    static func load(_ c: inout CommandContext) {
        let s = c.engine.scripting
        let taken = acquire(c)
        defer { release(c, taken) }
        let body = c.args.owned(2)
        let hex = Scripting.sha1(body)
        let sha = ScriptID(hex)
        if let cached = s.scripts[sha] {
            if !cached.loaded {
                s.scripts[sha] = .init(body: cached.body, flags: cached.flags, function: cached.function, loaded: true,
                                       lastUse: cached.lastUse)
            }
        } else if let error = cache(body, sha: sha, loaded: true, c.engine) {
            c.error(error)
            return
        }
        c.out.bulk(hex)
    }

    /// SCRIPT EXISTS sha1 [sha1 ...]
    static func exists(_ c: inout CommandContext) {
        let s = c.engine.scripting
        let found: [Bool] = exclusive(c.engine, heldByTransaction: c.holdsEveryShard) {
            (2..<c.argc).map { i in c.args.withBytes(i) { ScriptID(hex: $0) }.map { s.scripts[$0] != nil } ?? false }
        }
        c.out.array(found.count)
        for f in found { c.out.integer(f ? 1 : 0) }
    }

    /// SCRIPT FLUSH [ASYNC | SYNC]
    static func flush(_ c: inout CommandContext) {
        if c.argc == 3 && !c.args.matches(2, "async") && !c.args.matches(2, "sync") || c.argc > 3 {
            c.error("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
            return
        }
        let s = c.engine.scripting
        exclusive(c.engine, heldByTransaction: c.holdsEveryShard) { s.flushScripts() }
        c.ok()
    }

    /// SCRIPT KILL
    static func kill(_ c: inout CommandContext) {
        killRunning(&c, kind: 1)
    }

    /// SCRIPT KILL / FUNCTION KILL: asks the running script to stop, unless it wrote.
    static func killRunning(_ c: inout CommandContext, kind: Int) {
        let s = c.engine.scripting
        let running = s.runningKind.load(ordering: .relaxed)
        guard running != 0 else { c.error("NOTBUSY No scripts in execution right now."); return }
        if s.runningWrote.load(ordering: .relaxed) {
            c.error("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.")
            return
        }
        // SCRIPT KILL stops an EVAL script, FUNCTION KILL a function; not the other.
        guard running == kind else { c.error("NOTBUSY No scripts in execution right now."); return }
        s.killRequested.store(true, ordering: .relaxed)
        c.ok()
    }

    /// SCRIPT DEBUG <YES | SYNC | NO>: Larder has no Lua debugger; NO (the default) is accepted.
    static func debug(_ c: inout CommandContext) {
        if c.args.matches(2, "no") { c.ok(); return }
        if c.args.matches(2, "yes") || c.args.matches(2, "sync") {
            c.error("ERR Larder has no Lua debugger: SCRIPT DEBUG YES and SYNC are not supported")
            return
        }
        c.error("ERR Use SCRIPT DEBUG YES/SYNC/NO")
    }

    /// SCRIPT HELP
    static func help(_ c: inout CommandContext) {
        c.help([
            "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
            "HELP",
            "    Prints this help.",
        ])
    }
}
