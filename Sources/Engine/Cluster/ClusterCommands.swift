#if canImport(Glibc)
import Glibc
#endif
import RESP
import Storage

/// CLUSTER, READONLY, READWRITE and ASKING. With `cluster-enabled no` they answer as redis-server
/// 7.0 does without cluster support: the command table knows every sub-command with Redis's
/// arity and flags (an unknown one or a wrong arity gets the usual errors first), and then each
/// says "This instance has cluster support disabled" (clients probe with CLUSTER INFO and
/// READONLY to find out whether they face a cluster). With it, they read and change this node's
/// ClusterState.
enum ClusterCommands {
    static let disabled = "ERR This instance has cluster support disabled"

    static let specs: [CommandSpec] = [
        CommandSpec("cluster", arity: -2, flags: [], group: "cluster",
                    summary: "A container for cluster commands", complexity: "Depends on subcommand.",
                    subcommands: [
                        sub("addslots", -3, admin: true, "Assign new hash slots to receiving node",
                            "O(N) where N is the total number of hash slot arguments"),
                        sub("addslotsrange", -4, admin: true, "Assign new hash slots to receiving node",
                            "O(N) where N is the total number of the slots between the start slot and end slot arguments."),
                        sub("bumpepoch", 2, admin: true, "Advance the cluster config epoch"),
                        sub("count-failure-reports", 3, admin: true, asyncLoading: true,
                            "Return the number of failure reports active for a given node",
                            "O(N) where N is the number of failure reports"),
                        sub("countkeysinslot", 3, "Return the number of local keys in the specified hash slot"),
                        sub("delslots", -3, admin: true, "Set hash slots as unbound in receiving node",
                            "O(N) where N is the total number of hash slot arguments"),
                        sub("delslotsrange", -4, admin: true, "Set hash slots as unbound in receiving node",
                            "O(N) where N is the total number of the slots between the start slot and end slot arguments."),
                        sub("failover", -2, admin: true, "Forces a replica to perform a manual failover of its master."),
                        sub("flushslots", 2, admin: true, "Delete a node's own slots information"),
                        sub("forget", 3, admin: true, "Remove a node from the nodes table"),
                        sub("getkeysinslot", 4, "Return local key names in the specified hash slot",
                            "O(log(N)) where N is the number of requested keys"),
                        sub("info", 2, "Provides info about Redis Cluster node state"),
                        sub("keyslot", 3, "Returns the hash slot of the specified key",
                            "O(N) where N is the number of bytes in the key"),
                        sub("links", 2, "Returns a list of all TCP links to and from peer nodes in cluster",
                            "O(N) where N is the total number of Cluster nodes"),
                        sub("meet", -4, admin: true, "Force a node cluster to handshake with another node"),
                        sub("myid", 2, "Return the node id"),
                        sub("nodes", 2, "Get Cluster config for the node", "O(N) where N is the total number of Cluster nodes"),
                        sub("replicas", 3, admin: true, asyncLoading: true,
                            "List replica nodes of the specified master node"),
                        sub("replicate", 3, admin: true, "Reconfigure a node as a replica of the specified master node"),
                        sub("reset", -2, admin: true, asyncLoading: true, noscript: true, "Reset a Redis Cluster node",
                            "O(N) where N is the number of known nodes. The command may execute a FLUSHALL as a side effect."),
                        sub("saveconfig", 2, admin: true, "Forces the node to save cluster state on disk"),
                        sub("set-config-epoch", 3, admin: true, "Set the configuration epoch in a new node"),
                        sub("setslot", -4, admin: true, "Bind a hash slot to a specific node"),
                        sub("shards", 2, "Get array of cluster slots to node mappings",
                            "O(N) where N is the total number of cluster nodes"),
                        sub("slaves", 3, admin: true, asyncLoading: true, "List replica nodes of the specified master node"),
                        sub("slots", 2, "Get array of Cluster slot to node mappings",
                            "O(N) where N is the total number of Cluster nodes"),
                        CommandSpec("cluster|help", arity: 2, flags: [.loading, .stale], group: "cluster",
                                    summary: "Show helpful text about the different subcommands",
                                    handler: { c in if c.engine.cluster == nil { c.error(disabled) } else { help(&c) } }),
                    ], handler: nil),
        CommandSpec("readonly", arity: 1, flags: [.loading, .stale, .fast], group: "cluster",
                    summary: "Enables read queries for a connection to a cluster replica node", acl: ["connection"],
                    handler: { c in
                        guard c.engine.cluster != nil else { c.error(disabled); return }
                        c.session.clusterReadOnly = true
                        c.ok()
                    }),
        CommandSpec("readwrite", arity: 1, flags: [.loading, .stale, .fast], group: "cluster",
                    summary: "Disables read queries for a connection to a cluster replica node", acl: ["connection"],
                    handler: { c in
                        guard c.engine.cluster != nil else { c.error(disabled); return }
                        c.session.clusterReadOnly = false
                        c.ok()
                    }),
        CommandSpec("asking", arity: 1, flags: [.fast], group: "cluster",
                    summary: "Sent by cluster clients after an -ASK redirect", acl: ["connection"],
                    handler: { c in
                        guard c.engine.cluster != nil else { c.error(disabled); return }
                        c.session.asking = true
                        c.ok()
                    }),
    ]

