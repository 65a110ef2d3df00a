import NIOCore
import Synchronization
import Storage

public enum ReplyMode: Sendable { case on, off, skip }

/// One connection's state. Its own event loop changes it; CLIENT LIST and CLIENT KILL on other
/// connections read it, so the fields they read sit behind `info`'s lock.
public final class Client: Sendable {
    public let id: Int
    public let address: String        // "127.0.0.1:51234"
    public let localAddress: String
    public let createdAt: Int64       // ms
    public let fd: Int

    public struct Info: Sendable {
        public var name = ""
        public var db = 0
        public var resp = 2
        public var lastCommand = "NULL"
        public var lastInteraction: Int64 = 0
        public var noEvict = false
        public var libName = ""
        public var libVersion = ""
        public var closing = false
        public var sub = 0, psub = 0, ssub = 0
        public var multi = -1
        public var user = "default"
    }

    public let info: Locked<Info>
    /// What CLIENT LIST counts for a connection's own structures besides its buffers.
    static let baseMemory = 1024
    /// Bytes of unparsed input (a partial command, or pipelined ones behind it) and the room
    /// left in the buffer holding them, as the connection leaves them after each read: CLIENT
    /// LIST's qbuf and qbuf-free.
    public let inputBytes = Atomic<Int>(0)
    public let inputFree = Atomic<Int>(0)
    /// Bytes of replies handed to the socket and not yet sent, and in how many writes (CLIENT
    /// LIST's omem and oll; Redis's reply list nodes are Larder's pending writes). Counted
    /// where a limit needs them: a client of a class with an output-buffer limit (pub/sub,
    /// replicas by default), or every client while `maxmemory-clients` is set.
    public let outputBytes = Atomic<Int>(0)
    public let pendingWrites = Atomic<Int>(0)
    /// The arguments a blocked command holds while it waits (argv-mem), and the arguments of
    /// the commands queued since MULTI with a pointer each (multi-mem), as Redis sums them.
    public let argvBytes = Atomic<Int>(0)
    public let multiBytes = Atomic<Int>(0)
    /// What this client counts for in Engine.clientMemory (client eviction).
    let countedMemory = Atomic<Int>(0)
    /// Read before every command: an atomic, not behind the info lock.
    public let authenticated: Atomic<Bool>
    /// Closes the connection; set by the server, called by CLIENT KILL and QUIT.
    let closer: Locked<(@Sendable () -> Void)?>

    public init(id: Int, address: String, localAddress: String, fd: Int, now: Int64, authenticated: Bool) {
        self.id = id
        self.address = address
        self.localAddress = localAddress
        self.fd = fd
        self.createdAt = now
        var i = Info()
        i.lastInteraction = now
        info = Locked(i)
        self.authenticated = Atomic(authenticated)
        closer = Locked(nil)
    }

    /// Where messages pushed to this client at any time go (invalidations); set by the server.
    private let sink = Locked<(@Sendable (ByteBuffer) -> Void)?>(nil)
    public func setPushSink(_ f: (@Sendable (ByteBuffer) -> Void)?) { sink.withLock { $0 = f } }
    public var pushSink: (@Sendable (ByteBuffer) -> Void)? { sink.withLock { $0 } }

    public func setCloser(_ f: (@Sendable () -> Void)?) { closer.withLock { $0 = f } }

    public func close() {
        info.withLock { $0.closing = true }
        let f = closer.withLock { $0 }
        f?()
    }

    public var isClosing: Bool { info.withLock { $0.closing } }
    /// Set once the connection became a replica (SYNC, PSYNC). Read on every write to the
    /// socket (the output-buffer limit's class): an atomic, not a field behind the info lock,
    /// which cost a lock and unlock per reply.
    private let replicaFlag = Atomic<Bool>(false)
    public var isReplica: Bool { replicaFlag.load(ordering: .relaxed) }

    public func markReplica() { replicaFlag.store(true, ordering: .relaxed) }

