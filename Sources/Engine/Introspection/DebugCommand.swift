#if canImport(Glibc)
import Glibc
#endif
import Persistence
import RESP
import Storage

/// DEBUG, behind `enable-debug-command` as in Redis: the subcommands tools, tests and
/// benchmarks use (PROTOCOL's samples are Redis's, byte for byte, for client parsers). It holds every shard lock (as Redis's DEBUG stops the whole server): POPULATE
/// and RELOAD change every database, SLEEP stops every command that needs a key.
enum DebugCommand {
    static let specs: [CommandSpec] = [
        CommandSpec("debug", arity: -2, flags: [.admin, .noscript, .loading, .stale], scope: .all, group: "server",
                    summary: "A container for debugging commands.", complexity: "Depends on subcommand.", handler: debug),
    ]

    /// DEBUG subcommand [argument ...]
    static func debug(_ c: inout CommandContext) {
        let mode = c.engine.config.get("enable-debug-command")
        let local = c.client.address.hasPrefix("127.") || c.client.address.hasPrefix("[::1]") || c.client.address.hasPrefix("::1")
        guard mode == "yes" || (mode == "local" && local) else {
            c.error("ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.")
            return
        }
        let sub = c.args.string(1).lowercased()
        switch (sub, c.argc) {
        case ("sleep", 3):
            let secs = atof(c.args.string(2))   // Redis reads it with atof: garbage is 0
            if secs > 0 { usleep(UInt32(min(secs, 4000) * 1_000_000)) }
            c.ok()
        case ("populate", 3...5):
            populate(&c)
        case ("reload", _):
            reload(&c)
        case ("set-active-expire", 3):
            c.engine.activeExpireEnabled.store(c.args.string(2) != "0", ordering: .relaxed)
            c.ok()
        case ("change-repl-id", 2):
            c.engine.changeReplicationID()
            c.ok()
        case ("protocol", 3):
            proto(&c)
        case ("object", 3):
            object(&c)
        case ("listpack", 3):
            layout(&c, quicklist: false)
        case ("quicklist", 3...4):
            layout(&c, quicklist: true)
        case ("stringmatch-test", 2):
            stringmatchTest(&c)
        case ("quicklist-packed-threshold", 3):
            // Larder's lists are not quicklists: the size is checked as Redis checks it, and kept
            // nowhere.
            guard let n = parseMemory(c.args.string(2)), n >= 0, n < 1 << 32 else {
                c.error("ERR argument must be a memory value bigger than 1 and smaller than 4gb")
                return
            }
            c.ok()
        case ("replybuffer", 4):
            // Reply buffers are SwiftNIO's: the switches are checked and answered, nothing to change.
            if c.args.matches(2, "peak-reset-time") {
                if !c.args.matches(3, "never") && !c.args.matches(3, "reset") { guard c.integer(3) != nil else { return } }
                c.ok()
            } else if c.args.matches(2, "resizing") {
                guard c.integer(3) != nil else { return }
                c.ok()
            } else {
                c.error("ERR unknown subcommand or wrong number of arguments for '\(c.args.string(1))'. Try DEBUG HELP.")
            }
        case ("set-disable-deny-scripts", 3):
            guard let v = c.integer(2) else { return }
            c.engine.scripting.denyScriptsDisabled.store(v != 0, ordering: .relaxed)
            c.ok()
        case ("digest", 2):
            c.out.simple(c.engine.datasetDigest())
        case ("digest-value", _):
            // DEBUG DIGEST-VALUE key [key ...]: each value's digest, zeros for a missing key;
            // keys past their TTL still count, as Redis's looks in the table directly.
            c.out.array(c.argc - 2)
            let db = c.engine.keyspace.databases[c.dbIndex]
            for i in 2..<c.argc {
                let shard = db.shard(c.args[i])
                var d = Digest.D(repeating: 0, count: 20)
                if let slot = shard.find(c.args[i], now: 0) {
                    Digest.mixValue(&d, shard.entry(at: slot).value, volatile: shard.image.expireAt(slot: slot) != 0)
                }
                c.out.simple(Digest.hex(d))
            }
        case ("log", 3):
            c.engine.log("DEBUG LOG: \(c.args.string(2))")
            c.ok()
        case ("help", 2):
            c.help(["DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                    "CHANGE-REPL-ID", "    Change the replication IDs of the instance.",
                    "    Dangerous: should be used only for testing the replication subsystem.",
                    "LOG <message>", "    Write <message> to the server log.",
                    "PROTOCOL <type>",
                    "    Reply with a test value of the specified type. <type> can be: string,",
                    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
                    "    true, false.",
                    "POPULATE <count> [<prefix>] [<size>]",
                    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
                    "    it is used instead of the 'key' prefix. These are not propagated to",
                    "    replicas. Cluster slots are not respected so keys not belonging to the",
                    "    current node can be created in cluster mode.",
                    "RELOAD [option ...]",
                    "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
                    "    * MERGE: conflicting keys will be loaded from RDB.",
                    "    * NOFLUSH: the existing database will not be removed before load, but",
                    "      conflicting keys will generate an exception and kill the server.",
                    "    * NOSAVE: the database will be loaded from an existing RDB file.",
                    "    Examples:",
                    "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
                    "      the database.",
                    "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
                    "      existing RDB file.",
                    "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
                    "      file to the database.",
                    "SET-ACTIVE-EXPIRE <0|1>",
                    "    Setting it to 0 disables expiring keys in background when they are not",
                    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
                    "    default.",
                    "SLEEP <seconds>", "    Stop the server for <seconds>. Decimals allowed.",
                    "HELP", "    Print this help."])
        default:
            c.error("ERR unknown subcommand or wrong number of arguments for '\(c.args.string(1))'. Try DEBUG HELP.")
        }
    }