    /// A CLUSTER sub-command with Redis 7.0's flags: every one may run on a stale replica; the
    /// administrative ones are admin (@admin @dangerous) and, but for those that only read the
    /// cluster's state, refused while a replica loads its data asynchronously.
    static func sub(_ name: String, _ arity: Int, admin: Bool = false, asyncLoading: Bool = false, noscript: Bool = false, _ summary: String, _ complexity: String = "O(1)") -> CommandSpec {
        var flags: CommandFlags = [.stale]
        if admin { flags.insert(.admin) }
        if admin && !asyncLoading { flags.insert(.noAsyncLoading) }
        if noscript { flags.insert(.noscript) }
        let handler = handlers[name]!
        return CommandSpec("cluster|" + name, arity: arity, flags: flags, group: "cluster", summary: summary, complexity: complexity,
                           handler: { c in
                               guard let cluster = c.engine.cluster else { c.error(disabled); return }
                               handler(&c, cluster)
                           })
    }

    /// Every one of them, with cluster support disabled.
    static func refuse(_ c: inout CommandContext) {
        c.error(disabled)
    }
}

extension ClusterCommands {
    typealias Handler = @Sendable (inout CommandContext, Cluster) -> Void

    static let handlers: [String: Handler] = [
        "addslots": { c, k in addSlots(&c, k, ranges: false, add: true) },
        "addslotsrange": { c, k in addSlots(&c, k, ranges: true, add: true) },
        "delslots": { c, k in addSlots(&c, k, ranges: false, add: false) },
        "delslotsrange": { c, k in addSlots(&c, k, ranges: true, add: false) },
        "bumpepoch": bumpEpoch,
        "count-failure-reports": countFailureReports,
        "countkeysinslot": countKeysInSlot,
        "getkeysinslot": getKeysInSlot,
        "failover": failover,
        "flushslots": flushSlots,
        "forget": forget,
        "info": info,
        "keyslot": { c, _ in c.args[2].withUnsafeBytes { c.out.integer(KeySlot.of($0)) } },
        "links": links,
        "meet": meet,
        "myid": { c, k in c.out.bulk(k.myName) },
        "nodes": { c, k in c.out.verbatim(k.withState { $0.nodesText() }) },
        "replicas": replicas,
        "slaves": replicas,
        "replicate": replicate,
        "reset": reset,
        "saveconfig": { c, k in
            do { try k.save(); c.ok() } catch { c.error("ERR error saving the cluster node config: \\(error.message)") }
        },
        "set-config-epoch": setConfigEpoch,
        "setslot": setSlot,
        "shards": shards,
        "slots": slots,
    ]

