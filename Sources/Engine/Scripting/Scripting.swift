import CScripting
#if canImport(Glibc)
import Glibc
#endif
import Crypto
import Synchronization
import RESP
import Persistence
import Storage

/// The server's scripting state: the two Lua interpreters (EVAL's and FUNCTION's), the script
/// cache, the function libraries, and the mutex that makes scripts run one at a time.
///
/// The mutex is taken before any shard lock and held for the whole script (see ScriptRun for
/// why that keeps scripts that take locks as they go from deadlocking). Everything here but
/// the atomics is touched only under it.
final class Scripting: @unchecked Sendable {
    /// DEBUG SET-DISABLE-DENY-SCRIPTS: scripts may run commands flagged noscript (Redis's tests
    /// use it); those that take the script mutex themselves stay refused, as they would wait
    /// on the script that runs them.
    let denyScriptsDisabled = Atomic<Bool>(false)
    let mutex = ShardLock()
    private var evalVM: LuaVM? = nil
    private var functionsVM: LuaVM? = nil

    struct CachedScript {
        let body: [UInt8]
        let flags: ScriptFlags
        /// The compiled function's reference in the EVAL interpreter's registry.
        let function: Int32
        /// Loaded by SCRIPT LOAD: kept until SCRIPT FLUSH. EVAL's own are evicted past
        /// `maxEvalScripts`, least recently used first (as Redis 7.4).
        let loaded: Bool
        var lastUse: Int
    }
    var scripts: [ScriptID: CachedScript] = [:]
    var useClock = 0
    static let maxEvalScripts = 500
    /// The body bytes of every cached script, for INFO's used_memory_scripts.
    var scriptBytes = 0

    var libraries: [String: Library] = [:] { didSet { libraryCodes.withLock { $0 = libraries.values.sorted { $0.name < $1.name }.map(\.code) } } }
    /// The libraries' code, for snapshots: they are taken under every shard lock, where
    /// waiting for the script mutex could deadlock with a running script.
    let libraryCodes = Locked<[[UInt8]]>([])
    var functions: [String: LibraryFunction] = [:]

    // Read without the mutex: INFO, SCRIPT KILL, the dispatcher's BUSY check.
    let evictedScripts = Atomic<Int>(0)
    let cachedScripts = Atomic<Int>(0)
    /// Bytes held by each interpreter, by the cached scripts' bodies and by the libraries'
    /// code, as last measured (INFO memory).
    let evalMemory = Atomic<Int>(0)
    let functionsMemory = Atomic<Int>(0)
    let scriptsMemory = Atomic<Int>(0)
    let librariesMemory = Atomic<Int>(0)
    /// Set once a script has run past busy-reply-threshold: other clients are answered BUSY.
    let busy = Atomic<Bool>(false)
    /// The thread the busy script runs on (its event loop's): new connections go elsewhere.
    let busyThread = Atomic<UInt>(0)
    /// A script is running, what it is (0 none, 1 EVAL, 2 FCALL), whether it wrote, and
    /// whether SCRIPT KILL / FUNCTION KILL asked it to stop.
    let runningKind = Atomic<Int>(0)
    let runningWrote = Atomic<Bool>(false)
    let killRequested = Atomic<Bool>(false)
    /// Set when the server stops: every script ends at its next check, and none starts.
    let stopping = Atomic<Bool>(false)
    let runningSince = Atomic<Int>(0)
    let runningName = Locked<(name: String, command: [String])>(("", []))
    let busyThresholdMs = Atomic<Int>(5000)
    let libraryCount = Atomic<Int>(0)
    let functionCount = Atomic<Int>(0)

    init() {}

    func vm(_ kind: LuaVM.Kind, _ engine: Engine) -> LuaVM {
        switch kind {
        case .eval:
            if let evalVM { return evalVM }
            let vm = LuaVM(kind: .eval, engine: engine)
            evalVM = vm
            return vm
        case .functions:
            if let functionsVM { return functionsVM }
            let vm = LuaVM(kind: .functions, engine: engine)
            functionsVM = vm
            return vm
        }
    }