    /// The connection to this server's primary (its stream applied here): CLIENT LIST's flag
    /// `M`, type master.
    private let primaryFlag = Atomic<Bool>(false)
    public var isPrimary: Bool { primaryFlag.load(ordering: .relaxed) }
    public func markPrimary() { primaryFlag.store(true, ordering: .relaxed) }

    /// Waiting in a blocking command or held by CLIENT PAUSE: CLIENT LIST's flag `b`.
    private let blockedFlag = Atomic<Bool>(false)
    public func setBlocked(_ on: Bool) { blockedFlag.store(on, ordering: .relaxed) }

    /// The class CLIENT LIST TYPE and CLIENT KILL TYPE filter on: normal, slave or pubsub.
    public var typeName: String {
        let i = info.withLock { $0 }
        return isReplica ? "slave" : isPrimary ? "master" : (i.sub + i.psub + i.ssub > 0 ? "pubsub" : "normal")
    }

    /// What the client running CLIENT LIST / INFO holds itself: the command being run is
    /// still in its input and its arguments are live, as on redis-server.
    public struct Running: Sendable {
        var commandBytes: Int
        var argumentBytes: Int
        var replyBytes: Int
    }

    /// The line CLIENT LIST and CLIENT INFO print, with Redis 7.0's fields. `running` is given
    /// for the client asking.
    public func listLine(now: Int64, running: Running? = nil) -> String {
        let i = info.withLock { $0 }
        let age = (now - createdAt) / 1000
        let idle = (now - i.lastInteraction) / 1000
        let flags = isReplica ? "S" : isPrimary ? "M" : i.sub + i.psub + i.ssub > 0 ? "P"
            : blockedFlag.load(ordering: .relaxed) ? "b" : (i.multi >= 0 ? "x" : "N")
        let qbuf = (running?.commandBytes ?? 0) + inputBytes.load(ordering: .relaxed)
        let qbufFree = inputFree.load(ordering: .relaxed)
        let argv = running?.argumentBytes ?? argvBytes.load(ordering: .relaxed)
        let multiMem = multiBytes.load(ordering: .relaxed)
        let obl = running?.replyBytes ?? 0
        let omem = outputBytes.load(ordering: .relaxed)
        let oll = pendingWrites.load(ordering: .relaxed)
        let total = Self.baseMemory + qbuf + qbufFree + argv + multiMem + obl + omem
        return "id=\(id) addr=\(address) laddr=\(localAddress) fd=\(fd) name=\(i.name) age=\(age) idle=\(idle) flags=\(flags) db=\(i.db) sub=\(i.sub) psub=\(i.psub) ssub=\(i.ssub) multi=\(i.multi) qbuf=\(qbuf) qbuf-free=\(qbufFree) argv-mem=\(argv) multi-mem=\(multiMem) rbs=1024 rbp=0 obl=\(obl) oll=\(oll) omem=\(omem) tot-mem=\(total) events=\(omem > 0 ? "rw" : "r") cmd=\(i.lastCommand) user=\(i.user) redir=-1 resp=\(i.resp)"
    }
}

/// Every connected client, for CLIENT LIST / KILL / ID and INFO clients.
public final class ClientRegistry: Sendable {
    private let clients = Locked<[Int: Client]>([:])
    private let nextID = Atomic<Int>(1)

    public init() {}

    public func newID() -> Int { nextID.wrappingAdd(1, ordering: .relaxed).oldValue }

    public func add(_ c: Client) { clients.withLock { $0[c.id] = c } }
    public func remove(_ c: Client) { clients.withLock { _ = $0.removeValue(forKey: c.id) } }
    public var count: Int { clients.withLock { $0.count } }
    public var all: [Client] { clients.withLock { Array($0.values) }.sorted { $0.id < $1.id } }
    public func get(_ id: Int) -> Client? { clients.withLock { $0[id] } }
}