    static func help(_ c: inout CommandContext) {
        c.help(["CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "ADDSLOTS <slot> [<slot> ...]", "    Assign slots to current node.",
                "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
                "    Assign slots which are between <start-slot> and <end-slot> to current node.",
                "BUMPEPOCH", "    Advance the cluster config epoch.",
                "COUNT-FAILURE-REPORTS <node-id>", "    Return number of failure reports for <node-id>.",
                "COUNTKEYSINSLOT <slot>", "    Return the number of keys in <slot>.",
                "DELSLOTS <slot> [<slot> ...]", "    Delete slots information from current node.",
                "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
                "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
                "FAILOVER [FORCE|TAKEOVER]", "    Promote current replica node to being a master.",
                "FORGET <node-id>", "    Remove a node from the cluster.",
                "GETKEYSINSLOT <slot> <count>", "    Return key names stored by current node in a slot.",
                "FLUSHSLOTS", "    Delete current node own slots information.",
                "INFO", "    Return information about the cluster.",
                "KEYSLOT <key>", "    Return the hash slot for <key>.",
                "MEET <ip> <port> [<bus-port>]", "    Connect nodes into a working cluster.",
                "MYID", "    Return the node id.",
                "NODES", "    Return cluster configuration seen by node. Output format:",
                "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
                "REPLICATE <node-id>", "    Configure current node as replica to <node-id>.",
                "RESET [HARD|SOFT]", "    Reset current node (default: soft).",
                "SET-CONFIG-EPOCH <epoch>", "    Set config epoch of current node.",
                "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)", "    Set slot state.",
                "REPLICAS <node-id>", "    Return <node-id> replicas.",
                "SAVECONFIG", "    Force saving cluster configuration on disk.",
                "SLOTS", "    Return information about slots range mappings. Each range is made of:",
                "    start, end, master and replicas IP addresses, ports and ids",
                "SHARDS", "    Return information about slot range mappings and the nodes associated with them.",
                "LINKS", "    Return information about all network links between this node and its peers.",
                "    Output format is an array where each array element is a map containing attributes of a link",
                "HELP", "    Prints this help."])
    }

    /// A change of the state by a command: `body` answers an error (nothing is changed then) or
    /// nil; the change is then saved to nodes.conf before the command answers OK, as Redis's.
    static func change(_ c: inout CommandContext, _ k: Cluster, _ body: (inout ClusterState) -> String?) {
        let error: String? = k.withState { st in
            if let e = body(&st) { return e }
            st.dirty = true
            st.updateState(now: unixMillis())
            return nil
        }
        if let error { c.error(error); return }
        k.saveIfDirty { c.engine.log($0) }
        c.ok()
    }

    /// Whether database 0, a cluster node's only one, holds no key.
    static func databaseEmpty(_ c: CommandContext) -> Bool {
        let db = c.engine.keyspace.databases[0]
        db.lockAll()
        defer { db.unlockAll() }
        return db.count == 0
    }

    /// A slot argument: "ERR Invalid or out of range slot" unless 0-16383.
    static func slotArgument(_ c: inout CommandContext, _ i: Int, error: String = "ERR Invalid or out of range slot") -> Int? {
        guard let v = parseCanonicalInt(c.args[i]), v >= 0, v < ClusterState.KeySlotCount else {
            c.error(error)
            return nil
        }
        return v
    }

    /// CLUSTER ADDSLOTS slot [slot ...] | ADDSLOTSRANGE start end [start end ...] | DELSLOTS | DELSLOTSRANGE
    static func addSlots(_ c: inout CommandContext, _ k: Cluster, ranges: Bool, add: Bool) {
        if ranges && (c.argc - 2) % 2 != 0 {
            c.error(Errors.arity(c.args.string(0).lowercased() + "|" + c.args.string(1).lowercased()))
            return
        }
        var slots: [Int] = []
        var i = 2
        while i < c.argc {
            guard let a = slotArgument(&c, i) else { return }
            if ranges {
                guard let b = slotArgument(&c, i + 1) else { return }
                guard a <= b else { c.error("ERR start slot number \(a) is greater than end slot number \(b)"); return }
                slots += Array(a...b)
                i += 2
            } else {
                slots.append(a)
                i += 1
            }
        }
        change(&c, k) { st in
            var seen = Set<Int>()
            for s in slots {
                if add && st.owners[s] != nil { return "ERR Slot \(s) is already busy" }
                if !add && st.owners[s] == nil { return "ERR Slot \(s) is already unassigned" }
                if !seen.insert(s).inserted { return "ERR Slot \(s) specified multiple times" }
            }
            for s in slots {
                st.owners[s] = add ? st.myself : nil
                if add { st.importing[s] = nil }
            }
            return nil
        }
    }

