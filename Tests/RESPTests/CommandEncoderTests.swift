import Testing
import RESP

@Suite struct CommandEncoderTests {
    @Test func encodesAsAClientSendsIt() {
        var out: [UInt8] = []
        CommandEncoder.append([Array("SET".utf8), Array("k".utf8), []], into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n")
    }

    @Test func packedArgumentsAndLongLengths() {
        let big = [UInt8](repeating: 120, count: 1_234_567)
        let args = CommandArguments([Array("APPEND".utf8), Array("key".utf8), big])
        var fromPacked: [UInt8] = [], fromArrays: [UInt8] = []
        CommandEncoder.append(arguments: args, into: &fromPacked)
        CommandEncoder.append([Array("APPEND".utf8), Array("key".utf8), big], into: &fromArrays)
        #expect(fromPacked == fromArrays)
        #expect(fromPacked.starts(with: Array("*3\r\n$6\r\nAPPEND\r\n$3\r\nkey\r\n$1234567\r\n".utf8)))
    }

    @Test func everyLengthWritesItsDigits() {
        for n in [0, 9, 10, 99, 100, Int.max] {
            var out: [UInt8] = []
            CommandEncoder.header(UInt8(ascii: "$"), n, into: &out)
            #expect(String(decoding: out, as: UTF8.self) == "$\(n)\r\n")
        }
    }
}
