import RESP
import Storage

/// PFADD, PFCOUNT, PFMERGE, PFDEBUG and PFSELFTEST on HyperLogLog strings (Storage's
/// HyperLogLog keeps Redis's byte layout, so these keys read back as Redis's do).
enum HyperLogLogCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("pfadd", arity: -2, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: "hyperloglog", summary: "Adds the specified elements to the specified HyperLogLog.",
                    complexity: "O(1) to add every element.", handler: pfadd),
        CommandSpec("pfcount", arity: -2, flags: [.readonly, .rewritesValue, .mayReplicate], keys: (1, -1, 1), group: "hyperloglog",
                    summary: "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).",
                    complexity: "O(1) with a very small average constant time when called with a single key. O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys.",
                    handler: pfcount),
        CommandSpec("pfmerge", arity: -2, flags: [.write, .denyoom], keys: (1, -1, 1), group: "hyperloglog", summary: "Merge N different HyperLogLogs into a single one.",
                    complexity: "O(N) to merge N HyperLogLogs, but with high constant times.", handler: pfmerge),
        CommandSpec("pfdebug", arity: 3, flags: [.write, .denyoom, .admin], keys: (2, 2, 1), group: "hyperloglog", summary: "Internal commands for debugging HyperLogLog values",
                    complexity: "N/A", handler: pfdebug),
        CommandSpec("pfselftest", arity: 1, flags: [.admin], group: "hyperloglog",
                    summary: "An internal command for testing HyperLogLog values", complexity: "N/A",
                    handler: pfselftest),
    ]

    static let invalid = "INVALIDOBJ Corrupted HLL object detected"
    static let notHLL = "WRONGTYPE Key is not a valid HyperLogLog string value."

    /// Whether the value at `slot` is a HyperLogLog; replies with Redis's error when not.
    static func check(_ c: inout CommandContext, _ shard: Shard, _ slot: Int) -> Bool {
        let value = shard.entry(at: slot).value
        guard value.isString else { c.error(Errors.wrongType); return false }
        guard let b = value.stringBytes, HyperLogLog.isValid(b) else { c.error(notHLL); return false }
        return true
    }

    /// Runs `body` on the HLL's bytes in place (taken out of the entry so they are not copied).
    /// Redis unshares the string first, so it is "raw" afterwards whatever happens.
    static func mutate<R>(_ shard: Shard, _ slot: Int, _ body: (inout [UInt8]) -> R) -> R {
        shard.withEntryMetadata(at: slot) { e in
            var b: [UInt8]
            if case .bytes(let raw) = e.value { b = raw } else { b = e.value.stringBytes! }
            e.value = .int(0)
            let r = body(&b)
            e.value = .bytes(b)
            e.rawEncoding = true
            return r
        }
    }

    /// A new empty HLL at argument `i`.
    static func create(_ c: inout CommandContext, _ shard: Shard, _ i: Int) -> Int {
        let slot = shard.set(c.args[i], .bytes(HyperLogLog.empty()), access: c.newAccess)
        shard.withEntryMetadata(at: slot) { $0.rawEncoding = true }
        return slot
    }

    /// PFADD key [element [element ...]]
    static func pfadd(_ c: inout CommandContext) {
        let shard = c.shard(1)
        let maxBytes = c.engine.settings.hllSparseMaxBytes.load(ordering: .relaxed)
        var updated = 0
        let slot: Int
        if let s = shard.find(c.args[1], now: c.lookupNow) {
            guard check(&c, shard, s) else { return }
            slot = s
        } else {
            slot = create(&c, shard, 1)
            updated += 1
        }
        let args = c.args
        let created = updated > 0
        let result: Int? = mutate(shard, slot) { b in
            var n = 0
            for j in 2..<args.count {
                guard let changed = try? HyperLogLog.add(&b, args[j], sparseMaxBytes: maxBytes) else {
                    // Redis's sparse updates before the corrupt spot stay, their cache mark too.
                    if n > 0 { HyperLogLog.invalidateCache(&b) }
                    return nil
                }
                if changed { n += 1 }
            }
            if created || n > 0 { HyperLogLog.invalidateCache(&b) }
            return n
        }
        guard let result else {
            if created { c.dirty(); c.notify(.string, "pfadd", 1) }
            c.error(invalid)
            return
        }
        updated += result
        if updated > 0 {
            shard.withEntry(at: slot) { _ in }
            c.dirty(updated)
            c.notify(.string, "pfadd", 1)
        }
        c.out.integer(updated > 0 ? 1 : 0)
    }

    /// PFCOUNT key [key ...]
    static func pfcount(_ c: inout CommandContext) {
        if c.argc > 2 {
            var maxima = [UInt8](repeating: 0, count: HyperLogLog.registers)
            for i in 1..<c.argc {
                let (shard, slot) = c.lookupRead(i)
                guard let slot else { continue }
                guard check(&c, shard, slot) else { return }
                guard let b = shard.entry(at: slot).value.stringBytes,
                      (try? HyperLogLog.merge(b, into: &maxima)) != nil else { c.error(invalid); return }
            }
            c.out.integer(HyperLogLog.estimate(HyperLogLog.histogram(raw: maxima)))
            return
        }
        let (shard, found) = c.lookupRead(1)
        guard let slot = found else { c.out.integer(0); return }
        guard check(&c, shard, slot) else { return }
        let counted: (Int, Bool)? = mutate(shard, slot) { b in
            if let cached = HyperLogLog.cachedCount(b) { return (cached, false) }
            guard let n = try? HyperLogLog.count(b) else { return nil }
            HyperLogLog.storeCount(&b, n)
            return (n, true)
        }
        guard let (n, recomputed) = counted else { c.error(invalid); return }
        if recomputed {
            // The cached count is part of the string: a change Redis signals and propagates.
            shard.withEntry(at: slot) { _ in }
            c.dirty()
        }
        c.out.integer(n)
    }

    /// PFMERGE destkey [sourcekey [sourcekey ...]]
    static func pfmerge(_ c: inout CommandContext) {
        var maxima = [UInt8](repeating: 0, count: HyperLogLog.registers)
        var useDense = false
        for i in 1..<c.argc {
            let (shard, slot) = c.lookupRead(i)
            guard let slot else { continue }
            guard check(&c, shard, slot) else { return }
            guard let b = shard.entry(at: slot).value.stringBytes else { return }
            if !HyperLogLog.isSparse(b) { useDense = true }
            guard (try? HyperLogLog.merge(b, into: &maxima)) != nil else { c.error(invalid); return }
        }
        let shard = c.shard(1)
        let maxBytes = c.engine.settings.hllSparseMaxBytes.load(ordering: .relaxed)
        var created = false
        let slot: Int
        if let s = shard.find(c.args[1], now: c.lookupNow) {
            slot = s
        } else {
            slot = create(&c, shard, 1)
            created = true
        }
        let ok: Bool = mutate(shard, slot) { b in
            if useDense { guard (try? HyperLogLog.toDense(&b)) != nil else { return false } }
            for r in 0..<HyperLogLog.registers where maxima[r] != 0 {
                // Redis ignores a corrupt destination here: it was merged (and checked) above.
                _ = try? HyperLogLog.raise(&b, r, Int(maxima[r]), sparseMaxBytes: maxBytes)
            }
            HyperLogLog.invalidateCache(&b)
            return true
        }
        guard ok else {
            if created { c.dirty() }
            c.error(invalid)
            return
        }
        shard.withEntry(at: slot) { _ in }
        c.dirty()
        c.notify(.string, "pfadd", 1)
        c.ok()
    }

    /// PFDEBUG <subcommand> <key>
    static func pfdebug(_ c: inout CommandContext) {
        let sub = c.args.string(1)
        let shard = c.shard(2)
        guard let slot = shard.find(c.args[2], now: c.lookupNow) else { c.error("ERR The specified key does not exist"); return }
        guard check(&c, shard, slot) else { return }
        switch sub.lowercased() {
        case "getreg":
            let regs: ([Int], Bool)? = mutate(shard, slot) { b in
                let sparse = HyperLogLog.isSparse(b)
                if sparse { guard (try? HyperLogLog.toDense(&b)) != nil else { return nil } }
                return ((0..<HyperLogLog.registers).map { HyperLogLog.register(b, $0) }, sparse)
            }
            guard let (values, converted) = regs else { c.error(invalid); return }
            // Redis counts the change of encoding so that it propagates.
            if converted { shard.withEntry(at: slot) { _ in }; c.dirty() }
            c.out.array(values.count)
            for r in values { c.out.integer(r) }
        case "decode":
            let text: String? = mutate(shard, slot) { b in HyperLogLog.isSparse(b) ? HyperLogLog.decode(b) : nil }
            guard let text else { c.error("ERR HLL encoding is not sparse"); return }
            c.out.bulk(Array(text.utf8))
        case "encoding":
            let sparse = mutate(shard, slot) { HyperLogLog.isSparse($0) }
            c.out.simple(sparse ? "sparse" : "dense")
        case "todense":
            let converted: Bool? = mutate(shard, slot) { b in
                guard HyperLogLog.isSparse(b) else { return false }
                return (try? HyperLogLog.toDense(&b)) != nil ? true : nil
            }
            guard let converted else { c.error(invalid); return }
            if converted { shard.withEntry(at: slot) { _ in }; c.dirty() }
            c.out.integer(converted ? 1 : 0)
        default:
            c.error("ERR Unknown PFDEBUG subcommand '\(sub)'")
        }
    }

    /// PFSELFTEST
    static func pfselftest(_ c: inout CommandContext) {
        if let failure = HyperLogLogSelfTest.run() {
            c.error("ERR \(failure)")
        } else {
            c.ok()
        }
    }
}
