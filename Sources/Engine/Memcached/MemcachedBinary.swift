import NIOCore
import Memcache
import Storage

/// memcached's binary protocol on the same items as the text protocol (MemcachedCommands):
/// each request runs through call() with the text protocol's rows and helpers, and answers as
/// memcached 1.6.18 does, compared byte for byte in the tests (CAS values aside: Larder's
/// are its own). What memcached refuses as invalid arguments (wrong extras, a key too long)
/// gets its error and closes the connection, as there.
extension MemcachedSession {
    private typealias Op = MemcacheBinary.Opcode
    private typealias Status = MemcacheBinary.Status

    /// Expiry times are unsigned here: past 2^31 they are far-future Unix times, clamped to
    /// the largest the text protocol's rules know (still absolute and in the future).
    ///
    /// Runs one binary request, appending its response (none for a quiet request that
    /// succeeded) to `out`. Returns false when the connection must close.
    public func executeBinary(_ r: MemcacheBinaryRequest, _ out: inout ByteBuffer) -> Bool {
        now = unixMillis()
        engine.memcachedFlushIfDue(now: now)
        var bytes: [UInt8] = []
        defer { out.writeBytes(bytes) }
        func respond(_ status: UInt16, cas: UInt64 = 0, extras: [UInt8] = [], key: ArraySlice<UInt8> = [],
                     value: ArraySlice<UInt8> = []) {
            MemcacheBinary.writeResponse(opcode: r.opcode, status: status, opaque: r.opaque, cas: cas, extras: extras,
                                         key: key, value: value, into: &bytes)
        }
        func fail(_ status: UInt16) {
            let text = Array(MemcacheBinary.message(status).utf8)
            respond(status, value: text[...])
        }
        guard valid(r) else {
            fail(Status.invalid)
            return false
        }
        let specs = MemcachedCommands.self
        let key = r.key
        switch r.opcode {
        case Op.get, Op.getq, Op.getk, Op.getkq, Op.gat, Op.gatq, Op.gatk, Op.gatkq, Op.touch:
            let quiet = [Op.getq, Op.getkq, Op.gatq, Op.gatkq].contains(r.opcode)
            let withKey = [Op.getk, Op.getkq, Op.gatk, Op.gatkq].contains(r.opcode)
            let touching = [Op.gat, Op.gatq, Op.gatk, Op.gatkq, Op.touch].contains(r.opcode)
            var found: (value: [UInt8], flags: UInt32, cas: UInt64)? = nil
            run(touching ? specs.gat : specs.get, [key]) { c in
                found = fetch(&c, key, touchingWith: touching ? Int32(clamping: r.extra32(0)) : nil)
            }
            if r.opcode != Op.touch { count(.cmdGet) }
            if touching { count(.cmdTouch) }
            if let found {
                if r.opcode != Op.touch { count(.getHits) }
                if touching { count(.touchHits) }
                var flags: [UInt8] = []
                MemcacheBinary.appendBE32(found.flags, &flags)
                respond(Status.ok, cas: found.cas, extras: flags, key: withKey ? key : [],
                        value: r.opcode == Op.touch ? [] : found.value[...])
            } else {
                if r.opcode != Op.touch { count(.getMisses) }
                if touching { count(.touchMisses) }
                if quiet { return true }
                if withKey { respond(Status.notFound, key: key) } else { fail(Status.notFound) }
            }

        case Op.set, Op.setq, Op.add, Op.addq, Op.replace, Op.replaceq, Op.append, Op.appendq, Op.prepend, Op.prependq:
            count(.cmdSet)
            let quiet = [Op.setq, Op.addq, Op.replaceq, Op.appendq, Op.prependq].contains(r.opcode)
            guard r.value.count <= engine.config.int("memcached-item-size-max") else {
                run(specs.delete, [key]) { c in _ = delete(&c, key) }
                fail(Status.tooLarge)
                return true
            }
            guard enoughMemory() else { fail(Status.outOfMemory); return true }
            let kind: MemcacheRequest.Store
            switch r.opcode {
            case Op.add, Op.addq: kind = .add
            case Op.replace, Op.replaceq: kind = .replace
            case Op.append, Op.appendq: kind = .append
            case Op.prepend, Op.prependq: kind = .prepend
            default: kind = r.cas != 0 ? .cas : .set
            }
            var reply = ""
            var cas: UInt64 = 0
            run(specs.store, [key]) { c in
                reply = store(&c, kind, key, flags: r.extra32(0), exptime: Int32(clamping: r.extra32(4)), cas: r.cas,
                              data: r.value)
                let shard = db.shard(key)
                if reply == "STORED", let slot = item(shard, key) { cas = shard.cas(shard.entry(at: slot)) }
            }
            switch reply {
            case "STORED": if !quiet { respond(Status.ok, cas: cas) }
            case "EXISTS": fail(Status.exists)
            case "NOT_FOUND": fail(Status.notFound)
            default:   // NOT_STORED: add finds the key, replace misses it, append / prepend miss it
                fail(kind == .add ? Status.exists : kind == .replace ? Status.notFound : Status.notStored)
            }

        case Op.delete, Op.deleteq:
            var status = Status.ok
            run(specs.delete, [key]) { c in
                let shard = db.shard(key)
                guard let slot = item(shard, key) else { status = Status.notFound; return }
                if r.cas != 0 && shard.cas(shard.entry(at: slot)) != r.cas { status = Status.exists; return }
                _ = delete(&c, key)
            }
            if status == Status.notFound { count(.deleteMisses) } else if status == Status.ok { count(.deleteHits) }
            if status == Status.ok { if r.opcode == Op.delete { respond(Status.ok) } } else { fail(status) }

        case Op.increment, Op.incrementq, Op.decrement, Op.decrementq:
            let incr = r.opcode == Op.increment || r.opcode == Op.incrementq
            let quiet = r.opcode == Op.incrementq || r.opcode == Op.decrementq
            let delta = r.extra64(0), initial = r.extra64(8), exptime = r.extra32(16)
            var status = Status.ok
            var result: UInt64 = 0
            var cas: UInt64 = 0
            run(specs.arithmetic, [key]) { c in
                let shard = db.shard(key)
                if item(shard, key) == nil && shard.find(key, now: now) == nil {
                    count(incr ? .incrMisses : .decrMisses)
                    // A missing counter is created with the initial value, unless the
                    // expiration is all ones (memcached's "do not create").
                    guard exptime != 0xffff_ffff else { status = Status.notFound; return }
                    put(&c, shard, key, Array(String(initial).utf8)[...], flags: 0, exptime: Int32(clamping: exptime))
                    result = initial
                    if let slot = item(shard, key) { cas = shard.cas(shard.entry(at: slot)) }
                    return
                }
                switch arithmetic(&c, key, incr: incr, delta: delta, compareCas: r.cas) {
                case .value(let text, let entry):
                    count(incr ? .incrHits : .decrHits)
                    result = UInt64(text) ?? 0
                    cas = shard.cas(entry)
                case .notFound:
                    count(incr ? .incrMisses : .decrMisses)
                    status = Status.notFound
                case .nonNumeric: status = Status.nonNumeric
                case .casMismatch: status = Status.exists
                }
            }
            if status != Status.ok { fail(status); return true }
            if quiet { return true }
            var value: [UInt8] = []
            MemcacheBinary.appendBE64(result, &value)
            respond(Status.ok, cas: cas, value: value[...])

        case Op.flush, Op.flushq:
            count(.cmdFlush)
            let delay = r.extras.count == 4 ? Int32(clamping: r.extra32(0)) : 0
            run(specs.flushAll, []) { c in flushAll(&c, delay: delay) }
            if r.opcode == Op.flush { respond(Status.ok) }

        case Op.noop:
            respond(Status.ok)

        case Op.version:
            respond(Status.ok, value: Array(Self.version.utf8)[...])

        case Op.quit:
            respond(Status.ok)
            return false

        case Op.quitq:
            return false

        case Op.stat:
            var text = ByteBuffer()
            let argument = key.isEmpty ? [] : [String(decoding: key, as: UTF8.self)]
            run(specs.other, []) { _ in stats(argument, &text) }
            let lines = String(decoding: text.readableBytesView, as: UTF8.self).split(separator: "\r\n")
            guard lines.last == "END" else { fail(Status.notFound); return true }
            for line in lines where line.hasPrefix("STAT ") {
                let parts = line.dropFirst(5).split(separator: " ", maxSplits: 1)
                respond(Status.ok, key: Array(parts[0].utf8)[...], value: Array((parts.count > 1 ? parts[1] : "").utf8)[...])
            }
            respond(Status.ok)

        default:
            fail(Status.unknownCommand)
        }
        return true
    }

