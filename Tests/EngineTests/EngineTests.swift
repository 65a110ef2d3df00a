import NIOCore
import Testing
@testable import Engine
import RESP
import Storage
#if canImport(Glibc)
import Glibc
#endif

/// Commands run on a bare engine: no sockets, replies read from the writer's buffer.
final class Harness {
    let engine: Engine
    var ctx: CommandContext

    init(_ settings: [String: String] = [:]) {
        let config = Config()
        for (k, v) in settings { try! config.set(k, [v], atStartup: true) }
        engine = Engine(config: config)
        let client = Client(id: 1, address: "127.0.0.1:1", localAddress: "127.0.0.1:6379", fd: -1,
                            now: unixMillis(), authenticated: false)
        ctx = CommandContext(engine: engine, client: client, out: RESPWriter(buffer: ByteBuffer()))
    }

    @discardableResult
    func run(_ args: String...) -> String {
        ctx.args = CommandArguments(strings: args)
        ctx.out.buffer.clear()
        engine.execute(&ctx)
        return String(buffer: ctx.out.buffer)
    }
}

@Suite struct EngineTests {
    @Test func setGetAndTypes() {
        let h = Harness()
        #expect(h.run("SET", "k", "v") == "+OK\r\n")
        #expect(h.run("GET", "k") == "$1\r\nv\r\n")
        #expect(h.run("get", "nope") == "$-1\r\n")
        #expect(h.run("SET", "n", "41") == "+OK\r\n")
        #expect(h.run("INCR", "n") == ":42\r\n")
        #expect(h.run("GET", "n") == "$2\r\n42\r\n")
        #expect(h.run("OBJECT", "ENCODING", "n") == "$3\r\nint\r\n")
        #expect(h.run("INCR", "k") == "-ERR value is not an integer or out of range\r\n")
    }

    @Test func errorsAsRedis() {
        let h = Harness()
        #expect(h.run("GET") == "-ERR wrong number of arguments for 'get' command\r\n")
        #expect(h.run("NOPE", "a") == "-ERR unknown command 'NOPE', with args beginning with: 'a' \r\n")
        #expect(h.run("CONFIG", "NOPE") == "-ERR unknown subcommand 'NOPE'. Try CONFIG HELP.\r\n")
        #expect(h.run("CONFIG") == "-ERR wrong number of arguments for 'config' command\r\n")
        #expect(h.run("SET", "k", "v", "EX", "0") == "-ERR invalid expire time in 'set' command\r\n")
        #expect(h.run("SET", "k", "v", "NX", "XX") == "-ERR syntax error\r\n")
    }

    @Test func requirePass() {
        let h = Harness(["requirepass": "pw"])
        #expect(h.run("GET", "k") == "-NOAUTH Authentication required.\r\n")
        #expect(h.run("AUTH", "bad") == "-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        #expect(h.run("AUTH", "pw") == "+OK\r\n")
        #expect(h.run("GET", "k") == "$-1\r\n")
    }

    @Test func multiKeyCommandsSpanShards() {
        let h = Harness()
        var args = ["MSET"]
        for i in 0..<100 { args += ["key\(i)", "\(i)"] }
        h.ctx.args = CommandArguments(strings: args)
        h.engine.execute(&h.ctx)
        #expect(h.run("DBSIZE") == ":100\r\n")
        #expect(h.run("MGET", "key1", "key99", "none") == "*3\r\n$1\r\n1\r\n$2\r\n99\r\n$-1\r\n")
        #expect(h.run("RENAME", "key1", "{x}moved") == "+OK\r\n")
        #expect(h.run("EXISTS", "key1", "{x}moved") == ":1\r\n")
    }

    @Test func expiryAndTTL() {
        let h = Harness()
        h.run("SET", "k", "v", "PX", "100000")
        #expect(h.run("TTL", "k") == ":100\r\n")
        #expect(h.run("PERSIST", "k") == ":1\r\n")
        #expect(h.run("TTL", "k") == ":-1\r\n")
        #expect(h.run("EXPIRE", "k", "-1") == ":1\r\n")
        #expect(h.run("EXISTS", "k") == ":0\r\n")
    }

