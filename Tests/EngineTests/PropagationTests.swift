import Testing
@testable import Engine
import RESP

/// What the AOF and replicas are sent: the effect encoder's batches, and configuration values.
@Suite struct PropagationTests {
    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test func oneEffectAloneTwoInsideMultiExec() {
        var e = EffectEncoder()
        var out: [UInt8] = []
        e.encode([(db: 0, effect: Effect.words([Array("DEL".utf8), Array("k".utf8)]))], into: &out)
        #expect(text(out) == "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n")
        out.removeAll()
        e.encode([(db: 0, effect: Effect.words([Array("SREM".utf8), Array("s".utf8), Array("a".utf8)])),
                  (db: 3, effect: Effect.arguments(CommandArguments(strings: ["SET", "x", "1"])))], into: &out)
        // No SELECT for db 0 again; MULTI/EXEC carry none; db 3 is selected inside.
        #expect(text(out) == "*1\r\n$5\r\nMULTI\r\n*3\r\n$4\r\nSREM\r\n$1\r\ns\r\n$1\r\na\r\n"
                + "*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n1\r\n*1\r\n$4\r\nEXEC\r\n")
    }

    @Test func memoryValuesAsRedisParsesThem() {
        #expect(parseMemoryBytes("5k") == 5000)
        #expect(parseMemoryBytes("5KB") == 5120)
        #expect(parseMemoryBytes("1gb") == 1 << 30)
        #expect(parseMemoryBytes("99999999999999999999") == UInt64.max)
        #expect(parseMemoryBytes("-1") == nil)
        #expect(parseMemoryBytes("1.5") == nil)
        #expect(parseMemoryBytes("") == 0)
        #expect(parseMemoryBytes("mb") == 0)
        #expect(parseMemoryBytes("x") == nil)
    }

    @Test func boundsAndChoicesAsRedis() throws {
        let samples = Config.parameter("maxmemory-samples")!
        #expect(throws: ConfigError.self) { try Config.canonical(samples, ["0"]) }
        #expect(try Config.canonical(samples, ["2147483647"]) == "2147483647")
        #expect(refusal("proto-max-bulk-len", "5k") == "argument must be between 1048576 and 9223372036854775807 inclusive")
        #expect(refusal("appendfsync", "often") == "argument(s) must be one of the following: everysec, always, no")
        #expect(try Config.canonical(Config.parameter("maxmemory")!, ["18446744073709551615"]) == "18446744073709551615")
    }

    /// Why `value` is refused for `name` (nil when it is accepted).
    func refusal(_ name: String, _ value: String) -> String? {
        do {
            _ = try Config.canonical(Config.parameter(name)!, [value])
            return nil
        } catch {
            return error.message
        }
    }

    @Test func configSetIsAllOrNothing() {
        let h = Harness()
        #expect(h.run("CONFIG", "SET", "maxmemory", "10mb", "maxmemory-samples", "0").hasPrefix("-ERR CONFIG SET failed (possibly related to argument 'maxmemory-samples')"))
        #expect(h.run("CONFIG", "GET", "maxmemory") == "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n")
        #expect(h.run("CONFIG", "SET", "maxmemory", "10mb", "maxmemory-samples", "7") == "+OK\r\n")
        #expect(h.run("CONFIG", "GET", "maxmemory") == "*2\r\n$9\r\nmaxmemory\r\n$8\r\n10485760\r\n")
        #expect(h.engine.settings.samples.load(ordering: .relaxed) == 7)
    }
}
