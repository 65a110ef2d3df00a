import Foundation
import RESP

/// Runs one input through the request reader the way a connection does: command after command
/// until the input is used up, incomplete, or refused. Anything else (a trap, an index out of
/// range, a consumed count that does not fit) is a bug the fuzzer reports.
func fuzzOne(_ data: UnsafeRawBufferPointer) {
    var args = CommandArguments()
    var limits = RESPLimits()
    limits.maxBulkLength = 1 << 20
    let reader = RESPReader(limits: limits)
    var offset = 0
    while offset < data.count {
        let rest = UnsafeRawBufferPointer(rebasing: data[offset...])
        switch reader.parse(rest, into: &args) {
        case .command(let n), .skip(let n):
            precondition(n > 0 && n <= rest.count, "consumed \(n) of \(rest.count)")
            offset += n
        case .incomplete, .error:
            return
        }
    }
}

#if FUZZING
/// libFuzzer's entry point (built with --sanitize=fuzzer -Xswiftc -DFUZZING).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzOne(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
/// Without the fuzzer: replays files (a corpus, crash inputs) through the reader.
@main
struct RESPFuzzReplay {
    static func main() {
        for path in CommandLine.arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                print("cannot read \(path)")
                continue
            }
            data.withUnsafeBytes { fuzzOne($0) }
        }
        print("replayed \(CommandLine.arguments.count - 1) input(s)")
    }
}
#endif
