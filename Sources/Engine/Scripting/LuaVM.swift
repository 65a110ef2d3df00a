import CScripting
import Crypto
import RESP
import Storage

typealias LuaState = OpaquePointer

/// One Lua 5.1 interpreter, set up as Redis 7.0 sets up its own: the base, table, string,
/// math, cjson, bit, cmsgpack and struct libraries, no os, io, package, loadfile
/// or dofile, the `redis` table, and globals that a script can neither create nor read when
/// missing. EVAL's scripts share one interpreter and FUNCTION's libraries another, as in Redis.
///
/// Lua raises errors with longjmp, which must never unwind a Swift frame: every Swift
/// function Lua calls returns a result count or `LARDER_LUA_RAISE`, and the C trampoline
/// (CScripting) raises once the Swift frame is gone. A VM is used only under Scripting's
/// mutex, so one thread at a time.
final class LuaVM: @unchecked Sendable {
    enum Kind { case eval, functions }

    let L: LuaState
    let kind: Kind
    unowned let engine: Engine
    /// The script running now, while Scripting's mutex is held.
    var run: ScriptRun? = nil
    /// The run every script of this interpreter reuses (one runs at a time).
    let runState = ScriptRun()
    /// FUNCTION LOAD: the library whose code is running collects its functions here.
    var loading: LibraryLoad? = nil

    /// Past this many bytes Lua's allocator refuses, and the script gets "not enough memory"
    /// (a `string.rep` bomb) rather than the server running out.
    static let memoryLimit = 1 << 30
    /// Lua instructions between two checks of the script's time and of SCRIPT KILL.
    static let hookInterval: Int32 = 100_000

    init(kind: Kind, engine: Engine) {
        self.kind = kind
        self.engine = engine
        guard let L = larder_lua_newstate(Self.memoryLimit) else { fatalError("Lua: no memory for a new state") }
        self.L = L
        if larder_lua_openlibs(L) != 0 {
            engine.log("Lua: the bit library (Debian's lua-bitop) could not be loaded")
        }
        lua_pushlightuserdata(L, Unmanaged.passUnretained(self).toOpaque())
        lua_setfield(L, LUA_REGISTRYINDEX, "larder.vm")
        installRedisTable()
        removeUnsafeGlobals()
        installErrorHandler()
        protectGlobals()
        larder_lua_sethook(L, luaHookCheck, Self.hookInterval)
    }

    deinit { larder_lua_close(L) }

    /// The VM a Swift function was called from.
    static func from(_ L: LuaState) -> LuaVM {
        lua_getfield(L, LUA_REGISTRYINDEX, "larder.vm")
        let p = lua_touserdata(L, -1)!
        larder_lua_pop(L, 1)
        return Unmanaged<LuaVM>.fromOpaque(p).takeUnretainedValue()
    }

    var usedMemory: Int { Int(larder_lua_used(L)) }

    // MARK: set-up

    private func setFunction(_ name: String, _ fn: larder_lua_fn) {
        larder_lua_pushfunction(L, fn)
        lua_setfield(L, -2, name)
    }

    private func setNumber(_ name: String, _ v: Int) {
        lua_pushnumber(L, lua_Number(v))
        lua_setfield(L, -2, name)
    }

