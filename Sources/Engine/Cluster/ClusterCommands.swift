import RESP

/// CLUSTER, READONLY, READWRITE and ASKING. Larder does not run as a cluster node yet
/// (`cluster-enabled yes` is refused at start), so these answer as redis-server 7.0 does with
/// cluster support disabled: the command table knows every sub-command with Redis's arity and
/// flags (an unknown one or a wrong arity gets the usual errors first), and then each says
/// "This instance has cluster support disabled". Clients probe with CLUSTER INFO and READONLY
/// to find out whether they face a cluster, and that is the answer they understand.
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
                                    summary: "Show helpful text about the different subcommands", handler: refuse),
                    ], handler: nil),
        CommandSpec("readonly", arity: 1, flags: [.loading, .stale, .fast], group: "cluster",
                    summary: "Enables read queries for a connection to a cluster replica node", acl: ["connection"],
                    handler: refuse),
        CommandSpec("readwrite", arity: 1, flags: [.loading, .stale, .fast], group: "cluster",
                    summary: "Disables read queries for a connection to a cluster replica node", acl: ["connection"],
                    handler: refuse),
        CommandSpec("asking", arity: 1, flags: [.fast], group: "cluster",
                    summary: "Sent by cluster clients after an -ASK redirect", acl: ["connection"], handler: refuse),
    ]

    /// A CLUSTER sub-command with Redis 7.0's flags: every one may run on a stale replica; the
    /// administrative ones are admin (@admin @dangerous) and, but for those that only read the
    /// cluster's state, refused while a replica loads its data asynchronously.
    static func sub(_ name: String, _ arity: Int, admin: Bool = false, asyncLoading: Bool = false, noscript: Bool = false, _ summary: String, _ complexity: String = "O(1)") -> CommandSpec {
        var flags: CommandFlags = [.stale]
        if admin { flags.insert(.admin) }
        if admin && !asyncLoading { flags.insert(.noAsyncLoading) }
        if noscript { flags.insert(.noscript) }
        return CommandSpec("cluster|" + name, arity: arity, flags: flags, group: "cluster", summary: summary, complexity: complexity, handler: refuse)
    }

    /// Every one of them, with cluster support disabled.
    static func refuse(_ c: inout CommandContext) {
        c.error(disabled)
    }
}
