import Storage
import Synchronization

/// One node as this node knows it.
struct ClusterNode: Sendable {
    typealias Flags = ClusterMessage.NodeFlags
    var name: String
    var flags: Flags
    var ip = ""
    var port = 0
    var cport = 0
    var pport = 0
    /// cluster-announce-hostname, as the node sends it (ping extension): "" for none.
    var hostname = ""
    /// The primary's name, for a replica.
    var primary: String?
    var configEpoch: UInt64 = 0
    /// When the ping now unanswered went out (0: none pending), when the last pong came.
    var pingSent: Int64 = 0
    var pongReceived: Int64 = 0
    var failTime: Int64 = 0
    var createdAt: Int64
    var replOffset: UInt64 = 0
    /// Primaries that reported this node as failing, and when.
    var failReports: [String: Int64] = [:]
    /// Whether this node's link to it is up (CLUSTER NODES' link state).
    var linked = false

    var isPrimary: Bool { flags.contains(.master) }
    var failing: Bool { !flags.isDisjoint(with: [.pfail, .fail]) }
}

/// What a message asks of the bus once it is processed.
enum ClusterEffect: Sendable {
    /// Send on the link the message came on.
    case reply([UInt8])
    /// Send on every link to a known node.
    case broadcast([UInt8])
    /// The outbound link of a handshake node now belongs to the node's real name.
    case renamed(from: String, to: String)
    /// A node is gone: close its links.
    case forgotten(String)
    /// Drop the link the message came on.
    case dropLink
    /// Deliver a message published on another node to this node's subscribers.
    case publish(channel: [UInt8], message: [UInt8], shard: Bool)
    /// Send on the link to a node.
    case sendTo(String, [UInt8])
    /// A line for the log.
    case log(String)
    /// Delete the keys of these slots: this primary lost them to another without moving them.
    case deleteKeys(inSlots: [Int])
    /// Hold writes until then (ms; 0 lets them go) for a manual failover: once held, the
    /// replication offset the pings carry is the bus's to refresh.
    case holdWrites(until: Int64)
    /// A PING on the link the message came on, built when sent (after `holdWrites`).
    case replyPing
}

/// The link a message came on, as the state needs to know it.
struct ClusterLinkInfo: Sendable {
    var outbound: Bool
    /// The node an outbound link was opened to, or the node an inbound one is known to be from.
    var node: String?
    var peerIP: String
    var localIP: String
}

/// The cluster as this node sees it: the nodes, who serves each of the 16384 slots, the epochs,
/// and what the bus's messages change in them. Redis's rules, as its cluster specification
/// gives them: a slot goes to the primary claiming it with the greater config epoch; a node
/// unanswered for node-timeout is PFAIL here, and FAIL once a majority of primaries report it
/// (then every node is told); the cluster is ok while every slot is served by a node not FAIL
/// and this node sees a majority of the primaries.
struct ClusterState: Sendable {
    var myself: String
    var nodes: [String: ClusterNode] = [:]
    var owners = [String?](repeating: nil, count: KeySlotCount) { didSet { routingVersion &+= 1 } }
    var importing: [Int: String] = [:] { didSet { routingVersion &+= 1 } }
    var migrating: [Int: String] = [:] { didSet { routingVersion &+= 1 } }
    /// Counts changes of who serves which slot: Cluster.servedHere is rewritten when this, the
    /// state or this node's role moved since it was last written.
    var routingVersion = 0
    var routingWritten: (version: Int, ok: Bool, primary: Bool, myself: String)?
    /// Which slots this node's shard (itself, or its primary) serves, as last looked at; and
    /// the slots it lost since the bus last took them: their shard channels' subscribers are
    /// dropped, as Redis's removeChannelsInSlot.
    var shardSlotsSeen: (version: Int, shard: String)?
    var shardServes = [Bool](repeating: false, count: KeySlotCount)
    var lostShardSlots: Set<Int> = []
    var currentEpoch: UInt64 = 0
    var lastVoteEpoch: UInt64 = 0
    var ok = false
    var startedAt: Int64
    /// Nodes removed by CLUSTER FORGET, not to be added back from gossip until then.
    var forgotten: [String: Int64] = [:]
    var sent = [Int](repeating: 0, count: 11)
    var received = [Int](repeating: 0, count: 11)
    /// The configuration changed: nodes.conf is to be written.
    var dirty = false
    var nodeTimeout: Int64 = 15000
    var requireFullCoverage = true
    /// cluster-replica-no-failover: no election of this replica's own (a manual one still runs).
    var replicaNoFailover = false
    /// cluster-replica-validity-factor and repl-ping-replica-period: a replica whose data is
    /// older than the period plus factor × node timeout does not stand (factor 0: always may).
    var validityFactor: Int64 = 10
    var replPingPeriod: Int64 = 10
    /// How long ago this replica last heard from its primary (ms), from the replication link.
    var primaryDataAge: Int64 = 0
    /// cluster-migration-barrier and cluster-allow-replica-migration.
    var migrationBarrier = 1
    var allowReplicaMigration = true
    var announcedIP = ""
    /// cluster-preferred-endpoint-type: what redirects and CLUSTER SLOTS give as a node's
    /// address, as Redis's getPreferredEndpoint.
    enum Endpoint: String { case ip, hostname, unknown = "unknown-endpoint" }
    var preferredEndpoint = Endpoint.ip
    var port = 0
    var cport = 0
    var replOffset: UInt64 = 0