    private func installRedisTable() {
        larder_lua_newtable(L)
        setFunction("call", { L in LuaVM.from(L!).redisCall(L!, protected: false) })
        setFunction("pcall", { L in LuaVM.from(L!).redisCall(L!, protected: true) })
        setFunction("error_reply", { L in LuaVM.statusOrError(L!, field: "err", name: "error_reply") })
        setFunction("status_reply", { L in LuaVM.statusOrError(L!, field: "ok", name: "status_reply") })
        setFunction("sha1hex", { L in LuaVM.sha1hex(L!) })
        setFunction("log", { L in LuaVM.from(L!).log(L!) })
        setFunction("setresp", { L in LuaVM.from(L!).setResp(L!) })
        setFunction("set_repl", { L in LuaVM.from(L!).setRepl(L!) })
        setFunction("replicate_commands", { L in lua_pushboolean(L, 1); return 1 })
        setFunction("breakpoint", { L in lua_pushboolean(L, 0); return 1 })
        setFunction("debug", { _ in 0 })
        setFunction("acl_check_cmd", { L in LuaVM.from(L!).aclCheck(L!) })
        if kind == .functions {
            setFunction("register_function", { L in LuaVM.from(L!).registerFunction(L!) })
        }
        for (name, v) in [("LOG_DEBUG", 0), ("LOG_VERBOSE", 1), ("LOG_NOTICE", 2), ("LOG_WARNING", 3),
                          ("REPL_NONE", 0), ("REPL_AOF", 1), ("REPL_SLAVE", 2), ("REPL_REPLICA", 2), ("REPL_ALL", 3)] {
            setNumber(name, v)
        }
        lua_pushstring(L, Version.redis)
        lua_setfield(L, -2, "REDIS_VERSION")
        let parts = Version.redis.split(separator: ".").compactMap { Int($0) } + [0, 0, 0]
        setNumber("REDIS_VERSION_NUM", parts[0] << 16 | parts[1] << 8 | parts[2])
        larder_lua_setglobal(L, "redis")
    }

    /// What a script must not reach: the file system, other modules, the debug library (kept
    /// for the error handler only), and the environment functions that would undo the
    /// globals' protection.
    private func removeUnsafeGlobals() {
        for name in ["dofile", "loadfile", "print", "getfenv", "setfenv", "newproxy", "module", "require", "debug"] {
            lua_pushnil(L)
            larder_lua_setglobal(L, name)
        }
    }

    /// The message handler every call runs under: it turns an error into Redis's error table
    /// ({err = "ERR ..."} for a plain message) and notes where in the script it was raised
    /// (`source`, `line`), for the reply's "script: ..., on @user_script:1." ending.
    private func installErrorHandler() {
        larder_lua_pushfunction(L, { L in LuaVM.errorHandler(L!) })
        lua_setfield(L, LUA_REGISTRYINDEX, "larder.errorhandler")
    }

    private static func errorHandler(_ L: LuaState) -> Int32 {
        var ar = lua_Debug()
        // Level 0 is this handler, 1 what raised; a C function (error, redis.call) raised on
        // behalf of the Lua line that called it.
        var found = lua_getstack(L, 1, &ar) != 0 && lua_getinfo(L, "Sl", &ar) != 0
        if found, let what = ar.what, String(cString: what) == "C" {
            found = lua_getstack(L, 2, &ar) != 0 && lua_getinfo(L, "Sl", &ar) != 0
        }
        if lua_type(L, 1) != LUA_TTABLE {
            var n = 0
            let text = LuaVM.string(L, 1, &n) ?? LuaVM.describe(L, 1)
            larder_lua_newtable(L)
            lua_pushstring(L, "ERR " + text)
            lua_setfield(L, -2, "err")
            lua_replace(L, 1)
        }
        if found {
            lua_pushstring(L, ar.source)
            lua_setfield(L, 1, "source")
            lua_pushnumber(L, lua_Number(ar.currentline))
            lua_setfield(L, 1, "line")
        }
        lua_settop(L, 1)
        return 1
    }

