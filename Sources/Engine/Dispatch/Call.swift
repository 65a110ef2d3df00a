import NIOCore
import RESP
import Storage

/// `call()`: what every command goes through once resolved and admitted, whoever sent it —
/// a client, a served blocked client, AOF loading (as a client) — and, with the transaction's
/// locks already held, each command of EXEC. The shard locks the command table says it needs,
/// the handler, its effects propagated under those locks (Propagation), and, once they are
/// released, what follows every command: parking a blocked client, serving the clients its
/// writes made ready, tracking invalidations, statistics.
extension Engine {
    /// Runs a resolved, admitted command.
    @inline(__always)
    func call(_ spec: CommandSpec, _ ctx: inout CommandContext) {
        let errorsBefore = ctx.session.counters.errors
        ctx.changes = 0
        // The body captures nothing (the spec is passed, the engine reached through the
        // context): captured, the spec and the engine were retained and released around every
        // command when call() was not inlined (about 100 instructions a GET under callgrind).
        withLocks(spec, &ctx) { spec, c in
            spec.handler!(&c)
            if spec.propagates { c.engine.propagateCommand(&c) }
        }
        let micros = Int(unixMicros() - ctx.startedMicros)
        spec.usec.wrappingAdd(micros, ordering: .relaxed)
        latencyCheck(spec, micros: micros)
        slowlogCheck(spec, &ctx, micros: micros)
        feedMonitors(spec, &ctx)
        afterCommand(spec, &ctx, errorsBefore: errorsBefore)
    }

    /// The same path with the handler given: a memcached request, whose handler needs the
    /// request and its connection's state besides the context.
    func call(_ spec: CommandSpec, _ ctx: inout CommandContext, running handler: (inout CommandContext) -> Void) {
        let errorsBefore = ctx.session.counters.errors
        ctx.changes = 0
        withLocks(spec, &ctx) { spec, c in
            handler(&c)
            if spec.propagates { c.engine.propagateCommand(&c) }
        }
        spec.usec.wrappingAdd(Int(unixMicros() - ctx.startedMicros), ordering: .relaxed)
        afterCommand(spec, &ctx, errorsBefore: errorsBefore)
    }

    /// Runs a command whose shard locks the caller holds (EXEC holds its transaction's): the
    /// handler and its effects; the caller runs `afterCommand` once it has released them.
    /// `ctx.startedMicros` is left at the command's end, when the next command of a
    /// transaction or a script may start.
    func callLocked(_ spec: CommandSpec, _ ctx: inout CommandContext, fromScript: Bool = false) {
        ctx.changes = 0
        spec.handler!(&ctx)
        if spec.propagates { propagateCommand(&ctx) }
        let end = unixMicros()
        let micros = Int(end - ctx.startedMicros)
        spec.usec.wrappingAdd(micros, ordering: .relaxed)
        latencyCheck(spec, micros: micros)
        slowlogCheck(spec, &ctx, micros: micros, fromScript: fromScript)
        feedMonitors(spec, &ctx, fromScript: fromScript)
        ctx.startedMicros = end
    }

    /// What follows every command once its locks are released: parking a blocked client,
    /// serving clients its writes unblocked, invalidating tracked keys, and statistics.
    func afterCommand(_ spec: CommandSpec, _ ctx: inout CommandContext, errorsBefore: Int) {
        if let w = ctx.blockedOn {
            let id = ctx.client.id
            blocking.byClient.withLock {
                if !w.done { $0[id] = w }
                blocking.count.store($0.count, ordering: .relaxed)
            }
            w.onParked?()
        }
        if ctx.changes > 0 && !ctx.serving && blocking.count.load(ordering: .relaxed) > 0 && spec.flags.contains(.write) {
            signalGoneStreams(spec, &ctx)
        }
        // A served blocked client's own ready keys go back to the serving loop (it holds the
        // serve lock).
        if !ctx.readyKeys.isEmpty && !ctx.serving {
            let ready = ctx.readyKeys
            ctx.readyKeys.removeAll()
            serveReadyKeys(ready)
        }
        trackAfterCommand(spec, &ctx)
        // As Redis, a command that blocked counts once, when it is answered (served, timed out
        // or unblocked); a served client that was not ready after all made no call.
        if ctx.blockedOn != nil || (ctx.serving && ctx.out.buffer.readableBytes == 0) { return }
        spec.calls.wrappingAdd(1, ordering: .relaxed)
        if ctx.session.counters.errors != errorsBefore {
            spec.failedCalls.wrappingAdd(1, ordering: .relaxed)
        }
    }

}
