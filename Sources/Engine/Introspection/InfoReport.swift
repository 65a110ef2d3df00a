#if canImport(Glibc)
import Glibc
#endif
import Storage
import CLarderSys

/// The text of INFO, with Redis's section and field names, which tools parse. INFO runs with
/// every shard locked (its scope is .all), so the counts here are read without locking.
struct InfoReport {
    let engine: Engine
    let now: Int64

    static let defaultSections = ["server", "clients", "memory", "persistence", "stats", "replication",
                                  "cpu", "modules", "errorstats", "cluster", "keyspace"]
    /// Redis's order for INFO all / everything.
    static let allSections = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules",
                              "commandstats", "errorstats", "latencystats", "cluster", "keyspace"]

    func render(_ requested: [String]) -> String {
        var wanted: [String]
        if requested.isEmpty || requested.contains("default") {
            wanted = Self.defaultSections
        } else if requested.contains("all") || requested.contains("everything") {
            wanted = Self.allSections
        } else {
            wanted = Self.allSections.filter { requested.contains($0) }
        }
        if requested.contains("commandstats") && !wanted.contains("commandstats") { wanted.append("commandstats") }
        var out = ""
        for s in wanted {
            let lines: [(String, String)]
            switch s {
            case "server": lines = server()
            case "clients": lines = clients()
            case "memory": lines = memory()
            case "persistence": lines = persistence()
            case "stats": lines = stats()
            case "replication": lines = replication()
            case "cpu": lines = cpu()
            case "modules": lines = []
            case "errorstats": lines = errorstats()
            case "cluster": lines = [("cluster_enabled", engine.cluster == nil ? "0" : "1")]
            case "keyspace": lines = keyspace()
            case "commandstats": lines = commandstats()
            case "latencystats": lines = latencystats()
            default: lines = []
            }
            if !out.isEmpty { out += "\r\n" }
            out += "# \(s == "cpu" ? "CPU" : s.prefix(1).uppercased() + s.dropFirst())\r\n"
            for (k, v) in lines { out += "\(k):\(v)\r\n" }
        }
        return out
    }

    func server() -> [(String, String)] {
        var u = utsname()
        uname(&u)
        func field<T>(_ t: T) -> String {
            withUnsafeBytes(of: t) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
        }
        let uptime = (now - engine.startedAt) / 1000
        return [
            ("redis_version", Version.redis),
            ("larder_version", Version.larder),
            ("redis_git_sha1", "00000000"),
            ("redis_git_dirty", "0"),
            ("redis_build_id", "0"),
            ("redis_mode", "standalone"),
            ("os", "\(field(u.sysname)) \(field(u.release)) \(field(u.machine))"),
            ("arch_bits", "64"),
            ("monotonic_clock", "POSIX clock_gettime"),
            ("multiplexing_api", "epoll"),
            ("atomicvar_api", "c11-builtin"),
            // Redis gives the GCC that built it; Larder is not built by GCC (Redis says 0.0.0 then).
            ("gcc_version", "0.0.0"),
            ("process_id", String(getpid())),
            ("process_supervised", "no"),
            ("run_id", engine.runID),
            ("tcp_port", String(engine.tcpPort)),
            ("server_time_usec", String(unixMicros())),
            ("uptime_in_seconds", String(uptime)),
            ("uptime_in_days", String(uptime / 86400)),
            ("hz", engine.config.get("hz")),
            ("configured_hz", engine.config.get("hz")),
            ("lru_clock", String(lruClock(now))),
            ("executable", CommandLine.arguments.first ?? ""),
            ("config_file", engine.config.configFile ?? ""),
            ("io_threads_active", "0"),
        ]
    }

    func clients() -> [(String, String)] {
        [
            ("connected_clients", String(engine.clients.count)),
            ("cluster_connections", "0"),
            ("maxclients", engine.config.get("maxclients")),
            ("client_recent_max_input_buffer", "0"),
            ("client_recent_max_output_buffer", "0"),
            ("blocked_clients", String(engine.blockedClientCount)),
            ("tracking_clients", "0"),
            ("clients_in_timeout_table", "0"),
        ]
    }

    func memory() -> [(String, String)] {
        let used = engine.usedMemory(fresh: true)
        let rss = MemoryStats.residentSetSize()
        let peak = max(engine.peakMemory.load(ordering: .relaxed), used)
        engine.peakMemory.store(peak, ordering: .relaxed)
        let maxmemory = engine.config.int("maxmemory")
        let total = MemoryStats.totalSystemMemory()
        let sc = engine.scripting
        let lua = (eval: sc.evalMemory.load(ordering: .relaxed), functions: sc.functionsMemory.load(ordering: .relaxed),
                   scripts: sc.scriptsMemory.load(ordering: .relaxed), libraries: sc.librariesMemory.load(ordering: .relaxed))
        // Where the memory goes, as Redis splits it: what the server held at start and what
        // its buffers hold (overhead), the rest being the data set; what malloc holds from the
        // system against what it handed out, and the process's resident set against both.
        let startup = engine.startupMemory
        var normalClients = 0, replicaClients = 0
        for c in engine.clients.all {
            let i = c.inputBytes.load(ordering: .relaxed) + c.outputBytes.load(ordering: .relaxed)
            if c.isReplica { replicaClients += i } else { normalClients += i }
        }
        let backlog = engine.repl.lock.withLock { engine.repl.backlog.count }
        let overhead = min(used, startup + backlog + normalClients + replicaClients)
        let dataset = used - overhead
        let allocated = MemoryStats.allocated()
        let active = max(allocated, MemoryStats.fromSystem())
        let resident = max(active, rss)
        func ratio(_ a: Int, _ b: Int) -> String { format2(b > 0 ? Double(a) / Double(b) : 0) }
        func human(_ n: Int) -> String {
            let units = ["B", "K", "M", "G", "T"]
            var v = Double(n)
            var i = 0
            while v >= 1024 && i < units.count - 1 { v /= 1024; i += 1 }
            return i == 0 ? "\(n)B" : String(format2(v)) + units[i]
        }
        return [
            ("used_memory", String(used)),
            ("used_memory_human", human(used)),
            ("used_memory_rss", String(rss)),
            ("used_memory_rss_human", human(rss)),
            ("used_memory_peak", String(peak)),
            ("used_memory_peak_human", human(peak)),
            ("used_memory_peak_perc", used > 0 ? format2(Double(used) * 100 / Double(peak)) + "%" : "0.00%"),
            ("used_memory_overhead", String(overhead)),
            ("used_memory_startup", String(startup)),
            ("used_memory_dataset", String(dataset)),
            ("used_memory_dataset_perc", format2(used > startup ? Double(dataset) * 100 / Double(used - startup) : 0) + "%"),
            ("allocator_allocated", String(allocated)),
            ("allocator_active", String(active)),
            ("allocator_resident", String(resident)),
            ("total_system_memory", String(total)),
            ("total_system_memory_human", human(total)),
            ("used_memory_lua", String(lua.eval)),
            ("used_memory_vm_eval", String(lua.eval)),
            ("used_memory_lua_human", human(lua.eval)),
            ("used_memory_scripts_eval", String(lua.scripts)),
            ("number_of_cached_scripts", String(engine.scripting.cachedScripts.load(ordering: .relaxed))),
            ("number_of_functions", String(engine.scripting.functionCount.load(ordering: .relaxed))),
            ("number_of_libraries", String(engine.scripting.libraryCount.load(ordering: .relaxed))),
            ("used_memory_vm_functions", String(lua.functions)),
            ("used_memory_vm_total", String(lua.eval + lua.functions)),
            ("used_memory_vm_total_human", human(lua.eval + lua.functions)),
            ("used_memory_functions", String(lua.libraries)),
            ("used_memory_scripts", String(lua.scripts + lua.libraries)),
            ("used_memory_scripts_human", human(lua.scripts + lua.libraries)),
            ("maxmemory", String(maxmemory)),
            ("maxmemory_human", human(maxmemory)),
            ("maxmemory_policy", engine.config.get("maxmemory-policy")),
            ("allocator_frag_ratio", ratio(active, allocated)),
            ("allocator_frag_bytes", String(active - allocated)),
            ("allocator_rss_ratio", ratio(resident, active)),
            ("allocator_rss_bytes", String(resident - active)),
            ("rss_overhead_ratio", ratio(rss, resident)),
            ("rss_overhead_bytes", String(rss - resident)),
            ("mem_fragmentation_ratio", used > 0 ? format2(Double(rss) / Double(used)) : "0.00"),
            ("mem_fragmentation_bytes", String(rss - used)),
            ("mem_not_counted_for_evict", String(replicaClients)),
            ("mem_replication_backlog", String(backlog)),
            ("mem_total_replication_buffers", String(backlog + replicaClients)),
            ("mem_clients_slaves", String(replicaClients)),
            ("mem_clients_normal", String(normalClients)),
            ("mem_cluster_links", String(engine.cluster?.bus.withLock({ $0 })?.linkViews.withLock { $0.reduce(0) { $0 + $1.allocated } } ?? 0)),
            // Larder writes the AOF as commands run: no buffer waits for the next loop.
            ("mem_aof_buffer", "0"),
            ("mem_allocator", "libc"),
            ("active_defrag_running", "0"),
            ("lazyfree_pending_objects", String(engine.lazyFreePending.load(ordering: .relaxed))),
            ("lazyfreed_objects", String(engine.lazyFreed.load(ordering: .relaxed))),
        ]
    }

    func persistence() -> [(String, String)] {
        let snap = engine.snapshots
        let rewriting = engine.aof.rewriting.load(ordering: .relaxed)
        return [
            ("loading", "0"),
            ("async_loading", "0"),
            // Larder snapshots without fork(): no copy-on-write pages to count.
            ("current_cow_peak", "0"),
            ("current_cow_size", "0"),
            ("current_cow_size_age", "0"),
            ("current_fork_perc", "0.00"),
            ("current_save_keys_processed", "0"),
            ("current_save_keys_total", "0"),
            ("rdb_changes_since_last_save", String(engine.stats.dirty.load(ordering: .relaxed))),
            ("rdb_bgsave_in_progress", snap.inProgress.load(ordering: .relaxed) ? "1" : "0"),
            ("rdb_last_save_time", String(engine.lastSave.load(ordering: .relaxed))),
            ("rdb_last_bgsave_status", snap.lastOK.load(ordering: .relaxed) ? "ok" : "err"),
            ("rdb_last_bgsave_time_sec", String(snap.lastDuration.load(ordering: .relaxed))),
            ("rdb_current_bgsave_time_sec", snap.inProgress.load(ordering: .relaxed)
                ? String((Int(unixMillis()) - snap.startedAt.load(ordering: .relaxed)) / 1000) : "-1"),
            ("rdb_saves", String(snap.saves.load(ordering: .relaxed))),
            ("rdb_last_cow_size", "0"),
            // Keys already expired are dropped as the file is read, and not counted apart.
            ("rdb_last_load_keys_expired", "0"),
            ("rdb_last_load_keys_loaded", String(snap.lastLoadKeys.load(ordering: .relaxed))),
            ("aof_enabled", engine.aof.on.load(ordering: .relaxed) ? "1" : "0"),
            ("aof_rewrite_in_progress", rewriting ? "1" : "0"),
            ("aof_rewrite_scheduled", "0"),
            ("aof_last_rewrite_time_sec", String(engine.aof.lastRewriteSeconds.load(ordering: .relaxed))),
            ("aof_current_rewrite_time_sec", rewriting
                ? String((Int(unixMillis()) - engine.aof.rewriteStartedAt.load(ordering: .relaxed)) / 1000) : "-1"),
            ("aof_last_bgrewrite_status", engine.aof.lastRewriteOK.load(ordering: .relaxed) ? "ok" : "err"),
            ("aof_rewrites", String(engine.aof.rewrites.load(ordering: .relaxed))),
            ("aof_rewrites_consecutive_failures", engine.aof.lastRewriteOK.load(ordering: .relaxed) ? "0" : "1"),
            ("aof_last_write_status", engine.aof.lock.withLock { engine.aof.lastWriteOK } ? "ok" : "err"),
            ("aof_last_cow_size", "0"),
            ("module_fork_in_progress", "0"),
            ("module_fork_last_cow_size", "0"),
        ]
    }

    func stats() -> [(String, String)] {
        let s = engine.stats
        let tracking = engine.trackingTotals
        func v(_ a: borrowing Atomic<Int>) -> String { String(a.load(ordering: .relaxed)) }
        let expired = engine.keyspace.databases.reduce(0) { acc, db in
            acc + db.shards.reduce(0) { a, s in a + s.expiredCount }
        }
        let rates = s.instantaneous.withLock { i in (0..<5).map { i.average($0) } }
        func kbps(_ r: Double) -> String { format2(r / 1024) }
        return [
            ("total_connections_received", v(s.connectionsReceived)),
            ("total_commands_processed", v(s.commands)),
            ("instantaneous_ops_per_sec", String(Int(rates[0]))),
            ("total_net_input_bytes", v(s.netInputBytes)),
            ("total_net_output_bytes", v(s.netOutputBytes)),
            ("total_net_repl_input_bytes", v(s.replInputBytes)),
            ("total_net_repl_output_bytes", v(s.replOutputBytes)),
            ("instantaneous_input_kbps", kbps(rates[1])),
            ("instantaneous_output_kbps", kbps(rates[2])),
            ("instantaneous_input_repl_kbps", kbps(rates[3])),
            ("instantaneous_output_repl_kbps", kbps(rates[4])),
            ("rejected_connections", v(s.rejectedConnections)),
            ("sync_full", v(s.syncFull)),
            ("sync_partial_ok", v(s.syncPartialOK)),
            ("sync_partial_err", v(s.syncPartialErr)),
            ("expired_keys", String(expired)),
            ("expired_stale_perc", format2(s.expiredStalePercent.withLock { $0 })),
            ("expired_time_cap_reached_count", v(s.expireTimeCapReached)),
            ("expire_cycle_cpu_milliseconds", String(s.expireCycleMicros.load(ordering: .relaxed) / 1000)),
            ("evicted_keys", v(s.evictedKeys)),
            ("evicted_clients", v(s.evictedClients)),
            ("evicted_scripts", String(engine.scripting.evictedScripts.load(ordering: .relaxed))),
            ("total_eviction_exceeded_time", "0"),
            ("current_eviction_exceeded_time", "0"),
            ("keyspace_hits", v(s.keyspaceHits)),
            ("keyspace_misses", v(s.keyspaceMisses)),
            ("pubsub_channels", String(engine.pubsub.channelCount)),
            ("pubsub_patterns", String(engine.pubsub.patternCount)),
            ("pubsubshard_channels", String(engine.pubsub.shardChannelCount)),
            // Larder never forks, has no MIGRATE, io-threads or defragmenter, and a writable
            // replica does not track the keys it expires: Redis's zeros for those.
            ("latest_fork_usec", "0"),
            ("total_forks", "0"),
            ("migrate_cached_sockets", "0"),
            ("slave_expires_tracked_keys", "0"),
            ("active_defrag_hits", "0"),
            ("active_defrag_misses", "0"),
            ("active_defrag_key_hits", "0"),
            ("active_defrag_key_misses", "0"),
            ("total_active_defrag_time", "0"),
            ("current_active_defrag_time", "0"),
            ("tracking_total_keys", String(tracking.keys)),
            ("tracking_total_items", String(tracking.items)),
            ("tracking_total_prefixes", String(tracking.prefixes)),
            ("unexpected_error_replies", "0"),
            ("total_error_replies", v(s.errorReplies)),
            ("dump_payload_sanitizations", "0"),
            ("total_reads_processed", v(s.readsProcessed)),
            ("total_writes_processed", v(s.writesProcessed)),
            ("io_threaded_reads_processed", "0"),
            ("io_threaded_writes_processed", "0"),
            // Reply buffers are SwiftNIO's, grown and given back by it.
            ("reply_buffer_shrinks", "0"),
            ("reply_buffer_expands", "0"),
        ]
    }

    func replication() -> [(String, String)] {
        engine.replicationInfo()
    }

    func cpu() -> [(String, String)] {
        var self_ = rusage(), children = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &self_)
        getrusage(RUSAGE_CHILDREN.rawValue, &children)
        func t(_ tv: timeval) -> String { format6(Double(tv.tv_sec) + Double(tv.tv_usec) / 1e6) }
        // Larder has no main thread: the event loop answering INFO stands for it.
        var thread = rusage()
        getrusage(__rusage_who_t(1), &thread)   // RUSAGE_THREAD (Glibc does not export its name)
        return [("used_cpu_sys", t(self_.ru_stime)), ("used_cpu_user", t(self_.ru_utime)),
                ("used_cpu_sys_children", t(children.ru_stime)), ("used_cpu_user_children", t(children.ru_utime)),
                ("used_cpu_sys_main_thread", t(thread.ru_stime)), ("used_cpu_user_main_thread", t(thread.ru_utime))]
    }

    func errorstats() -> [(String, String)] {
        engine.stats.errorCodes.withLock { $0 }.sorted { $0.key < $1.key }
            .map { ("errorstat_\($0.key)", "count=\($0.value)") }
    }

    func keyspace() -> [(String, String)] {
        var lines: [(String, String)] = []
        for db in engine.keyspace.databases {
            var keys = 0, expires = 0
            var ttlSum: Int64 = 0, ttlCount = 0
            for s in db.shards {
                keys += s.count
                expires += s.volatileCount
                let t = s.sampleTTL(now: now, samples: 16)
                ttlSum += t.sum
                ttlCount += t.count
            }
            let avg = ttlCount > 0 ? ttlSum / Int64(ttlCount) : 0
            if keys > 0 { lines.append(("db\(db.index)", "keys=\(keys),expires=\(expires),avg_ttl=\(avg)")) }
        }
        return lines
    }

    /// Each called command's latency percentiles (latency-tracking-info-percentiles), in µs.
    func latencystats() -> [(String, String)] {
        guard engine.config.bool("latency-tracking") else { return [] }
        let percentiles = engine.config.get("latency-tracking-info-percentiles").split(separator: " ").compactMap { Double($0) }
        var lines: [(String, String)] = []
        for spec in engine.table.commands {
            for s in [spec] + spec.subcommands where s.histogram.calls > 0 {
                let values = percentiles.map { p -> String in
                    let label = p == p.rounded() ? String(Int(p)) : String(p)
                    return "p\(label)=\(formatFixed(Double(s.histogram.percentile(p)), 3))"
                }
                lines.append(("latency_percentiles_usec_\(s.name)", values.joined(separator: ",")))
            }
        }
        return lines
    }

    func commandstats() -> [(String, String)] {
        var lines: [(String, String)] = []
        for spec in engine.table.commands {
            for s in [spec] + spec.subcommands {
                let calls = s.calls.load(ordering: .relaxed)
                let usec = s.usec.load(ordering: .relaxed)
                guard calls > 0 || s.rejectedCalls.load(ordering: .relaxed) > 0 || s.failedCalls.load(ordering: .relaxed) > 0 else { continue }
                lines.append(("cmdstat_\(s.name)",
                              "calls=\(calls),usec=\(usec),usec_per_call=\(format2(calls > 0 ? Double(Float(usec) / Float(calls)) : 0)),rejected_calls=\(s.rejectedCalls.load(ordering: .relaxed)),failed_calls=\(s.failedCalls.load(ordering: .relaxed))"))
            }
        }
        return lines
    }
}