    /// CLUSTER BUMPEPOCH
    static func bumpEpoch(_ c: inout CommandContext, _ k: Cluster) {
        let (bumped, epoch) = k.withState { st -> (Bool, UInt64) in
            let maxEpoch = max(st.currentEpoch, st.nodes.values.map(\.configEpoch).max() ?? 0)
            if st.me.configEpoch == 0 || st.me.configEpoch != maxEpoch {
                st.currentEpoch = maxEpoch + 1
                st.nodes[st.myself]!.configEpoch = st.currentEpoch
                st.dirty = true
                return (true, st.currentEpoch)
            }
            return (false, st.me.configEpoch)
        }
        k.saveIfDirty { c.engine.log($0) }
        c.out.simple("\(bumped ? "BUMPED" : "STILL") \(epoch)")
    }

    /// CLUSTER COUNT-FAILURE-REPORTS node-id
    static func countFailureReports(_ c: inout CommandContext, _ k: Cluster) {
        let name = c.args.string(2)
        let now = unixMillis()
        guard let n = k.withState({ st in st.nodes[name].map { n in n.failReports.filter { now - $0.value <= st.nodeTimeout * 2 }.count } }) else {
            c.error("ERR Unknown node \(name)")
            return
        }
        c.out.integer(n)
    }

    /// CLUSTER COUNTKEYSINSLOT slot
    static func countKeysInSlot(_ c: inout CommandContext, _ k: Cluster) {
        guard let n = c.integer(2) else { return }
        guard n >= 0, n < ClusterState.KeySlotCount else { c.error("ERR Invalid slot"); return }
        c.out.integer(c.engine.keyspace.databases[0].countKeys(inSlot: n))
    }

    /// CLUSTER GETKEYSINSLOT slot count
    static func getKeysInSlot(_ c: inout CommandContext, _ k: Cluster) {
        guard let slot = c.integer(2), let count = c.integer(3) else { return }
        guard slot >= 0, slot < ClusterState.KeySlotCount, count >= 0 else {
            c.error("ERR Invalid slot or number of keys")
            return
        }
        let found = c.engine.keyspace.databases[0].keys(inSlot: slot, limit: count)
        c.out.array(found.count)
        for key in found { c.out.bulk(key) }
    }

    /// CLUSTER FAILOVER [FORCE|TAKEOVER]
    static func failover(_ c: inout CommandContext, _ k: Cluster) {
        if c.argc == 3 && !c.args.matches(2, "force") && !c.args.matches(2, "takeover") || c.argc > 3 {
            c.error(Errors.syntax)
            return
        }
        let force = c.argc == 3 && c.args.matches(2, "force")
        let takeover = c.argc == 3 && c.args.matches(2, "takeover")
        let now = unixMillis()
        let result: Result<[ClusterEffect], CommandError> = k.withState { st in
            guard !st.me.isPrimary, let p = st.me.primary else {
                return .failure(CommandError("ERR You should send CLUSTER FAILOVER to a replica"))
            }
            guard let primary = st.nodes[p], !primary.flags.contains(.noAddress) || force || takeover else {
                return .failure(CommandError("ERR I'm a replica but my master is unknown to me"))
            }
            if !force && !takeover && primary.failing {
                return .failure(CommandError("ERR Master is down or failed, please use CLUSTER FAILOVER FORCE"))
            }
            var effects = st.resetManualFailover()
            if takeover { return .success(effects + st.takeOver(now: now)) }
            st.manualFailoverUntil = now + ClusterState.manualFailoverTimeout
            st.electionAt = 0
            st.electionAsked = false
            if force {
                // No waiting for the primary, which may be unreachable.
                st.manualFailoverCanStart = true
                return .success(effects + [.log("Forced failover user request accepted.")])
            }
            // The primary holds writes and says up to where the replica must catch up (MFSTART).
            effects.append(.sendTo(p, ClusterMessage.encode(st.header(.mfStart), .none)))
            st.sent[Int(ClusterMessage.Kind.mfStart.rawValue)] += 1
            return .success(effects + [.log("Manual failover user request accepted.")])
        }
        switch result {
        case .failure(let e): c.error(e.message)
        case .success(let effects):
            if let bus = k.bus.withLock({ $0 }) { bus.apply(fromCommand: effects) }
            k.saveIfDirty { c.engine.log($0) }
            c.ok()
        }
    }

