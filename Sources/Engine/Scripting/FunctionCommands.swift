import CScripting
import Persistence
import RESP
import Storage

/// A library loaded with FUNCTION LOAD: its code and the functions it registered.
final class Library {
    let name: String
    let code: [UInt8]
    var functions: [LibraryFunction] = []
    /// The registry reference of the library's environment table (see FunctionCommands.load).
    let environment: Int32

    init(name: String, code: [UInt8], environment: Int32) {
        self.name = name
        self.code = code
        self.environment = environment
    }
}

final class LibraryFunction {
    let name: String
    let library: String
    let flags: ScriptFlags
    let description: String?
    /// The registry reference of the callback.
    let callback: Int32

    init(name: String, library: String, flags: ScriptFlags, description: String?, callback: Int32) {
        self.name = name
        self.library = library
        self.flags = flags
        self.description = description
        self.callback = callback
    }
}

/// What redis.register_function collects while a library's code runs.
final class LibraryLoad {
    let library: String
    var functions: [LibraryFunction] = []
    init(library: String) { self.library = library }
}

/// FUNCTION and FCALL: Redis 7.0's libraries of named functions, in their own interpreter.
///
/// A library's code runs once, at FUNCTION LOAD, in an environment that holds only
/// `redis.register_function`, `redis.log` and the constants (as Redis 7.0: no other global,
/// no redis.call). Its environment table is then pointed at the interpreter's globals, so the
/// functions it registered see the whole library at run time. Libraries are saved in the RDB
/// (opcode 245, Redis 7.0's) and in the AOF's base, and FUNCTION DUMP's payload is Redis's.
enum FunctionCommands {
    static let specs: [CommandSpec] = [
        fcallSpec("fcall", flags: [.noscript, .skipMonitor, .mayReplicate, .stale, .movableKeys],
                  summary: "Invokes a function.", handler: { c in fcall(&c, readOnly: false) }),
        fcallSpec("fcall_ro", flags: [.noscript, .skipMonitor, .readonly, .stale, .movableKeys],
                  summary: "Invokes a read-only function.", handler: { c in fcall(&c, readOnly: true) }),
        CommandSpec("function", arity: -2, flags: [], group: "scripting",
                    summary: "A container for function commands.", complexity: "Depends on subcommand.",
                    subcommands: [
                        sub("function|load", -3, [.usesScripts, .write, .denyoom, .noscript], "Creates a library.", load),
                        sub("function|delete", 3, [.usesScripts, .write, .noscript], "Deletes a library and its functions.", delete),
                        sub("function|flush", -2, [.usesScripts, .write, .noscript], "Deletes all libraries and functions.", flush),
                        sub("function|list", -2, [.usesScripts, .noscript], "Returns information about all libraries.", list),
                        sub("function|dump", 2, [.noscript], "Dumps all libraries into a serialized binary payload.", dump),
                        sub("function|restore", -3, [.usesScripts, .write, .denyoom, .noscript], "Restores all libraries from a payload.", restore),
                        sub("function|stats", 2, [.noscript, .allowBusy], "Returns information about a function during execution.", stats),
                        sub("function|kill", 2, [.noscript, .allowBusy], "Terminates a function during execution.", { c in ScriptCommands.killRunning(&c, kind: 2) }),
                        sub("function|help", 2, [.loading, .stale], "Returns helpful text about the different subcommands.", help),
                    ], handler: nil),
    ]

    private static func fcallSpec(_ name: String, flags: CommandFlags, summary: String, handler: @escaping CommandHandler) -> CommandSpec {
        ScriptCommands.runnerSpec(name, flags: flags, summary: summary,
                                  complexity: "Depends on the function that is executed.", handler: handler)
    }

    private static func sub(_ name: String, _ arity: Int, _ flags: CommandFlags, _ summary: String,
                            _ handler: @escaping CommandHandler) -> CommandSpec {
        ScriptCommands.sub(name, arity, flags, summary, handler)
    }