    // A replica's election (Redis's failover_auth_*): when it may ask for votes, whether it
    // did, the votes it has, the epoch it asked in and its rank among its primary's replicas.
    var electionAt: Int64 = 0
    var electionAsked = false
    var votes = 0
    var electionEpoch: UInt64 = 0
    var electionRank = 0
    /// A manual failover (CLUSTER FAILOVER, Redis's mf_*), on both sides until then (0: none).
    var manualFailoverUntil: Int64 = 0
    /// On the replica: the primary's offset once it held writes (-1 until it said so), and
    /// whether the replica has caught up with it (or FORCE said not to wait).
    var manualFailoverPrimaryOffset: Int64 = -1
    var manualFailoverCanStart = false
    /// On the primary: the replica it holds writes for, and pings every 100 ms.
    var manualFailoverReplica: String? = nil
    /// A primary's votes: when it last voted for a replica of each primary.
    var votedFor: [String: Int64] = [:]
    /// Primaries that had a replica once, or took over from a primary that had (Redis's
    /// MIGRATE_TO flag): only these, left without a working replica, draw one from elsewhere;
    /// and since when each has had none.
    var hadReplicas: Set<String> = []
    var orphanedSince: [String: Int64] = [:]
    /// When a reason not to stand in an election was last logged.
    var cantFailoverLoggedAt: Int64 = 0

    static let KeySlotCount = 16384

    init(myself: String, now: Int64) {
        self.myself = myself
        startedAt = now
        nodes[myself] = ClusterNode(name: myself, flags: [.myself, .master], createdAt: now)
    }

    var me: ClusterNode {
        get { nodes[myself]! }
        set { nodes[myself] = newValue }
    }

    static func randomName() -> String {
        var g = SystemRandomNumberGenerator()
        return String((0..<40).map { _ in "0123456789abcdef".randomElement(using: &g)! })
    }