    struct CommandError: Error {
        let message: String
        init(_ m: String) { message = m }
    }

    /// CLUSTER FLUSHSLOTS
    static func flushSlots(_ c: inout CommandContext, _ k: Cluster) {
        guard databaseEmpty(c) else { c.error("ERR DB must be empty to perform CLUSTER FLUSHSLOTS."); return }
        change(&c, k) { st in
            for s in 0..<ClusterState.KeySlotCount where st.owners[s] == st.myself { st.owners[s] = nil }
            return nil
        }
    }

    /// CLUSTER FORGET node-id
    static func forget(_ c: inout CommandContext, _ k: Cluster) {
        let name = c.args.string(2)
        change(&c, k) { st in
            guard st.nodes[name] != nil else { return "ERR Unknown node \(name)" }
            if name == st.myself { return "ERR I tried hard but I can't forget myself..." }
            if st.me.primary == name { return "ERR Can't forget my master!" }
            st.delete(name)
            st.forgotten[name] = unixMillis() + 60_000
            return nil
        }
    }

    /// CLUSTER INFO
    static func info(_ c: inout CommandContext, _ k: Cluster) {
        let lines = k.withState { st -> [String] in
            var assigned = 0, pfail = 0, fail = 0
            for (o, count) in st.summary.counts {
                assigned += count
                if let n = st.nodes[o] {
                    if n.flags.contains(.fail) { fail += count } else if n.flags.contains(.pfail) { pfail += count }
                }
            }
            let names = ["ping", "pong", "meet", "fail", "publish", "auth-req", "auth-ack", "update", "mfstart",
                         "module", "publishshard"]
            var lines = ["cluster_state:\(st.ok ? "ok" : "fail")", "cluster_slots_assigned:\(assigned)",
                         "cluster_slots_ok:\(assigned - pfail - fail)", "cluster_slots_pfail:\(pfail)",
                         "cluster_slots_fail:\(fail)", "cluster_known_nodes:\(st.nodes.count)",
                         "cluster_size:\(st.size)", "cluster_current_epoch:\(st.currentEpoch)",
                         "cluster_my_epoch:\((st.me.primary.flatMap { st.nodes[$0] } ?? st.me).configEpoch)"]
            for (i, n) in names.enumerated() where st.sent[i] > 0 { lines.append("cluster_stats_messages_\(n)_sent:\(st.sent[i])") }
            lines.append("cluster_stats_messages_sent:\(st.sent.reduce(0, +))")
            for (i, n) in names.enumerated() where st.received[i] > 0 { lines.append("cluster_stats_messages_\(n)_received:\(st.received[i])") }
            lines.append("cluster_stats_messages_received:\(st.received.reduce(0, +))")
            return lines
        }
        let exceeded = k.bus.withLock { $0 }?.linksOverLimit.load(ordering: .relaxed) ?? 0
        let text = (lines + ["total_cluster_links_buffer_limit_exceeded:\(exceeded)"]).joined(separator: "\r\n") + "\r\n"
        c.out.verbatim(text)
    }

