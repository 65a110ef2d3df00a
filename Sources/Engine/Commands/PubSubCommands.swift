import RESP
import Storage

/// SUBSCRIBE and friends, PUBLISH, SPUBLISH and PUBSUB.
enum PubSubCommands {
    static let flags: CommandFlags = [.pubsub, .noscript, .loading, .stale, .whileSubscribed]

    static let specs: [CommandSpec] = [
        CommandSpec("subscribe", arity: -2, flags: flags, group: "pubsub",
                    summary: "Listens for messages published to channels.", complexity: "O(N)",
                    acl: ["pubsub"], handler: { subscribe(&$0, .channel) }),
        CommandSpec("psubscribe", arity: -2, flags: flags, group: "pubsub",
                    summary: "Listens for messages published to channels that match one or more patterns.",
                    complexity: "O(N)", acl: ["pubsub"], handler: { subscribe(&$0, .pattern) }),
        CommandSpec("ssubscribe", arity: -2, flags: flags, keys: (1, -1, 1), scope: LockScope.none, group: "pubsub",
                    summary: "Listens for messages published to shard channels.", complexity: "O(N)",
                    acl: ["pubsub"], handler: { subscribe(&$0, .shard) }),
        CommandSpec("unsubscribe", arity: -1, flags: flags, group: "pubsub",
                    summary: "Stops listening to messages posted to channels.", complexity: "O(N)",
                    acl: ["pubsub"], handler: { unsubscribe(&$0, .channel) }),
        CommandSpec("punsubscribe", arity: -1, flags: flags, group: "pubsub",
                    summary: "Stops listening to messages published to channels that match one or more patterns.",
                    complexity: "O(N)", acl: ["pubsub"], handler: { unsubscribe(&$0, .pattern) }),
        CommandSpec("sunsubscribe", arity: -1, flags: flags, keys: (1, -1, 1), scope: LockScope.none, group: "pubsub",
                    summary: "Stops listening to messages posted to shard channels.", complexity: "O(N)",
                    acl: ["pubsub"], handler: { unsubscribe(&$0, .shard) }),
        CommandSpec("publish", arity: 3, flags: [.pubsub, .loading, .stale, .fast, .mayReplicate], group: "pubsub", summary: "Posts a message to a channel.", complexity: "O(N+M)",
                    acl: ["pubsub"], handler: { c in publish(&c, shard: false) }),
        CommandSpec("spublish", arity: 3, flags: [.pubsub, .loading, .stale, .fast, .mayReplicate], keys: (1, 1, 1),
                    scope: LockScope.none, group: "pubsub", summary: "Post a message to a shard channel",
                    complexity: "O(N)", acl: ["pubsub"],
                    handler: { c in publish(&c, shard: true) }),
        CommandSpec("pubsub", arity: -2, flags: [], group: "pubsub",
                    summary: "A container for Pub/Sub commands.", complexity: "Depends on subcommand.",
                    subcommands: [
                        sub("channels", -2, "Returns the active channels.", { channels(&$0, shard: false) }),
                        sub("numsub", -2, "Returns a count of subscribers to channels.", { numsub(&$0, shard: false) }),
                        sub("numpat", 2, "Returns a count of unique pattern subscriptions.",
                            { c in c.out.integer(c.engine.pubsub.patternCount) }),
                        sub("shardchannels", -2, "Returns the active shard channels.", { channels(&$0, shard: true) }),
                        sub("shardnumsub", -2, "Returns the count of subscribers of shard channels.", { numsub(&$0, shard: true) }),
                        CommandSpec("pubsub|help", arity: 2, flags: [.loading, .stale], group: "pubsub",
                                    summary: "Returns helpful text about the different subcommands.", handler: help),
                    ], handler: nil),
    ]

    static func sub(_ name: String, _ arity: Int, _ summary: String, _ h: @escaping CommandHandler) -> CommandSpec {
        CommandSpec("pubsub|" + name, arity: arity, flags: [.pubsub, .loading, .stale], group: "pubsub",
                    summary: summary, acl: ["pubsub"], handler: h)
    }

    /// PUBLISH channel message / SPUBLISH shardchannel message
    static func publish(_ c: inout CommandContext, shard: Bool) {
        let n = c.engine.pubsub.publish(c.args.owned(1), c.args[2], shard: shard, publisher: c.client.id) {
            c.out.buffer.writeImmutableBuffer($0)
        }
        // As Redis: the message reaches the other nodes of a cluster over the bus, or else the
        // subscribers of replicas through the stream (not the AOF).
        if c.engine.cluster != nil {
            c.engine.clusterPublish(c.args.owned(1), c.args[2], shard: shard)
        } else {
            c.engine.propagateToReplicas(&c)
        }
        c.out.integer(n)
    }

    /// This client as a message receiver, made on first use.
    static func subscriber(_ c: inout CommandContext) -> Subscriber {
        if let s = c.session.subscriber {
            s.resp3.store(c.out.resp3, ordering: .relaxed)
            return s
        }
        let s = Subscriber(id: c.client.id, deliver: c.session.onPush ?? { _ in })
        s.resp3.store(c.out.resp3, ordering: .relaxed)
        c.session.subscriber = s
        return s
    }

    static func confirm(_ c: inout CommandContext, _ what: String, _ name: [UInt8]?, _ count: Int) {
        if c.session.replyMode != .on { c.replyIsPush = true }
        c.out.push(3)
        c.out.bulk(what)
        if let name { c.out.bulk(name) } else { c.out.null() }
        c.out.integer(count)
    }

