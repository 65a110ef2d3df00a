import Foundation
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import Synchronization
import RESP
import Storage

/// A replica's link to its primary, on a thread of its own: connect, the handshake (PING,
/// AUTH, REPLCONF, PSYNC), the RDB of a full resynchronization when the primary asks for one,
/// then the stream: each command goes through `execute` as a client's would (its context has
/// `fromPrimary`), and its bytes, as they came, go on to this server's backlog and replicas
/// (ReplicaRole.appliedFromPrimary). REPLCONF ACK goes back every second and when the
/// primary's GETACK asks. A link that drops is tried again every second, as Redis's cron does.
///
/// A thread with a blocking socket rather than a SwiftNIO channel: loading an RDB and applying
/// commands under shard locks must not hold an event loop, and the stream's order is then
/// simply the thread's order.
final class PrimaryLink: @unchecked Sendable {
    let engine: Engine
    let host: String
    let port: Int
    private let stopped = Atomic<Bool>(false)
    /// The socket, shut down from other threads (REPLICAOF, CLIENT KILL) to wake the link.
    private let socket = Locked<Int32>(-1)
    /// Held while one command of the stream is applied and passed on: a snapshot taken with
    /// it (tryLock, never waited for) has a data set and an offset that agree.
    let applyLock = ShardLock()

    // The link's thread only.
    private var fd: Int32 = -1
    private var input = ByteBuffer()
    private var lastRead: Int64 = 0
    private var lastAck: Int64 = 0
    /// The database the stream's commands are in: the RDB's repl-stream-db after a full
    /// sync, kept across a dropped link (the primary sends no SELECT on +CONTINUE).
    private var streamDb: Int
    /// A transaction's bytes, passed on in one piece once its EXEC has run (as Redis: a
    /// replica's offset never stops inside MULTI).
    private var pendingTransaction: [UInt8] = []

    /// The stream's database as of the last command applied (read under `applyLock`).
    var currentDb: Int { streamDb }

    init(engine: Engine, host: String, port: Int, streamDb: Int) {
        self.engine = engine
        self.host = host
        self.port = port
        self.streamDb = streamDb
    }