    /// CLUSTER LINKS
    static func links(_ c: inout CommandContext, _ k: Cluster) {
        let list = k.bus.withLock { $0 }?.linkViews.withLock { $0 } ?? []
        c.out.array(list.count)
        for l in list {
            c.out.map(6)
            c.out.bulk("direction"); c.out.bulk(l.outbound ? "to" : "from")
            c.out.bulk("node"); c.out.bulk(l.node)
            c.out.bulk("create-time"); c.out.integer(Int(l.createdAt))
            c.out.bulk("events"); c.out.bulk(l.pendingOutput ? "rw" : "r")
            c.out.bulk("send-buffer-allocated"); c.out.integer(l.allocated)
            c.out.bulk("send-buffer-used"); c.out.integer(l.used)
        }
    }

    /// CLUSTER MEET ip port [cluster-bus-port]
    static func meet(_ c: inout CommandContext, _ k: Cluster) {
        let ip = c.args.string(2)
        guard let port = parseCanonicalInt(c.args[3]) else { c.error(Errors.notInteger); return }
        var cport = port + 10000
        if c.argc > 5 { c.error(Errors.syntax); return }
        if c.argc == 5 {
            guard let p = parseCanonicalInt(c.args[4]) else { c.error(Errors.notInteger); return }
            cport = p
        }
        guard isNumericAddress(ip), port > 0, port < 65536, cport > 0, cport < 65536 else {
            c.error("ERR Invalid node address specified: \(ip):\(port)")
            return
        }
        k.withState { st in _ = st.startHandshake(ip: normalized(ip), port: port, cport: cport, now: unixMillis()) }
        c.ok()
    }

