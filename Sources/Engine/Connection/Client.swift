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
    /// Bytes of unparsed input and of unsent replies the connection holds, kept up to date
    /// while `maxmemory-clients` or an output limit needs them (CLIENT LIST's qbuf / omem).
    public let inputBytes = Atomic<Int>(0)
    public let outputBytes = Atomic<Int>(0)
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

    /// The line CLIENT LIST and CLIENT INFO print, with Redis 7.0's fields.
    public func listLine(now: Int64) -> String {
        let i = info.withLock { $0 }
        let age = (now - createdAt) / 1000
        let idle = (now - i.lastInteraction) / 1000
        let flags = isReplica ? "S" : isPrimary ? "M" : i.sub + i.psub + i.ssub > 0 ? "P"
            : blockedFlag.load(ordering: .relaxed) ? "b" : (i.multi >= 0 ? "x" : "N")
        return "id=\(id) addr=\(address) laddr=\(localAddress) fd=\(fd) name=\(i.name) age=\(age) idle=\(idle) flags=\(flags) db=\(i.db) sub=\(i.sub) psub=\(i.psub) ssub=\(i.ssub) multi=\(i.multi) qbuf=\(inputBytes.load(ordering: .relaxed)) qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=\(outputBytes.load(ordering: .relaxed)) tot-mem=\(Self.baseMemory + inputBytes.load(ordering: .relaxed) + outputBytes.load(ordering: .relaxed)) events=r cmd=\(i.lastCommand) user=\(i.user) redir=-1 resp=\(i.resp)"
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
