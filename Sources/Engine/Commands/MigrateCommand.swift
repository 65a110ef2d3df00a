#if canImport(Glibc)
import Glibc
#endif
import Persistence
import RESP
import Storage

/// MIGRATE and RESTORE-ASKING: keys moved to another server (a cluster's resharding moves a
/// slot's keys with them) as DUMP payloads the target RESTOREs, then deleted here.
///
/// MIGRATE waits for the target while it holds its keys' shards, as Redis's blocks its server:
/// the keys cannot change between being sent and being deleted. The wait is bounded by the
/// command's timeout, for the connection and for each reply.
enum MigrateCommand {
    static let specs: [CommandSpec] = [
        CommandSpec("migrate", arity: -6, flags: [.write, .movableKeys], keys: (3, 3, 1), group: "generic",
                    summary: "Atomically transfers a key from one Redis instance to another.",
                    complexity: "This command actually executes a DUMP+DEL in the source instance, and a RESTORE in the target instance.",
                    acl: ["dangerous"], keyFinder: keys, handler: migrate),
        CommandSpec("restore-asking", arity: -4, flags: [.write, .denyoom, .asking], keys: (1, 1, 1), group: "server",
                    summary: "An internal command for migrating keys in a cluster.",
                    complexity: "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value",
                    acl: ["keyspace", "dangerous"], handler: DumpCommands.restore),
    ]

    /// The key at 3, or (with an empty one) those after KEYS, as Redis's migrateGetKeys.
    @Sendable static func keys(_ args: CommandArguments) -> [Int] {
        if args.count > 6 {
            for i in 6..<args.count where args.matches(i, "keys") {
                return args[3].isEmpty ? Array((i + 1)..<args.count) : []
            }
        }
        return [3]
    }

    /// MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password | AUTH2 username password] [KEYS key [key ...]]
    static func migrate(_ c: inout CommandContext) {
        var copy = false, replace = false
        var auth: [[UInt8]] = []
        var keyIndexes = [3]
        var j = 6
        while j < c.argc {
            let more = c.argc - j - 1
            if c.args.matches(j, "copy") {
                copy = true
            } else if c.args.matches(j, "replace") {
                replace = true
            } else if c.args.matches(j, "auth") && more >= 1 {
                auth = [c.args.owned(j + 1)]
                j += 1
            } else if c.args.matches(j, "auth2") && more >= 2 {
                auth = [c.args.owned(j + 1), c.args.owned(j + 2)]
                j += 2
            } else if c.args.matches(j, "keys") {
                guard c.args[3].isEmpty else {
                    c.error("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string")
                    return
                }
                keyIndexes = Array((j + 1)..<c.argc)
                break
            } else {
                c.error(Errors.syntax)
                return
            }
            j += 1
        }
        // The port is read as C's atoi reads it, as Redis does (a bad one fails to connect).
        let port = Int(String(c.args.string(2).prefix { $0.isNumber }).prefix(9)) ?? 0
        guard let timeout0 = c.integer(5), let db = c.integer(4) else { return }
        var timeout = timeout0
        if timeout <= 0 { timeout = 1000 }
        // The keys that exist, with their payloads and remaining times to live.
        var moving: [(index: Int, payload: [UInt8], ttl: Int64)] = []
        let compress = c.engine.config.bool("rdbcompression")
        for i in keyIndexes {
            let shard = c.shard(i)
            guard let slot = shard.find(c.args[i], now: c.lookupNow) else { continue }
            let at = shard.expireAt(slot: slot)
            let ttl: Int64 = at == 0 ? 0 : max(1, at - c.now)
            moving.append((i, DumpPayload.make(shard.entry(at: slot).value, compress: compress), ttl))
        }
        guard !moving.isEmpty else {
            c.out.simple("NOKEY")
            return
        }
        var request: [UInt8] = []
        if auth.count == 1 { CommandEncoder.append([Array("AUTH".utf8), auth[0]], into: &request) }
        if auth.count == 2 { CommandEncoder.append([Array("AUTH".utf8), auth[0], auth[1]], into: &request) }
        CommandEncoder.append([Verb.select, Verb.number(db)], into: &request)
        let restore = Array((c.engine.cluster != nil ? "RESTORE-ASKING" : "RESTORE").utf8)
        for m in moving {
            var words = [restore, c.args.owned(m.index), Verb.number(m.ttl), m.payload]
            if replace { words.append(Array("REPLACE".utf8)) }
            CommandEncoder.append(words, into: &request)
        }
        let host = c.args.string(1)
        let replies: [String]
        do {
            replies = try exchange(host: host, port: port, timeoutMs: timeout, request: request,
                                   replies: auth.isEmpty ? 1 + moving.count : 2 + moving.count)
        } catch {
            c.error("IOERR error or timeout \(error.step)")
            return
        }
        // AUTH and SELECT first: an error there moves nothing.
        for r in replies.prefix(auth.isEmpty ? 1 : 2) where r.hasPrefix("-") {
            c.error("ERR Target instance replied with error: " + r.dropFirst())
            return
        }
        var failure: String?
        var deleted: [[UInt8]] = []
        for (m, r) in zip(moving, replies.suffix(moving.count)) {
            if r.hasPrefix("-") {
                if failure == nil { failure = String(r.dropFirst()) }
                continue
            }
            guard !copy else { continue }
            let shard = c.shard(m.index)
            if let slot = shard.find(c.args[m.index], now: c.lookupNow) {
                shard.remove(slot: slot)
                deleted.append(c.args.owned(m.index))
                c.notify(.generic, "del", m.index)
            }
        }
        if !deleted.isEmpty {
            c.dirty(deleted.count)
            c.propagateInstead([Verb.del] + deleted)
        } else {
            c.propagateNothing()
        }
        if let failure {
            c.error("ERR Target instance replied with error: " + failure)
            return
        }
        c.ok()
    }

