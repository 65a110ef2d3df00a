import Foundation
import Testing
@testable import Engine
import Storage
import CScripting

/// Scripts on a bare engine: the locks a script takes as it goes and gives back, the shebang,
/// replies both ways, and the pieces of the sandbox that must hold whatever the script does.
@Suite struct ScriptingTests {
    @Test func scriptTakesTheLocksOfUndeclaredKeysAndReleasesThem() {
        let h = Harness()
        // Keys in other shards than any declared one (none is), and another database.
        #expect(h.run("EVAL", "redis.call('set','a','1') redis.call('set','b','2') redis.call('select','3') "
                      + "redis.call('set','c','3') return redis.call('mget','a','b')", "0") == "*2\r\n$-1\r\n$-1\r\n")
        #expect(h.run("MGET", "a", "b") == "*2\r\n$1\r\n1\r\n$1\r\n2\r\n")
        #expect(h.run("SELECT", "3") == "+OK\r\n")
        #expect(h.run("GET", "c") == "$1\r\n3\r\n")
        // Every shard is free again: a try-lock of each succeeds.
        for m in h.engine.keyspace.mutexes {
            #expect(m.tryLock())
            m.unlock()
        }
        #expect(h.engine.scripting.mutex.tryLock())
        h.engine.scripting.mutex.unlock()
    }

    @Test func aScriptThatFailsStillReleasesItsLocks() {
        let h = Harness()
        #expect(h.run("EVAL", "redis.call('set','x','1') error('boom')", "0").hasPrefix("-ERR user_script:1: boom script: "))
        #expect(h.run("GET", "x") == "$1\r\n1\r\n")   // not rolled back, as Redis
        for m in h.engine.keyspace.mutexes {
            #expect(m.tryLock())
            m.unlock()
        }
    }

    /// A script that never assigns a global runs with the real globals as its environment
    /// (no proxy look-up); one that does, or has a nested function that does, keeps the proxy.
    @Test func globalAssignmentsAreFoundInCompiledScripts() {
        let h = Harness()
        let vm = h.engine.scripting.vm(.eval, h.engine)
        let cases: [(String, Int32)] = [
            ("return redis.call('ping')", 0), ("local t = {} t.x = 1 return t.x", 0),
            ("local function f(a) local b = a return b end return f(KEYS[1])", 0),
            ("x = 1", 1), ("local function f() y = 2 end return 1", 1),
            ("return function() return function() z = 3 end end", 1),
            ("local s = 'x = 1' .. string.rep('a', 300) return #s", 0),
        ]
        for (body, expected) in cases {
            #expect(vm.compile(Array(body.utf8), blankingFirstLine: false, chunk: "@user_script") == nil)
            #expect(larder_lua_sets_globals(vm.L) == expected, "\(body)")
            lua_settop(vm.L, 0)
        }
    }

    @Test func shebangFlags() throws {
        #expect(try parseScriptShebang(Array("return 1".utf8)).get() == [])
        #expect(try parseScriptShebang(Array("#!lua\nreturn 1".utf8)).get() == [.declared])
        #expect(try parseScriptShebang(Array("#!lua flags=no-writes,allow-oom\n".utf8)).get() == [.declared, .noWrites, .allowOOM])
        #expect(throws: ScriptError.self) { try parseScriptShebang(Array("#!lua flags=nope\n".utf8)).get() }
        #expect(throws: ScriptError.self) { try parseScriptShebang(Array("#!js\n".utf8)).get() }
    }

    @Test func repliesBothWays() {
        let h = Harness()
        #expect(h.run("EVAL", "return {1, 'a', {ok='fine'}, {err='E bad'}, true, false, 2.9}", "0")
                == "*7\r\n:1\r\n$1\r\na\r\n+fine\r\n-E bad\r\n:1\r\n$-1\r\n:2\r\n")
        #expect(h.run("HSET", "h", "f", "v") == ":1\r\n")
        #expect(h.run("EVAL", "local r = redis.call('hgetall', 'h') return r[1] .. r[2]", "0") == "$2\r\nfv\r\n")
        #expect(h.run("EVAL", "redis.setresp(3) return redis.call('hgetall', 'h').map.f", "0") == "$1\r\nv\r\n")
        #expect(h.run("EVAL", "return 1e30", "0") == ":-9223372036854775808\r\n")
    }

    @Test func sandboxHolds() {
        let h = Harness()
        #expect(h.run("EVAL", "x = 1", "0").contains("Attempt to modify a readonly table"))
        #expect(h.run("EVAL", "return os", "0").contains("nonexistent global variable 'os'"))
        #expect(h.run("EVAL", "return string.rep('x', 2^40)", "0") == "$0\r\n\r\n")   // as Redis: the size wraps
        #expect(h.run("EVAL", "local s = 'x' while true do s = s .. s end", "0").contains("not enough memory"))
        #expect(h.run("EVAL", "return struct.pack('>I2', 258)", "0") == "$2\r\n\u{1}\u{2}\r\n")
        #expect(h.run("EVAL", "return cmsgpack.unpack(cmsgpack.pack({1, 2}))[2]", "0") == ":2\r\n")
        #expect(h.run("EVAL", "return bit.bxor(5, 3)", "0") == ":6\r\n")
        #expect(h.run("EVAL", "return cjson.decode('{\"a\":[1,2]}').a[2]", "0") == ":2\r\n")
        #expect(h.run("PING") == "+PONG\r\n")
    }

    @Test func politeLockingNeverHoldsWhileWaiting() {
        // A taken mutex in the middle of a set: lockPolitely waits for it holding nothing, then
        // takes the whole set once it is free.
        let keyspace = Keyspace(databases: 1, shardsPerDatabase: 4)
        let m = keyspace.mutexes
        m[2].lock()
        let done = Locked<Bool>(false)
        let t = Thread {
            lockPolitely(count: 4) { m[$0] }
            done.withLock { $0 = true }
            for i in (0..<4).reversed() { m[i].unlock() }
        }
        t.start()
        // While it waits for shard 2, it does not hold shard 0 or 1.
        var sawFree = false
        for _ in 0..<200 {
            if m[0].tryLock() { m[0].unlock(); sawFree = true; break }
            usleep(1000)
        }
        #expect(sawFree)
        m[2].unlock()
        for _ in 0..<2000 where !done.withLock({ $0 }) { usleep(1000) }
        #expect(done.withLock { $0 })
    }
}