    /// SCRIPT FLUSH: a new interpreter, an empty cache.
    func flushScripts() {
        evalVM = nil
        scripts.removeAll()
        scriptBytes = 0
        cachedScripts.store(0, ordering: .relaxed)
        updateMemory()
    }

    /// FUNCTION FLUSH / RESTORE: a new interpreter with no libraries.
    func resetFunctions() {
        functionsVM = nil
        libraries.removeAll()
        functions.removeAll()
        countFunctions()
        updateMemory()
    }

    func countFunctions() {
        libraryCount.store(libraries.count, ordering: .relaxed)
        functionCount.store(functions.count, ordering: .relaxed)
    }

    /// After a script: the interpreter's bytes (cheap: the allocator's count).
    func updateVMMemory(_ vm: LuaVM) {
        if vm.kind == .eval {
            evalMemory.store(vm.usedMemory, ordering: .relaxed)
        } else {
            functionsMemory.store(vm.usedMemory, ordering: .relaxed)
        }
    }

    func updateMemory() {
        evalMemory.store(evalVM?.usedMemory ?? 0, ordering: .relaxed)
        functionsMemory.store(functionsVM?.usedMemory ?? 0, ordering: .relaxed)
        scriptsMemory.store(scriptBytes, ordering: .relaxed)
        librariesMemory.store(libraries.values.reduce(0) { $0 + $1.code.count }, ordering: .relaxed)
    }

    static func sha1(_ bytes: UnsafeRawBufferPointer) -> String {
        let digest = Insecure.SHA1.hash(data: bytes)
        return digest.map { b in
            let hex = Array("0123456789abcdef".utf8)
            return String(decoding: [hex[Int(b >> 4)], hex[Int(b & 15)]], as: UTF8.self)
        }.joined()
    }

    static func sha1(_ bytes: [UInt8]) -> String { bytes.withUnsafeBytes { sha1($0) } }

    /// The count hook's check (LuaVM): past the threshold the server answers BUSY; a kill
    /// request stops the script with Redis's error.
    func check(_ run: ScriptRun, _ L: LuaState) -> Bool {
        let elapsed = Int(unixMillis() - run.startedMicros / 1000)
        let threshold = busyThresholdMs.load(ordering: .relaxed)
        if threshold > 0 && elapsed >= threshold && !busy.load(ordering: .relaxed) {
            busyThread.store(UInt(pthread_self()), ordering: .relaxed)
            busy.store(true, ordering: .relaxed)
        }
        if stopping.load(ordering: .relaxed) {
            LuaVM.pushErrorTable(L, "ERR Script stopped: the server is shutting down")
            return true
        }
        guard killRequested.load(ordering: .relaxed) else { return false }
        LuaVM.pushErrorTable(L, "ERR Script killed by user with SCRIPT KILL...")
        return true
    }

    /// Notes the running script for SCRIPT KILL and FUNCTION STATS (a function's name and
    /// command only: EVAL's are not reported, and building them cost every call).
    func startRun(_ run: ScriptRun, kind: Int, name: String, command: @autoclosure () -> [String]) {
        killRequested.store(false, ordering: .relaxed)
        runningWrote.store(false, ordering: .relaxed)
        if kind == 2 { runningName.withLock { $0 = (name, command()) } }
        runningSince.store(Int(run.startedMicros / 1000), ordering: .relaxed)
        runningKind.store(kind, ordering: .relaxed)
    }

    func endRun() {
        runningKind.store(0, ordering: .relaxed)
        busy.store(false, ordering: .relaxed)
        killRequested.store(false, ordering: .relaxed)
    }
}

extension Engine {
    /// The thread of a script running past busy-reply-threshold, if one is.
    public var busyScriptThread: UInt? {
        scripting.busy.load(ordering: .relaxed) ? scripting.busyThread.load(ordering: .relaxed) : nil
    }

    /// The server is stopping: a running script ends at its next check (SIGTERM, SHUTDOWN).
    /// Returns once none runs (or after `timeoutMillis`).
    public func stopScripts(timeoutMillis: Int = 5000) {
        scripting.stopping.store(true, ordering: .relaxed)
        let deadline = unixMillis() + Int64(timeoutMillis)
        while scripting.runningKind.load(ordering: .relaxed) != 0 && unixMillis() < deadline {
            usleep(1000)
        }
    }
}

