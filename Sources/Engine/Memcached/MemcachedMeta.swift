import NIOCore
import Memcache
import Storage

/// memcached's meta protocol (mg, ms, md, ma, me) on the same items as the text protocol,
/// with the stale-while-revalidate states: an invalidated item is served stale (X) and the
/// first reader is handed the right to recache it (W), the others told it is taken (Z).
extension MemcachedSession {
    /// Seconds left before the item expires, -1 without a TTL.
    func ttlSeconds(_ shard: Shard, _ slot: Int) -> Int64 {
        let at = shard.expireAt(slot: slot)
        return at == 0 ? -1 : max(0, (at - now + 999) / 1000)
    }

    /// The return flags every meta command can echo: opaque and key (as the client sent it,
    /// base64 with a b flag after it when it came so).
    func echo(_ flag: UInt8, _ token: ArraySlice<UInt8>, key: [UInt8], _ f: MetaFlags, _ out: inout ByteBuffer) {
        switch flag {
        case UInt8(ascii: "O"):
            out.writeString(" O")
            out.writeBytes(token)
        case UInt8(ascii: "k"):
            out.writeString(" k")
            if f.base64Key {
                out.writeString(MemcacheParser.encodeBase64(key))
                out.writeString(" b")
            } else {
                out.writeBytes(key)
            }
        default:
            break
        }
    }

    /// A new TTL for an item this command still reports on: one already past makes it expire
    /// now (gone at its next lookup) rather than under the caller's feet.
    func expiryForExisting(_ exptime: Int32) -> Int64 {
        let at = expireAt(exptime)
        return at == Self.past ? now : at
    }

    // MARK: mg

    /// mg <key> <flags>*
    func metaGet(_ c: inout CommandContext, _ key: [UInt8], _ f: MetaFlags, _ out: inout ByteBuffer) {
        let k = key[...]
        let shard = db.shard(k)
        count(.cmdGet)
        var created = false
        var found = item(shard, k)
        if found == nil, let ttl = f.vivify {
            // N: a miss creates an empty item and hands this client the right to fill it.
            _ = ttl   // applied where the N flag stands among the flags, as memcached does
            found = shard.set(k, .bytes([]), access: engine.accessPolicy.initial(now: now))
            created = true
        }
        guard let slot = found else {
            count(.getMisses)
            if !f.quiet {
                out.writeString("EN")
                for (flag, token) in f.list { echo(flag, token, key: key, f, &out) }
                out.writeString("\r\n")
            }
            return
        }
        count(.getHits)
        let before = shard.entry(at: slot)
        heldByReply.append((key, shard.cas(before)))
        var won = false
        var flagsText = ByteBuffer()
        for (flag, token) in f.list {
            let e = shard.entry(at: slot)
            switch flag {
            case UInt8(ascii: "T"):
                shard.setExpire(slot: slot, at: expiryForExisting(f.ttl!))
            case UInt8(ascii: "N"):
                if created {
                    won = true
                    shard.setExpire(slot: slot, at: expiryForExisting(f.vivify!))
                }
            case UInt8(ascii: "R"):
                if !e.itemState.contains(.won) && !created && shard.expireAt(slot: slot) != 0 && ttlSeconds(shard, slot) < Int64(f.recache!) { won = true }
            case UInt8(ascii: "s"):
                flagsText.writeString(" s\(e.value.stringLength)")
            case UInt8(ascii: "t"):
                flagsText.writeString(" t\(ttlSeconds(shard, slot))")
            case UInt8(ascii: "c"):
                flagsText.writeString(" c\(shard.cas(e))")
            case UInt8(ascii: "f"):
                flagsText.writeString(" f\(shard.clientFlags(at: slot))")
            case UInt8(ascii: "l"):
                flagsText.writeString(" l\(engine.accessPolicy.lfu ? 0 : idleSeconds(access: before.access, nowMs: now))")
            case UInt8(ascii: "h"):
                flagsText.writeString(before.itemState.contains(.fetched) ? " h1" : " h0")
            default:
                echo(flag, token, key: key, f, &flagsText)
            }
        }
        var state = shard.entry(at: slot).itemState
        if state.contains(.won) { flagsText.writeString(" Z") }
        if state.contains(.stale) {
            flagsText.writeString(" X")
            if !state.contains(.won) { won = true }
        }
        if won {
            flagsText.writeString(" W")
            state.insert(.won)
        }
        if !f.noUpdate {
            state.insert(.fetched)
            shard.touchAccess(slot: slot, now: now, policy: engine.accessPolicy)
        }
        let e = shard.entry(at: slot)
        shard.withEntryMetadata(at: slot) { $0.itemState = state }
        if created || f.ttl != nil { changed(&c, k) }
        if f.returnValue {
            out.writeString("VA ")
            writeValue(e.value, header: String(buffer: flagsText), &out)
        } else {
            out.writeString("HD")
            out.writeBuffer(&flagsText)
            out.writeString("\r\n")
        }
    }

