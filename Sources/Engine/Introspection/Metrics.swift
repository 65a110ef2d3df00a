import Foundation
import Storage

/// The server's figures in Prometheus's text format, for `metrics-port`: the names, labels and
/// types Prometheus's redis_exporter gives them (its Grafana dashboards read these), so that no
/// exporter is needed beside Larder. Built from the same figures as INFO.
extension Engine {
    public func prometheusText() -> String {
        let report = InfoReport(engine: self, now: unixMillis())
        var info: [String: String] = [:]
        // As INFO: with every shard held (the figures read shards' counts), taken the way
        // every multi-shard lock is (see Locking), so a running script cannot deadlock it.
        var set = LockSet()
        set.addEverything(in: keyspace)
        set.seal()
        set.lock(keyspace)
        for section in [report.server(), report.clients(), report.memory(), report.persistence(), report.stats(),
                        replicationInfo(), report.cpu()] {
            for (k, v) in section { info[k] = v }
        }
        var databases: [(index: Int, keys: Int, volatile: Int, ttlSum: Int64, ttlCount: Int)] = []
        for db in keyspace.databases {
            var row = (index: db.index, keys: 0, volatile: 0, ttlSum: Int64(0), ttlCount: 0)
            for s in db.shards {
                row.keys += s.count
                row.volatile += s.volatileCount
                let t = s.sampleTTL(now: unixMillis(), samples: 16)
                row.ttlSum += t.sum
                row.ttlCount += t.count
            }
            if row.keys > 0 { databases.append(row) }
        }
        set.unlock(keyspace)
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func sample(_ name: String, _ value: String) { sample(name, [], value) }
        func sample(_ name: String, _ labels: [(String, String)], _ value: String) {
            let l = labels.isEmpty ? "" : "{" + labels.map { "\($0.0)=\"\(escaped($0.1))\"" }.joined(separator: ",") + "}"
            out += "\(name)\(l) \(value)\n"
        }
        family("redis_up", "gauge", "Information about the Redis instance")
        sample("redis_up", "1")
        family("redis_instance_info", "gauge", "Information about the Redis instance")
        sample("redis_instance_info", ["maxmemory_policy", "os", "process_id", "redis_build_id", "redis_mode", "redis_version",
                                       "role", "run_id", "tcp_port"].map { ($0, info[$0] ?? "") }, "1")
        // INFO field, metric name, type.
        let plain: [(String, String, String)] = [
            ("uptime_in_seconds", "redis_uptime_in_seconds", "gauge"),
            ("connected_clients", "redis_connected_clients", "gauge"),
            ("blocked_clients", "redis_blocked_clients", "gauge"),
            ("used_memory", "redis_memory_used_bytes", "gauge"),
            ("used_memory_rss", "redis_memory_used_rss_bytes", "gauge"),
            ("used_memory_peak", "redis_memory_used_peak_bytes", "gauge"),
            ("used_memory_lua", "redis_memory_used_lua_bytes", "gauge"),
            ("maxmemory", "redis_memory_max_bytes", "gauge"),
            ("mem_fragmentation_ratio", "redis_mem_fragmentation_ratio", "gauge"),
            ("total_connections_received", "redis_connections_received_total", "counter"),
            ("total_commands_processed", "redis_commands_processed_total", "counter"),
            ("rejected_connections", "redis_rejected_connections_total", "counter"),
            ("expired_keys", "redis_expired_keys_total", "counter"),
            ("evicted_keys", "redis_evicted_keys_total", "counter"),
            ("keyspace_hits", "redis_keyspace_hits_total", "counter"),
            ("keyspace_misses", "redis_keyspace_misses_total", "counter"),
            ("total_net_input_bytes", "redis_net_input_bytes_total", "counter"),
            ("total_net_output_bytes", "redis_net_output_bytes_total", "counter"),
            ("pubsub_channels", "redis_pubsub_channels", "gauge"),
            ("pubsub_patterns", "redis_pubsub_patterns", "gauge"),
            ("total_error_replies", "redis_total_error_replies", "counter"),
            ("rdb_changes_since_last_save", "redis_rdb_changes_since_last_save", "gauge"),
            ("rdb_last_save_time", "redis_rdb_last_save_timestamp_seconds", "gauge"),
            ("rdb_bgsave_in_progress", "redis_rdb_bgsave_in_progress", "gauge"),
            ("aof_enabled", "redis_aof_enabled", "gauge"),
            ("aof_rewrite_in_progress", "redis_aof_rewrite_in_progress", "gauge"),
            ("connected_slaves", "redis_connected_slaves", "gauge"),
            ("master_repl_offset", "redis_master_repl_offset", "gauge"),
            ("used_cpu_sys", "redis_cpu_sys_seconds_total", "counter"),
            ("used_cpu_user", "redis_cpu_user_seconds_total", "counter"),
        ]
        for (field, name, type) in plain {
            guard let v = info[field] else { continue }
            family(name, type, "\(field) metric")
            sample(name, v)
        }

        family("redis_db_keys", "gauge", "Total number of keys by DB")
        for d in databases { sample("redis_db_keys", [("db", "db\(d.index)")], String(d.keys)) }
        family("redis_db_keys_expiring", "gauge", "Total number of expiring keys by DB")
        for d in databases { sample("redis_db_keys_expiring", [("db", "db\(d.index)")], String(d.volatile)) }
        family("redis_db_avg_ttl_seconds", "gauge", "Avg TTL in seconds")
        for d in databases {
            let t = d.ttlCount > 0 ? Double(d.ttlSum) / Double(d.ttlCount) / 1000 : 0
            sample("redis_db_avg_ttl_seconds", [("db", "db\(d.index)")], number(t))
        }

        var called: [CommandSpec] = []
        for spec in table.commands {
            for s in [spec] + spec.subcommands where s.calls.load(ordering: .relaxed) > 0
                || s.rejectedCalls.load(ordering: .relaxed) > 0 || s.failedCalls.load(ordering: .relaxed) > 0 {
                called.append(s)
            }
        }
        family("redis_commands_total", "counter", "Total number of calls per command")
        for s in called { sample("redis_commands_total", [("cmd", s.name)], String(s.calls.load(ordering: .relaxed))) }
        family("redis_commands_duration_seconds_total", "counter", "Total amount of time in seconds spent per command")
        for s in called {
            sample("redis_commands_duration_seconds_total", [("cmd", s.name)], number(Double(s.usec.load(ordering: .relaxed)) / 1e6))
        }
        family("redis_commands_rejected_calls_total", "counter", "Total number of errors within command execution per command")
        for s in called {
            sample("redis_commands_rejected_calls_total", [("cmd", s.name)], String(s.rejectedCalls.load(ordering: .relaxed)))
        }
        family("redis_commands_failed_calls_total", "counter", "Total number of errors prior command execution per command")
        for s in called {
            sample("redis_commands_failed_calls_total", [("cmd", s.name)], String(s.failedCalls.load(ordering: .relaxed)))
        }
        if config.bool("latency-tracking") {
            family("redis_latency_percentiles_usec", "summary", "A summary of latency percentile distribution per command")
            let percentiles = config.get("latency-tracking-info-percentiles").split(separator: " ").compactMap { Double($0) }
            for s in called where s.histogram.calls > 0 {
                for p in percentiles {
                    sample("redis_latency_percentiles_usec", [("cmd", s.name), ("quantile", number(p))],
                           number(Double(s.histogram.percentile(p))))
                }
                sample("redis_latency_percentiles_usec_sum", [("cmd", s.name)], String(s.usec.load(ordering: .relaxed)))
                sample("redis_latency_percentiles_usec_count", [("cmd", s.name)], String(s.histogram.calls))
            }
        }
        family("redis_errors_total", "counter", "Total number of errors per error type")
        for (code, n) in stats.errorCodes.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
            sample("redis_errors_total", [("err", code)], String(n))
        }
        family("redis_slowlog_length", "gauge", "Total slowlog")
        sample("redis_slowlog_length", String(slowlog.state.withLock { $0.entries.count }))
        return out
    }

    /// A number as Prometheus (and Go's %g) writes it: integers without a point.
    private func number(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v)
    }

    private func escaped(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