    /// memcached's checks of a request's shape; a failure closes the connection.
    private func valid(_ r: MemcacheBinaryRequest) -> Bool {
        let e = r.extras.count, k = r.key.count, v = r.value.count
        guard k <= MemcacheParser.keyMaxLength else { return false }
        switch r.opcode {
        case Op.get, Op.getq, Op.getk, Op.getkq:
            return e == 0 && k > 0 && v == 0
        case Op.set, Op.setq, Op.add, Op.addq, Op.replace, Op.replaceq:
            return e == 8 && k > 0
        case Op.append, Op.appendq, Op.prepend, Op.prependq:
            return e == 0 && k > 0
        case Op.delete, Op.deleteq:
            return e == 0 && k > 0 && v == 0
        case Op.increment, Op.incrementq, Op.decrement, Op.decrementq:
            return e == 20 && k > 0 && v == 0
        case Op.touch, Op.gat, Op.gatq, Op.gatk, Op.gatkq:
            return e == 4 && k > 0 && v == 0
        case Op.flush, Op.flushq:
            return (e == 0 || e == 4) && k == 0 && v == 0
        case Op.noop, Op.version, Op.quit, Op.quitq:
            return e == 0 && k == 0 && v == 0
        case Op.stat:
            return e == 0 && v == 0
        default:
            return true
        }
    }

    /// A get's item: its value, client flags and CAS, marked fetched; with an expiry given, a
    /// touch too (gat, touch).
    private func fetch(_ c: inout CommandContext, _ key: ArraySlice<UInt8>,
                       touchingWith exptime: Int32?) -> (value: [UInt8], flags: UInt32, cas: UInt64)? {
        let shard = db.shard(key)
        guard let slot = item(shard, key) else { return nil }
        let e = shard.entry(at: slot)
        let found = (e.value.stringBytes ?? [], shard.clientFlags(at: slot), shard.cas(e))
        shard.touchAccess(slot: slot, now: now, policy: engine.accessPolicy)
        shard.withEntryMetadata(at: slot) { $0.itemState.insert(.fetched) }
        if let exptime {
            applyExpiry(shard, slot, exptime)
            changed(&c, key)
        }
        return found
    }
}