    // MARK: ms

    /// ms <key> <datalen> <flags>*\r\n<data>\r\n
    func metaSet(_ c: inout CommandContext, _ key: [UInt8], _ f: MetaFlags, _ data: ArraySlice<UInt8>,
                 _ out: inout ByteBuffer) {
        let k = key[...]
        let shard = db.shard(k)
        let slot = item(shard, k)
        var mode = f.mode ?? UInt8(ascii: "S")
        // As memcached: a CAS turns set and replace into a compare-and-set.
        if f.compareCas != nil && (mode == UInt8(ascii: "S") || mode == UInt8(ascii: "R")) { mode = UInt8(ascii: "C") }
        let status: String
        switch mode {
        case UInt8(ascii: "E"):
            if let slot {
                shard.touchAccess(slot: slot, now: now, policy: engine.accessPolicy)
                status = "NS"
            } else {
                put(&c, shard, k, data, flags: f.clientFlags ?? 0, exptime: f.ttl ?? 0)
                status = "HD"
            }
        case UInt8(ascii: "R"):
            if slot == nil { status = "NS" } else {
                put(&c, shard, k, data, flags: f.clientFlags ?? 0, exptime: f.ttl ?? 0)
                status = "HD"
            }
        case UInt8(ascii: "A"), UInt8(ascii: "P"):
            if let slot {
                if let cas = f.compareCas, cas != shard.cas(shard.entry(at: slot)) {
                    status = "EX"
                } else {
                    shard.withEntry(at: slot) { e in
                        var b = e.value.stringBytes!
                        if mode == UInt8(ascii: "A") { b.append(contentsOf: data) } else { b.insert(contentsOf: data, at: 0) }
                        e.value = .string(b)
                        e.itemState = []   // a new item to memcached
                    }
                    written(&c, k, mode == UInt8(ascii: "A") ? "append" : "prepend")
                    status = "HD"
                }
            } else {
                status = "NS"
            }
        case UInt8(ascii: "C"):
            if let slot {
                let e = shard.entry(at: slot)
                if shard.cas(e) == f.compareCas! {
                    count(.casHits)
                    put(&c, shard, k, data, flags: f.clientFlags ?? 0, exptime: f.ttl ?? 0)
                    status = "HD"
                } else if f.invalidate && f.compareCas! < shard.cas(e) {
                    // I: a value older than the item is still stored, marked stale; whoever
                    // holds the win keeps it.
                    count(.casHits)
                    let state = e.itemState
                    put(&c, shard, k, data, flags: f.clientFlags ?? 0, exptime: f.ttl ?? 0)
                    if let s = shard.find(k, now: now) {
                        shard.withEntryMetadata(at: s) { $0.itemState = state.union(.stale) }
                    }
                    status = "HD"
                } else {
                    count(.casBadval)
                    status = "EX"
                }
            } else {
                count(.casMisses)
                status = "NF"
            }
        default:
            put(&c, shard, k, data, flags: f.clientFlags ?? 0, exptime: f.ttl ?? 0)
            status = "HD"
        }
        let cas = shard.find(k, now: now).map { shard.cas(shard.entry(at: $0)) } ?? 0
        if f.quiet && status == "HD" { return }
        out.writeString(status)
        for (flag, token) in f.list {
            if flag == UInt8(ascii: "c") { out.writeString(" c\(cas)") } else { echo(flag, token, key: key, f, &out) }
        }
        out.writeString("\r\n")
    }

    // MARK: md

    /// md <key> <flags>*
    func metaDelete(_ c: inout CommandContext, _ key: [UInt8], _ f: MetaFlags, _ out: inout ByteBuffer) {
        let k = key[...]
        let shard = db.shard(k)
        var status = "NF"
        if let slot = item(shard, k) {
            let e = shard.entry(at: slot)
            if let cas = f.compareCas, cas != shard.cas(e) {
                status = "EX"
            } else if f.invalidate {
                // I: keep the item, stale, for stale-while-revalidate.
                shard.withEntry(at: slot) { e in
                    e.itemState.insert(.stale)
                    e.itemState.remove(.won)
                }
                if let ttl = f.ttl { applyExpiry(shard, slot, ttl) }
                written(&c, k, "set")
                status = "HD"
            } else {
                shard.remove(slot: slot)
                written(&c, k, "del")
                status = "HD"
            }
        }
        count(status == "NF" ? .deleteMisses : .deleteHits)
        if f.quiet && status == "HD" { return }
        out.writeString(status)
        for (flag, token) in f.list { echo(flag, token, key: key, f, &out) }
        out.writeString("\r\n")
    }