/// A script's SHA-1 as its 40 hexadecimal digits, lower-cased, in five words: the script
/// cache's key. EVALSHA finds a script without building a String, and hashes one word (a
/// digest's bits are uniform already): the String key's allocation and its SipHash of 40
/// bytes were a tenth of an EVALSHA (callgrind).
struct ScriptID: Hashable {
    let a, b, c, d, e: UInt64

    /// From 40 hex digits in either case; nil for another length (no such script).
    init?(hex: UnsafeRawBufferPointer) {
        guard hex.count == 40 else { return nil }
        for byte in hex {
            let lower = byte | 0x20
            guard (byte >= 48 && byte <= 57) || (lower >= 97 && lower <= 102) else { return nil }
        }
        // Setting bit 5 lower-cases A-F and leaves digits as they are.
        func word(_ at: Int) -> UInt64 { hex.loadUnaligned(fromByteOffset: at, as: UInt64.self) | 0x2020_2020_2020_2020 }
        (a, b, c, d, e) = (word(0), word(8), word(16), word(24), word(32))
    }

    init(_ hex: String) {
        var s = hex
        self = s.withUTF8 { ScriptID(hex: UnsafeRawBufferPointer($0))! }
    }

    func hash(into hasher: inout Hasher) { hasher.combine(a) }

    var string: String {
        var words = (a, b, c, d, e)
        return withUnsafeBytes(of: &words) { String(decoding: $0, as: UTF8.self) }
    }
}

/// Parses a script's shebang, `#!lua [flags=a,b]`, as Redis 7.0: the flags, or an error.
func parseScriptShebang(_ body: [UInt8]) -> Result<ScriptFlags, ScriptError> {
    guard body.starts(with: Array("#!".utf8)) else { return .success([]) }
    let line = String(decoding: body.prefix { $0 != 10 }, as: UTF8.self)
    let parts = line.split(separator: " ", omittingEmptySubsequences: true)
    guard parts.first == "#!lua" else { return .failure(.init("ERR Unexpected engine in script shebang: \(parts.first ?? "")")) }
    var flags: ScriptFlags = [.declared]
    for part in parts.dropFirst() {
        guard part.hasPrefix("flags=") else { return .failure(.init("ERR Unknown lua shebang option: \(part)")) }
        for name in part.dropFirst(6).split(separator: ",") {
            guard let f = ScriptFlags.names.first(where: { $0.0 == name }) else {
                return .failure(.init("ERR Unexpected flag in script shebang: \(name)"))
            }
            flags.insert(f.1)
        }
    }
    return .success(flags)
}

struct ScriptError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