    /// FCALL function numkeys [key [key ...]] [arg [arg ...]] (and FCALL_RO)
    static func fcall(_ c: inout CommandContext, readOnly: Bool) {
        let engine = c.engine, s = engine.scripting
        let taken = ScriptCommands.acquire(c)
        defer { ScriptCommands.release(c, taken) }
        // As Redis: the function first, then numkeys.
        guard let f = s.functions[c.args.string(1)] else { c.error("ERR Function not found"); return }
        if let refusal = engine.scriptAdmissionRefusal(f.flags.union(.declared), c) {
            c.error(refusal)
            return
        }
        guard let n = ScriptCommands.numkeys(&c, 2, notInteger: "ERR Bad number of keys provided") else { return }
        if readOnly && !f.flags.contains(.noWrites) {
            c.error("ERR Can not execute a script with write flag using *_ro command.")
            return
        }
        let vm = s.vm(.functions, engine)
        lua_rawgeti(vm.L, LUA_REGISTRYINDEX, f.callback)
        ScriptCommands.pushKeysAndArgs(vm.L, c, numkeysAt: 2, numkeys: n)
        engine.runScript(&c, vm: vm, argCount: 2, readOnly: readOnly, flags: f.flags.union(.declared),
                         origin: "script: \(f.name)", kind: 2, name: f.name)
    }

    // MARK: loading

    /// The name in a library's first line, `#!lua name=<name>`, or the error.
    static func libraryName(_ code: [UInt8]) -> Result<String, ScriptError> {
        guard code.starts(with: Array("#!".utf8)) else { return .failure(.init("ERR Missing library metadata")) }
        let line = String(decoding: code.prefix { $0 != 10 }, as: UTF8.self)
        let parts = line.dropFirst(2).split(separator: " ", omittingEmptySubsequences: true)
        guard let engineName = parts.first, engineName.lowercased() == "lua" else {
            return .failure(.init("ERR Engine '\(parts.first ?? "")' not found"))
        }
        var name: String? = nil
        for p in parts.dropFirst() {
            guard p.hasPrefix("name=") else { return .failure(.init("ERR Invalid metadata value given: \(p)")) }
            name = String(p.dropFirst(5))
        }
        guard let name else { return .failure(.init("ERR Library name was not given")) }
        guard validName(name) else {
            return .failure(.init("ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"))
        }
        return .success(name)
    }