    struct LinkError: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "larder-replica-link"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Ends the link: the thread sees it at its next wake-up (the socket's shutdown wakes it).
    func stop() {
        stopped.store(true, ordering: .relaxed)
        dropConnection()
    }

    func dropConnection() {
        socket.withLock { if $0 >= 0 { shutdown($0, Int32(SHUT_RDWR)) } }
    }

    private var isStopped: Bool { stopped.load(ordering: .relaxed) }

    private func run() {
        while !isStopped {
            engine.setLinkState(.connecting, of: self)
            do {
                try connect()
                try handshake()
                try stream()
            } catch let e as LinkError {
                if !isStopped { engine.log(e.message) }
            } catch {
                if !isStopped { engine.log("MASTER <-> REPLICA sync failed: \(error)") }
            }
            closeSocket()
            guard !isStopped else { break }
            engine.setLinkState(.connect, of: self)
            for _ in 0..<10 where !isStopped { usleep(100_000) }
        }
    }

    // MARK: connection

    private func connect() throws {
        engine.log("Connecting to MASTER \(host):\(port)")
        // tls-replication: the server layer makes the TLS connection and hands the link a
        // socket of plain bytes.
        if engine.config.bool("tls-replication"), let hooks = engine.tlsHooks.withLock({ $0 }) {
            let timeoutMs = min(Int(Int32.max / 1000), engine.config.int("repl-timeout")) * 1000
            do { adopt(try hooks.dial(host, port, timeoutMs)) } catch {
                throw LinkError("Unable to connect to MASTER: \(error)")
            }
            return
        }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>? = nil
        guard getaddrinfo(host, String(port), &hints, &found) == 0, let first = found else {
            throw LinkError("Unable to connect to MASTER: can't resolve \(host)")
        }
        defer { freeaddrinfo(found) }
        var failure: Int32 = 0
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        let timeoutMs = Int32(min(Int(Int32.max / 1000), engine.config.int("repl-timeout")) * 1000)
        while let a = candidate, !isStopped {
            candidate = a.pointee.ai_next
            let s = Glibc.socket(a.pointee.ai_family, a.pointee.ai_socktype, a.pointee.ai_protocol)
            guard s >= 0 else { failure = errno; continue }
            // Non-blocking connect, so that repl-timeout bounds it.
            let flags = fcntl(s, F_GETFL)
            _ = fcntl(s, F_SETFL, flags | O_NONBLOCK)
            var ok = Glibc.connect(s, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0
            if !ok && errno == EINPROGRESS {
                var p = pollfd(fd: s, events: Int16(POLLOUT), revents: 0)
                if poll(&p, 1, timeoutMs) == 1 {
                    var err: Int32 = 0
                    var len = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len)
                    ok = err == 0
                    if !ok { errno = err }
                } else {
                    errno = ETIMEDOUT
                }
            }
            guard ok else {
                failure = errno
                Glibc.close(s)
                continue
            }
            _ = fcntl(s, F_SETFL, flags)
            var one: Int32 = 1
            setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            adopt(s)
            return
        }
        throw LinkError("Error condition on socket for SYNC: \(String(cString: strerror(failure)))")
    }

    /// The connected socket becomes the link's.
    private func adopt(_ s: Int32) {
        fd = s
        socket.withLock { $0 = s }
        input.clear()
        lastRead = unixMillis()
        engine.log("MASTER <-> REPLICA sync started")
    }

    private func closeSocket() {
        socket.withLock { s in
            if s >= 0 { Glibc.close(s) }
            s = -1
        }
        fd = -1
    }

    /// Waits up to `timeoutMs` for bytes and appends them to `input`; false when none came.
    /// Throws when the connection closed or failed.
    private func fill(timeoutMs: Int32) throws -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&p, 1, timeoutMs)
        if ready < 0 && errno != EINTR { throw LinkError("Connection with master lost: \(String(cString: strerror(errno)))") }
        guard ready > 0 else { return false }
        var got = 0
        let fd = self.fd
        input.writeWithUnsafeMutableBytes(minimumWritableBytes: 1 << 16) { buffer in
            got = recv(fd, buffer.baseAddress, buffer.count, 0)
            return max(0, got)
        }
        if got == 0 { throw LinkError("Connection with master lost.") }
        if got < 0 {
            if errno == EINTR || errno == EAGAIN { return false }
            throw LinkError("Connection with master lost: \(String(cString: strerror(errno)))")
        }
        lastRead = unixMillis()
        engine.stats.add(engine.stats.replInputBytes, got)
        engine.primaryIO(at: lastRead)
        return true
    }

    private var timeoutMs: Int64 { Int64(engine.config.int("repl-timeout")) * 1000 }

    /// Reads more, or throws `message` once repl-timeout passed without a byte.
    private func fillOrTimeOut(_ message: String) throws {
        if try !fill(timeoutMs: 100) {
            if isStopped { throw LinkError("") }
            if unixMillis() - lastRead > timeoutMs { throw LinkError(message) }
        }
    }

    /// One line of a reply, without its CRLF.
    private func readLine() throws -> String {
        while true {
            if let nl = input.readableBytesView.firstIndex(of: 10) {
                let length = nl - input.readerIndex
                var line = input.readString(length: length)!
                input.moveReaderIndex(forwardBy: 1)
                if line.hasSuffix("\r") { line.removeLast() }
                return line
            }
            try fillOrTimeOut("Timeout connecting to the MASTER...")
        }
    }

    private func send(_ words: [String]) throws {
        var bytes: [UInt8] = []
        CommandEncoder.append(words.map { Array($0.utf8) }, into: &bytes)
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw LinkError("Connection with master lost: \(String(cString: strerror(errno)))")
            }
            sent += n
        }
    }

    // MARK: handshake

    private func handshake() throws {
        engine.setLinkState(.handshake, of: self)
        try send(["PING"])
        let pong = try readLine()
        // An error other than "authentication needed" means this is no primary for us.
        if pong.hasPrefix("-") && !pong.hasPrefix("-NOAUTH") && !pong.hasPrefix("-NOPERM")
            && !pong.hasPrefix("-ERR operation not permitted") {
            throw LinkError("Error reply to PING from master: '\(pong)'")
        }
        engine.log("Master replied to PING, replication can continue...")
        let password = engine.config.get("masterauth")
        if !password.isEmpty {
            let user = engine.config.get("masteruser")
            try send(user.isEmpty ? ["AUTH", password] : ["AUTH", user, password])
            let reply = try readLine()
            if reply.hasPrefix("-") { throw LinkError("Unable to AUTH to MASTER: \(reply)") }
        }
        let announcedPort = engine.config.int("replica-announce-port")
        try send(["REPLCONF", "listening-port", String(announcedPort != 0 ? announcedPort : engine.tcpPort)])
        let portReply = try readLine()
        if portReply.hasPrefix("-") { engine.log("(Non critical) Master does not understand REPLCONF listening-port: \(portReply)") }
        let ip = engine.config.get("replica-announce-ip")
        if !ip.isEmpty {
            try send(["REPLCONF", "ip-address", ip])
            let ipReply = try readLine()
            if ipReply.hasPrefix("-") { engine.log("(Non critical) Master does not understand REPLCONF ip-address: \(ipReply)") }
        }
        try send(["REPLCONF", "capa", "eof", "capa", "psync2"])
        let capaReply = try readLine()
        if capaReply.hasPrefix("-") { engine.log("(Non critical) Master does not understand REPLCONF capa: \(capaReply)") }

        let (replid, offset) = engine.psyncRequest()
        if replid != "?" { engine.log("Trying a partial resynchronization (request \(replid):\(offset)).") }
        try send(["PSYNC", replid, String(offset)])
        var reply = ""
        // The primary may send newlines while it gets ready.
        while reply.isEmpty { reply = try readLine() }
        let words = reply.split(separator: " ").map(String.init)
        if words[0] == "+FULLRESYNC" {
            guard words.count >= 3, let start = Int64(words[2]) else {
                throw LinkError("Master replied with wrong +FULLRESYNC syntax.")
            }
            engine.log("Full resync from master: \(words[1]):\(start)")
            try receiveRDB(replid: words[1], offset: start)
        } else if words[0] == "+CONTINUE" {
            engine.log("Successful partial resynchronization with master.")
            if words.count > 1 { engine.log("Master replication ID changed to \(words[1])") }
            engine.continuedWithPrimary(newID: words.count > 1 ? words[1] : nil, by: self)
        } else if reply.hasPrefix("-NOMASTERLINK") || reply.hasPrefix("-LOADING") {
            throw LinkError("Master is currently unable to PSYNC but should be in the future: \(reply)")
        } else {
            throw LinkError("Unexpected reply to PSYNC from master: \(reply)")
        }
    }

    /// The RDB of a full resynchronization, `$<length>` or the diskless `$EOF:<mark>` form,
    /// written to a temporary file, loaded, then kept as this server's dbfilename.
    private func receiveRDB(replid: String, offset: Int64) throws {
        engine.setLinkState(.sync, of: self)
        var header = ""
        while header.isEmpty { header = try readLine() }
        guard header.hasPrefix("$") else {
            throw LinkError("Bad protocol from MASTER, the first byte is not '$' (we received '\(header)'), are you sure the host and port are right?")
        }
        var mark: [UInt8]? = nil
        var remaining: Int64 = 0
        if header.hasPrefix("$EOF:") {
            mark = Array(header.utf8.dropFirst(5))
            guard mark!.count == 40 else { throw LinkError("Bad EOF mark from MASTER: '\(header)'") }
            engine.syncProgress(total: -1, read: 0)
            engine.log("MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk")
        } else {
            guard let n = Int64(header.dropFirst()), n >= 0 else { throw LinkError("Bad RDB length from MASTER: '\(header)'") }
            remaining = n
            engine.syncProgress(total: n, read: 0)
            engine.log("MASTER <-> REPLICA sync: receiving \(n) bytes from master to disk")
        }
        let path = "temp-\(unixMillis() / 1000)-\(getpid()).rdb"
        let file = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
        guard file >= 0 else {
            throw LinkError("Opening the temp file needed for MASTER <-> REPLICA synchronization: \(String(cString: strerror(errno)))")
        }
        var written: Int64 = 0
        var tail: [UInt8] = []
        do {
            defer { Glibc.close(file) }
            while mark != nil || remaining > 0 {
                if input.readableBytes == 0 {
                    try fillOrTimeOut("Timeout receiving bulk data from MASTER... If the problem persists try to set the 'repl-timeout' parameter in redis.conf to a larger value.")
                    continue
                }
                let take = mark == nil ? Int(min(Int64(input.readableBytes), remaining)) : input.readableBytes
                let chunk = input.readBytes(length: take)!
                // Reads append at the writer index: without this the buffer grew to the RDB's size.
                input.discardReadBytes()
                guard chunk.withUnsafeBytes({ write(file, $0.baseAddress, take) }) == take else {
                    throw LinkError("Write error or short write writing to the DB dumped from the MASTER: \(String(cString: strerror(errno)))")
                }
                written += Int64(take)
                remaining -= Int64(take)
                engine.syncProgress(total: nil, read: written)
                if let mark {
                    tail = Array((tail + chunk.suffix(40)).suffix(40))
                    if tail == mark {
                        // The mark is not part of the file.
                        guard ftruncate(file, off_t(written - 40)) == 0 else {
                            throw LinkError("Error truncating the RDB file received from the master for SYNC: \(String(cString: strerror(errno)))")
                        }
                        break
                    }
                }
            }
        } catch {
            unlink(path)
            throw error
        }
        // The buffer may have grown while the primary prepared the RDB: start the stream small.
        if input.capacity > 1 << 20 {
            var fresh = ByteBuffer()
            fresh.writeBuffer(&input)
            input = fresh
        }
        engine.log("MASTER <-> REPLICA sync: Flushing old data, loading DB in memory")
        do {
            streamDb = try engine.loadFromPrimary(path: path, replid: replid, offset: offset, by: self)
        } catch {
            unlink(path)
            throw LinkError("Failed trying to load the MASTER synchronization DB from disk: \(error)")
        }
        if rename(path, engine.rdbPath) != 0 {
            engine.log("Failed trying to rename the temp DB into \(engine.rdbPath) in MASTER <-> REPLICA synchronization: \(String(cString: strerror(errno)))")
            unlink(path)
        }
    }

    // MARK: the stream

    private func stream() throws {
        let client = Client(id: engine.clients.newID(), address: "\(host):\(port)", localAddress: localAddress(), fd: Int(fd),
                            now: unixMillis(), authenticated: true)
        client.markPrimary()
        client.setCloser { [weak self] in self?.dropConnection() }
        engine.clients.add(client)
        defer { engine.clients.remove(client) }
        var ctx = CommandContext(engine: engine, client: client, out: RESPWriter(buffer: ByteBuffer()))
        ctx.fromPrimary = true
        ctx.noBlock = true
        ctx.dbIndex = streamDb
        pendingTransaction = []
        engine.setLinkState(.connected, of: self)
        engine.log("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization or finished the full one; streaming")
        try sendAck()
        let reader = RESPReader(limits: RESPLimits())
        while !isStopped {
            var applied = 0
            parsing: while input.readableBytes > 0 {
                switch reader.parse(input, into: &ctx.args) {
                case .command(let consumed):
                    try apply(&ctx, consumed: consumed)
                    applied += 1
                case .skip(let consumed):
                    input.moveReaderIndex(forwardBy: consumed)
                case .incomplete:
                    break parsing
                case .error(let message):
                    throw LinkError("Protocol error from MASTER: \(message)")
                }
            }
            if applied > 0 { engine.flushCounters(&ctx) }
            input.discardReadBytes()
            engine.servePendingFullSyncs(streamDb: ctx.dbIndex, by: self)
            if unixMillis() - lastAck >= 1000 { try sendAck() }
            try fillOrTimeOut("MASTER timeout: no data nor PING received...")
        }
    }

    /// Runs one command of the stream, then passes its bytes on (a transaction's when its
    /// EXEC has run). A command CLIENT PAUSE or a busy script holds waits, as Redis stops
    /// reading its primary meanwhile.
    private func apply(_ ctx: inout CommandContext, consumed: Int) throws {
        applyLock.lock()
        defer { applyLock.unlock() }
        repeat {
            ctx.pausedUntil = nil
            ctx.out.buffer.clear()
            engine.execute(&ctx)
            if let until = ctx.pausedUntil {
                if isStopped { throw LinkError("") }
                usleep(useconds_t(max(1, min(10, until - unixMillis())) * 1000))
            }
        } while ctx.pausedUntil != nil
        streamDb = ctx.dbIndex
        let getack = ctx.argc >= 2 && ctx.args.matches(0, "replconf") && ctx.args.matches(1, "getack")
        input.withUnsafeReadableBytes { raw in
            let bytes = UnsafeRawBufferPointer(rebasing: raw[..<consumed])
            if ctx.session.inMulti {
                pendingTransaction.append(contentsOf: bytes)
            } else if pendingTransaction.isEmpty {
                engine.appliedFromPrimary(bytes, by: self)
            } else {
                pendingTransaction.append(contentsOf: bytes)
                pendingTransaction.withUnsafeBytes { engine.appliedFromPrimary($0, by: self) }
                pendingTransaction = []
            }
        }
        input.moveReaderIndex(forwardBy: consumed)
        // GETACK is answered with the offset before it, as Redis's.
        if getack { try sendAck(excluding: consumed) }
    }

    private func sendAck(excluding: Int = 0) throws {
        let offset = engine.replicationOffset - Int64(excluding)
        try send(["REPLCONF", "ACK", String(offset)])
        lastAck = unixMillis()
    }

    private func localAddress() -> String {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) == 0 }
        }
        guard ok, storage.ss_family == sa_family_t(AF_INET) else { return "" }
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                var a = sin.pointee.sin_addr
                var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
                inet_ntop(AF_INET, &a, &text, socklen_t(INET_ADDRSTRLEN))
                return "\(String(cString: text)):\(UInt16(bigEndian: sin.pointee.sin_port))"
            }
        }
    }
}

extension Engine {
    /// A byte came from the primary (INFO's master_last_io_seconds_ago).
    func primaryIO(at now: Int64) {
        repl.lock.withLock { repl.lastIO = now }
    }

    /// A full sync's progress for INFO; `total` nil leaves it as it was.
    func syncProgress(total: Int64?, read: Int64) {
        repl.lock.withLock {
            if let total { repl.syncTotal = total }
            repl.syncRead = read
        }
    }
}