    /// Globals and library tables as Redis 7.0.15 keeps them: read-only. A script can neither
    /// create a global nor replace one, nor a library's function (else one script could change
    /// what every later one runs: `redis = nil` broke the interpreter until a restart), and
    /// reading a global that does not exist is an error rather than nil.
    ///
    /// Redis marks tables read-only inside its own copy of Lua; Debian's Lua 5.1 has no such
    /// mark, so each table is put behind an empty proxy: a read falls through the proxy's
    /// metatable to the real table, a write finds no field and reaches __newindex, which
    /// refuses. The globals proxy becomes the interpreter's globals, so chunks compiled later
    /// (scripts, loadstring) see only it. rawset and setmetatable refuse proxies (a field set
    /// on one would shadow the real table's); getmetatable and pairs see through them as
    /// through Redis's tables. Cost: one more table look-up per global or library field read.
    private func protectGlobals() {
        lua_pushvalue(L, LUA_GLOBALSINDEX)              // the real globals, G
        larder_lua_newtable(L)
        setFunction("__newindex", { L in LuaVM.raise(L!, "Attempt to modify a readonly table") })
        setFunction("__index", { L in
            var n = 0
            let name = LuaVM.string(L!, 2, &n) ?? "?"
            return LuaVM.raise(L!, "Script attempted to access nonexistent global variable '\(name)'")
        })
        lua_setmetatable(L, -2)
        globalsRef = luaL_ref(L, LUA_REGISTRYINDEX)
        larder_lua_newtable(L)
        lua_setfield(L, LUA_REGISTRYINDEX, "larder.readonly")   // proxy -> real table

        for name in ["rawset", "setmetatable", "getmetatable", "pairs", "loadstring", "load"] {
            larder_lua_getglobal(L, name)
            lua_setfield(L, LUA_REGISTRYINDEX, "larder.raw." + name)
        }
        // table.insert writes with rawset's primitive: on a proxy its element would shadow
        // nothing but still be seen by every later script (Redis refuses it).
        larder_lua_getglobal(L, "table")
        lua_getfield(L, -1, "insert")
        lua_setfield(L, LUA_REGISTRYINDEX, "larder.raw.table.insert")
        setFunction("insert", { L in LuaVM.guarded(L!, "table.insert", results: 0) })
        larder_lua_pop(L, 1)
        lua_pushvalue(L, LUA_GLOBALSINDEX)
        setFunction("pcall", { L in LuaVM.from(L!).pcall(L!) })
        setFunction("rawset", { L in LuaVM.guarded(L!, "rawset") })
        setFunction("setmetatable", { L in LuaVM.guarded(L!, "setmetatable") })
        setFunction("getmetatable", { L in LuaVM.getMetatable(L!) })
        setFunction("pairs", { L in LuaVM.pairs(L!) })
        setFunction("loadstring", { L in LuaVM.loadString(L!) })
        setFunction("load", { L in LuaVM.load(L!) })
        larder_lua_pop(L, 1)

        // Every library table (string, table, math, redis, cjson, bit, struct, cmsgpack,
        // coroutine) behind its proxy.
        var libraries: [String] = []
        lua_pushnil(L)
        while lua_next(L, LUA_GLOBALSINDEX) != 0 {
            if lua_type(L, -1) == LUA_TTABLE, lua_type(L, -2) == LUA_TSTRING,
               lua_rawequal(L, -1, LUA_GLOBALSINDEX) == 0 {
                var n = 0
                libraries.append(LuaVM.string(L, -2, &n) ?? "")
            }
            larder_lua_pop(L, 1)
        }
        for name in libraries {
            lua_getfield(L, LUA_GLOBALSINDEX, name)
            pushProxy(-1)
            lua_setfield(L, LUA_GLOBALSINDEX, name)
            larder_lua_pop(L, 1)
        }
        // Strings' methods read through the string library's proxy, and getmetatable("")
        // answers a proxy of their metatable.
        lua_pushstring(L, "")
        lua_getmetatable(L, -1)
        lua_getfield(L, LUA_GLOBALSINDEX, "string")
        lua_setfield(L, -2, "__index")
        pushProxy(-1)
        lua_setfield(L, LUA_REGISTRYINDEX, "larder.stringmeta")
        larder_lua_pop(L, 2)
        // What getmetatable(_G) shows: a read-only table of the two handlers, not the proxy's
        // own metatable (whose __index is the real globals).
        lua_getmetatable(L, LUA_GLOBALSINDEX)
        pushProxy(-1)
        lua_setfield(L, LUA_REGISTRYINDEX, "larder.globalsmeta")
        larder_lua_pop(L, 1)

        pushProxy(LUA_GLOBALSINDEX)
        lua_pushvalue(L, -1)
        lua_setfield(L, LUA_GLOBALSINDEX, "_G")
        lua_replace(L, LUA_GLOBALSINDEX)
    }