    static func validName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95 }
    }

    /// Loads a library's code (replacing the one of the same name when `replace`); the error
    /// otherwise. Called under the script mutex.
    static func loadLibrary(_ code: [UInt8], replace: Bool, _ engine: Engine) -> Result<String, ScriptError> {
        let s = engine.scripting
        let name: String
        switch libraryName(code) {
        case .failure(let e): return .failure(e)
        case .success(let n): name = n
        }
        if s.libraries[name] != nil && !replace { return .failure(.init("ERR Library '\(name)' already exists")) }
        let vm = s.vm(.functions, engine)
        let L = vm.L
        if let message = vm.compile(code, blankingFirstLine: true, chunk: "@user_function") {
            return .failure(.init("ERR Error compiling function: \(message)"))
        }
        // The library's environment: empty, reading through to the load-time globals now and
        // to the interpreter's globals once loaded; never written.
        larder_lua_newtable(L)                       // env
        larder_lua_newtable(L)                       // its metatable
        pushLoadGlobals(L)
        lua_setfield(L, -2, "__index")
        LuaVM.pushGlobalsMetatable(L)
        lua_getfield(L, -1, "__newindex")
        lua_setfield(L, -3, "__newindex")
        larder_lua_pop(L, 1)
        lua_setmetatable(L, -2)
        lua_pushvalue(L, -1)
        let envRef = luaL_ref(L, LUA_REGISTRYINDEX)
        lua_setfenv(L, -2)
        lua_getfield(L, LUA_REGISTRYINDEX, "larder.errorhandler")
        lua_insert(L, -2)
        let loading = LibraryLoad(library: name)
        vm.loading = loading
        let result = lua_pcall(L, 0, 0, 1)
        vm.loading = nil
        func discard() {
            for f in loading.functions { luaL_unref(L, LUA_REGISTRYINDEX, f.callback) }
            luaL_unref(L, LUA_REGISTRYINDEX, envRef)
        }
        if result != 0 {
            lua_getfield(L, -1, "err")
            var n = 0
            let message = LuaVM.string(L, -1, &n) ?? "ERR unknown error"
            lua_settop(L, 0)
            discard()
            return .failure(.init("ERR Error registering functions: \(message)"))
        }
        lua_settop(L, 0)
        guard !loading.functions.isEmpty else { discard(); return .failure(.init("ERR No functions registered")) }
        for f in loading.functions {
            if let existing = s.functions[f.name], existing.library != name {
                discard()
                return .failure(.init("ERR Function \(f.name) already exists"))
            }
        }
        if let old = s.libraries[name] { removeLibrary(old, engine) }
        // From now on the functions see the interpreter's whole globals.
        lua_rawgeti(L, LUA_REGISTRYINDEX, envRef)
        lua_getmetatable(L, -1)
        vm.pushGlobals()
        lua_setfield(L, -2, "__index")
        lua_settop(L, 0)
        let library = Library(name: name, code: code, environment: envRef)
        library.functions = loading.functions
        s.libraries[name] = library
        for f in loading.functions { s.functions[f.name] = f }
        s.countFunctions()
        s.updateMemory()
        return .success(name)
    }

    /// The globals a library's code sees while it loads: `redis` with register_function, log
    /// and the constants only.
    private static func pushLoadGlobals(_ L: LuaState) {
        larder_lua_newtable(L)
        larder_lua_newtable(L)                           // redis
        larder_lua_getglobal(L, "redis")
        for name in ["register_function", "log", "LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING",
                     "REDIS_VERSION", "REDIS_VERSION_NUM"] {
            lua_getfield(L, -1, name)
            lua_setfield(L, -3, name)
        }
        larder_lua_pop(L, 1)
        // Missing fields of the load-time redis table are errors too, as the globals'.
        LuaVM.pushGlobalsMetatable(L)
        lua_setmetatable(L, -2)
        lua_setfield(L, -2, "redis")
        LuaVM.pushGlobalsMetatable(L)
        lua_setmetatable(L, -2)
    }

    static func removeLibrary(_ library: Library, _ engine: Engine) {
        let s = engine.scripting
        let L = s.vm(.functions, engine).L
        for f in library.functions {
            s.functions[f.name] = nil
            luaL_unref(L, LUA_REGISTRYINDEX, f.callback)
        }
        luaL_unref(L, LUA_REGISTRYINDEX, library.environment)
        s.libraries[library.name] = nil
        s.countFunctions()
    }

    // MARK: commands

    /// FUNCTION LOAD [REPLACE] function-code
    static func load(_ c: inout CommandContext) {
        var replace = false
        var i = 2
        while i < c.argc - 1 {
            guard c.args.matches(i, "replace") else { c.error("ERR Unknown option given: \(c.args.string(i))"); return }
            replace = true
            i += 1
        }
        guard c.argc - 1 == i else { c.error("ERR Function code was not given"); return }
        let code = c.args.owned(c.argc - 1)
        let result = ScriptCommands.exclusive(c.engine, heldByTransaction: c.holdsEveryShard) {
            loadLibrary(code, replace: replace, c.engine)
        }
        switch result {
        case .failure(let e): c.error(e.message)
        case .success(let name):
            c.dirty()
            c.out.bulk(name)
        }
    }

    /// FUNCTION DELETE library-name
    static func delete(_ c: inout CommandContext) {
        let s = c.engine.scripting
        let found: Bool = ScriptCommands.exclusive(c.engine, heldByTransaction: c.holdsEveryShard) {
            guard let lib = s.libraries[c.args.string(2)] else { return false }
            removeLibrary(lib, c.engine)
            return true
        }
        guard found else { c.error("ERR Library not found"); return }
        c.dirty()
        c.ok()
    }

    /// FUNCTION FLUSH [ASYNC | SYNC]
    static func flush(_ c: inout CommandContext) {
        if c.argc > 3 || (c.argc == 3 && !c.args.matches(2, "async") && !c.args.matches(2, "sync")) {
            c.error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
            return
        }
        let s = c.engine.scripting
        ScriptCommands.exclusive(c.engine, heldByTransaction: c.holdsEveryShard) { s.resetFunctions() }
        c.dirty()
        c.ok()
    }

    /// FUNCTION LIST [LIBRARYNAME library-name-pattern] [WITHCODE]
    static func list(_ c: inout CommandContext) {
        var withCode = false
        var pattern: [UInt8]? = nil
        var i = 2
        while i < c.argc {
            if c.args.matches(i, "withcode") {
                guard !withCode else { c.error("ERR Unknown argument withcode"); return }
                withCode = true
            } else if c.args.matches(i, "libraryname") {
                guard pattern == nil else { c.error("ERR Unknown argument libraryname"); return }
                guard i + 1 < c.argc else { c.error("ERR library name argument was not given"); return }
                pattern = c.args.owned(i + 1)
                i += 1
            } else {
                c.error("ERR Unknown argument \(c.args.string(i))")
                return
            }
            i += 1
        }
        let s = c.engine.scripting
        let libraries: [Library] = ScriptCommands.exclusive(c.engine, heldByTransaction: c.holdsEveryShard) {
            s.libraries.values.filter { lib in pattern.map { globMatch($0, Array(lib.name.utf8)) } ?? true }
                .sorted { $0.name < $1.name }
        }
        c.out.array(libraries.count)
        for lib in libraries {
            c.out.map(withCode ? 4 : 3)
            c.out.bulk("library_name"); c.out.bulk(lib.name)
            c.out.bulk("engine"); c.out.bulk("LUA")
            c.out.bulk("functions")
            let functions = lib.functions.sorted { $0.name < $1.name }
            c.out.array(functions.count)
            for f in functions {
                c.out.map(3)
                c.out.bulk("name"); c.out.bulk(f.name)
                c.out.bulk("description")
                if let d = f.description { c.out.bulk(d) } else { c.out.null() }
                c.out.bulk("flags")
                let names = ScriptFlags.names.filter { f.flags.contains($0.1) }.map(\.0)
                c.out.set(names.count)
                for n in names { c.out.simple(n) }
            }
            if withCode { c.out.bulk("library_code"); c.out.bulk(lib.code) }
        }
    }

    /// The payload of FUNCTION DUMP: each library's code after opcode 245, then the RDB
    /// version and a CRC-64, as Redis's.
    static func dumpPayload(_ engine: Engine) -> [UInt8] {
        var w = RDBWriter(compress: true)
        // The libraries' copy kept for snapshots: no script mutex needed.
        let codes = engine.scripting.libraryCodes.withLock { $0 }
        for code in codes {
            w.byte(RDBFunctions.opcode)
            w.string(code)
        }
        w.bytes.append(UInt8(DumpPayload.rdbVersion & 0xff))
        w.bytes.append(UInt8(DumpPayload.rdbVersion >> 8))
        w.uint64LE(CRC64.checksum(w.bytes))
        return w.bytes
    }

    /// FUNCTION DUMP
    static func dump(_ c: inout CommandContext) {
        c.out.bulk(dumpPayload(c.engine))
    }

    /// FUNCTION RESTORE serialized-value [FLUSH | APPEND | REPLACE]
    static func restore(_ c: inout CommandContext) {
        enum Policy { case append, replace, flush }
        var policy = Policy.append
        if c.argc == 4 {
            if c.args.matches(3, "flush") { policy = .flush }
            else if c.args.matches(3, "append") { policy = .append }
            else if c.args.matches(3, "replace") { policy = .replace }
            else { c.error("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."); return }
        } else if c.argc > 4 {
            c.error("ERR Unknown argument")
            return
        }
        let payload = c.args.owned(2)
        guard DumpPayload.verify(payload) else { c.error("ERR DUMP payload version or checksum are wrong"); return }
        var codes: [[UInt8]] = []
        var r = RDBReader(Array(payload[..<(payload.count - 10)]))
        do {
            while r.position < r.bytes.count {
                guard try r.byte() == RDBFunctions.opcode else { throw RDBError("given type is not a function") }
                codes.append(try r.string())
            }
        } catch {
            c.error("ERR given type is not a function")
            return
        }
        let engine = c.engine
        let error: String? = ScriptCommands.exclusive(engine, heldByTransaction: c.holdsEveryShard) {
            restoreLibraries(codes, flush: policy == .flush, replace: policy == .replace, engine)
        }
        if let error { c.error(error); return }
        c.dirty()
        c.ok()
    }

    /// Loads every library of `codes`, or none: on an error the libraries are as they were.
    /// Called under the script mutex.
    static func restoreLibraries(_ codes: [[UInt8]], flush: Bool, replace: Bool, _ engine: Engine) -> String? {
        let s = engine.scripting
        let before = s.libraries.values.map(\.code)
        if flush { s.resetFunctions() }
        var failure: String? = nil
        for code in codes {
            if case .failure(let e) = loadLibrary(code, replace: replace, engine) {
                failure = e.message.replacingOccurrences(of: "'", with: "")
                break
            }
        }
        guard let failure else { return nil }
        s.resetFunctions()
        for code in before { _ = loadLibrary(code, replace: true, engine) }
        return failure
    }

    /// FUNCTION STATS
    static func stats(_ c: inout CommandContext) {
        let s = c.engine.scripting
        c.out.map(2)
        c.out.bulk("running_script")
        if s.runningKind.load(ordering: .relaxed) == 2 {
            let (name, command) = s.runningName.withLock { $0 }
            c.out.map(3)
            c.out.bulk("name"); c.out.bulk(name)
            c.out.bulk("command"); c.out.array(command.count); for a in command { c.out.bulk(a) }
            c.out.bulk("duration_ms"); c.out.integer(Int(unixMillis()) - s.runningSince.load(ordering: .relaxed))
        } else {
            c.out.null()
        }
        c.out.bulk("engines")
        c.out.map(1)
        c.out.bulk("LUA")
        // Read without the mutex (a running function holds it): counts, not the tables.
        let (libs, fns) = (s.libraryCount.load(ordering: .relaxed), s.functionCount.load(ordering: .relaxed))
        c.out.map(2)
        c.out.bulk("libraries_count"); c.out.integer(libs)
        c.out.bulk("functions_count"); c.out.integer(fns)
    }

    /// FUNCTION HELP
    static func help(_ c: inout CommandContext) {
        c.help([
            "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
            "HELP",
            "    Prints this help.",
        ])
    }
}

