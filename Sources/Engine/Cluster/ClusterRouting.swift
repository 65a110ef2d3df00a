import Foundation
import RESP
import Storage

/// Which node serves a command, decided at admission as Redis's getNodeByQuery: all its keys
/// (a transaction's: all its queued commands' keys) must hash to one slot; that slot's owner
/// serves it, else the client is sent there (MOVED), or, while the slot migrates, to the node
/// importing it for keys no longer here (ASK). A command without keys runs here.
extension Engine {
    /// The error that redirects or refuses the command, or nil to run it here.
    func clusterRedirect(_ spec: CommandSpec, _ ctx: inout CommandContext, _ cluster: Cluster) -> String? {
        let asking = ctx.session.asking
        if spec.name != "asking" { ctx.session.asking = false }
        var commands: [(CommandSpec, CommandArguments)] = []
        if spec.name == "exec" {
            guard let queue = ctx.session.multiQueue else { return nil }
            for args in queue {
                guard let s = table.lookup(args[0]) else { continue }
                let sub = s.subcommands.isEmpty || args.count < 2 ? s : (CommandTable.subcommand(of: s, args[1]) ?? s)
                commands.append((sub, args))
            }
        } else {
            guard spec.firstKey > 0 || spec.keyFinder != nil else { return nil }
            commands.append((spec, ctx.args))
        }
        var slot: Int?
        var keys: [[UInt8]] = []
        var writes = false
        for (s, args) in commands {
            if s.flags.contains(.write) { writes = true }
            for i in s.keyIndexes(args) {
                let ks = args[i].withUnsafeBytes { KeySlot.of($0) }
                if let slot, slot != ks { return "CROSSSLOT Keys in request don't hash to the same slot" }
                slot = ks
                keys.append(Array(args[i]))
            }
        }
        guard let slot else { return nil }
        // The usual case: a slot served here, the cluster ok; nothing to look up.
        if cluster.serves(slot) { return nil }
        let allowReadsWhenDown = config.bool("cluster-allow-reads-when-down")
        let shardPubSub = spec.name == "spublish" || spec.name == "ssubscribe" || spec.name == "sunsubscribe"
        let allowShardPubSubWhenDown = config.bool("cluster-allow-pubsubshard-when-down")
        return cluster.withState { st -> String? in
            guard let owner = st.owners[slot], let node = st.nodes[owner] else { return "CLUSTERDOWN Hash slot not served" }
            if !st.ok {
                if shardPubSub {
                    if !allowShardPubSubWhenDown { return "CLUSTERDOWN The cluster is down" }
                } else if !allowReadsWhenDown { return "CLUSTERDOWN The cluster is down" }
                if writes { return "CLUSTERDOWN The cluster is down and only accepts read commands" }
            }
            let migratingTo = owner == st.myself ? st.migrating[slot] : nil
            let importing = st.importing[slot] != nil
            if migratingTo != nil || importing {
                let db = keyspace.databases[0]
                var missing = 0
                for k in keys {
                    let shard = db.shard(k[...])
                    shard.lock.lock()
                    if shard.find(k[...], now: ctx.now) == nil { missing += 1 }
                    shard.lock.unlock()
                }
                if let to = migratingTo, missing > 0 {
                    if missing < keys.count { return "TRYAGAIN Multiple keys request during rehashing of slot" }
                    guard let target = st.nodes[to] else { return nil }
                    return "ASK \(slot) \(st.endpoint(target)):\(target.port)"
                }
                if importing && (asking || spec.name == "restore-asking") {
                    if keys.count > 1 && missing > 0 { return "TRYAGAIN Multiple keys request during rehashing of slot" }
                    return nil
                }
            }
            if owner == st.myself { return nil }
            // READONLY: a replica of the slot's owner serves reads; and sharded pub/sub always.
            if (ctx.session.clusterReadOnly || shardPubSub) && !writes && st.me.primary == owner { return nil }
            return "MOVED \(slot) \(st.endpoint(node)):\(node.port)"
        }
    }

    /// Reads nodes.conf (or makes one) before the data set loads, as Redis does.
    public func loadCluster() throws(ConfigError) {
        guard let cluster else { return }
        cluster.reloadSettings(config, port: tcpPort)
        let fresh = !FileManager.default.fileExists(atPath: clusterFilePath)
        try cluster.load(dir: FileManager.default.currentDirectoryPath)
        log(fresh ? "No cluster configuration found, I'm \(cluster.myName)" : "Node configuration loaded, I'm \(cluster.myName)")
    }