    // MARK: ma

    /// ma <key> <flags>*
    func metaArithmetic(_ c: inout CommandContext, _ key: [UInt8], _ f: MetaFlags, _ out: inout ByteBuffer) {
        let k = key[...]
        let incr = f.mode.map { "Ii+".utf8.contains($0) } ?? true
        var text: String
        var created = false
        switch arithmetic(&c, k, incr: incr, delta: f.delta, compareCas: f.compareCas) {
        case .value(let v, _):
            text = v
            count(incr ? .incrHits : .decrHits)
        case .nonNumeric:
            out.writeString("CLIENT_ERROR cannot increment or decrement non-numeric value\r\n")
            return
        case .casMismatch:
            out.writeString("EX")
            for (flag, token) in f.list { echo(flag, token, key: key, f, &out) }
            out.writeString("\r\n")
            return
        case .notFound:
            count(incr ? .incrMisses : .decrMisses)
            guard f.vivify != nil else {
                out.writeString("NF")
                for (flag, token) in f.list { echo(flag, token, key: key, f, &out) }
                out.writeString("\r\n")
                return
            }
            // N: a miss creates the counter with the J value (0 by default).
            text = String(f.initial)
            let shard = db.shard(k)
            if shard.find(k, now: now) == nil {
                put(&c, shard, k, Array(text.utf8)[...], flags: 0, exptime: 0)
                created = true
            }
        }
        // q hides the reply of an update; memcached 1.6.18 still answers a vivified miss.
        if f.quiet && !created { return }
        let shard = db.shard(k)
        var flagsText = ByteBuffer()
        for (flag, token) in f.list {
            guard let slot = shard.find(k, now: now) else { break }
            let e = shard.entry(at: slot)
            switch flag {
            case UInt8(ascii: "c"): flagsText.writeString(" c\(shard.cas(e))")
            case UInt8(ascii: "t"): flagsText.writeString(" t\(ttlSeconds(shard, slot))")
            case UInt8(ascii: "T"):
                shard.setExpire(slot: slot, at: expiryForExisting(f.ttl!))
                changed(&c, k)
            case UInt8(ascii: "N"):
                if created {
                    shard.setExpire(slot: slot, at: expiryForExisting(f.vivify!))
                    changed(&c, k)
                }
            default: echo(flag, token, key: key, f, &flagsText)
            }
        }
        if f.returnValue {
            out.writeString("VA \(text.utf8.count)")
            out.writeBuffer(&flagsText)
            out.writeString("\r\n\(text)\r\n")
        } else {
            out.writeString("HD")
            out.writeBuffer(&flagsText)
            out.writeString("\r\n")
        }
    }

    // MARK: me

    /// me <key>: memcached's debug line about one item.
    func metaDebug(_ key: [UInt8], _ out: inout ByteBuffer) {
        let k = key[...]
        let shard = db.shard(k)
        guard let slot = item(shard, k) else {
            out.writeString("EN\r\n")
            return
        }
        let e = shard.entry(at: slot)
        let size = MemcacheParser.itemSize(key: key.count, value: e.value.stringLength)
        let idle = engine.accessPolicy.lfu ? 0 : idleSeconds(access: e.access, nowMs: now)
        out.writeString("ME ")
        out.writeBytes(key)
        out.writeString(" exp=\(ttlSeconds(shard, slot)) la=\(idle) cas=\(shard.cas(e)) fetch=\(e.itemState.contains(.fetched) ? "yes" : "no") cls=\(SlabClasses.classOf(size)) size=\(size)\r\n")
    }
}

/// memcached's default slab classes (-n 48, -f 1.25, 8-byte aligned chunks), to name the
/// class an item of a given size would live in, as `me` and `stats items` report it.
enum SlabClasses {
    static let sizes: [Int] = {
        var out: [Int] = []
        var size = 96
        while size <= 512 * 1024 / 1 && out.count < 63 {
            if size % 8 != 0 { size += 8 - size % 8 }
            out.append(size)
            size = Int(Double(size) * 1.25)
        }
        return out
    }()

    static func classOf(_ itemSize: Int) -> Int {
        for (i, s) in sizes.enumerated() where itemSize <= s { return i + 1 }
        return sizes.count
    }
}
