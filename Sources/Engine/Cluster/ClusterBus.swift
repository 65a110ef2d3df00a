import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Storage
import Synchronization

/// The cluster bus: the listener on the bus port, a link to every known node and the links other
/// nodes opened here, on one thread of its own that polls them all, as Redis's event loop does.
/// Every 100 ms the cron connects links that are down, pings (a random node every second; any
/// node whose pong is older than half the node timeout), and lets the state mark silent nodes.
///
/// Messages are read whole (their header says their length) and processed under the state's
/// lock; what they ask for (a reply, a broadcast, a link renamed or closed, a message to publish
/// here) is done after. A message that cannot be read drops its link, with a log line: a peer
/// sending garbage never stops the node.
final class ClusterBus: @unchecked Sendable {
    let engine: Engine
    let cluster: Cluster
    private let stopped = Atomic<Bool>(false)
    /// Messages from commands (PUBLISH), sent by the bus's thread; the pipe wakes its poll.
    private let outgoing = Mutex<[(bytes: [UInt8], shardOf: Int?)]>([])
    /// Effects of commands (CLUSTER FAILOVER's), done by the bus's thread like the bus's own.
    private let commandEffects = Mutex<[ClusterEffect]>([])
    /// The links as CLUSTER LINKS shows them, refreshed by the bus's cron (its own are the
    /// thread's alone); and the links dropped for passing cluster-link-sendbuf-limit.
    struct LinkView: Sendable {
        var outbound: Bool
        var node: String
        var createdAt: Int64
        var pendingOutput: Bool
        var allocated: Int
        var used: Int
    }
    let linkViews = Mutex<[LinkView]>([])
    let linksOverLimit = Atomic<Int>(0)
    private var wakeRead: Int32 = -1
    private var wakeWrite: Int32 = -1

    /// The thread's own.
    private var listeners: [Int32] = []
    private var links: [Link] = []
    private var lastCron: Int64 = 0
    private var iteration = 0

    /// Refuses more than this much from one message: the largest Redis sends is far below.
    static let maxMessage = 1 << 26

    final class Link {
        let fd: Int32
        let outbound: Bool
        var node: String?
        var input: [UInt8] = []
        var output: [UInt8] = []
        var connected: Bool
        let createdAt: Int64
        var peerIP = ""
        var localIP = ""
        var closed = false

        init(fd: Int32, outbound: Bool, node: String?, connected: Bool, now: Int64) {
            self.fd = fd
            self.outbound = outbound
            self.node = node
            self.connected = connected
            self.createdAt = now
        }
    }

    init(engine: Engine, cluster: Cluster) {
        self.engine = engine
        self.cluster = cluster
    }

