import RESP
import Storage

/// The way in for a client's command: resolve it (one table lookup), admit it, then `call()`.
///
/// Admission is every check that may refuse a command before it runs, in Redis's order:
/// authentication, ACL permissions, a RESP2 subscriber's restricted set, maxmemory (evicting first), and MULTI,
/// which queues instead of running. A refusal counts in the command's rejected_calls, as
/// Redis's INFO commandstats reports it.
extension Engine {
    /// Runs the command in `ctx.args`, writing its reply into `ctx.out`.
    public func execute(_ ctx: inout CommandContext) {
        guard !ctx.args.isEmpty else { return }
        // One clock read gives both the command's ms clock and the start of its duration.
        ctx.startedMicros = unixMicros()
        ctx.now = ctx.startedMicros / 1000
        guard let spec = resolve(&ctx) else {
            ctx.session.counters.commands += 1
            if ctx.session.inMulti { ctx.session.multiFailed = true }
            return
        }
        // CLIENT PAUSE: a command it holds is not run; the connection keeps it unread and
        // tries again when the pause ends (one atomic load while no pause was ever set).
        if pauseEverSet, pauseActive(now: ctx.now),
           let until = pausedUntil(flags: spec.name == "exec" ? spec.flags.union(ctx.session.queuedFlags) : spec.flags, now: ctx.now) {
            ctx.pausedUntil = until
            ctx.client.info.withLock { $0.lastCommand = spec.name }   // CLIENT LIST's cmd=, as Redis
            return
        }
        ctx.session.counters.commands += 1
        let mode = ctx.session.replyMode
        // CLIENT LIST's cmd= and idle= (and the idle timeout) read these under the client's
        // lock; a lock per command showed in profiles, so they are published when the command
        // changes or 100 ms have passed.
        if spec !== ctx.session.publishedCommand || ctx.now - ctx.session.publishedAt >= 100 {
            ctx.session.publishedCommand = spec
            ctx.session.publishedAt = ctx.now
            ctx.client.info.withLock { info in
                info.lastCommand = spec.name
                info.lastInteraction = ctx.now
            }
        }
        if !spec.flags.contains(.noAuth) && !isAuthenticated(ctx.client) {
            spec.rejectedCalls.wrappingAdd(1, ordering: .relaxed)
            if ctx.session.inMulti { ctx.session.multiFailed = true }
            ctx.error(Errors.noAuth)
            return
        }
        // ACL: one load and compare while the connection's user is unrestricted.
        if ctx.session.aclGeneration != acl.generation.load(ordering: .relaxed) { refreshUser(&ctx) }
        if ctx.session.aclRestricted,
           let denial = aclDenial(spec, ctx.args, &ctx, context: ctx.session.inMulti ? "multi" : "toplevel") {
            spec.rejectedCalls.wrappingAdd(1, ordering: .relaxed)
            if ctx.session.inMulti { ctx.session.multiFailed = true }
            ctx.error(Self.nopermMessage(denial, spec))
            return
        }
        // Cluster: the slot's owner serves the command, else the client is redirected there.
        if let cluster, !ctx.fromPrimary, let redirect = clusterRedirect(spec, &ctx, cluster) {
            spec.rejectedCalls.wrappingAdd(1, ordering: .relaxed)
            if spec.name == "exec" {
                ctx.session.multiQueue = nil
                ctx.session.multiFailed = false
                ctx.client.multiBytes.store(0, ordering: .relaxed)
                ctx.client.info.withLock { $0.multi = -1 }
                TransactionCommands.unwatchAll(&ctx)
            } else if ctx.session.inMulti {
                ctx.session.multiFailed = true
            }
            ctx.error(redirect)
            return
        }
        // A script past busy-reply-threshold (on another event loop): only what Redis lets
        // through then (SCRIPT KILL, FUNCTION KILL, SHUTDOWN NOSAVE, ...).
        if scripting.busy.load(ordering: .relaxed) && !spec.flags.contains(.allowBusy) {
            // The primary's stream waits for the script's end, as Redis stops reading it.
            if ctx.fromPrimary {
                ctx.pausedUntil = ctx.now + 1
                return
            }
            spec.rejectedCalls.wrappingAdd(1, ordering: .relaxed)
            if ctx.session.inMulti { ctx.session.multiFailed = true }
            let kill = scripting.runningKind.load(ordering: .relaxed) == 2 ? "FUNCTION KILL" : "SCRIPT KILL"
            ctx.error("BUSY Redis is busy running a script. You can only call \(kill) or SHUTDOWN NOSAVE.")
            return
        }
        if ctx.session.subscriptionCount > 0 && !ctx.out.resp3 && !spec.flags.contains(.whileSubscribed) {
            // Shard channels the cluster dropped may have been its last subscriptions.
            PubSubCommands.forgetRevoked(&ctx)
            if ctx.session.subscriptionCount > 0 {
                spec.rejectedCalls.wrappingAdd(1, ordering: .relaxed)
                ctx.error("ERR Can't execute '\(spec.name)': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
                return
            }
        }
        // maxmemory: evict first; a command that may grow memory is refused if that failed.
        // A primary's stream is never refused.
        if settings.maxmemory.load(ordering: .relaxed) > 0 && !aof.loading.load(ordering: .relaxed) && !ctx.fromPrimary
            && !performEvictions() && spec.flags.contains(.denyoom) {
            spec.rejectedCalls.wrappingAdd(1, ordering: .relaxed)
            if ctx.session.inMulti { ctx.session.multiFailed = true }
            ctx.error("OOM command not allowed when used memory > 'maxmemory'.")
            return
        }
        // NOREPLICAS on a primary; READONLY, MASTERDOWN on a replica (one atomic load).
        if repl.gate.load(ordering: .relaxed) != 0 && !ctx.fromPrimary, let refusal = replicationRefusal(spec, &ctx) {
            spec.rejectedCalls.wrappingAdd(1, ordering: .relaxed)
            if ctx.session.inMulti { ctx.session.multiFailed = true }
            ctx.error(refusal)
            return
        }
        if ctx.session.inMulti && !spec.flags.contains(.runsInMulti) {
            if spec.flags.contains(.noMulti) {
                spec.rejectedCalls.wrappingAdd(1, ordering: .relaxed)
                ctx.session.multiFailed = true
                ctx.error("ERR Command not allowed inside a transaction")
            } else {
                ctx.session.multiQueue!.append(ctx.args)
                var bytes = 8 * ctx.argc
                for i in 0..<ctx.argc { bytes += ctx.args[i].count }
                ctx.client.multiBytes.wrappingAdd(bytes, ordering: .relaxed)
                ctx.session.queuedFlags.formUnion(spec.flags)
                ctx.out.raw("+QUEUED\r\n")
            }
            return
        }
        let replyStart = ctx.out.buffer.writerIndex
        call(spec, &ctx)
        // A client's invalidations of its own writes follow the command's reply, as in Redis 7.
        for var m in ctx.ownInvalidations { ctx.out.buffer.writeBuffer(&m) }
        ctx.ownInvalidations.removeAll()
        // CLIENT REPLY OFF / SKIP: the reply is written, then taken back.
        if mode != .on {
            if ctx.session.replyMode == .skip && mode == .skip { ctx.session.replyMode = .on }
            if (mode == .skip || ctx.session.replyMode == .off) && !ctx.replyIsPush {
                ctx.out.buffer.moveWriterIndex(to: replyStart)
            }
            ctx.replyIsPush = false
        }
    }

    /// The spec for `ctx.args` (a sub-command where there is one), or nil after replying
    /// Redis's unknown-command, unknown-subcommand or arity error.
    func resolve(_ ctx: inout CommandContext) -> CommandSpec? {
        guard var spec = table.lookup(ctx.args[0])
                ?? (aof.loading.load(ordering: .relaxed) ? originalTable.lookup(ctx.args[0]) : nil) else {
            rejectUnknown(&ctx)
            return nil
        }
        if !spec.subcommands.isEmpty && ctx.argc >= 2 {
            guard let sub = CommandTable.subcommand(of: spec, ctx.args[1]) else {
                ctx.error(Errors.unknownSubcommand(ctx.args.string(1), spec.name))
                return nil
            }
            spec = sub
        }
        let argc = ctx.argc
        if (spec.arity > 0 && argc != spec.arity) || argc < -spec.arity || spec.handler == nil {
            spec.rejectedCalls.wrappingAdd(1, ordering: .relaxed)
            ctx.error(Errors.arity(spec.name))
            return nil
        }
        return spec
    }

    public func isAuthenticated(_ client: Client) -> Bool {
        client.authenticated.load(ordering: .relaxed) || !passwordSet
    }

    private func rejectUnknown(_ ctx: inout CommandContext) {
        var args = ""
        var i = 1
        while i < ctx.argc && args.utf8.count < 128 {
            let room = 128 - args.utf8.count
            args += "'\(String(decoding: ctx.args[i].prefix(room), as: UTF8.self))' "
            i += 1
        }
        let name = String(decoding: ctx.args[0].prefix(128), as: UTF8.self)
        ctx.error("ERR unknown command '\(name)', with args beginning with: \(args)")
    }

}
