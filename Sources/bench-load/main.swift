// A small RESP load generator for the mixed SET:GET benchmark (bench/mixed.py), where
// redis-benchmark runs one command type per run. One thread polling every connection, as
// redis-benchmark:
// every connection keeps one request in flight (or `pipeline` of them), each request's
// latency is measured from its send to its reply.
//
//     bench-load <port> <connections> <requests> <gets-per-set> <keyspace> <value-size> [pipeline]
//
// Prints one line: requests/s and the p50, p99 and p99.9 latencies in milliseconds.

#if canImport(Glibc)
import Glibc
#endif
import Storage

func fail(_ message: String) -> Never {
    let line = "bench-load: \(message)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(1)
}

func nowNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

let argv = CommandLine.arguments
guard argv.count >= 7, let port = UInt16(argv[1]), let connections = Int(argv[2]), let total = Int(argv[3]),
      let getsPerSet = Int(argv[4]), let keyspace = UInt64(argv[5]), let valueSize = Int(argv[6]) else {
    fail("usage: bench-load <port> <connections> <requests> <gets-per-set> <keyspace> <value-size> [pipeline]")
}
let pipeline = argv.count > 7 ? max(1, Int(argv[7]) ?? 1) : 1
let value = [UInt8](repeating: UInt8(ascii: "x"), count: valueSize)

@MainActor func request(_ mix: inout RandomSource, into out: inout [UInt8]) {
    // redis-benchmark's key names ("key:" and 12 digits), so that its -r SET run fills them.
    let digits = String(mix.next() % keyspace)
    let key = Array(("key:" + String(repeating: "0", count: max(0, 12 - digits.count)) + digits).utf8)
    let isSet = mix.next() % UInt64(getsPerSet + 1) == 0
    func bulk(_ b: [UInt8]) { out += Array("$\(b.count)\r\n".utf8); out += b; out += [13, 10] }
    out += Array((isSet ? "*3\r\n" : "*2\r\n").utf8)
    bulk(Array((isSet ? "SET" : "GET").utf8))
    bulk(key)
    if isSet { bulk(value) }
}

/// Counts complete RESP replies (simple, error, integer, bulk) at the front of `buf`.
func completeReplies(_ buf: [UInt8], from start: inout Int) -> Int {
    var n = 0
    while start < buf.count {
        guard let lf = buf[start...].firstIndex(of: 10) else { break }
        if buf[start] == UInt8(ascii: "$") {
            let length = Int(String(decoding: buf[(start + 1)..<(lf - 1)], as: UTF8.self)) ?? -1
            let end = length < 0 ? lf + 1 : lf + 1 + length + 2
            if end > buf.count { break }
            start = end
        } else {
            start = lf + 1
        }
        n += 1
    }
    return n
}

struct Connection {
    var fd: Int32
    var input: [UInt8] = []
    var sentAt: [UInt64] = []   // send times of the requests in flight, oldest first
}

var conns: [Connection] = []
for _ in 0..<connections {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = port.bigEndian
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let ok = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    if ok != 0 { fail("connect: \(String(cString: strerror(errno)))") }
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    conns.append(Connection(fd: fd))
}

// A fixed seed: the same request mix for both servers.
var mix = RandomSource(seed: 0x5EED)
var sent = 0, done = 0
var latencies: [UInt64] = []
latencies.reserveCapacity(total)
var scratch: [UInt8] = []

@MainActor func send(_ i: Int) {
    scratch.removeAll(keepingCapacity: true)
    let now = nowNanos()
    var k = 0
    while k < pipeline && sent < total {
        request(&mix, into: &scratch)
        conns[i].sentAt.append(now)
        sent += 1
        k += 1
    }
    guard !scratch.isEmpty else { return }
    var off = 0
    while off < scratch.count {
        let w = scratch.withUnsafeBytes { write(conns[i].fd, $0.baseAddress! + off, $0.count - off) }
        if w <= 0 { fail("write: \(String(cString: strerror(errno)))") }
        off += w
    }
}

let start = nowNanos()
for i in 0..<connections { send(i) }
var polled = conns.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
var readBuffer = [UInt8](repeating: 0, count: 1 << 16)
while done < total {
    let n = poll(&polled, nfds_t(polled.count), 1000)
    if n < 0 { if errno == EINTR { continue }; fail("poll") }
    for i in polled.indices where polled[i].revents != 0 {
        polled[i].revents = 0
        let r = readBuffer.withUnsafeMutableBytes { read(conns[i].fd, $0.baseAddress!, $0.count) }
        if r <= 0 { fail("connection closed by the server") }
        conns[i].input += readBuffer[0..<r]
        var consumed = 0
        let replies = completeReplies(conns[i].input, from: &consumed)
        conns[i].input.removeFirst(consumed)
        guard replies > 0 else { continue }
        let now = nowNanos()
        for t in conns[i].sentAt.prefix(replies) { latencies.append(now - t) }
        conns[i].sentAt.removeFirst(replies)
        done += replies
        if conns[i].sentAt.isEmpty { send(i) }
    }
}
let seconds = Double(nowNanos() - start) / 1e9
latencies.sort()
@MainActor func percentile(_ p: Double) -> Double {
    Double(latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]) / 1e6
}
print("rps=\(Int(Double(done) / seconds)) p50=\(percentile(0.5)) p99=\(percentile(0.99)) p999=\(percentile(0.999))")