extension LuaVM {
    /// redis.register_function(name, callback) or redis.register_function{function_name = ...,
    /// callback = ..., flags = {...}, description = ...}, during FUNCTION LOAD only.
    func registerFunction(_ L: LuaState) -> Int32 {
        guard let loading else {
            return LuaVM.raiseTable(L, "ERR redis.register_function can only be called on FUNCTION LOAD command")
        }
        var name: String? = nil, description: String? = nil
        var flags: ScriptFlags = []
        let argc = lua_gettop(L)
        if argc == 2 {
            var n = 0
            guard lua_type(L, 1) == LUA_TSTRING, lua_type(L, 2) == LUA_TFUNCTION else {
                return LuaVM.raiseTable(L, "ERR wrong arguments given to redis.register_function")
            }
            name = LuaVM.string(L, 1, &n)
        } else if argc == 1 && lua_type(L, 1) == LUA_TTABLE {
            var n = 0
            lua_getfield(L, 1, "function_name"); name = LuaVM.string(L, -1, &n); larder_lua_pop(L, 1)
            lua_getfield(L, 1, "description"); description = LuaVM.string(L, -1, &n); larder_lua_pop(L, 1)
            lua_getfield(L, 1, "flags")
            if lua_type(L, -1) == LUA_TTABLE {
                var i: Int32 = 1
                while true {
                    lua_rawgeti(L, -1, i)
                    if lua_type(L, -1) == LUA_TNIL { larder_lua_pop(L, 1); break }
                    let flag = LuaVM.string(L, -1, &n) ?? ""
                    larder_lua_pop(L, 1)
                    guard let f = ScriptFlags.names.first(where: { $0.0 == flag }) else {
                        return LuaVM.raiseTable(L, "ERR unknown flag given")
                    }
                    flags.insert(f.1)
                    i += 1
                }
            } else if lua_type(L, -1) != LUA_TNIL {
                return LuaVM.raiseTable(L, "ERR flags argument to redis.register_function must be a table representing function flags")
            }
            larder_lua_pop(L, 1)
            lua_getfield(L, 1, "callback")
            guard lua_type(L, -1) == LUA_TFUNCTION else { return LuaVM.raiseTable(L, "ERR callback argument given to redis.register_function must be a function") }
            // The stack is now [table, callback], as in the two-argument form.
        } else {
            return LuaVM.raiseTable(L, "ERR wrong number of arguments to redis.register_function")
        }
        guard let name else { return LuaVM.raiseTable(L, "ERR function_name argument given to redis.register_function must be a string") }
        guard FunctionCommands.validName(name) else {
            return LuaVM.raiseTable(L, "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long")
        }
        guard !loading.functions.contains(where: { $0.name == name }) else {
            return LuaVM.raiseTable(L, "ERR Function already exists in the library")
        }
        lua_pushvalue(L, 2)
        let ref = luaL_ref(L, LUA_REGISTRYINDEX)
        loading.functions.append(LibraryFunction(name: name, library: loading.library, flags: flags,
                                                 description: description, callback: ref))
        return 0
    }
}
