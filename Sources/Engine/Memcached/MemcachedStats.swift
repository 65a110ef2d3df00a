#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import Memcache
import Storage

/// memcached's `stats` family, from Larder's own numbers where memcached's have a meaning here
/// (slab and LRU internals do not: Larder has no slabs).
extension MemcachedSession {
    func stats(_ arguments: [String], _ out: inout ByteBuffer) {
        engine.memcached.add(&counts)
        func stat(_ name: String, _ value: CustomStringConvertible) { out.writeString("STAT \(name) \(value)\r\n") }
        switch arguments.first {
        case nil:
            general(stat)
        case "settings":
            stat("maxbytes", engine.settings.maxmemory.load(ordering: .relaxed))
            stat("maxconns", engine.config.int("maxclients"))
            stat("tcpport", engine.config.int("memcached-port"))
            stat("udpport", 0)
            stat("verbosity", 0)
            stat("num_threads", System.coreCount)
            stat("evictions", engine.config.get("maxmemory-policy") == "noeviction" ? "off" : "on")
            stat("cas_enabled", "yes")
            stat("item_size_max", engine.config.int("memcached-item-size-max"))
            stat("flush_enabled", "yes")
            stat("binding_protocol", "ascii")
        case "items", "slabs", "sizes":
            itemClasses(arguments.first!, stat)
        case "conns":
            break
        case "reset":
            engine.memcached.reset()
            out.writeString("RESET\r\n")
            return
        case "detail":
            out.writeString("OK\r\n")
            return
        default:
            out.writeString("ERROR\r\n")
            return
        }
        out.writeString("END\r\n")
    }

    private func general(_ stat: (String, CustomStringConvertible) -> Void) {
        let now = unixMillis()
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let c = engine.memcached.values()
        func v(_ k: MemcachedState.Counter) -> Int { c[k.rawValue] }
        stat("pid", getpid())
        stat("uptime", (now - engine.memcached.startedAt) / 1000)
        stat("time", now / 1000)
        stat("version", Self.version)
        stat("pointer_size", MemoryLayout<Int>.size * 8)
        stat("rusage_user", "\(usage.ru_utime.tv_sec).\(String(format6(Int(usage.ru_utime.tv_usec))))")
        stat("rusage_system", "\(usage.ru_stime.tv_sec).\(String(format6(Int(usage.ru_stime.tv_usec))))")
        stat("max_connections", engine.config.int("maxclients"))
        stat("curr_connections", engine.memcached.currentConnections.load(ordering: .relaxed))
        stat("total_connections", engine.memcached.totalConnections.load(ordering: .relaxed))
        stat("rejected_connections", 0)
        for k in MemcachedState.Counter.allCases where k != .totalItems && k != .bytesRead && k != .bytesWritten {
            stat(k.statName, v(k))
        }
        stat("bytes_read", v(.bytesRead))
        stat("bytes_written", v(.bytesWritten))
        stat("limit_maxbytes", engine.settings.maxmemory.load(ordering: .relaxed))
        stat("threads", System.coreCount)
        stat("bytes", engine.usedMemory())
        stat("curr_items", itemCount())
        stat("total_items", v(.totalItems))
        stat("evictions", engine.stats.evictedKeys.load(ordering: .relaxed))
    }

    private func format6(_ micros: Int) -> String {
        let s = String(micros)
        return String(repeating: "0", count: max(0, 6 - s.count)) + s
    }

    func itemCount() -> Int {
        var n = 0
        for s in db.shards {
            s.lock.lock()
            n += s.count
            s.lock.unlock()
        }
        return n
    }

    /// `stats items` / `slabs` / `sizes`: items counted by the slab class memcached would put
    /// them in (a walk of the database, as memcached's `stats sizes` is).
    private func itemClasses(_ which: String, _ stat: (String, CustomStringConvertible) -> Void) {
        var perClass: [Int: (count: Int, bytes: Int)] = [:]
        for s in db.shards {
            s.lock.lock()
            for slot in s.table.occupiedSlots {
                let e = s.table.entries[slot]
                guard e.value.isString else { continue }
                let size = MemcacheParser.itemSize(key: s.table.keyLength(at: slot), value: e.value.stringLength)
                let cls = which == "sizes" ? (size + 31) / 32 * 32 : SlabClasses.classOf(size)
                perClass[cls, default: (0, 0)].count += 1
                perClass[cls, default: (0, 0)].bytes += size
            }
            s.lock.unlock()
        }
        for cls in perClass.keys.sorted() {
            let (count, bytes) = perClass[cls]!
            switch which {
            case "items":
                stat("items:\(cls):number", count)
                stat("items:\(cls):age", 0)
                stat("items:\(cls):evicted", 0)
            case "slabs":
                stat("\(cls):chunk_size", SlabClasses.sizes[cls - 1])
                stat("\(cls):used_chunks", count)
                stat("\(cls):mem_requested", bytes)
            default:
                stat("\(cls)", count)
            }
        }
        if which == "slabs" {
            stat("active_slabs", perClass.count)
            stat("total_malloced", engine.usedMemory())
        }
    }
}