    /// Pushes a read-only proxy of the table at `idx`, and notes it.
    private func pushProxy(_ idx: Int32) {
        let real = idx < 0 && idx > LUA_REGISTRYINDEX ? lua_gettop(L) + idx + 1 : idx
        larder_lua_newtable(L)                          // the proxy
        larder_lua_newtable(L)                          // its metatable
        lua_pushvalue(L, real)
        lua_setfield(L, -2, "__index")
        setFunction("__newindex", { L in LuaVM.raise(L!, "Attempt to modify a readonly table") })
        lua_setmetatable(L, -2)
        lua_getfield(L, LUA_REGISTRYINDEX, "larder.readonly")
        lua_pushvalue(L, -2)
        lua_pushvalue(L, real)
        lua_rawset(L, -3)
        larder_lua_pop(L, 1)
    }

    /// Gives the EVAL script compiled on top of the stack its globals: the real table when
    /// neither it nor a function in it assigns a global, so that its reads of `redis`, `KEYS`
    /// and the libraries skip the proxy's look-up (about 100 instructions each, 2,000 a
    /// ten-command script); the proxy otherwise. Safe because a chunk reaches the real table
    /// only as its environment: `_G` is the proxy, getmetatable hides the proxy's, and
    /// getfenv, setfenv and debug are gone; so only its own SETGLOBAL could write there.
    func bindGlobals() {
        guard larder_lua_sets_globals(L) == 0 else { return }
        pushGlobals()
        lua_setfenv(L, -2)
    }

    /// The real globals table (the interpreter's globals are its proxy).
    func pushGlobals() {
        lua_rawgeti(L, LUA_REGISTRYINDEX, globalsRef)
    }
    private var globalsRef: Int32 = 0

    /// The real globals' metatable: its __index raises Redis's "nonexistent global" error.
    static func pushGlobalsMetatable(_ L: LuaState) {
        from(L).pushGlobals()
        lua_getmetatable(L, -1)
        lua_replace(L, -2)
    }

    /// Pushes the real table behind the proxy at `idx`, or nil when it is not a proxy.
    private static func pushReal(_ L: LuaState, _ idx: Int32) {
        lua_getfield(L, LUA_REGISTRYINDEX, "larder.readonly")
        lua_pushvalue(L, idx)
        lua_rawget(L, -2)
        lua_replace(L, -2)
    }

    /// pcall(f, ...), as Redis 7 has it: an error a redis.call raised ({err = "..."}) is
    /// handed to the script as its message, and a script stopped by SCRIPT KILL cannot catch
    /// its own stopping.
    private func pcall(_ L: LuaState) -> Int32 {
        let n = lua_gettop(L)
        guard n >= 1 else { return LuaVM.raise(L, "bad argument #1 to 'pcall' (value expected)") }
        if lua_pcall(L, n - 1, LUA_MULTRET, 0) == 0 {
            lua_pushboolean(L, 1)
            lua_insert(L, 1)
            return lua_gettop(L)
        }
        if engine.scripting.killRequested.load(ordering: .relaxed) || engine.scripting.stopping.load(ordering: .relaxed) {
            return LARDER_LUA_RAISE
        }
        if lua_type(L, -1) == LUA_TTABLE {
            lua_getfield(L, -1, "err")
            if lua_type(L, -1) == LUA_TSTRING { lua_replace(L, -2) } else { larder_lua_pop(L, 1) }
        }
        lua_pushboolean(L, 0)
        lua_insert(L, -2)
        return 2
    }

    /// rawset / setmetatable / table.insert, refused on a read-only table.
    private static func guarded(_ L: LuaState, _ name: String, results: Int32 = 1) -> Int32 {
        pushReal(L, 1)
        let readOnly = larder_lua_isnil(L, -1) == 0
        larder_lua_pop(L, 1)
        if readOnly { return raisePlain(L, "Attempt to modify a readonly table") }
        return callOriginal(L, name, results: results)
    }

    private static func callOriginal(_ L: LuaState, _ name: String, results: Int32) -> Int32 {
        let n = lua_gettop(L)
        lua_getfield(L, LUA_REGISTRYINDEX, "larder.raw." + name)
        lua_insert(L, 1)
        if lua_pcall(L, n, results, 0) != 0 { return LARDER_LUA_RAISE }
        return results == LUA_MULTRET ? lua_gettop(L) : results
    }