    /// Takes the shard channels the server dropped off the connection's list (see
    /// Subscriber.revoked).
    static func forgetRevoked(_ c: inout CommandContext) {
        guard let s = c.session.subscriber, s.revoked.load(ordering: .relaxed) else { return }
        s.revoked.store(false, ordering: .relaxed)
        for channel in s.revokedShardChannels.withLock({ r in defer { r.removeAll() }; return r }) {
            c.session.shardChannels.remove(channel)
        }
        updateCounts(&c)
    }

    static func count(_ c: CommandContext, _ kind: PubSub.Kind) -> Int {
        kind == .shard ? c.session.shardChannels.count : c.session.channels.count + c.session.patterns.count
    }

    /// SUBSCRIBE channel [channel ...] / PSUBSCRIBE pattern [pattern ...] / SSUBSCRIBE shardchannel [shardchannel ...]
    static func subscribe(_ c: inout CommandContext, _ kind: PubSub.Kind) {
        forgetRevoked(&c)
        let s = subscriber(&c)
        for i in 1..<c.argc {
            let name = c.args.owned(i)
            let isNew: Bool
            switch kind {
            case .channel: isNew = c.session.channels.insert(name).inserted
            case .pattern: isNew = c.session.patterns.insert(name).inserted
            case .shard: isNew = c.session.shardChannels.insert(name).inserted
            }
            if isNew { c.engine.pubsub.add(kind, name, s) }
            let word = kind == .channel ? "subscribe" : kind == .pattern ? "psubscribe" : "ssubscribe"
            confirm(&c, word, name, count(c, kind))
        }
        updateCounts(&c)
    }

    /// UNSUBSCRIBE [channel ...] / PUNSUBSCRIBE [pattern ...] / SUNSUBSCRIBE [shardchannel ...]
    static func unsubscribe(_ c: inout CommandContext, _ kind: PubSub.Kind) {
        forgetRevoked(&c)
        let word = kind == .channel ? "unsubscribe" : kind == .pattern ? "punsubscribe" : "sunsubscribe"
        var names: [[UInt8]] = (1..<max(1, c.argc)).map { c.args.owned($0) }
        if c.argc == 1 {
            switch kind {
            case .channel: names = Array(c.session.channels)
            case .pattern: names = Array(c.session.patterns)
            case .shard: names = Array(c.session.shardChannels)
            }
            if names.isEmpty {
                confirm(&c, word, nil, count(c, kind))
                return
            }
        }
        for name in names {
            let removed: Bool
            switch kind {
            case .channel: removed = c.session.channels.remove(name) != nil
            case .pattern: removed = c.session.patterns.remove(name) != nil
            case .shard: removed = c.session.shardChannels.remove(name) != nil
            }
            if removed { c.engine.pubsub.remove(kind, name, c.client.id) }
            confirm(&c, word, name, count(c, kind))
        }
        updateCounts(&c)
    }

    static func updateCounts(_ c: inout CommandContext) {
        let (s, p, ss) = (c.session.channels.count, c.session.patterns.count, c.session.shardChannels.count)
        c.client.info.withLock { $0.sub = s; $0.psub = p; $0.ssub = ss }
    }

    /// Drops every subscription of a client (RESET, disconnect).
    static func unsubscribeAll(_ c: inout CommandContext) {
        forgetRevoked(&c)
        for n in c.session.channels { c.engine.pubsub.remove(.channel, n, c.client.id) }
        for n in c.session.patterns { c.engine.pubsub.remove(.pattern, n, c.client.id) }
        for n in c.session.shardChannels { c.engine.pubsub.remove(.shard, n, c.client.id) }
        c.session.channels.removeAll()
        c.session.patterns.removeAll()
        c.session.shardChannels.removeAll()
        updateCounts(&c)
    }

    /// PUBSUB CHANNELS [pattern] / PUBSUB SHARDCHANNELS [pattern]
    static func channels(_ c: inout CommandContext, shard: Bool) {
        if c.argc > 3 { c.error(Errors.arity(shard ? "pubsub|shardchannels" : "pubsub|channels")); return }
        let list = c.engine.pubsub.channels(matching: c.argc == 3 ? c.args.owned(2) : nil, shard: shard)
        c.out.array(list.count)
        for ch in list { c.out.bulk(ch) }
    }

    /// PUBSUB NUMSUB [channel ...] / PUBSUB SHARDNUMSUB [shardchannel ...]
    static func numsub(_ c: inout CommandContext, shard: Bool) {
        // A flat array in RESP3 too, as Redis 7.0 (not a map).
        c.out.array(2 * (c.argc - 2))
        for i in 2..<c.argc {
            c.out.bulk(c.args[i])
            c.out.integer(c.engine.pubsub.subscriberCount(c.args.owned(i), shard: shard))
        }
    }

    static func help(_ c: inout CommandContext) {
        let lines = ["PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                     "CHANNELS [<pattern>]", "    Return the currently active channels matching a <pattern> (default: '*').",
                     "NUMPAT", "    Return number of subscriptions to patterns.",
                     "NUMSUB [<channel> ...]", "    Return the number of subscribers for the specified channels, excluding",
                     "    pattern subscriptions(default: no channels).",
                     "SHARDCHANNELS [<pattern>]", "    Return the currently active shard level channels matching a <pattern> (default: '*').",
                     "SHARDNUMSUB [<shardchannel> ...]", "    Return the number of subscribers for the specified shard level channel(s)",
                     "HELP", "    Print this help."]
        c.help(lines)
    }
}