    /// Listens on the bus port of every address, then starts the thread.
    func start(addresses: [String], port: Int) throws(ConfigError) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw ConfigError(message: "Could not create the cluster bus's pipe") }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        _ = fcntl(wakeRead, F_SETFL, O_NONBLOCK)
        _ = fcntl(wakeWrite, F_SETFL, O_NONBLOCK)
        for raw in addresses {
            let optional = raw.hasPrefix("-")
            let address = optional ? String(raw.dropFirst()) : raw
            do {
                listeners.append(try Self.listen(address, port))
            } catch {
                if !optional { throw ConfigError(message: "Failed listening on the cluster bus port \(port) (\(address)): \(error)") }
            }
        }
        guard !listeners.isEmpty else { throw ConfigError(message: "Failed listening on the cluster bus port \(port)") }
        let thread = Thread { [self] in run() }
        thread.name = "cluster-bus"
        thread.start()
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        wake()
    }

    private func wake() {
        var b: UInt8 = 1
        _ = write(wakeWrite, &b, 1)
    }

    /// PUBLISH / SPUBLISH from a command here: to every node, or (a shard message, with the
    /// slot) to the nodes of that slot's shard.
    func send(_ bytes: [UInt8], shardOf slot: Int? = nil) {
        outgoing.withLock { $0.append((bytes, slot)) }
        wake()
    }

    struct SocketError: Error, CustomStringConvertible {
        let description: String
    }

    static func listen(_ address: String, _ port: Int) throws -> Int32 {
        let v6 = address.contains(":")
        let fd = socket(v6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError(description: String(cString: strerror(errno))) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var ok: Int32
        if v6 {
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET6, address, &a.sin6_addr)
            ok = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        } else {
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET, address == "*" ? "0.0.0.0" : address, &a.sin_addr) == 1 else {
                close(fd)
                throw SocketError(description: "bad address \(address)")
            }
            ok = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        }
        guard ok == 0, Glibc.listen(fd, 511) == 0 else {
            let e = String(cString: strerror(errno))
            close(fd)
            throw SocketError(description: e)
        }
        return fd
    }

    /// A non-blocking connect to a node's bus port (numeric addresses, as the bus carries).
    static func connect(_ ip: String, _ port: Int) -> Int32? {
        let v6 = ip.contains(":")
        let fd = socket(v6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var r: Int32
        if v6 {
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET6, ip, &a.sin6_addr) == 1 else { close(fd); return nil }
            r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        } else {
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET, ip, &a.sin_addr) == 1 else { close(fd); return nil }
            r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        }
        if r != 0 && errno != EINPROGRESS { close(fd); return nil }
        return fd
    }

    /// The numeric address of a socket's end (its peer's or its own).
    static func address(_ fd: Int32, peer: Bool) -> String {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let r = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { peer ? getpeername(fd, $0, &len) : getsockname(fd, $0, &len) }
        }
        guard r == 0 else { return "" }
        var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        if storage.ss_family == sa_family_t(AF_INET) {
            withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in
                    var a = p.pointee.sin_addr
                    _ = inet_ntop(AF_INET, &a, &buf, socklen_t(buf.count))
                }
            }
        } else {
            withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
                    var a = p.pointee.sin6_addr
                    _ = inet_ntop(AF_INET6, &a, &buf, socklen_t(buf.count))
                }
            }
            let text = String(cString: buf)
            if text.hasPrefix("::ffff:") { return String(text.dropFirst(7)) }
            return text
        }
        return String(cString: buf)
    }

    // MARK: the thread

    private func run() {
        while !stopped.load(ordering: .relaxed) {
            var fds: [pollfd] = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            for l in listeners { fds.append(pollfd(fd: l, events: Int16(POLLIN), revents: 0)) }
            for link in links {
                var events = Int16(POLLIN)
                if !link.connected || !link.output.isEmpty { events |= Int16(POLLOUT) }
                fds.append(pollfd(fd: link.fd, events: events, revents: 0))
            }
            let now = unixMillis()
            let wait = max(0, 100 - (now - lastCron))
            _ = poll(&fds, nfds_t(fds.count), Int32(wait))
            if fds[0].revents != 0 {
                var drain = [UInt8](repeating: 0, count: 64)
                while read(wakeRead, &drain, drain.count) > 0 {}
            }
            for i in 0..<listeners.count where fds[1 + i].revents & Int16(POLLIN) != 0 { accept(listeners[i]) }
            let base = 1 + listeners.count
            let polled = Array(links.prefix(fds.count - base))
            for (i, link) in polled.enumerated() where !link.closed {
                let r = fds[base + i].revents
                if r == 0 { continue }
                if !link.connected && r & Int16(POLLOUT | POLLERR | POLLHUP) != 0 { finishConnect(link) }
                if link.closed { continue }
                if r & Int16(POLLIN | POLLHUP | POLLERR) != 0 { readFrom(link) }
                if !link.closed && link.connected && r & Int16(POLLOUT) != 0 { flush(link) }
            }
            sendOutgoing()
            let fromCommands = commandEffects.withLock { e -> [ClusterEffect] in
                defer { e.removeAll() }
                return e
            }
            apply(fromCommands, link: nil)
            if unixMillis() - lastCron >= 100 {
                lastCron = unixMillis()
                cron()
            }
            for link in links where !link.closed && link.connected && !link.output.isEmpty { flush(link) }
            links.removeAll { $0.closed }
        }
        for link in links { close(link.fd) }
        for l in listeners { close(l) }
    }

    private func accept(_ listener: Int32) {
        while true {
            let fd = Glibc.accept(listener, nil, nil)
            guard fd >= 0 else { return }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let link = Link(fd: fd, outbound: false, node: nil, connected: true, now: unixMillis())
            link.peerIP = Self.address(fd, peer: true)
            link.localIP = Self.address(fd, peer: false)
            links.append(link)
        }
    }

    private func finishConnect(_ link: Link) {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(link.fd, SOL_SOCKET, SO_ERROR, &err, &len)
        guard err == 0 else {
            drop(link, why: nil)
            return
        }
        link.connected = true
        link.peerIP = Self.address(link.fd, peer: true)
        link.localIP = Self.address(link.fd, peer: false)
        // The first message on a new link: MEET to a node being met, else PING.
        let now = unixMillis()
        let bytes: [UInt8]? = cluster.withState { st in
            guard let name = link.node, var n = st.nodes[name] else { return nil }
            let kind: ClusterMessage.Kind = n.flags.contains(.meet) ? .meet : .ping
            n.flags.remove(.meet)
            n.linked = true
            if n.pingSent == 0 { n.pingSent = now }
            st.nodes[name] = n
            st.sent[Int(kind.rawValue)] += 1
            return st.ping(kind, now: now)
        }
        if let bytes { link.output += bytes }
    }

    private func readFrom(_ link: Link) {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(link.fd, &chunk, chunk.count, 0)
            if n > 0 {
                link.input += chunk[0..<n]
                if n < chunk.count { break }
                continue
            }
            if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) {
                drop(link, why: nil)
                return
            }
            break
        }
        while !link.closed {
            guard let total = ClusterMessage.claimedLength(link.input[...]) else {
                drop(link, why: "a message without the bus's signature")
                return
            }
            if total == 0 || link.input.count < total { break }   // more to come
            guard total >= 8, total <= Self.maxMessage else {
                drop(link, why: "a message claiming \(total) bytes")
                return
            }
            let bytes = link.input[0..<total]
            let message: ClusterMessage.Message
            do {
                message = try ClusterMessage.decode(bytes)
            } catch {
                drop(link, why: "\(error)")
                return
            }
            link.input.removeFirst(total)
            handle(message, on: link)
        }
    }

    private func handle(_ message: ClusterMessage.Message, on link: Link) {
        let now = unixMillis()
        var info = ClusterLinkInfo(outbound: link.outbound, node: link.node, peerIP: link.peerIP, localIP: link.localIP)
        let effects = cluster.withState { $0.process(message, link: &info, now: now) }
        link.node = info.node
        apply(effects, link: link)
    }

    private func apply(_ effects: [ClusterEffect], link: Link?) {
        for e in effects {
            switch e {
            case .reply(let bytes):
                link?.output += bytes
            case .broadcast(let bytes):
                for l in links where l.outbound && l.connected && !l.closed { l.output += bytes }
            case .renamed(let from, let to):
                for l in links where l.node == from { l.node = to }
            case .forgotten(let name):
                for l in links where l.node == name && !l.closed { drop(l, why: nil) }
            case .dropLink:
                if let link { drop(link, why: nil) }
            case .publish(let channel, let message, let shard):
                _ = engine.pubsub.publish(channel, message, shard: shard)
            case .sendTo(let name, let bytes):
                let target = links.first { $0.outbound && $0.node == name && !$0.closed }
                    ?? links.first { $0.node == name && !$0.closed }
                target?.output += bytes
            case .log(let line):
                engine.log(line)
            case .deleteKeys(let slots):
                let n = engine.deleteKeys(inSlots: slots)
                if n > 0 { engine.log("Deleted \(n) keys of \(slots.count) slots now served by another primary.") }
            case .holdWrites(let until):
                engine.pauseWritesForFailover(until: until)
                guard until > 0 else { break }
                // A write admitted just before the pause may still be running: once every
                // shard was free after the pause, the offset the replica must reach is final.
                usleep(1000)
                engine.withAllShardsLocked {}
                let offset = UInt64(max(0, engine.replicationOffset))
                cluster.withState { $0.replOffset = offset }
            case .replyPing:
                link?.output += cluster.withState { st in
                    st.sent[Int(ClusterMessage.Kind.ping.rawValue)] += 1
                    return st.ping(.ping, now: unixMillis())
                }
            }
        }
    }

    /// Effects of a command (CLUSTER FAILOVER's), handed to the bus's thread.
    func apply(fromCommand effects: [ClusterEffect]) {
        guard !effects.isEmpty else { return }
        commandEffects.withLock { $0 += effects }
        wake()
    }

    /// cluster-link-sendbuf-limit: a link whose unsent messages pass it is dropped (a peer
    /// that stopped reading must not hold this node's memory), as Redis frees it.
    private func dropLinksOverLimit() {
        let limit = engine.config.int("cluster-link-sendbuf-limit")
        guard limit > 0 else { return }
        for link in links where !link.closed && link.output.count > limit {
            linksOverLimit.wrappingAdd(1, ordering: .relaxed)
            engine.log("Freeing cluster link(\(link.outbound ? "to" : "from") node \(link.node ?? link.peerIP), used memory: \(link.output.count)) due to exceeding send buffer memory limit.")
            drop(link, why: nil)
        }
    }

    private func flush(_ link: Link) {
        while !link.output.isEmpty {
            let n = link.output.withUnsafeBytes { Glibc.send(link.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                link.output.removeFirst(n)
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
            drop(link, why: nil)
            return
        }
    }

    private func drop(_ link: Link, why: String?) {
        guard !link.closed else { return }
        link.closed = true
        close(link.fd)
        if let why {
            engine.log("Cluster bus: dropping the link \(link.outbound ? "to" : "from") \(link.node ?? link.peerIP) after \(why)")
        }
        if link.outbound, let name = link.node {
            cluster.withState { st in st.nodes[name]?.linked = false }
        }
    }

    private func sendOutgoing() {
        let pending = outgoing.withLock { q -> [(bytes: [UInt8], shardOf: Int?)] in
            defer { q.removeAll() }
            return q
        }
        guard !pending.isEmpty else { return }
        for (bytes, slot) in pending {
            let targets: Set<String>? = slot.map { s in
                cluster.withState { st in
                    guard let owner = st.owners[s] else { return [] }
                    return Set(st.nodes.values.filter { $0.name == owner || $0.primary == owner }.map(\.name))
                }
            }
            for l in links where l.outbound && l.connected && !l.closed {
                if let targets, !targets.contains(l.node ?? "") { continue }
                l.output += bytes
            }
        }
    }

    /// Every 100 ms, as Redis's clusterCron.
    private func cron() {
        iteration += 1
        let now = unixMillis()
        cluster.reloadSettings(engine.config, port: engine.tcpPort)
        let offset = UInt64(max(0, engine.replicationOffset)), age = engine.primaryDataAge(now: now)
        cluster.withState {
            $0.replOffset = offset
            $0.primaryDataAge = age
        }
        let effects = cluster.withState { $0.tick(now: now) }
        apply(effects, link: nil)
        // Links to nodes that have none.
        let wanted = cluster.withState { st in
            st.nodes.values.filter { $0.name != st.myself && !$0.flags.contains(.noAddress) && !$0.ip.isEmpty }
                .map { ($0.name, $0.ip, $0.cport) }
        }
        for (name, ip, cport) in wanted where !links.contains(where: { $0.outbound && $0.node == name && !$0.closed }) {
            // The first ping counts from now, connected or not: a node that cannot be reached
            // at all is then found silent like one that stopped answering (as Redis queues
            // its ping on the new link at once).
            cluster.withState { st in if st.nodes[name]?.pingSent == 0 { st.nodes[name]?.pingSent = now } }
            guard let fd = Self.connect(ip, cport) else { continue }
            links.append(Link(fd: fd, outbound: true, node: name, connected: false, now: now))
        }
        // Pings: a random node every second (the one of five with the oldest pong), and any
        // node whose pong is older than half the node timeout.
        var toPing: [String] = []
        cluster.withState { st in
            let linked = Set(links.filter { $0.outbound && $0.connected && !$0.closed }.compactMap(\.node))
            if iteration % 10 == 0 {
                let candidates = st.nodes.values.filter {
                    linked.contains($0.name) && $0.pingSent == 0 && $0.flags.isDisjoint(with: [.handshake, .myself])
                }.shuffled().prefix(5)
                if let oldest = candidates.min(by: { $0.pongReceived < $1.pongReceived }) { toPing.append(oldest.name) }
            }
            for n in st.nodes.values where linked.contains(n.name) && !n.flags.contains(.handshake) {
                if n.pingSent == 0 && now - n.pongReceived > st.nodeTimeout / 2 && !toPing.contains(n.name) {
                    toPing.append(n.name)
                }
            }
        }
        for link in links where link.outbound && link.connected && !link.closed {
            guard let name = link.node else { continue }
            // A node no longer known (CLUSTER FORGET, RESET) loses its link; a link whose ping has
            // waited half the node timeout is made again.
            let stale = cluster.withState { st -> Bool in
                guard let n = st.nodes[name] else { return true }
                return n.pingSent != 0 && now - n.pingSent > st.nodeTimeout / 2 && now - link.createdAt > st.nodeTimeout
            }
            if stale {
                drop(link, why: nil)
                continue
            }
            if toPing.contains(name) {
                let bytes = cluster.withState { st -> [UInt8] in
                    if st.nodes[name]!.pingSent == 0 { st.nodes[name]!.pingSent = now }
                    st.sent[Int(ClusterMessage.Kind.ping.rawValue)] += 1
                    return st.ping(.ping, now: now)
                }
                link.output += bytes
            }
        }
        followPrimary()
        engine.redirectBlockedClients(cluster)
        let lost = cluster.withState { st in
            defer { st.lostShardSlots = [] }
            return st.lostShardSlots
        }
        if !lost.isEmpty { _ = engine.pubsub.dropShardChannels(inSlots: lost) }
        dropLinksOverLimit()
        let known = cluster.withState { st in Set(st.nodes.keys.filter { $0 != st.myself }) }
        let views = links.filter { !$0.closed && $0.connected && known.contains($0.node ?? "") }.map {
            LinkView(outbound: $0.outbound, node: $0.node!, createdAt: $0.createdAt, pendingOutput: !$0.output.isEmpty,
                     allocated: $0.output.capacity, used: $0.output.count)
        }
        linkViews.withLock { $0 = views }
        cluster.saveIfDirty { engine.log($0) }
    }

    /// The replication role follows the cluster's: a replica replicates its primary at the
    /// address the cluster knows (at start, after REPLICATE, after a failover elsewhere); a node
    /// made primary stops replicating.
    private func followPrimary() {
        let target: (String, Int)?? = cluster.withState { st in
            guard let p = st.me.primary else { return .some(nil) }
            guard let n = st.nodes[p], !n.ip.isEmpty, n.port > 0 else { return nil }   // not reachable yet
            return .some((n.ip, n.port))
        }
        guard let target else { return }
        engine.syncClusterRole(primary: target)
    }
}