import Synchronization

func format2(_ v: Double) -> String { formatFixed(v, 2) }
func format6(_ v: Double) -> String { formatFixed(v, 6) }

func formatFixed(_ v: Double, _ digits: Int) -> String {
    var buf = [CChar](repeating: 0, count: 64)
    _ = withVaList([v]) { va in buf.withUnsafeMutableBufferPointer { vsnprintf($0.baseAddress!, 64, "%.\(digits)f", va) } }
    return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// What the allocator and the kernel say the process holds.
public enum MemoryStats {
    /// Bytes handed out by malloc (glibc's mallinfo2: in-use arena bytes plus mmapped blocks).
    public static func allocated() -> Int {
        Int(larder_malloc_in_use())
    }

    /// Bytes malloc holds from the system (its arenas and mapped blocks).
    public static func fromSystem() -> Int {
        Int(larder_malloc_from_system())
    }

    public static func residentSetSize() -> Int {
        guard let f = fopen("/proc/self/statm", "r") else { return 0 }
        defer { fclose(f) }
        var size = 0, resident = 0
        var buf = [CChar](repeating: 0, count: 128)
        guard fgets(&buf, 128, f) != nil else { return 0 }
        let parts = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).split(separator: " ")
        if parts.count > 1 { size = Int(parts[0]) ?? 0; resident = Int(parts[1]) ?? 0 }
        _ = size
        return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    public static func totalSystemMemory() -> Int {
        Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