    /// DEBUG PROTOCOL type: a sample of each reply type, for clients to test their parsers.
    static func proto(_ c: inout CommandContext) {
        let resp3 = c.out.resp3
        switch c.args.string(2).lowercased() {
        case "string": c.out.bulk("Hello World")
        case "integer": c.out.integer(12345)
        case "double": c.out.double("3.141")
        case "bignum":
            let digits = "1234567999999999999999999999999999999"
            if resp3 { c.out.buffer.writeString("(\(digits)\r\n") } else { c.out.bulk(digits) }
        case "null": c.out.null()
        case "array", "set":
            if c.args.matches(2, "set") { c.out.set(3) } else { c.out.array(3) }
            for j in 0..<3 { c.out.integer(j) }
        case "map":
            c.out.map(3)
            for j in 0..<3 {
                c.out.integer(j)
                c.out.bool(j == 1)
            }
        case "attrib":
            if resp3 {
                // An attribute comes before the reply it describes.
                c.out.buffer.writeString("|1\r\n")
                c.out.bulk("key-popularity")
                c.out.array(2)
                c.out.bulk("key:123")
                c.out.integer(90)
            }
            c.out.bulk("Some real reply following the attribute")
        case "push":
            guard resp3 else {
                c.error("ERR RESP2 is not supported by this command")
                return
            }
            c.out.push(2)
            c.out.bulk("server-cpu-usage")
            c.out.integer(42)
            c.out.bulk("Some real reply following the push reply")
        case "true": c.out.bool(true)
        case "false": c.out.bool(false)
        case "verbatim": c.out.verbatim("This is a verbatim\nstring")
        default:
            c.error("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false")
        }
    }