extension Engine {
    /// Runs the function on top of `vm`'s stack (with `argCount` arguments above it) as a
    /// script of `c`'s client, and writes its reply. The script mutex is held by the caller.
    /// `origin` names the script in an error reply ("script: <sha>" for EVAL, the function's
    /// name for FCALL); it is built only for one.
    func runScript(_ c: inout CommandContext, vm: LuaVM, argCount: Int32, readOnly: Bool, flags: ScriptFlags,
                   origin: @autoclosure () -> String, kind: Int, name: String) {
        let L = vm.L
        // A script without flags on a replica whose link is down, with replica-serve-stale-data
        // no: MASTERDOWN, as Redis (one with flags was judged before, scriptAdmissionRefusal).
        if !flags.contains(.declared) && !c.fromPrimary && repl.following.load(ordering: .relaxed)
            && !repl.linkUp.load(ordering: .relaxed) && !config.bool("replica-serve-stale-data") {
            lua_settop(L, 0)
            c.error(Engine.masterDown)
            return
        }
        let outOfMemory = settings.maxmemory.load(ordering: .relaxed) > 0 && !c.holdsEveryShard && !performEvictions()
        if outOfMemory && flags.contains(.declared) && !flags.contains(.allowOOM) && !flags.contains(.noWrites) && !readOnly {
            lua_settop(L, 0)
            c.error("OOM command not allowed when used memory > 'maxmemory'.")
            return
        }
        // The message handler goes under the function and its arguments.
        lua_getfield(L, LUA_REGISTRYINDEX, "larder.errorhandler")
        lua_insert(L, -(argCount + 2))
        let handlerIndex = lua_gettop(L) - argCount - 1

        withUnsafeMutablePointer(to: &c) { p in
            let ownEffects = p.pointee.transactionEffects == nil
            if ownEffects { p.pointee.transactionEffects = [] }
            let wasNoBlock = p.pointee.noBlock
            p.pointee.noBlock = true
            let run = vm.runState
            run.start(ctx: p, readOnly: readOnly || flags.contains(.noWrites), flags: flags, outOfMemory: outOfMemory,
                      allHeld: p.pointee.holdsEveryShard, shardCount: keyspace.mutexes.count)
            vm.run = run
            scripting.startRun(run, kind: kind, name: name,
                               command: (0..<min(p.pointee.argc, 5)).map { p.pointee.args.string($0) })
            // Monitors see EVAL / FCALL before the commands its script runs, as Redis's.
            if monitors.count.load(ordering: .relaxed) > 0 && !p.pointee.serving { feedMonitorsNow(&p.pointee) }
            let status = lua_pcall(L, argCount, 1, handlerIndex)
            vm.run = nil
            scripting.endRun()
            p.pointee.noBlock = wasNoBlock

            var errors: [String] = []
            if status == 0 {
                ScriptReplies.write(L, into: &p.pointee.out, scriptResp: run.resp, errors: &errors)
            } else {
                let message = Self.scriptErrorMessage(L, origin: origin())
                errors.append(message)
                p.pointee.out.error(message)
                larder_lua_pop(L, 1)
            }
            lua_settop(L, 0)
            for e in errors {
                stats.countError(e)
                p.pointee.session.counters.errors += 1
            }
            // The script's writes leave as one transaction (MULTI/EXEC when two or more),
            // under its locks, as EXEC's do.
            if ownEffects {
                let effects = p.pointee.transactionEffects!
                p.pointee.transactionEffects = nil
                if !effects.isEmpty {
                    p.pointee.session.aofSeq = propagateNow(effects)
                    if repl.active.load(ordering: .relaxed) { p.pointee.session.writeOffset = replicationOffset }
                }
            }
            run.unlockAll(keyspace)
            scripting.updateVMMemory(vm)
            // What follows each of the script's commands (statistics, tracking); the clients
            // its writes made ready are served by the script command's own afterCommand.
            let savedArgs = p.pointee.args, savedDb = p.pointee.dbIndex
            for call in run.calls {
                call.spec.calls.wrappingAdd(1, ordering: .relaxed)
                guard let args = call.args else { continue }
                p.pointee.args = args
                p.pointee.dbIndex = call.db
                p.pointee.changes = call.changes
                trackAfterCommand(call.spec, &p.pointee)
            }
            run.calls.removeAll(keepingCapacity: true)
            p.pointee.args = savedArgs
            p.pointee.dbIndex = savedDb
            p.pointee.changes = 0
        }
    }

    /// The reply for a script that raised: its message, where it was raised, and which script.
    private static func scriptErrorMessage(_ L: LuaState, origin: String) -> String {
        guard lua_type(L, -1) == LUA_TTABLE else {
            var n = 0
            return "ERR " + (LuaVM.string(L, -1, &n) ?? "unknown error") + " \(origin)"
        }
        func field(_ name: String) -> String? {
            lua_getfield(L, -1, name)
            defer { larder_lua_pop(L, 1) }
            var n = 0
            return LuaVM.string(L, -1, &n)
        }
        var message = field("err") ?? "ERR unknown error"
        if message.hasPrefix("-") { message.removeFirst() }
        let source = field("source") ?? "?", line = field("line") ?? "?"
        return "\(message) \(origin), on \(source):\(line)."
    }
}

extension Engine {
    /// Loads the function libraries read from an RDB file or an AOF base at start.
    func loadLibraries(_ codes: [[UInt8]]) throws {
        guard !codes.isEmpty else { return }
        let error = scripting.mutex.withLock { FunctionCommands.restoreLibraries(codes, flush: false, replace: true, self) }
        if let error { throw RDBError("Failed loading the functions in the file: \(error)") }
    }
}
