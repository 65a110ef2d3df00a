/// Encodes commands as a client sends them (a RESP array of bulk strings): what the AOF and
/// the replication stream carry. The lengths are written digit by digit, not through String,
/// because every propagated write passes here.
public enum CommandEncoder {
    /// Appends one command.
    public static func append<C: Collection>(_ args: C, into out: inout [UInt8])
    where C.Element: Collection, C.Element.Element == UInt8 {
        header(UInt8(ascii: "*"), args.count, into: &out)
        for a in args { bulk(a, into: &out) }
    }

    /// Appends a command straight from its packed arguments (no array per argument).
    public static func append(arguments args: CommandArguments, into out: inout [UInt8]) {
        header(UInt8(ascii: "*"), args.count, into: &out)
        for i in 0..<args.count { args.withBytes(i) { bulk($0, into: &out) } }
    }

    @inline(__always) public static func bulk<C: Collection>(_ a: C, into out: inout [UInt8]) where C.Element == UInt8 {
        header(UInt8(ascii: "$"), a.count, into: &out)
        out.append(contentsOf: a)
        out.append(13)
        out.append(10)
    }

    @inline(__always) public static func header(_ kind: UInt8, _ n: Int, into out: inout [UInt8]) {
        out.append(kind)
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)   // 24 bytes: any Int's digits
        var v = n
        var count = 0
        withUnsafeMutableBytes(of: &digits) { d in
            repeat {
                d[count] = UInt8(48 + v % 10)
                v /= 10
                count += 1
            } while v > 0
            for i in stride(from: count - 1, through: 0, by: -1) { out.append(d[i]) }
        }
        out.append(13)
        out.append(10)
    }
}