    /// Where the exchange failed, as Redis words it: a name that does not resolve fails at
    /// connecting; a refused connection shows when the request is written (Redis connects
    /// without waiting); a reply that does not come, at reading.
    struct ExchangeError: Error {
        let step: String
        static let connecting = ExchangeError(step: "connecting to the client")
        static let writing = ExchangeError(step: "writing to target instance")
        static let reading = ExchangeError(step: "reading to target instance")
    }

    /// Sends `request` to host:port and reads `replies` one-line replies (+OK or -error, all
    /// that AUTH, SELECT and RESTORE answer), within `timeoutMs` for each step.
    static func exchange(host: String, port: Int, timeoutMs: Int, request: [UInt8], replies: Int) throws(ExchangeError) -> [String] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>? = nil
        guard getaddrinfo(host, String(port), &hints, &found) == 0, let a = found else { throw .connecting }
        defer { freeaddrinfo(found) }
        let fd = socket(a.pointee.ai_family, a.pointee.ai_socktype, a.pointee.ai_protocol)
        guard fd >= 0 else { throw .connecting }
        defer { close(fd) }
        var tv = timeval(tv_sec: timeoutMs / 1000, tv_usec: Int((timeoutMs % 1000) * 1000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        // A blocking connect honours SO_SNDTIMEO on Linux.
        guard connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0 else { throw .writing }
        var sent = 0
        while sent < request.count {
            let n = request.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw .writing }
            sent += n
        }
        var lines: [String] = []
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while lines.count < replies {
            if let end = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                var line = buffer[..<end]
                if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
                lines.append(String(decoding: line, as: UTF8.self))
                buffer.removeFirst(end + 1)
                continue
            }
            let n = recv(fd, &chunk, chunk.count, 0)
            guard n > 0 else { throw .reading }
            buffer += chunk[0..<n]
        }
        return lines
    }
}
