#if canImport(Glibc)
import Glibc
#endif
import CLarderSys
import RESP
import Storage

/// Server commands: INFO, CONFIG, TIME, LASTSAVE, SHUTDOWN, DEBUG, MEMORY and FUNCTION.
enum ServerCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("info", arity: -1, flags: [.loading, .stale], scope: .all, group: "server",
                    summary: "Returns information and statistics about the server.", complexity: "O(1)",
                    acl: ["dangerous"], handler: info),
        CommandSpec("config", arity: -2, flags: [], group: "server",
                    summary: "A container for server configuration commands.", complexity: "Depends on subcommand.",
                    subcommands: [
                        sub("config|get", -3, "Returns the effective values of configuration parameters.", configGet),
                        sub("config|set", -4, "Sets configuration parameters in-flight.", configSet),
                        CommandSpec("config|resetstat", arity: 2, flags: [.admin, .noscript, .loading, .stale], scope: .all,
                                    group: "server", summary: "Resets the server's statistics.", handler: configResetStat),
                        sub("config|rewrite", 2, "Persists the effective configuration to file.", configRewrite),
                        CommandSpec("config|help", arity: 2, flags: [.loading, .stale], group: "server",
                                    summary: "Returns helpful text about the different subcommands.", handler: configHelp),
                    ], handler: nil),
        CommandSpec("lolwut", arity: -1, flags: [.readonly, .fast], group: "server",
                    summary: "Displays computer art and the Redis version", handler: lolwut),
        CommandSpec("time", arity: 1, flags: [.loading, .stale, .fast], group: "server",
                    summary: "Returns the server time.", handler: time),
        CommandSpec("lastsave", arity: 1, flags: [.loading, .stale, .fast], group: "server",
                    summary: "Returns the Unix timestamp of the last successful save to disk.", acl: ["admin", "dangerous"],
                    handler: { c in c.out.integer(c.engine.lastSave.load(ordering: .relaxed)) }),
        CommandSpec("shutdown", arity: -1, flags: [.admin, .noscript, .loading, .stale, .noMulti, .allowBusy],
                    group: "server", summary: "Synchronously saves the database(s) to disk and shuts down the Redis server.",
                    complexity: "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
                    handler: shutdown),
        CommandSpec("memory", arity: -2, flags: [], group: "server",
                    summary: "A container for memory diagnostics commands.", complexity: "Depends on subcommand.",
                    subcommands: [
                        CommandSpec("memory|usage", arity: -3, flags: [.readonly], keys: (2, 2, 1), group: "server",
                                    summary: "Estimates the memory usage of a key.", complexity: "O(N) where N is the number of samples.",
                                    handler: memoryUsage),
                        CommandSpec("memory|stats", arity: 2, flags: [], scope: .all, group: "server",
                                    summary: "Returns details about memory usage.", handler: memoryStats),
                        CommandSpec("memory|doctor", arity: 2, flags: [], group: "server",
                                    summary: "Outputs a memory problems report.", handler: memoryDoctor),
                        CommandSpec("memory|malloc-stats", arity: 2, flags: [], group: "server",
                                    summary: "Returns the allocator statistics.", complexity: "Depends on how much memory is allocated, could be slow",
                                    handler: { c in c.out.bulk("Stats not supported for the current allocator") }),
                        CommandSpec("memory|purge", arity: 2, flags: [], group: "server",
                                    summary: "Asks the allocator to release memory.", complexity: "Depends on how much memory is allocated, could be slow",
                                    handler: memoryPurge),
                        CommandSpec("memory|help", arity: 2, flags: [.loading, .stale], group: "server",
                                    summary: "Returns helpful text about the different subcommands.", handler: memoryHelp),
                    ], handler: nil),
    ]

    static func sub(_ name: String, _ arity: Int, _ summary: String, _ h: @escaping CommandHandler) -> CommandSpec {
        CommandSpec(name, arity: arity, flags: [.admin, .noscript, .loading, .stale], group: "server",
                    summary: summary, handler: h)
    }

    /// INFO [section [section ...]]
    static func info(_ c: inout CommandContext) {
        c.engine.flushCounters(&c)
        var sections: [String] = []
        for i in 1..<max(1, c.argc) { sections.append(c.args.string(i).lowercased()) }
        c.out.verbatim(InfoReport(engine: c.engine, now: c.now).render(sections))
    }

    /// CONFIG GET parameter [parameter ...]
    static func configGet(_ c: inout CommandContext) {
        var seen = Set<String>()
        var pairs: [(String, String)] = []
        for i in 2..<c.argc {
            for (k, v) in c.engine.config.matching(c.args.string(i)) where !seen.contains(k) {
                seen.insert(k)
                pairs.append((k, v))
            }
        }
        c.out.map(pairs.count)
        for (k, v) in pairs { c.out.bulk(k); c.out.bulk(v) }
    }

    /// CONFIG SET parameter value [parameter value ...]
    ///
    /// As Redis 7.0: every name is checked first (unknown, immutable, protected, given twice),
    /// then every value is stored, then each apply hook runs once; if a value is invalid or a
    /// hook fails, every parameter goes back to its old value (hooks run again) and nothing
    /// has changed.
    static func configSet(_ c: inout CommandContext) {
        guard c.argc % 2 == 0 else { c.error(Errors.syntax); return }
        func failed(_ c: inout CommandContext, _ name: String, _ why: String) {
            c.error("ERR CONFIG SET failed (possibly related to argument '\(name)') - \(why)")
        }
        let config = c.engine.config
        var changes: [(given: String, p: ConfigParameter, value: [String])] = []
        for i in stride(from: 2, to: c.argc, by: 2) {
            let name = c.args.string(i)
            guard let p = Config.parameter(name) else {
                c.error("ERR Unknown option or number of arguments for CONFIG SET - '\(name)'")
                return
            }
            if p.immutable { failed(&c, name, "can't set immutable config"); return }
            if p.protected {
                let mode = config.get("enable-protected-configs")
                guard mode == "yes" || (mode == "local" && c.client.address.hasPrefix("127.")) else {
                    failed(&c, name, "can't set protected config")
                    return
                }
            }
            // Redis compares the names given: an alias and its name are two parameters.
            if changes.contains(where: { $0.given.lowercased() == name.lowercased() }) {
                failed(&c, name, "duplicate parameter")
                return
            }
            changes.append((name, p, [c.args.string(i + 1)]))
        }
        let old = changes.map { config.get($0.p.name) }
        func restore(_ n: Int) {
            for (change, value) in zip(changes.prefix(n), old) { config.store(change.p, value) }
        }
        for (i, change) in changes.enumerated() {
            do throws(ConfigError) {
                let value = try Config.canonical(change.p, change.value)
                if let why = change.p.unsupported, value != change.p.defaultValue { throw ConfigError(message: why) }
                config.store(change.p, value)
            } catch {
                restore(i)
                failed(&c, change.given, error.message)
                return
            }
        }
        let hooks = Set(changes.map(\.p.apply)).sorted()
        for hook in hooks {
            do {
                try c.engine.applyConfig(hook)
            } catch {
                restore(changes.count)
                for h in hooks { try? c.engine.applyConfig(h) }
                failed(&c, changes.first { $0.p.apply == hook }!.given, error.message)
                return
            }
        }
        c.ok()
    }

    /// CONFIG RESETSTAT
    static func configResetStat(_ c: inout CommandContext) {
        c.engine.stats.reset()
        c.engine.lazyFreed.store(0, ordering: .relaxed)
        for spec in c.engine.table.commands {
            for s in [spec] + spec.subcommands {
                s.calls.store(0, ordering: .relaxed)
                s.failedCalls.store(0, ordering: .relaxed)
                s.usec.store(0, ordering: .relaxed)
                s.rejectedCalls.store(0, ordering: .relaxed)
                s.histogram.reset()
            }
        }
        for db in c.engine.keyspace.databases {
            for s in db.shards { s.resetStats() }   // every shard is locked: the scope is .all
        }
        c.ok()
    }

    /// CONFIG REWRITE
    static func configRewrite(_ c: inout CommandContext) {
        guard let path = c.engine.config.configFile else {
            c.error("ERR The server is running without a config file")
            return
        }
        do {
            let users = c.engine.config.get("aclfile").isEmpty ? c.engine.acl.lines() : nil
            try ConfigFile.rewrite(path: path, config: c.engine.config, users: users)
            c.ok()
        } catch {
            c.error("ERR Rewriting config file: \(error)")
        }
    }

    static func configHelp(_ c: inout CommandContext) {
        let lines = ["CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                     "GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
                     "SET <directive> <value>", "    Set the configuration <directive> to <value>.",
                     "RESETSTAT", "    Reset statistics reported by the INFO command.",
                     "REWRITE", "    Rewrite the configuration file.",
                     "HELP", "    Print this help."]
        c.help(lines)
    }

    /// LOLWUT [VERSION version]
    /// Redis draws a piece of generative art per version before its version line; Larder
    /// answers the version line alone (clients and tools only read that line).
    static func lolwut(_ c: inout CommandContext) {
        if c.argc >= 3 && c.args.matches(1, "version") {
            guard c.integer(2) != nil else { return }
        }
        c.out.verbatim("Redis ver. \(Version.redis)\n")
    }

    /// TIME
    static func time(_ c: inout CommandContext) {
        let us = unixMicros()
        c.out.array(2)
        c.out.bulk(String(us / 1_000_000))
        c.out.bulk(String(us % 1_000_000))
    }

    /// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]
    static func shutdown(_ c: inout CommandContext) {
        var flags = ShutdownFlags()
        var abort = false
        for i in 1..<max(1, c.argc) {
            if c.args.matches(i, "nosave") { flags.nosave = true }
            else if c.args.matches(i, "save") { flags.save = true }
            else if c.args.matches(i, "now") { flags.now = true }
            else if c.args.matches(i, "force") { flags.force = true }
            else if c.args.matches(i, "abort") { abort = true }
            else { c.error(Errors.syntax); return }
        }
        if abort {
            guard c.argc == 2 else { c.error(Errors.syntax); return }
            if c.engine.abortShutdown() { c.ok() } else { c.error("ERR No shutdown in progress.") }
            return
        }
        if flags.save && flags.nosave { c.error(Errors.syntax); return }
        c.engine.log("User requested shutdown...")
        // The client waits (replicas catching up, the final save) off the loops, parked as a
        // blocked client: no reply when the server stops (the connection closes, as Redis's),
        // the error when it must not.
        let engine = c.engine, id = c.client.id
        guard let spec = engine.table.lookup(c.args[0]), let deliver = c.session.onUnblock, !c.noBlock else {
            engine.requestShutdown(flags) {}
            return
        }
        let w = Waiter(client: c.client, spec: spec, args: c.args, dbIndex: c.dbIndex, resp3: c.out.resp3, keys: [],
                       timeoutReply: { $0.error("ERR Errors trying to SHUTDOWN. Check logs.") }, deliver: deliver)
        let wanted = flags
        w.onParked = { engine.requestShutdown(wanted) { _ = engine.unblock(clientID: id, message: nil) } }
        c.blockedOn = w
        c.blockTimeoutMs = 0
    }


    /// MEMORY USAGE key [SAMPLES count]
    static func memoryUsage(_ c: inout CommandContext) {
        var j = 3
        while j < c.argc {
            if c.args.matches(j, "samples") && j + 1 < c.argc {
                guard let n = c.integer(j + 1) else { return }
                guard n >= 0 else { c.error(Errors.syntax); return }
                j += 2
            } else {
                c.error(Errors.syntax)
                return
            }
        }
        let shard = c.shard(2)
        guard let slot = shard.find(c.args[2], now: c.lookupNow) else { c.out.null(); return }
        // Key and value bytes plus the table slot (tag, key header, entry).
        let keyBytes = shard.key(at: slot).count
        let slotBytes = 8 + 8 + MemoryLayout<Entry>.stride
        c.out.integer(keyBytes + shard.entry(at: slot).value.memoryUsage + slotBytes)
    }

    /// MEMORY STATS (every shard is locked: its scope is .all)
    static func memoryStats(_ c: inout CommandContext) {
        let used = c.engine.usedMemory(fresh: true)
        let peak = max(c.engine.peakMemory.load(ordering: .relaxed), used)
        let rss = MemoryStats.residentSetSize()
        var dbLines: [(Int, Int, Int)] = []
        var keys = 0, overhead = 0
        for db in c.engine.keyspace.databases {
            let n = db.shards.reduce(0) { $0 + $1.count }
            guard n > 0 else { continue }
            let slots = db.shards.reduce(0) { $0 + $1.table.capacity }
            let main = slots * (8 + 8 + MemoryLayout<Entry>.stride)
            let expires = db.shards.reduce(0) { $0 + $1.volatileCount } * 16
            dbLines.append((db.index, main, expires))
            keys += n
            overhead += main + expires
        }
        let dataset = max(0, used - overhead)
        var fields: [(String, Int?)] = [("peak.allocated", peak), ("total.allocated", used), ("startup.allocated", 0),
                                        ("replication.backlog", 0), ("clients.slaves", 0), ("clients.normal", 0),
                                        ("aof.buffer", 0), ("lua.caches", 0), ("functions.caches", 0)]
        c.out.map(fields.count + dbLines.count + 9)
        for (k, v) in fields { c.out.bulk(k); c.out.integer(v ?? 0) }
        for (i, main, exp) in dbLines {
            c.out.bulk("db.\(i)")
            c.out.map(2)
            c.out.bulk("overhead.hashtable.main"); c.out.integer(main)
            c.out.bulk("overhead.hashtable.expires"); c.out.integer(exp)
        }
        fields = [("overhead.total", overhead), ("keys.count", keys), ("keys.bytes-per-key", keys > 0 ? used / keys : 0),
                  ("dataset.bytes", dataset)]
        for (k, v) in fields { c.out.bulk(k); c.out.integer(v ?? 0) }
        c.out.bulk("dataset.percentage"); c.out.double(format2(used > 0 ? Double(dataset) * 100 / Double(used) : 0))
        c.out.bulk("peak.percentage"); c.out.double(format2(peak > 0 ? Double(used) * 100 / Double(peak) : 0))
        c.out.bulk("allocator.allocated"); c.out.integer(used)
        c.out.bulk("rss-overhead.bytes"); c.out.integer(rss - used)
        c.out.bulk("fragmentation"); c.out.double(format2(used > 0 ? Double(rss) / Double(used) : 0))
    }

    /// MEMORY DOCTOR
    static func memoryDoctor(_ c: inout CommandContext) {
        let used = c.engine.usedMemory(fresh: true)
        let rss = MemoryStats.residentSetSize()
        var text: String
        if used < 5 * 1024 * 1024 {
            text = "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting."
        } else if Double(rss) / Double(used) > 1.4 {
            text = "Sam, I detected a few issues in this Larder instance memory implants:\n\n * High fragmentation: the resident set is \(format2(Double(rss) / Double(used))) times the memory in use. Memory freed by deletions and evictions is held by the allocator for reuse.\n\nI'm here to keep you safe, Sam. I want to help you.\n"
        } else {
            text = "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base."
        }
        c.out.verbatim(text)
    }

    /// MEMORY PURGE
    static func memoryPurge(_ c: inout CommandContext) {
        larder_malloc_trim()
        c.ok()
    }

    static func memoryHelp(_ c: inout CommandContext) {
        let lines = ["MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                     "DOCTOR", "    Return memory problems reports.",
                     "MALLOC-STATS", "    Return internal statistics report from the memory allocator.",
                     "PURGE", "    Attempt to purge dirty pages for reclamation by the allocator.",
                     "STATS", "    Return information about the memory usage of the server.",
                     "USAGE <key> [SAMPLES <count>]", "    Return memory in bytes used by <key> and its value. Nested values are",
                     "    sampled up to <count> times (default: 5, 0 means sample all).",
                     "HELP", "    Prints this help."]
        c.help(lines)
    }
}