    /// DEBUG POPULATE count [prefix] [size]: keys prefix:N holding "value:N", cut or padded
    /// with zero bytes to `size`; keys already there are left alone. Not propagated, as in Redis.
    static func populate(_ c: inout CommandContext) {
        guard let count = parseCanonicalInt(c.args[2]), count >= 0 else {
            c.error("ERR value is out of range, must be positive")
            return
        }
        var size = 0
        if c.argc == 5 {
            guard let v = parseCanonicalInt(c.args[4]), v >= 0 else {
                c.error("ERR value is out of range, must be positive")
                return
            }
            size = v
        }
        let prefix = c.argc >= 4 ? c.args.owned(3) : Array("key".utf8)
        let db = c.db
        for i in 0..<count {
            let key = prefix + Array(":\(i)".utf8)
            let shard = db.shard(key[...])
            guard shard.find(key[...], now: c.lookupNow) == nil else { continue }
            var value = Array("value:\(i)".utf8)
            if size > 0 {
                value = Array(value.prefix(size))
                value += [UInt8](repeating: 0, count: size - value.count)
            }
            shard.set(key[...], .string(value), access: c.newAccess)
        }
        c.ok()
    }

    /// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: the RDB saved (unless NOSAVE), the databases
    /// emptied (unless NOFLUSH), then the file loaded back; a key already there is an error
    /// unless MERGE.
    static func reload(_ c: inout CommandContext) {
        var merge = false, noflush = false, nosave = false
        for i in 2..<max(2, c.argc) {
            switch c.args.string(i).lowercased() {
            case "merge": merge = true
            case "noflush": noflush = true
            case "nosave": nosave = true
            default:
                c.error("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.")
                return
            }
        }
        let engine = c.engine
        if !nosave && !engine.saveNow(engine.snapshotTables(), point: engine.replicationPoint()) {
            c.error("ERR Error trying to save the RDB dump, check server logs.")
            return
        }
        if !noflush {
            for db in engine.keyspace.databases { for s in db.shards { s.removeAll() } }
        }
        let now = unixMillis()
        var conflict = false
        do {
            try RDBFile.read(path: engine.rdbPath, now: now, limits: DumpCommands.limits(engine),
                             functions: { _ in }) { k in
                guard k.db < engine.keyspace.databases.count else { throw RDBError("database \(k.db) out of range") }
                let shard = engine.keyspace.databases[k.db].shard(k.key[...])
                if !merge && shard.find(k.key[...], now: now) != nil {
                    conflict = true
                    throw RDBError("duplicate key")
                }
                shard.set(k.key[...], k.value, expireAt: k.expireAt, access: engine.accessPolicy.initial(now: now))
            }
        } catch {
            engine.log("DEBUG RELOAD failed: \(conflict ? "a key of the file is already in the database" : "\(error)")")
            c.error("ERR Error trying to load the RDB dump, check server logs.")
            return
        }
        engine.invalidateAll()
        engine.log("DB reloaded by DEBUG RELOAD")
        c.ok()
    }
}

extension Engine {
    /// DEBUG CHANGE-REPL-ID: a new replication ID, and no previous one.
    func changeReplicationID() {
        repl.lock.withLock {
            repl.replid = ReplicationState.newID()
            repl.replid2 = String(repeating: "0", count: 40)
            repl.secondOffset = -1
        }
    }
}