    /// getmetatable(x): a read-only table's is hidden as Redis's (nil for a library, the
    /// handlers for the globals), and strings' answers read-only.
    private static func getMetatable(_ L: LuaState) -> Int32 {
        if lua_type(L, 1) == LUA_TSTRING {
            lua_getfield(L, LUA_REGISTRYINDEX, "larder.stringmeta")
            return 1
        }
        pushReal(L, 1)
        if larder_lua_isnil(L, -1) == 0 {
            LuaVM.from(L).pushGlobals()
            let isGlobals = lua_rawequal(L, -1, -2) != 0
            lua_settop(L, 0)
            if isGlobals { lua_getfield(L, LUA_REGISTRYINDEX, "larder.globalsmeta") } else { lua_pushnil(L) }
            return 1
        }
        larder_lua_pop(L, 1)
        return callOriginal(L, "getmetatable", results: 1)
    }

    /// pairs(t): a read-only table's own fields, as Redis lists them.
    private static func pairs(_ L: LuaState) -> Int32 {
        pushReal(L, 1)
        if larder_lua_isnil(L, -1) == 0 { lua_replace(L, 1) } else { larder_lua_pop(L, 1) }
        return callOriginal(L, "pairs", results: LUA_MULTRET)
    }

    /// Lua 5.1 loads a chunk starting with this byte as precompiled bytecode, which it does
    /// not check: crafted bytecode reads and writes memory at will. Redis's Lua parses every
    /// chunk as text; a space put before the byte does the same here (the lexer then stops
    /// at it with Redis's "unexpected symbol near 'char(27)'", on the same line).
    static let precompiledMark: UInt8 = 27

    /// loadstring(s [, chunkname]), text only.
    private static func loadString(_ L: LuaState) -> Int32 {
        if let s = bytes(L, 1), s.first == precompiledMark {
            if lua_type(L, 2) <= LUA_TNIL {
                lua_settop(L, 1)
                lua_pushvalue(L, 1)          // the chunk's name stays the string itself
            }
            lua_pushstring(L, " ")
            lua_pushvalue(L, 1)
            lua_concat(L, 2)
            lua_replace(L, 1)
        }
        return callOriginal(L, "loadstring", results: LUA_MULTRET)
    }

    /// load(reader [, chunkname]): the reader's pieces gathered, then loaded as loadstring.
    private static func load(_ L: LuaState) -> Int32 {
        guard lua_type(L, 1) == LUA_TFUNCTION else {
            return raise(L, "bad argument #1 to 'load' (function expected, got \(String(cString: lua_typename(L, lua_type(L, 1)))))")
        }
        // Errors while reading come back as load's second result, through the scripts' error
        // handler as in Redis (an error table).
        let top = lua_gettop(L)
        lua_getfield(L, LUA_REGISTRYINDEX, "larder.errorhandler")
        let handler = top + 1
        lua_pushstring(L, "")                    // the chunk so far
        while true {
            lua_pushvalue(L, 1)
            if lua_pcall(L, 0, 1, handler) != 0 {
                let s = from(L).engine.scripting
                if s.killRequested.load(ordering: .relaxed) || s.stopping.load(ordering: .relaxed) {
                    return LARDER_LUA_RAISE
                }
                lua_pushnil(L)
                lua_insert(L, -2)
                return 2
            }
            if lua_type(L, -1) == LUA_TNIL { larder_lua_pop(L, 1); break }
            guard lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER else {
                lua_settop(L, handler)
                luaL_where(L, 1)
                lua_pushstring(L, "reader function must return a string")
                lua_concat(L, 2)
                lua_call(L, 1, 1)
                lua_pushnil(L)
                lua_insert(L, -2)
                return 2
            }
            if lua_objlen(L, -1) == 0 { larder_lua_pop(L, 1); break }
            lua_concat(L, 2)
        }
        lua_remove(L, handler)
        lua_replace(L, 1)
        if top < 2 || lua_type(L, 2) <= LUA_TNIL {
            lua_settop(L, 1)
            lua_pushstring(L, "=(load)")
        } else {
            lua_settop(L, 2)
        }
        return loadString(L)
    }