    var clusterFilePath: String {
        let p = config.get("cluster-config-file")
        return p.hasPrefix("/") ? p : FileManager.default.currentDirectoryPath + "/" + p
    }

    /// Listens on the bus port and starts the bus's thread.
    public func startClusterBus() throws(ConfigError) {
        guard let cluster else { return }
        let port = config.int("cluster-port") > 0 ? config.int("cluster-port") : tcpPort + 10000
        guard port <= 65535 else {
            throw ConfigError(message: "Redis port number too high. Cluster communication port is 10,000 port numbers higher than your Redis port. Your Redis port number must be 55535 or less.")
        }
        let bus = ClusterBus(engine: self, cluster: cluster)
        try bus.start(addresses: config.get("bind").split(separator: " ").map(String.init), port: port)
        cluster.bus.withLock { $0 = bus }
    }

    /// Replicates `primary` (nil: none), unless it does already.
    func syncClusterRole(primary: (String, Int)?) {
        let (following, host, port) = repl.lock.withLock { (repl.following.load(ordering: .relaxed), repl.primaryHost, repl.primaryPort) }
        if let (ip, p) = primary {
            if !following || host != ip || port != p {
                log("Connecting to MASTER \(ip):\(p) (cluster)")
                follow(host: ip, port: p)
            }
        } else if following {
            promote()
            log("MASTER MODE enabled (cluster)")
        }
    }

    /// PUBLISH here: every other node is told. SPUBLISH: the nodes of the channel's shard.
    func clusterPublish(_ channel: [UInt8], _ message: ArraySlice<UInt8>, shard: Bool) {
        guard let cluster, let bus = cluster.bus.withLock({ $0 }) else { return }
        let bytes = cluster.withState { st in
            ClusterMessage.encode(st.header(shard ? .publishShard : .publish), .publish(channel: channel, message: Array(message)))
        }
        let slot = shard ? channel.withUnsafeBytes { KeySlot.of($0) } : nil
        bus.send(bytes, shardOf: slot)
    }
}

extension Engine {
    /// Deletes every key of these slots (a primary that lost them without moving their keys,
    /// as Redis's delKeysInSlot): each a DEL in the replication stream and the AOF, a "del"
    /// event and an invalidation, as a DEL command's. Returns how many.
    func deleteKeys(inSlots slots: [Int]) -> Int {
        let db = keyspace.databases[0]
        var deleted = 0
        for slot in slots {
            for shard in db.shards {
                shard.lock.lock()
                var keys: [[UInt8]] = []
                shard.appendKeys(inSlot: slot, limit: Int.max, to: &keys)
                for key in keys {
                    guard let s = shard.table.find(key) else { continue }
                    shard.remove(slot: s)
                    _ = propagateAlone(db: 0, [Verb.del, key])
                    invalidate(key, writer: nil)
                    if notificationsOn { notify(.generic, "del", key, db: 0) }
                    deleted += 1
                }
                shard.lock.unlock()
            }
        }
        return deleted
    }

    /// Clients blocked on keys of a slot no longer served here are sent to its owner (MOVED),
    /// or told the cluster is down, as Redis's clusterRedirectBlockedClientIfNeeded: waiting on
    /// here, they would wait for a write that can only happen elsewhere. From the bus's cron.
    func redirectBlockedClients(_ cluster: Cluster) {
        guard blocking.count.load(ordering: .relaxed) > 0 else { return }
        let waiting = blocking.byClient.withLock { Array($0.values) }
        for w in waiting where w.replicaWait == nil && !w.keys.isEmpty {
            let slot = w.keys[0].withUnsafeBytes { KeySlot.of($0) }
            let message: String? = cluster.withState { st in
                // Down: even with reads allowed, the write the client waits for would not come.
                if !st.ok { return "CLUSTERDOWN The cluster is down" }
                let owner = st.owners[slot]
                if owner == st.myself || st.importing[slot] != nil { return nil }
                if w.clusterReadOnly && !w.spec.flags.contains(.write) && owner != nil && st.me.primary == owner { return nil }
                guard let o = owner, let n = st.nodes[o] else { return "CLUSTERDOWN Hash slot not served" }
                return "MOVED \(slot) \(st.endpoint(n)):\(n.port)"
            }
            if let message { _ = unblock(clientID: w.client.id, message: message) }
        }
    }
}