/// DEBUG's subcommands about single values and the server's internals: OBJECT, LISTPACK,
/// QUICKLIST, and the switches Redis's tests use (QUICKLIST-PACKED-THRESHOLD, REPLYBUFFER,
/// SET-DISABLE-DENY-SCRIPTS, STRINGMATCH-TEST).
extension DebugCommand {
    /// DEBUG OBJECT key: Redis's line. The address is a stand-in (Larder's values move with
    /// their tables); serializedlength is the value's RDB size as Larder writes it (plain
    /// forms for collections, where Redis writes listpacks); a list's quicklist figures are
    /// those the list would have as Redis's quicklist of list-max-listpack-size nodes.
    static func object(_ c: inout CommandContext) {
        let db = c.engine.keyspace.databases[c.dbIndex]
        let shard = db.shard(c.args[2])
        guard let slot = shard.find(c.args[2], now: 0) else { c.error("ERR no such key"); return }
        let e = shard.entry(at: slot)
        let policy = c.engine.config.get("maxmemory-policy")
        var shared = false
        if case .int(let v) = e.value, v >= 0, v < 10000, !policy.hasSuffix("lru"), !policy.hasSuffix("lfu") { shared = true }
        let serialized = DumpPayload.make(e.value, compress: c.engine.config.bool("rdbcompression")).count - 11
        let idle = idleSeconds(access: e.access, nowMs: c.now)
        let lru = (Int(c.now / 1000) - idle) & 0xFF_FFFF
        let address = String(c.args.withBytes(2) { KeyTable.hash($0) } & 0x7fff_ffff_fff0, radix: 16)
        var line = "Value at:0x\(address) refcount:\(shared ? Int(Int32.max) : 1) encoding:\(e.encodingName) serializedlength:\(serialized) lru:\(lru) lru_seconds_idle:\(idle)"
        if case .list(let l) = e.value {
            let q = quicklistShape(l.map(\.count), fill: c.engine.config.int("list-max-listpack-size"))
            line += " ql_nodes:\(q.nodes) ql_avg_node:\(format2(Double(l.count) / Double(max(1, q.nodes)))) ql_listpack_max:\(c.engine.config.int("list-max-listpack-size")) ql_compressed:0 ql_uncompressed_size:\(q.bytes)"
        }
        c.out.simple(line)
    }

    /// How Redis would cut a list of elements of these sizes into listpack nodes: a negative
    /// fill caps a node's bytes (-1: 4 KB ... -5: 64 KB), a positive one its entries.
    static func quicklistShape(_ sizes: [Int], fill: Int) -> (nodes: Int, bytes: Int) {
        let header = 7
        let maxBytes = fill < 0 ? 4096 << min(4, -fill - 1) : Int.max
        var nodes = 0, total = 0, current = 0, entries = 0
        for n in sizes {
            let entry = n + (n < 64 ? 2 : n < 4096 ? 3 : 6)
            if nodes == 0 || current + entry > maxBytes || (fill > 0 && entries >= fill) {
                nodes += 1
                total += header
                current = header
                entries = 0
            }
            current += entry
            total += entry
            entries += 1
        }
        return (nodes, total)
    }

    /// DEBUG LISTPACK key / DEBUG QUICKLIST key [0|1]: the value's layout to the log.
    static func layout(_ c: inout CommandContext, quicklist: Bool) {
        let db = c.engine.keyspace.databases[c.dbIndex]
        let shard = db.shard(c.args[2])
        guard let slot = shard.find(c.args[2], now: 0) else { c.error("ERR no such key"); return }
        let e = shard.entry(at: slot)
        if quicklist {
            guard case .list(let l) = e.value else { c.error("ERR Not a quicklist encoded object."); return }
            let q = quicklistShape(l.map(\.count), fill: c.engine.config.int("list-max-listpack-size"))
            c.engine.log("{quicklist} key \(c.args.string(2)): \(l.count) elements in \(q.nodes) nodes, \(q.bytes) bytes")
            c.out.simple("Quicklist structure printed on stdout")
        } else {
            guard e.encodingName == "listpack" else { c.error("ERR Not a listpack encoded object."); return }
            c.engine.log("{listpack} key \(c.args.string(2)): \(e.value.typeName), listpack encoding")
            c.out.simple("Listpack structure printed on stdout")
        }
    }

    /// DEBUG STRINGMATCH-TEST: random patterns and strings through the glob matcher (Redis's
    /// fuzz of stringmatchlen), which must neither crash nor loop.
    static func stringmatchTest(_ c: inout CommandContext) {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("ab*?[]\\^-".utf8)
        for _ in 0..<10_000 {
            let p = (0..<Int.random(in: 0...16, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            let s = (0..<Int.random(in: 0...16, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            _ = globMatch(p, s)
        }
        c.out.simple("Apparently Redis did not crash: test passed")
    }
}