    @Test func incrbyfloatFormatsAsRedis() {
        let h = Harness()
        #expect(h.run("INCRBYFLOAT", "f", "0.1") == "$3\r\n0.1\r\n")
        #expect(h.run("INCRBYFLOAT", "f", "0.2") == "$3\r\n0.3\r\n")
        #expect(h.run("INCRBYFLOAT", "f", "1e2") == "$5\r\n100.3\r\n")
        #expect(h.run("INCRBYFLOAT", "f", "inf") == "-ERR increment would produce NaN or Infinity\r\n")
    }

    @Test func resp3AfterHello() {
        let h = Harness()
        #expect(h.run("HELLO", "3").hasPrefix("%7\r\n"))
        #expect(h.run("GET", "none") == "_\r\n")
        #expect(h.run("HELLO", "4") == "-NOPROTO unsupported protocol version\r\n")
    }

    @Test func commandTableIsConsistent() {
        let h = Harness()
        for spec in h.engine.table.commands {
            #expect(h.engine.table.lookup(spec.name) === spec)
            #expect(h.engine.table.lookup(spec.name.uppercased()) === spec)
            // Names are compared as words of 8 bytes and, past 16, byte by byte: a name one
            // byte short, one byte longer or with its last byte changed is another name.
            let name = Array(spec.name.utf8)
            for other in [Array(name.dropLast()), name + [UInt8(ascii: "x")], Array(name.dropLast()) + [UInt8(ascii: "_")]] {
                let found = h.engine.table.lookup(other[...])
                #expect(found == nil || found!.name == String(decoding: other, as: UTF8.self), "\(spec.name)")
            }
            // A byte of 0x80 or above is not a letter: "GET" with its high bits set is no name.
            #expect(h.engine.table.lookup(name.map { $0 | 0x80 }[...]) == nil, "\(spec.name)")
            #expect(spec.handler != nil || !spec.subcommands.isEmpty, "\(spec.name)")
            if spec.firstKey > 0 { #expect(spec.keyStep > 0) }
        }
    }

    /// Every command and sub-command has its description in CommandDocsTable (since, and key
    /// specs when it takes keys), the table reads without an error, and names no command the
    /// table does not serve.
    @Test func everyCommandIsDescribed() {
        let h = Harness()
        #expect(CommandDocs.parseErrors.isEmpty, "\(CommandDocs.parseErrors)")
        var served = Set<String>()
        for top in h.engine.table.commands {
            for spec in [top] + top.subcommands {
                served.insert(spec.name)
                let doc = CommandDocs.table[spec.name]
                #expect(doc != nil, "\(spec.name)")
                #expect(doc?.since.isEmpty == false, "\(spec.name)")
                if spec.firstKey > 0 || spec.keyFinder != nil {
                    #expect(doc?.keySpecs.isEmpty == false, "\(spec.name)")
                }
            }
        }
        #expect(Set(CommandDocs.table.keys).subtracting(served).isEmpty)
    }

    @Test func commandNamesFoldCaseAsRedis() {
        // Every byte value beside and between the letters, in every place of a 16-byte word.
        for b in 0...255 {
            let c = UInt8(b)
            for place in 0..<16 {
                var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 16)
                bytes[place] = c
                var expected = bytes
                expected[place] = asciiLower(c)
                let got = bytes.withUnsafeBytes { CommandTable.words($0) }
                let want = expected.withUnsafeBytes { ($0.loadUnaligned(as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
                #expect(got == want, "byte \(b) at \(place)")
            }
        }
        // Every length a name can be loaded at, 0 to 20 bytes, of distinct bytes.
        for length in 0...20 {
            let bytes = (0..<length).map { UInt8(ascii: "A") + UInt8($0) }
            var want: (UInt64, UInt64) = (0, 0)
            for (i, b) in bytes.prefix(16).enumerated() {
                if i < 8 { want.0 |= UInt64(asciiLower(b)) << UInt64(8 * i) } else { want.1 |= UInt64(asciiLower(b)) << UInt64(8 * (i - 8)) }
            }
            #expect(bytes.withUnsafeBytes { CommandTable.words($0) } == want, "length \(length)")
        }
        let h = Harness()
        #expect(h.run("gEt", "k") == "$-1\r\n")
        #expect(h.run("CLIENT", "GETNAME") == "$-1\r\n")
        #expect(h.run("gEtX", "k").hasPrefix("-ERR unknown command 'gEtX'"))
    }

    @Test func scoresParseAsStrtod() {
        // Digit strings take a path of their own; every answer must still be strtod's.
        let cases = ["0", "-0", "7", "000123", "-123456789012345", "999999999999999", "1234567890123456",
                     "-9999999999999999", "12345678901234567890", "+5", "1e3", "1.5", "-", "--1", "12a", "0x10", "inf", "-inf"]
        for text in cases {
            var end: UnsafeMutablePointer<CChar>? = nil
            let expected: Double? = text.withCString { p in
                let v = strtod(p, &end)
                return end! - UnsafeMutablePointer(mutating: p) == text.utf8.count ? v : nil
            }
            let got = parseRedisDouble(Array(text.utf8))
            #expect(got?.bitPattern == expected?.bitPattern, "\(text)")
        }
        #expect(parseRedisDouble(Array("".utf8)) == nil)
        #expect(parseRedisDouble(Array(" 1".utf8)) == nil)
    }

    @Test func configParsing() throws {
        let config = Config()
        let d = try ConfigFile.parse("# c\nport 7000\nsave 900 1\nsave 60 100\nmaxmemory 2mb\nrequirepass \"a b\"\n")
        try ConfigFile.apply(d, to: config)
        #expect(config.int("port") == 7000)
        #expect(config.get("save") == "900 1 60 100")
        #expect(config.int("maxmemory") == 2 * 1024 * 1024)
        #expect(config.get("requirepass") == "a b")
        let flags = try ConfigFile.directives(fromFlags: ["--port", "7001", "--save", ""])
        try ConfigFile.apply(flags, to: config)
        #expect(config.int("port") == 7001 && config.get("save") == "")
        #expect(parseMemory("1k") == 1000 && parseMemory("1KB") == 1024 && parseMemory("1gb") == 1 << 30)
        #expect(throws: ConfigError.self) { try config.set("port", ["x"], atStartup: true) }
    }
}

@Suite struct CollectionCommandTests {
    @Test func listHashSetZsetBasics() {
        let h = Harness()
        #expect(h.run("RPUSH", "l", "a", "b") == ":2\r\n")
        #expect(h.run("LRANGE", "l", "0", "-1") == "*2\r\n$1\r\na\r\n$1\r\nb\r\n")
        #expect(h.run("GET", "l") == "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")
        #expect(h.run("HSET", "h", "f", "v") == ":1\r\n")
        #expect(h.run("HGETALL", "h") == "*2\r\n$1\r\nf\r\n$1\r\nv\r\n")
        #expect(h.run("SADD", "s", "3", "1", "2") == ":3\r\n")
        #expect(h.run("SMEMBERS", "s") == "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n")
        #expect(h.run("ZADD", "z", "1.5", "a", "1", "b") == ":2\r\n")
        #expect(h.run("ZRANGE", "z", "0", "-1", "WITHSCORES") == "*4\r\n$1\r\nb\r\n$1\r\n1\r\n$1\r\na\r\n$3\r\n1.5\r\n")
        #expect(h.run("ZINCRBY", "z", "0.1", "b") == "$18\r\n1.1000000000000001\r\n")
        #expect(h.run("TYPE", "z") == "+zset\r\n")
    }

    @Test func blockingPopAnswersAtOnceWithoutAConnection() {
        // A bare context has no way to be woken later, so a blocking pop answers as a timeout.
        let h = Harness()
        #expect(h.run("BLPOP", "none", "0") == "*-1\r\n")
        h.run("RPUSH", "q", "x")
        #expect(h.run("BLPOP", "none", "q", "0") == "*2\r\n$1\r\nq\r\n$1\r\nx\r\n")
    }
}
