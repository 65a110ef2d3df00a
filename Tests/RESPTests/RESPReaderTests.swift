import NIOCore
import Testing
@testable import RESP

@Suite struct RESPReaderTests {
    func parse(_ s: String, limits: RESPLimits = RESPLimits()) -> (ParseResult, [String]) {
        var args = CommandArguments()
        let r = RESPReader(limits: limits).parse(ByteBuffer(string: s), into: &args)
        return (r, (0..<args.count).map { args.string($0) })
    }

    @Test func multibulk() {
        let (r, a) = parse("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
        #expect(r == .command(consumed: 20))
        #expect(a == ["GET", "k"])
    }

    @Test func binarySafePayload() {
        let (r, a) = parse("*1\r\n$4\r\na\r\nb\r\n")
        #expect(r == .command(consumed: 14))
        #expect(a == ["a\r\nb"])
    }

    @Test func incompleteAtEveryPrefix() {
        let full = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"
        for i in 0..<full.utf8.count {
            // By bytes: "\r\n" is one Character, so String.prefix would overshoot.
            let (r, _) = parse(String(decoding: full.utf8.prefix(i), as: UTF8.self))
            #expect(r == .incomplete, "prefix \(i)")
        }
        #expect(parse(full).0 == .command(consumed: full.utf8.count))
    }

    @Test func inline() {
        #expect(parse("SET a \"b c\"\r\n").1 == ["SET", "a", "b c"])
        #expect(parse("get k\n").1 == ["get", "k"])
        #expect(parse("ECHO \"\\x41\\n\" 'it\\'s'\r\n").1 == ["ECHO", "A\n", "it's"])
        #expect(parse("\r\n").0 == .skip(consumed: 2))
        #expect(parse("PING").0 == .incomplete)
    }

    @Test func protocolErrors() {
        #expect(parse("*x\r\n").0 == .error("Protocol error: invalid multibulk length"))
        #expect(parse("*1\r\n+a\r\n").0 == .error("Protocol error: expected '$', got '+'"))
        #expect(parse("*1\r\n$-1\r\n").0 == .error("Protocol error: invalid bulk length"))
        #expect(parse("*1\r\n$01\r\n").0 == .error("Protocol error: invalid bulk length"))
        #expect(parse("*-0\r\n").0 == .error("Protocol error: invalid multibulk length"))
        #expect(parse("SET \"a\r\n").0 == .error("Protocol error: unbalanced quotes in request"))
        var small = RESPLimits()
        small.maxBulkLength = 10
        #expect(parse("*1\r\n$11\r\n", limits: small).0 == .error("Protocol error: invalid bulk length"))
        #expect(parse(String(repeating: "a", count: 70_000)).0 == .error("Protocol error: too big inline request"))
    }

    @Test func emptyAndNegativeCountsAreSkipped() {
        #expect(parse("*0\r\n").0 == .skip(consumed: 4))
        #expect(parse("*-1\r\n").0 == .skip(consumed: 5))
    }

    @Test func unauthenticatedLimits() {
        var l = RESPLimits()
        l.unauthenticated = true
        #expect(parse("*11\r\n", limits: l).0 == .error("Protocol error: unauthenticated multibulk length"))
        #expect(parse("*1\r\n$16385\r\n", limits: l).0 == .error("Protocol error: unauthenticated bulk length"))
    }
}

@Suite struct RESPWriterTests {
    func written(_ resp3: Bool = false, _ f: (inout RESPWriter) -> Void) -> String {
        var w = RESPWriter(buffer: ByteBuffer())
        w.resp3 = resp3
        f(&w)
        return String(buffer: w.buffer)
    }

    @Test func scalars() {
        #expect(written { $0.integer(-42) } == ":-42\r\n")
        #expect(written { $0.integer(Int.min) } == ":-9223372036854775808\r\n")
        #expect(written { $0.bulk("hi") } == "$2\r\nhi\r\n")
        #expect(written { $0.bulkDecimal(-120) } == "$4\r\n-120\r\n")
        #expect(written { $0.bulkDecimal(0) } == "$1\r\n0\r\n")
        #expect(written { $0.error("ERR a\r\nb") } == "-ERR a  b\r\n")
    }

    @Test func resp2AndResp3Shapes() {
        #expect(written(false) { $0.null() } == "$-1\r\n")
        #expect(written(true) { $0.null() } == "_\r\n")
        #expect(written(false) { $0.map(2) } == "*4\r\n")
        #expect(written(true) { $0.map(2) } == "%2\r\n")
        #expect(written(false) { $0.bool(true) } == ":1\r\n")
        #expect(written(true) { $0.double("1.5") } == ",1.5\r\n")
        #expect(written(false) { $0.double("1.5") } == "$3\r\n1.5\r\n")
        #expect(written(true) { $0.verbatim("x") } == "=5\r\ntxt:x\r\n")
    }
}