    static func isNumericAddress(_ s: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, s, &v4) == 1 || inet_pton(AF_INET6, s, &v6) == 1
    }

    /// An address as the bus writes it (IPv4-mapped IPv6 as IPv4).
    static func normalized(_ ip: String) -> String {
        ip.lowercased().hasPrefix("::ffff:") && ip.contains(".") ? String(ip.dropFirst(7)) : ip
    }

    /// CLUSTER REPLICAS node-id
    static func replicas(_ c: inout CommandContext, _ k: Cluster) {
        let name = c.args.string(2)
        let result: Result<[String], CommandError> = k.withState { st in
            guard let n = st.nodes[name] else { return .failure(CommandError("ERR Unknown node \(name)")) }
            guard n.isPrimary else { return .failure(CommandError("ERR The specified node is not a master")) }
            return .success(st.nodes.values.filter { $0.primary == name }.sorted { $0.name < $1.name }.map { st.line($0) })
        }
        switch result {
        case .failure(let e): c.error(e.message)
        case .success(let lines):
            c.out.array(lines.count)
            for l in lines { c.out.bulk(l) }
        }
    }

    /// CLUSTER REPLICATE node-id
    static func replicate(_ c: inout CommandContext, _ k: Cluster) {
        let name = c.args.string(2)
        let empty = databaseEmpty(c)
        change(&c, k) { st in
            guard let n = st.nodes[name] else { return "ERR Unknown node \(name)" }
            if name == st.myself { return "ERR Can't replicate myself" }
            if !n.isPrimary { return "ERR I can only replicate a master, not a replica." }
            if st.me.isPrimary && (st.serves(st.myself) || !empty) {
                return "ERR To set a master the node must be empty and without assigned slots."
            }
            st.nodes[st.myself]!.flags.remove(.master)
            st.nodes[st.myself]!.flags.insert(.replica)
            st.nodes[st.myself]!.primary = name
            return nil
        }
    }

    /// CLUSTER RESET [HARD|SOFT]
    static func reset(_ c: inout CommandContext, _ k: Cluster) {
        var hard = false
        if c.argc == 3 {
            if c.args.matches(2, "hard") { hard = true } else if !c.args.matches(2, "soft") { c.error(Errors.syntax); return }
        } else if c.argc > 3 {
            c.error(Errors.syntax)
            return
        }
        let primary = k.withState { $0.me.isPrimary }
        guard !primary || databaseEmpty(c) else {
            c.error("ERR CLUSTER RESET can't be called with master nodes containing keys")
            return
        }
        k.withState { st in
            let others = st.nodes.keys.filter { $0 != st.myself }
            for n in others { st.delete(n) }
            st.owners = [String?](repeating: nil, count: ClusterState.KeySlotCount)
            st.importing = [:]
            st.migrating = [:]
            st.nodes[st.myself]!.flags = [.myself, .master]
            st.nodes[st.myself]!.primary = nil
            if hard {
                st.currentEpoch = 0
                st.lastVoteEpoch = 0
                st.nodes[st.myself]!.configEpoch = 0
                let old = st.myself
                let fresh = ClusterState.randomName()
                var me = st.nodes[old]!
                me.name = fresh
                st.nodes[old] = nil
                st.nodes[fresh] = me
                st.myself = fresh
            }
            st.dirty = true
            st.updateState(now: unixMillis())
        }
        k.saveIfDirty { c.engine.log($0) }
        c.ok()
    }

    /// CLUSTER SET-CONFIG-EPOCH epoch
    static func setConfigEpoch(_ c: inout CommandContext, _ k: Cluster) {
        guard let epoch = c.integer(2) else { return }
        guard epoch >= 0 else { c.error("ERR Invalid config epoch specified: \(epoch)"); return }
        change(&c, k) { st in
            if st.nodes.count > 1 { return "ERR The user can assign a config epoch only when the node does not know any other node." }
            if st.me.configEpoch != 0 { return "ERR Node config epoch is already non-zero" }
            st.nodes[st.myself]!.configEpoch = UInt64(epoch)
            if st.currentEpoch < UInt64(epoch) { st.currentEpoch = UInt64(epoch) }
            return nil
        }
    }

    /// CLUSTER SETSLOT slot IMPORTING node-id | MIGRATING node-id | STABLE | NODE node-id
    static func setSlot(_ c: inout CommandContext, _ k: Cluster) {
        guard let slot = slotArgument(&c, 2) else { return }
        let action = c.args.string(3).lowercased()
        let target = c.argc > 4 ? c.args.string(4) : ""
        guard (action == "stable" && c.argc == 4) || (["importing", "migrating", "node"].contains(action) && c.argc == 5) else {
            c.error("ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP")
            return
        }
        let empty = action == "node" ? c.engine.keyspace.databases[0].countKeys(inSlot: slot) == 0 : true
        change(&c, k) { st in
            switch action {
            case "importing":
                guard st.nodes[target] != nil else { return "ERR I don't know about node \(target)" }
                if st.owners[slot] == st.myself { return "ERR I'm already the owner of hash slot \(slot)" }
                st.importing[slot] = target
            case "migrating":
                guard st.nodes[target] != nil else { return "ERR I don't know about node \(target)" }
                if st.owners[slot] != st.myself { return "ERR I'm not the owner of hash slot \(slot)" }
                st.migrating[slot] = target
            case "stable":
                st.importing[slot] = nil
                st.migrating[slot] = nil
            default:
                guard let n = st.nodes[target] else { return "ERR Unknown node \(target)" }
                if !n.isPrimary { return "ERR Target node is not a master" }
                if st.owners[slot] == st.myself && target != st.myself && !empty {
                    return "ERR Can't assign hashslot \(slot) to a different node while I still hold keys for this hash slot."
                }
                if target != st.myself { st.migrating[slot] = nil }
                if target == st.myself, st.importing[slot] != nil {
                    // The import is done: this node takes the slot with an epoch of its own,
                    // so that its claim wins over the old owner's.
                    st.importing[slot] = nil
                    let maxEpoch = max(st.currentEpoch, st.nodes.values.map(\.configEpoch).max() ?? 0)
                    if st.me.configEpoch == 0 || st.me.configEpoch != maxEpoch {
                        st.currentEpoch = maxEpoch + 1
                        st.nodes[st.myself]!.configEpoch = st.currentEpoch
                    }
                }
                st.owners[slot] = target
            }
            return nil
        }
    }

    /// A node as CLUSTER SLOTS lists it: the preferred endpoint (null for unknown-endpoint),
    /// port, id, and (7.0) a map of the addresses that are not the preferred one.
    static func writeSlotsNode(_ c: inout CommandContext, _ n: ClusterNode, _ preferred: ClusterState.Endpoint, _ endpoint: String) {
        c.out.array(4)
        if preferred == .unknown { c.out.null() } else { c.out.bulk(endpoint) }
        c.out.integer(n.port)
        c.out.bulk(n.name)
        let ip = preferred != .ip, hostname = preferred != .hostname && !n.hostname.isEmpty
        c.out.map((ip ? 1 : 0) + (hostname ? 1 : 0))
        if ip { c.out.bulk("ip"); c.out.bulk(n.ip) }
        if hostname { c.out.bulk("hostname"); c.out.bulk(n.hostname) }
    }

    /// CLUSTER SLOTS
    static func slots(_ c: inout CommandContext, _ k: Cluster) {
        let (preferred, endpoints) = k.withState { st in (st.preferredEndpoint, st.nodes.mapValues { st.endpoint($0) }) }
        let entries = k.withState { st -> [(Int, Int, ClusterNode, [ClusterNode])] in
            var out: [(Int, Int, ClusterNode, [ClusterNode])] = []
            for (o, ranges) in st.summary.ranges {
                guard let owner = st.nodes[o] else { continue }
                let reps = st.nodes.values.filter { $0.primary == o && !$0.flags.contains(.fail) }.sorted { $0.name < $1.name }
                for (a, b) in ranges { out.append((a, b, owner, reps)) }
            }
            return out.sorted { $0.0 < $1.0 }
        }
        c.out.array(entries.count)
        for (a, b, owner, reps) in entries {
            c.out.array(3 + reps.count)
            c.out.integer(a)
            c.out.integer(b)
            writeSlotsNode(&c, owner, preferred, endpoints[owner.name] ?? "")
            for r in reps { writeSlotsNode(&c, r, preferred, endpoints[r.name] ?? "") }
        }
    }

    /// CLUSTER SHARDS
    static func shards(_ c: inout CommandContext, _ k: Cluster) {
        let endpoints = k.withState { st in st.nodes.mapValues { st.endpoint($0) } }
        let list = k.withState { st -> [([(Int, Int)], [ClusterNode])] in
            st.nodes.values.filter { $0.isPrimary && !$0.flags.contains(.handshake) }.sorted { $0.name < $1.name }.map { p in
                (st.ranges(of: p.name), [p] + st.nodes.values.filter { $0.primary == p.name }.sorted { $0.name < $1.name })
            }
        }
        c.out.array(list.count)
        for (ranges, members) in list {
            c.out.map(2)
            c.out.bulk("slots")
            c.out.array(ranges.count * 2)
            for (a, b) in ranges { c.out.integer(a); c.out.integer(b) }
            c.out.bulk("nodes")
            c.out.array(members.count)
            for n in members {
                c.out.map(n.hostname.isEmpty ? 7 : 8)
                c.out.bulk("id"); c.out.bulk(n.name)
                c.out.bulk("port"); c.out.integer(n.port)
                c.out.bulk("ip"); c.out.bulk(n.ip)
                c.out.bulk("endpoint"); c.out.bulk(endpoints[n.name] ?? n.ip)
                if !n.hostname.isEmpty { c.out.bulk("hostname"); c.out.bulk(n.hostname) }
                c.out.bulk("role"); c.out.bulk(n.isPrimary ? "master" : "replica")
                c.out.bulk("replication-offset"); c.out.integer(Int(n.replOffset))
                c.out.bulk("health"); c.out.bulk(n.flags.contains(.fail) ? "fail" : n.flags.contains(.pfail) ? "loading" : "online")
            }
        }
    }
}