    /// Sets a global on the real table (KEYS and ARGV, which a script cannot set itself).
    func rawSetGlobal(_ name: String) {
        pushGlobals()
        lua_pushstring(L, name)
        lua_pushvalue(L, -3)
        lua_rawset(L, -3)
        larder_lua_pop(L, 2)
    }

    // MARK: helpers

    /// Compiles `code` as the chunk `chunk` ("@user_script": errors then read
    /// "user_script:1: ..."), leaving the function on the stack; Lua's message otherwise. A
    /// shebang is not Lua: its line is blanked, so that line numbers still count it.
    func compile(_ code: [UInt8], blankingFirstLine: Bool, chunk: String) -> String? {
        var body = code
        if blankingFirstLine { body.replaceSubrange(0..<(body.firstIndex(of: 10) ?? body.count), with: []) }
        if body.first == LuaVM.precompiledMark { body.insert(32, at: 0) }
        let status = body.withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { luaL_loadbuffer(L, $0.baseAddress, $0.count, chunk) }
        }
        guard status != 0 else { return nil }
        var n = 0
        let message = LuaVM.string(L, -1, &n) ?? ""
        lua_settop(L, 0)
        return message
    }

    /// What Lua's tostring says of a value that is neither a string nor a number.
    static func describe(_ L: LuaState, _ idx: Int32) -> String {
        switch lua_type(L, idx) {
        case LUA_TNIL, LUA_TNONE: return "nil"
        case LUA_TBOOLEAN: return lua_toboolean(L, idx) != 0 ? "true" : "false"
        default: return String(cString: lua_typename(L, lua_type(L, idx))) + ": " + String(describing: lua_topointer(L, idx))
        }
    }

    /// Raises `message` as it is (the error handler adds "ERR ").
    static func raisePlain(_ L: LuaState, _ message: String) -> Int32 {
        lua_pushstring(L, message)
        return LARDER_LUA_RAISE
    }

    /// Raises `message` prefixed with the calling line ("user_script:1: "), as luaL_error.
    static func raise(_ L: LuaState, _ message: String) -> Int32 {
        luaL_where(L, 1)
        lua_pushstring(L, message)
        lua_concat(L, 2)
        return LARDER_LUA_RAISE
    }

    /// Raises Redis's error table {err = message}, as redis.call does for a failed command.
    static func raiseTable(_ L: LuaState, _ message: String) -> Int32 {
        pushErrorTable(L, message)
        return LARDER_LUA_RAISE
    }

    static func pushErrorTable(_ L: LuaState, _ message: String) {
        larder_lua_newtable(L)
        lua_pushstring(L, message)
        lua_setfield(L, -2, "err")
    }

    /// The string (or number, as Lua formats it) at `idx`, or nil.
    static func string(_ L: LuaState, _ idx: Int32, _ n: inout Int) -> String? {
        guard let bytes = bytes(L, idx) else { return nil }
        n = bytes.count
        return String(decoding: bytes, as: UTF8.self)
    }

    static func bytes(_ L: LuaState, _ idx: Int32) -> UnsafeRawBufferPointer? {
        let t = lua_type(L, idx)
        guard t == LUA_TSTRING || t == LUA_TNUMBER else { return nil }
        var len = 0
        guard let p = larder_lua_tolstring(L, idx, &len) else { return nil }
        return UnsafeRawBufferPointer(start: p, count: len)
    }

    static func push(_ L: LuaState, _ bytes: UnsafeRawBufferPointer) {
        lua_pushlstring(L, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
    }

    static func push(_ L: LuaState, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { push(L, $0) }
    }

    // MARK: the redis table's small functions

    /// redis.error_reply(x) / redis.status_reply(x): the table {err = x} / {ok = x}.
    private static func statusOrError(_ L: LuaState, field: String, name: String) -> Int32 {
        guard lua_gettop(L) == 1, lua_type(L, 1) == LUA_TSTRING else {
            return raiseTable(L, "ERR wrong number or type of arguments")
        }
        var n = 0
        var text = string(L, 1, &n) ?? ""
        if field == "err" && text.hasPrefix("-") { text.removeFirst() }
        larder_lua_newtable(L)
        lua_pushstring(L, text)
        lua_setfield(L, -2, field)
        return 1
    }

    /// redis.sha1hex(s)
    private static func sha1hex(_ L: LuaState) -> Int32 {
        guard lua_gettop(L) == 1 else { return raisePlain(L, "wrong number of arguments") }
        let digest = bytes(L, 1).map { Scripting.sha1($0) } ?? Scripting.sha1(UnsafeRawBufferPointer(start: nil, count: 0))
        lua_pushstring(L, digest)
        return 1
    }

    /// redis.log(level, message, ...)
    private func log(_ L: LuaState) -> Int32 {
        let argc = lua_gettop(L)
        guard argc >= 2 else { return LuaVM.raiseTable(L, "ERR redis.log() requires two arguments or more.") }
        guard lua_type(L, 1) == LUA_TNUMBER else { return LuaVM.raiseTable(L, "ERR First argument must be a number (log level).") }
        let level = Int(lua_tonumber(L, 1))
        guard (0...3).contains(level) else { return LuaVM.raiseTable(L, "ERR Invalid debug level.") }
        var parts: [String] = []
        for i in 2...argc {
            var n = 0
            parts.append(LuaVM.string(L, i, &n) ?? "")
        }
        let levels = ["debug", "verbose", "notice", "warning"]
        let configured = levels.firstIndex(of: engine.config.get("loglevel")) ?? 2
        if level >= configured { engine.log(parts.joined(separator: " ")) }
        return 0
    }

    /// redis.setresp(2 | 3): the protocol of the replies redis.call hands the script.
    private func setResp(_ L: LuaState) -> Int32 {
        guard lua_gettop(L) == 1 else { return LuaVM.raiseTable(L, "ERR redis.setresp() requires one argument.") }
        let v = Int(lua_tonumber(L, 1))
        guard v == 2 || v == 3 else { return LuaVM.raiseTable(L, "ERR RESP version must be 2 or 3.") }
        run?.resp = v
        return 0
    }

    /// redis.set_repl(flags): where the script's following writes go (AOF, replicas, both).
    private func setRepl(_ L: LuaState) -> Int32 {
        guard let run else { return LuaVM.raiseTable(L, "ERR redis.set_repl() can only be called inside a script invocation") }
        guard lua_gettop(L) == 1 else { return LuaVM.raiseTable(L, "ERR redis.set_repl() requires one argument.") }
        let flags = Int(lua_tonumber(L, 1))
        guard flags & ~3 == 0 else { return LuaVM.raiseTable(L, "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.") }
        run.replicationFlags = flags
        return 0
    }

    /// redis.acl_check_cmd(command, ...): whether the script's user may run it, keys and
    /// channels included (nothing is logged).
    private func aclCheck(_ L: LuaState) -> Int32 {
        let argc = lua_gettop(L)
        guard argc >= 1, LuaVM.bytes(L, 1) != nil else {
            return LuaVM.raiseTable(L, "ERR Please specify at least one argument for this redis lib call")
        }
        var args = CommandArguments()
        for i in 1...argc {
            guard let b = LuaVM.bytes(L, i) else {
                return LuaVM.raiseTable(L, "ERR Lua redis lib command arguments must be strings or integers")
            }
            args.append(b)
        }
        guard var spec = engine.originalTable.lookup(args[0]) else {
            return LuaVM.raiseTable(L, "ERR Invalid command passed to redis.acl_check_cmd()")
        }
        if !spec.subcommands.isEmpty && args.count >= 2, let s = CommandTable.subcommand(of: spec, args[1]) { spec = s }
        var allowed = true
        if let run, run.ctx.pointee.session.aclRestricted, let box = run.ctx.pointee.session.user {
            allowed = box.user.check(spec, args, engine.acl.index) == nil
        }
        lua_pushboolean(L, allowed ? 1 : 0)
        return 1
    }
}

/// The count hook: a script past busy-reply-threshold makes the server answer BUSY, and a
/// SCRIPT KILL / FUNCTION KILL stops it here.
private let luaHookCheck: larder_lua_check = { L in
    let vm = LuaVM.from(L!)
    guard let run = vm.run else { return 0 }
    return vm.engine.scripting.check(run, L!) ? 1 : 0
}