    static func validName(_ s: String) -> Bool {
        s.utf8.count == 40 && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    // MARK: slots

    /// Each node's slots as ranges and counts, worked out once per change of `owners` (a pass
    /// over the 16384 slots) rather than by every reader: CLUSTER NODES, INFO, each ping's
    /// bitmap and the state's checks all read it.
    final class SlotSummary: @unchecked Sendable {   // used under the state's lock only
        var version = -1
        var ranges: [String: [(Int, Int)]] = [:]
        var counts: [String: Int] = [:]
        var assigned = 0
    }
    let summaryCache = SlotSummary()

    var summary: SlotSummary {
        let c = summaryCache
        guard c.version != routingVersion else { return c }
        c.ranges = [:]
        c.counts = [:]
        c.assigned = 0
        var s = 0
        while s < Self.KeySlotCount {
            guard let o = owners[s] else { s += 1; continue }
            var e = s
            while e + 1 < Self.KeySlotCount, let next = owners[e + 1], next == o { e += 1 }
            c.ranges[o, default: []].append((s, e))
            c.counts[o, default: 0] += e - s + 1
            c.assigned += e - s + 1
            s = e + 1
        }
        c.version = routingVersion
        return c
    }

    func serves(_ name: String) -> Bool { (summary.counts[name] ?? 0) > 0 }

    func slots(of name: String) -> [Int] {
        ranges(of: name).flatMap { Array($0.0...$0.1) }
    }

    /// Contiguous ranges of a node's slots.
    func ranges(of name: String) -> [(Int, Int)] {
        summary.ranges[name] ?? []
    }

    func bitmap(of name: String) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: ClusterMessage.slotBytes)
        for (a, z) in ranges(of: name) {
            for s in a...z { b[s >> 3] |= 1 << UInt8(s & 7) }
        }
        return b
    }

    /// The primaries serving at least one slot (the cluster's size).
    var size: Int {
        summary.counts.keys.filter { nodes[$0]?.isPrimary == true }.count
    }

    /// The node serving a key's slot for redirects: its primary's address, or nil if unbound.
    func owner(of slot: Int) -> ClusterNode? {
        owners[slot].flatMap { nodes[$0] }
    }

    // MARK: state

    mutating func updateState(now: Int64) {
        var healthy = true
        let sum = summary
        if requireFullCoverage {
            if sum.assigned < Self.KeySlotCount { healthy = false }
            for o in sum.counts.keys where nodes[o].map({ $0.flags.contains(.fail) }) ?? true { healthy = false }
        }
        let primaries = sum.counts.keys.compactMap { nodes[$0] }.filter(\.isPrimary)
        let reachable = primaries.filter { !$0.failing || $0.name == myself }.count
        if reachable < primaries.count / 2 + 1 { healthy = false }
        // A primary that just started waits a moment before serving, as Redis's does: the rest
        // of the cluster may have moved its slots on meanwhile.
        if healthy && !ok && me.isPrimary && now - startedAt < 2000 { return }
        ok = healthy
    }

    /// Notes the slots this node's shard lost since the last look (once per change).
    mutating func noteShardSlots() {
        let shard = me.primary ?? myself
        if let seen = shardSlotsSeen, seen.version == routingVersion, seen.shard == shard { return }
        shardSlotsSeen = (routingVersion, shard)
        for s in 0..<Self.KeySlotCount {
            let served = owners[s] == shard
            if shardServes[s] && !served { lostShardSlots.insert(s) }
            shardServes[s] = served
        }
    }

    // MARK: nodes

    /// A node to meet (CLUSTER MEET) or found in gossip: a handshake under a made-up name until
    /// its first pong tells the real one. Nothing if one is already under way to that address.
    @discardableResult
    mutating func startHandshake(ip: String, port: Int, cport: Int, now: Int64) -> Bool {
        guard port > 0, port < 65536, cport > 0, cport < 65536 else { return false }
        if nodes.values.contains(where: { $0.flags.contains(.handshake) && $0.ip == ip && $0.port == port && $0.cport == cport }) {
            return false
        }
        let name = Self.randomName()
        var n = ClusterNode(name: name, flags: [.handshake, .meet], createdAt: now)
        n.ip = ip
        n.port = port
        n.cport = cport
        nodes[name] = n
        return true
    }

    mutating func delete(_ name: String) {
        nodes[name] = nil
        for s in 0..<Self.KeySlotCount where owners[s] == name { owners[s] = nil }
        importing = importing.filter { $0.value != name }
        migrating = migrating.filter { $0.value != name }
        for (k, var n) in nodes where n.failReports[name] != nil {
            n.failReports[name] = nil
            nodes[k] = n
        }
        dirty = true
    }

    /// Cron: handshakes that never completed are dropped, silent nodes become PFAIL, old
    /// failure reports expire, the cluster's state is recomputed.
    mutating func tick(now: Int64) -> [ClusterEffect] {
        var effects: [ClusterEffect] = []
        let handshakeTimeout = max(nodeTimeout, 1000)
        for n in nodes.values where n.flags.contains(.handshake) && now - n.createdAt > handshakeTimeout {
            delete(n.name)
            effects.append(.forgotten(n.name))
        }
        for name in Array(nodes.keys) where name != myself {
            guard var n = nodes[name], n.flags.isDisjoint(with: [.handshake, .noAddress]) else { continue }
            n.failReports = n.failReports.filter { now - $0.value <= nodeTimeout * 2 }
            if n.pingSent != 0 && now - n.pingSent > nodeTimeout && !n.failing {
                n.flags.insert(.pfail)
                nodes[name] = n
                if let fail = markFailingIfNeeded(name, now: now) { effects.append(fail) }
                continue
            }
            nodes[name] = n
        }
        forgotten = forgotten.filter { $0.value > now }
        effects += manualFailoverCheck(now: now, cron: true)
        effects += runElection(now: now)
        effects += migrateIfNeeded(now: now)
        updateState(now: now)
        return effects
    }

    /// PFAIL here and reported by enough primaries: FAIL, and everyone is told.
    mutating func markFailingIfNeeded(_ name: String, now: Int64) -> ClusterEffect? {
        guard var n = nodes[name], n.flags.contains(.pfail), !n.flags.contains(.fail) else { return nil }
        let needed = size / 2 + 1
        let reports = n.failReports.filter { now - $0.value <= nodeTimeout * 2 }.count + (me.isPrimary ? 1 : 0)
        guard reports >= needed else { return nil }
        n.flags.remove(.pfail)
        n.flags.insert(.fail)
        n.failTime = now
        nodes[name] = n
        dirty = true
        return .broadcast(ClusterMessage.encode(header(.fail), .fail(node: name)))
    }

    /// A FAIL flag is lifted once the node answers: at once for a replica or a primary without
    /// slots, for a primary with slots only when nobody took them over meanwhile.
    mutating func clearFailureIfNeeded(_ name: String, now: Int64) {
        guard var n = nodes[name], n.flags.contains(.fail) else { return }
        let servesSlots = serves(name)
        if !n.isPrimary || !servesSlots || now - n.failTime > nodeTimeout * 2 {
            n.flags.remove(.fail)
            nodes[name] = n
            dirty = true
        }
    }

    // MARK: messages

    func header(_ kind: ClusterMessage.Kind) -> ClusterMessage.Header {
        var h = ClusterMessage.Header()
        let m = me
        let primary = m.primary.flatMap { nodes[$0] } ?? m
        h.type = kind.rawValue
        h.port = UInt16(port)
        h.cport = UInt16(cport)
        h.currentEpoch = currentEpoch
        h.configEpoch = primary.configEpoch
        h.offset = replOffset
        h.sender = myself
        h.slots = bitmap(of: primary.name)
        h.primary = m.primary ?? ""
        h.ip = announcedIP
        h.flags = m.flags
        h.stateOK = ok
        if m.isPrimary && manualFailoverUntil != 0 { h.mflags |= ClusterMessage.flagPaused }
        h.mflags |= ClusterMessage.flagExtData
        h.hostname = m.hostname
        return h
    }

    /// PING, PONG or MEET with gossip about a few other nodes (a tenth of them, at least three)
    /// and every node this node thinks is failing, as Redis picks them.
    func ping(_ kind: ClusterMessage.Kind, now: Int64) -> [UInt8] {
        var entries: [ClusterMessage.Gossip] = []
        func entry(_ n: ClusterNode) -> ClusterMessage.Gossip {
            ClusterMessage.Gossip(name: n.name, pingSent: UInt32(truncatingIfNeeded: n.pingSent / 1000),
                                  pongReceived: UInt32(truncatingIfNeeded: n.pongReceived / 1000), ip: n.ip,
                                  port: UInt16(n.port), cport: UInt16(n.cport), flags: n.flags, pport: UInt16(n.pport))
        }
        let others = nodes.values.filter {
            $0.name != myself && $0.flags.isDisjoint(with: [.handshake, .noAddress, .pfail])
                && ($0.linked || serves($0.name) || !$0.isPrimary)
        }
        let wanted = min(max(3, nodes.count / 10), max(0, nodes.count - 2))
        entries = others.shuffled().prefix(wanted).map(entry)
        for n in nodes.values where n.flags.contains(.pfail) && n.flags.isDisjoint(with: [.handshake, .noAddress]) {
            entries.append(entry(n))
        }
        return ClusterMessage.encode(header(kind), .gossip(entries))
    }

    /// A message from the bus, on `link`; what the bus must do after.
    mutating func process(_ m: ClusterMessage.Message, link: inout ClusterLinkInfo, now: Int64) -> [ClusterEffect] {
        let h = m.header
        if Int(h.type) < received.count { received[Int(h.type)] += 1 }
        guard let kind = ClusterMessage.Kind(rawValue: h.type) else { return [] }
        var effects: [ClusterEffect] = []
        let known = nodes[h.sender].map { !$0.flags.contains(.handshake) } ?? false
        if known {
            if h.currentEpoch > currentEpoch { currentEpoch = h.currentEpoch; dirty = true }
            var s = nodes[h.sender]!
            if h.configEpoch > s.configEpoch && h.primary.isEmpty { s.configEpoch = h.configEpoch; dirty = true }
            s.replOffset = h.offset
            nodes[h.sender] = s
            if !link.outbound && link.node == nil { link.node = h.sender }
            if h.sender == me.primary, h.mflags & ClusterMessage.flagPaused != 0, manualFailoverUntil != 0,
               manualFailoverPrimaryOffset == -1 {
                manualFailoverPrimaryOffset = Int64(h.offset)
                effects.append(.log("Received replication offset for paused master manual failover: \(h.offset)"))
            }
        }

        if kind == .ping || kind == .meet {
            // This node's address as its peers reach it, unless one is announced.
            if announcedIP.isEmpty && (kind == .meet || me.ip.isEmpty) && !link.localIP.isEmpty && me.ip != link.localIP {
                nodes[myself]!.ip = link.localIP
                dirty = true
            }
            if !known && kind == .meet && nodes[h.sender] == nil {
                var n = ClusterNode(name: Self.randomName(), flags: [.handshake], createdAt: now)
                n.ip = h.ip.isEmpty ? link.peerIP : h.ip
                n.port = Int(h.port)
                n.cport = Int(h.cport)
                n.pport = Int(h.pport)
                nodes[n.name] = n
                dirty = true
            }
            effects.append(.reply(ping(.pong, now: now)))
            sent[Int(ClusterMessage.Kind.pong.rawValue)] += 1
        }

        if kind == .ping || kind == .pong || kind == .meet {
            if link.outbound, let linkNode = link.node, var n = nodes[linkNode] {
                if n.flags.contains(.handshake) {
                    if known {
                        // Met a node already known under its name: the handshake was a duplicate.
                        delete(linkNode)
                        effects.append(.forgotten(linkNode))
                        return effects
                    }
                    guard Self.validName(h.sender) else { return effects + [.dropLink] }
                    nodes[linkNode] = nil
                    n.name = h.sender
                    n.flags.remove([.handshake, .meet])
                    n.flags.insert(h.primary.isEmpty ? .master : .replica)
                    nodes[h.sender] = n
                    link.node = h.sender
                    effects.append(.renamed(from: linkNode, to: h.sender))
                    dirty = true
                } else if linkNode != h.sender {
                    // The address now answers with another name: this node is elsewhere.
                    n.flags.insert(.noAddress)
                    n.ip = ""
                    n.linked = false
                    nodes[linkNode] = n
                    dirty = true
                    return effects + [.dropLink]
                }
            }
            if kind == .pong, link.outbound, let name = link.node, var n = nodes[name] {
                n.pongReceived = now
                n.pingSent = 0
                if n.flags.contains(.pfail) { n.flags.remove(.pfail); dirty = true }
                nodes[name] = n
                clearFailureIfNeeded(name, now: now)
            }
            let senderName = h.sender
            if nodes[senderName].map({ !$0.flags.contains(.handshake) }) ?? false {
                updateRole(senderName, primary: h.primary)
                // A ping without the hostname extension says the sender announces none (as Redis).
                if nodes[senderName]!.hostname != h.hostname {
                    nodes[senderName]!.hostname = h.hostname
                    dirty = true
                }
                // nofailover is the sender's to say, as it is now (it decides replicas' ranks).
                if nodes[senderName]!.flags.contains(.noFailover) != h.flags.contains(.noFailover) {
                    nodes[senderName]!.flags.formSymmetricDifference(.noFailover)
                    dirty = true
                }
                let s = nodes[senderName]!
                if s.isPrimary {
                    effects += claimSlots(senderName, epoch: h.configEpoch, slots: h.slots)
                    resolveEpochCollision(with: senderName)
                }
                if case .gossip(let entries) = m.body { effects += gossip(entries, from: senderName, now: now) }
            } else if !known && kind == .meet, case .gossip(let entries) = m.body {
                // A MEET's gossip from a node not yet known: the others it knows are met too.
                for g in entries where nodes[g.name] == nil && Self.validName(g.name)
                    && !g.flags.contains(.noAddress) && forgotten[g.name] == nil {
                    startHandshake(ip: g.ip, port: Int(g.port), cport: Int(g.cport), now: now)
                }
            }
        }

        switch (kind, m.body) {
        case (.fail, .fail(let name)) where known:
            if name != myself, var n = nodes[name], !n.flags.contains(.fail) {
                n.flags.insert(.fail)
                n.flags.remove(.pfail)
                n.failTime = now
                nodes[name] = n
                dirty = true
            }
        case (.publish, .publish(let channel, let message)) where known:
            effects.append(.publish(channel: channel, message: message, shard: false))
        case (.publishShard, .publish(let channel, let message)) where known:
            effects.append(.publish(channel: channel, message: message, shard: true))
        case (.failoverAuthRequest, _) where known:
            effects += vote(for: h, now: now)
        case (.mfStart, _) where known:
            // A replica of this primary asks to take over: writes are held while it catches up
            // (twice the failover's time, as Redis), and it is told the offset to reach.
            guard me.isPrimary, nodes[h.sender]?.primary == myself else { break }
            effects += resetManualFailover()
            manualFailoverUntil = now + Self.manualFailoverTimeout
            manualFailoverReplica = h.sender
            effects += [.holdWrites(until: now + Self.manualFailoverTimeout * 2),
                        .log("Manual failover requested by replica \(h.sender)."), .replyPing]
        case (.failoverAuthAck, _) where known:
            if let s = nodes[h.sender], s.isPrimary, serves(h.sender), h.currentEpoch >= electionEpoch, electionAsked {
                votes += 1
            }
        case (.update, .update(let epoch, let name, let slots)) where known:
            guard var n = nodes[name], n.configEpoch < epoch else { break }
            if !n.isPrimary {
                n.flags.remove(.replica)
                n.flags.insert(.master)
                n.primary = nil
                hadReplicas.insert(name)
            }
            n.configEpoch = epoch
            nodes[name] = n
            effects += claimSlots(name, epoch: epoch, slots: slots)
            dirty = true
        default:
            break
        }
        effects += manualFailoverCheck(now: now, cron: false)
        effects += runElection(now: now)
        updateState(now: now)
        return effects
    }

    // MARK: failover

    /// How long a manual failover may take, as Redis's CLUSTER_MF_TIMEOUT.
    static let manualFailoverTimeout: Int64 = 5000

    /// Ends a manual failover, on either side: a primary lets writes go.
    mutating func resetManualFailover() -> [ClusterEffect] {
        let held = manualFailoverReplica != nil
        manualFailoverUntil = 0
        manualFailoverPrimaryOffset = -1
        manualFailoverCanStart = false
        manualFailoverReplica = nil
        return held ? [.holdWrites(until: 0)] : []
    }

    /// A manual failover's progress, as Redis's manualFailoverCheckTimeout and
    /// clusterHandleManualFailover: it times out; the primary pings its replica; the replica
    /// may start once it has processed the primary's stream up to the offset it was given.
    mutating func manualFailoverCheck(now: Int64, cron: Bool) -> [ClusterEffect] {
        guard manualFailoverUntil != 0 else { return [] }
        if manualFailoverUntil < now {
            return resetManualFailover() + [.log("Manual failover timed out.")]
        }
        if let replica = manualFailoverReplica {
            // Made a replica meanwhile (the failover happened): writes go to the new primary.
            guard me.isPrimary else { return resetManualFailover() }
            return cron ? [.sendTo(replica, ping(.ping, now: now))] : []
        }
        if !manualFailoverCanStart && manualFailoverPrimaryOffset >= 0 && manualFailoverPrimaryOffset == Int64(replOffset) {
            manualFailoverCanStart = true
            return [.log("All master replication stream processed, manual failover can start.")]
        }
        return []
    }

    /// A primary asked to vote for a replica taking over its failed primary, as Redis's
    /// clusterSendFailoverAuthIfNeeded: once per epoch, only for a replica of a primary it sees
    /// FAIL (or a manual failover's forced request), not twice for one primary within two node
    /// timeouts, and only if no slot it claims has a newer owner.
    mutating func vote(for h: ClusterMessage.Header, now: Int64) -> [ClusterEffect] {
        guard me.isPrimary, serves(myself) else { return [] }
        guard h.currentEpoch >= currentEpoch, lastVoteEpoch != currentEpoch else { return [] }
        guard let requester = nodes[h.sender], !requester.isPrimary, let primaryName = requester.primary,
              let primary = nodes[primaryName] else { return [] }
        let forced = h.mflags & ClusterMessage.flagForceAck != 0
        guard primary.flags.contains(.fail) || forced else { return [] }
        if let at = votedFor[primaryName], now - at < nodeTimeout * 2 { return [] }
        for s in 0..<Self.KeySlotCount where h.slots[s >> 3] & (1 << UInt8(s & 7)) != 0 {
            if let o = owners[s], let owner = nodes[o], owner.configEpoch > h.configEpoch { return [] }
        }
        lastVoteEpoch = currentEpoch
        votedFor[primaryName] = now
        dirty = true
        return [.sendTo(h.sender, ClusterMessage.encode(header(.failoverAuthAck), .none)),
                .log("Failover auth granted to \(h.sender) for epoch \(currentEpoch)")]
    }

    /// A replica's rank: how many replicas of its primary have seen more of the stream.
    var rank: Int {
        guard let p = me.primary else { return 0 }
        return nodes.values.filter {
            $0.primary == p && $0.name != myself && !$0.failing && !$0.flags.contains(.noFailover) && $0.replOffset > replOffset
        }.count
    }

    /// A replica whose primary failed (or told to, CLUSTER FAILOVER) asks the primaries for
    /// votes after a delay (half a second, a random half more, a second per better replica),
    /// and takes the primary's slots with a majority, as Redis's clusterHandleSlaveFailover.
    mutating func runElection(now: Int64) -> [ClusterEffect] {
        guard !me.isPrimary, let primaryName = me.primary, let primary = nodes[primaryName] else { return [] }
        let manual = manualFailoverUntil != 0 && manualFailoverCanStart
        guard (primary.flags.contains(.fail) && !replicaNoFailover) || manual, serves(primaryName) else { return [] }
        // Data too old to stand on (the link down long before the primary failed), unless asked.
        var age = primaryDataAge
        if age > nodeTimeout { age -= nodeTimeout }
        if !manual && validityFactor > 0 && age > replPingPeriod * 1000 + nodeTimeout * validityFactor {
            guard now - cantFailoverLoggedAt >= 10_000 else { return [] }
            cantFailoverLoggedAt = now
            return [.log("Currently unable to failover: Disconnected from master for longer than allowed. Please check the 'cluster-replica-validity-factor' configuration option.")]
        }
        let authTimeout = max(nodeTimeout * 2, 2000)
        if now - electionAt > authTimeout * 2 && !(manual && electionAsked && now < electionAt + authTimeout) {
            electionAt = now + (manual ? 0 : 500 + Int64.random(in: 0..<500))
            votes = 0
            electionAsked = false
            electionRank = manual ? 0 : rank
            electionAt += Int64(electionRank) * 1000
            return [.log("Start of election delayed for \(electionAt - now) milliseconds (rank #\(electionRank), offset \(replOffset)).")]
        }
        if !electionAsked && !manual {
            let r = rank
            if r > electionRank {
                electionAt += Int64(r - electionRank) * 1000
                electionRank = r
            }
        }
        if now < electionAt || now - electionAt > authTimeout { return [] }
        if !electionAsked {
            currentEpoch += 1
            electionEpoch = currentEpoch
            electionAsked = true
            dirty = true
            var h = header(.failoverAuthRequest)
            if manual { h.mflags |= ClusterMessage.flagForceAck }
            sent[Int(ClusterMessage.Kind.failoverAuthRequest.rawValue)] += 1
            return [.broadcast(ClusterMessage.encode(h, .none)),
                    .log("Starting a failover election for epoch \(currentEpoch).")]
        }
        guard votes >= size / 2 + 1 else { return [] }
        // Won: this node is the primary of the slots now, under the election's epoch.
        for s in 0..<Self.KeySlotCount where owners[s] == primaryName { owners[s] = myself }
        nodes[myself]!.flags.remove(.replica)
        nodes[myself]!.flags.insert(.master)
        nodes[myself]!.primary = nil
        if me.configEpoch < electionEpoch { nodes[myself]!.configEpoch = electionEpoch }
        let reset = resetManualFailover()
        electionAsked = false
        dirty = true
        updateState(now: now)
        return reset + [.log("Failover election won: I'm the new master. configEpoch set to \(me.configEpoch) after successful failover"),
                .broadcast(ping(.pong, now: now))]
    }

    /// CLUSTER FAILOVER TAKEOVER: the primary's slots taken at once, under a new epoch of this
    /// node's own, without votes.
    mutating func takeOver(now: Int64) -> [ClusterEffect] {
        guard let primaryName = me.primary else { return [] }
        currentEpoch += 1
        for s in 0..<Self.KeySlotCount where owners[s] == primaryName { owners[s] = myself }
        nodes[myself]!.flags.remove(.replica)
        nodes[myself]!.flags.insert(.master)
        nodes[myself]!.primary = nil
        nodes[myself]!.configEpoch = currentEpoch
        dirty = true
        updateState(now: now)
        return [.log("Taking over the master (user request)."),
                .broadcast(ping(.pong, now: now))]
    }

    // MARK: replica migration

    /// Working replicas of a primary (not FAIL).
    func workingReplicas(of name: String) -> [ClusterNode] {
        nodes.values.filter { $0.primary == name && !$0.flags.contains(.fail) }
    }

    /// A replica moves to a primary left without any (one that had some), as Redis's
    /// clusterHandleSlaveMigration: only from a primary among those with the most working
    /// replicas, at least two, keeping more than cluster-migration-barrier behind; the replica
    /// with the smallest name among those primaries' goes, once the target has been without a
    /// replica for 5 s (its own replicas may be switching over from a failover).
    mutating func migrateIfNeeded(now: Int64) -> [ClusterEffect] {
        for n in nodes.values { if let p = n.primary { hadReplicas.insert(p) } }
        guard let mine = me.primary, let myPrimary = nodes[mine], !myPrimary.flags.contains(.fail) else { return [] }
        var most = 0, orphans = 0
        for n in nodes.values where n.isPrimary && !n.flags.contains(.fail) {
            let working = workingReplicas(of: n.name).count
            if working == 0 && serves(n.name) && hadReplicas.contains(n.name) { orphans += 1 }
            most = max(most, working)
        }
        let myPeers = workingReplicas(of: mine).count
        guard orphans > 0, most >= 2, myPeers == most, allowReplicaMigration, ok else {
            if orphans == 0 { orphanedSince = [:] }
            return []
        }
        let standing = workingReplicas(of: mine).filter { !$0.flags.contains(.pfail) }.count
        guard standing > migrationBarrier else { return [] }
        var target: String? = nil
        var candidate = myself
        for n in nodes.values where n.isPrimary {
            let working = workingReplicas(of: n.name)
            let orphaned = !n.flags.contains(.fail) && hadReplicas.contains(n.name) && working.isEmpty
            if orphaned {
                if target == nil && serves(n.name) { target = n.name }
                if orphanedSince[n.name] == nil { orphanedSince[n.name] = now }
            } else {
                orphanedSince[n.name] = nil
            }
            if working.count == most {
                for r in working where r.name < candidate { candidate = r.name }
            }
        }
        guard let target, candidate == myself, now - (orphanedSince[target] ?? now) > 5000 else { return [] }
        nodes[myself]!.primary = target
        hadReplicas.insert(target)
        orphanedSince[target] = nil
        dirty = true
        return [.log("Migrating to orphaned master \(target)")]
    }

    /// A node says whom it replicates (nobody: it is a primary).
    mutating func updateRole(_ name: String, primary: String) {
        guard var n = nodes[name], name != myself else { return }
        if primary.isEmpty {
            if !n.isPrimary {
                // A replica taking over a primary that had replicas may draw them too.
                hadReplicas.insert(name)
                n.flags.remove(.replica)
                n.flags.insert(.master)
                n.primary = nil
                dirty = true
            }
        } else if n.isPrimary || n.primary != primary {
            hadReplicas.insert(primary)
            if n.isPrimary {
                for s in 0..<Self.KeySlotCount where owners[s] == name { owners[s] = nil }
            }
            n.flags.remove(.master)
            n.flags.insert(.replica)
            n.primary = primary
            dirty = true
        }
        nodes[name] = n
    }

    /// A primary claims the slots of `slots` with config epoch `epoch`: each goes to it unless
    /// this node imports the slot or its owner's epoch is greater (the claimant is then told
    /// with an UPDATE about that owner).
    mutating func claimSlots(_ name: String, epoch: UInt64, slots: [UInt8]) -> [ClusterEffect] {
        guard name != myself, slots.count == ClusterMessage.slotBytes else { return [] }
        var staleFor: Set<String> = []
        var claimed = 0, migratedOurs = 0
        var lostHere: [Int] = []
        let mine = me.primary ?? myself
        for s in 0..<Self.KeySlotCount where slots[s >> 3] & (1 << UInt8(s & 7)) != 0 {
            claimed += 1
            if owners[s] == name || importing[s] != nil { continue }
            if let o = owners[s], let owner = nodes[o], owner.configEpoch > epoch {
                staleFor.insert(o)
                continue
            }
            if owners[s] == mine { migratedOurs += 1 }
            if owners[s] == myself { lostHere.append(s) }
            owners[s] = name
            dirty = true
        }
        var effects: [ClusterEffect] = []
        // This node's primary (or this primary itself) lost its last slot to the claimant: it
        // follows the claimant now, as after a failover the old primary and its other replicas
        // do; without cluster-allow-replica-migration only when all the claimant's slots were
        // ours (a failover, not slots moved away one by one). Else a primary that lost slots
        // it still has keys for drops those keys (Redis: clusterUpdateSlotsConfigWith).
        if nodes[name]?.isPrimary == true, migratedOurs > 0, !serves(mine),
           allowReplicaMigration || claimed == migratedOurs {
            if me.primary != name {
                nodes[myself]!.flags.remove(.master)
                nodes[myself]!.flags.insert(.replica)
                nodes[myself]!.primary = name
                dirty = true
                effects.append(.log("Configuration change detected. Reconfiguring myself as a replica of \(name)"))
            }
        } else if me.isPrimary, !lostHere.isEmpty {
            effects.append(.deleteKeys(inSlots: lostHere))
        }
        // Slots it no longer claims stay with it until someone else claims them (as Redis).
        return effects + staleFor.compactMap { o in
            guard let owner = nodes[o] else { return nil }
            return .reply(ClusterMessage.encode(header(.update), .update(configEpoch: owner.configEpoch, node: o,
                                                                         slots: bitmap(of: o))))
        }
    }

    /// Two primaries with one config epoch: the one with the greater name takes a new epoch.
    mutating func resolveEpochCollision(with name: String) {
        guard let s = nodes[name], s.isPrimary, me.isPrimary, s.configEpoch == me.configEpoch, s.configEpoch > 0,
              name < myself else { return }
        currentEpoch += 1
        nodes[myself]!.configEpoch = currentEpoch
        dirty = true
    }

    /// Gossip about other nodes: failure reports from primaries, pong times, new nodes to meet.
    mutating func gossip(_ entries: [ClusterMessage.Gossip], from sender: String, now: Int64) -> [ClusterEffect] {
        var effects: [ClusterEffect] = []
        let senderIsPrimary = nodes[sender]?.isPrimary ?? false
        for g in entries {
            if var n = nodes[g.name] {
                guard g.name != myself else { continue }
                if senderIsPrimary {
                    if !g.flags.isDisjoint(with: [.pfail, .fail]) {
                        n.failReports[sender] = now
                    } else {
                        n.failReports[sender] = nil
                    }
                }
                if g.flags.isDisjoint(with: [.pfail, .fail]) && n.pingSent == 0 && n.failReports.isEmpty {
                    let pong = Int64(g.pongReceived) * 1000
                    if pong <= now + 500 && pong > n.pongReceived { n.pongReceived = pong }
                }
                nodes[g.name] = n
                if senderIsPrimary && n.flags.contains(.pfail), let fail = markFailingIfNeeded(g.name, now: now) {
                    effects.append(fail)
                }
            } else if Self.validName(g.name) && !g.flags.contains(.noAddress) && forgotten[g.name] == nil {
                startHandshake(ip: g.ip, port: Int(g.port), cport: Int(g.cport), now: now)
            }
        }
        return effects
    }

    // MARK: CLUSTER NODES and nodes.conf

    func flagsText(_ n: ClusterNode) -> String {
        var f: [String] = []
        if n.flags.contains(.myself) { f.append("myself") }
        if n.flags.contains(.master) { f.append("master") }
        if n.flags.contains(.replica) { f.append("slave") }
        if n.flags.contains(.pfail) { f.append("fail?") }
        if n.flags.contains(.fail) { f.append("fail") }
        if n.flags.contains(.handshake) { f.append("handshake") }
        if n.flags.contains(.noAddress) { f.append("noaddr") }
        if n.flags.contains(.noFailover) { f.append("nofailover") }
        return f.isEmpty ? "noflags" : f.joined(separator: ",")
    }

    /// A node's address for clients (redirects, CLUSTER SLOTS / SHARDS' endpoint): its IP, its
    /// hostname ("?" when it announces none), or "" (unknown-endpoint), as configured.
    func endpoint(_ n: ClusterNode) -> String {
        switch preferredEndpoint {
        case .ip: return n.ip
        case .hostname: return n.hostname.isEmpty ? "?" : n.hostname
        case .unknown: return ""
        }
    }

    func line(_ n: ClusterNode) -> String {
        var s = "\(n.name) \(n.ip):\(n.port)@\(n.cport)\(n.hostname.isEmpty ? "" : "," + n.hostname) \(flagsText(n)) \(n.primary ?? "-") "
        s += "\(n.pingSent) \(n.pongReceived) \(n.configEpoch) "
        s += (n.name == myself || n.linked) ? "connected" : "disconnected"
        if n.isPrimary {
            for (a, b) in ranges(of: n.name) { s += a == b ? " \(a)" : " \(a)-\(b)" }
        }
        if n.name == myself {
            for (slot, to) in migrating.sorted(by: { $0.key < $1.key }) { s += " [\(slot)->-\(to)]" }
            for (slot, from) in importing.sorted(by: { $0.key < $1.key }) { s += " [\(slot)-<-\(from)]" }
        }
        return s
    }

    /// CLUSTER NODES: one line per node, this node first as Redis lists it.
    func nodesText() -> String {
        let ordered = [me] + nodes.values.filter { $0.name != myself }.sorted { $0.name < $1.name }
        return ordered.map { line($0) + "\n" }.joined()
    }

    /// nodes.conf: the nodes but handshakes, then the epochs.
    func fileText() -> String {
        let ordered = [me] + nodes.values.filter { $0.name != myself && !$0.flags.contains(.handshake) }.sorted { $0.name < $1.name }
        return ordered.map { line($0) + "\n" }.joined()
            + "vars currentEpoch \(currentEpoch) lastVoteEpoch \(lastVoteEpoch)\n"
    }

    enum LoadError: Error { case corrupt(String) }

    /// Reads nodes.conf as Redis writes it; refuses a file it cannot make sense of whole.
    static func load(_ text: String, now: Int64) throws(LoadError) -> ClusterState {
        var state: ClusterState?
        var nodes: [String: ClusterNode] = [:]
        var owners = [String?](repeating: nil, count: KeySlotCount)
        var importing: [Int: String] = [:], migrating: [Int: String] = [:]
        var currentEpoch: UInt64 = 0, lastVoteEpoch: UInt64 = 0
        var myself: String?
        for raw in text.split(separator: "\n") {
            let f = raw.split(separator: " ").map(String.init)
            if f.isEmpty { continue }
            if f[0] == "vars" {
                var i = 1
                while i + 1 < f.count {
                    if f[i] == "currentEpoch" { currentEpoch = UInt64(f[i + 1]) ?? 0 }
                    if f[i] == "lastVoteEpoch" { lastVoteEpoch = UInt64(f[i + 1]) ?? 0 }
                    i += 2
                }
                continue
            }
            guard f.count >= 8, validName(f[0]) else { throw .corrupt(String(raw)) }
            var n = ClusterNode(name: f[0], flags: [], createdAt: now)
            // ip:port@cport[,hostname]
            let parts = f[1].split(separator: ",", maxSplits: 1, omittingEmptySubsequences: false)
            let address = parts[0]
            if parts.count > 1 { n.hostname = String(parts[1]) }
            guard let at = address.lastIndex(of: "@"), let colon = address[..<at].lastIndex(of: ":"),
                  let port = Int(address[address.index(after: colon)..<at]),
                  let cport = Int(address[address.index(after: at)...]) else { throw .corrupt(String(raw)) }
            n.ip = String(address[..<colon])
            n.port = port
            n.cport = cport
            for flag in f[2].split(separator: ",") {
                switch flag {
                case "myself": n.flags.insert(.myself); myself = n.name
                case "master": n.flags.insert(.master)
                case "slave": n.flags.insert(.replica)
                case "fail?": n.flags.insert(.pfail)
                case "fail": n.flags.insert(.fail); n.failTime = now
                case "handshake": n.flags.insert(.handshake)
                case "noaddr": n.flags.insert(.noAddress)
                case "nofailover": n.flags.insert(.noFailover)
                case "noflags": break
                default: throw .corrupt(String(raw))
                }
            }
            if f[3] != "-" { n.primary = f[3] }
            guard let epoch = UInt64(f[6]) else { throw .corrupt(String(raw)) }
            n.configEpoch = epoch
            for slot in f[8...] {
                if slot.hasPrefix("[") {
                    let body = slot.dropFirst().dropLast()
                    if let r = body.range(of: "->-"), let s = Int(body[..<r.lowerBound]) {
                        migrating[s] = String(body[r.upperBound...])
                    } else if let r = body.range(of: "-<-"), let s = Int(body[..<r.lowerBound]) {
                        importing[s] = String(body[r.upperBound...])
                    } else { throw .corrupt(String(raw)) }
                    continue
                }
                let parts = slot.split(separator: "-")
                guard let a = Int(parts[0]), let b = Int(parts.count > 1 ? parts[1] : parts[0]),
                      a >= 0, b < KeySlotCount, a <= b else { throw .corrupt(String(raw)) }
                for s in a...b { owners[s] = n.name }
            }
            nodes[n.name] = n
        }
        guard let me = myself else { throw .corrupt("no line for this node (flag myself)") }
        state = ClusterState(myself: me, now: now)
        state!.nodes = nodes
        state!.owners = owners
        state!.importing = importing
        state!.migrating = migrating
        state!.currentEpoch = currentEpoch
        state!.lastVoteEpoch = lastVoteEpoch
        return state!
    }
}
