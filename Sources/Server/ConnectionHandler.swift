import NIOCore
import Synchronization
import Engine
import RESP
import Storage

/// One client connection: reads requests, runs every complete one in order, and sends the
/// replies of an event loop iteration once its reads are done (see LoopFlusher).
final class ConnectionHandler: ChannelInboundHandler, FlushedAtEndOfIteration {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let engine: Engine
    private var reader = RESPReader()
    private var input: ByteBuffer? = nil
    /// A placeholder until channelActive makes the real one (`started`): not an Optional,
    /// whose check on every access cost about 130 instructions a request (callgrind).
    private var context: CommandContext
    private var started = false
    private var client: Client! = nil
    private var resumeScheduled = false
    private var closed = false
    /// The blocking command this connection waits on; input is held until it is served.
    private var blocked: Waiter? = nil
    private var channelContext: ChannelHandlerContext? = nil
    /// Bytes handed to the socket and not yet written: the client's output buffer.
    private var pendingOutput = 0
    private var pendingWrites = 0
    /// CLIENT LIST shows unparsed input left from the last read: nothing to store in the usual
    /// case (every command complete, nothing shown before).
    private var inputNoted = false
    /// When the output buffer first went over the soft limit, for the time part of the limit.
    private var softLimitSince: Int64? = nil

    /// Where replies wait for the end of the loop iteration and for the AOF.
    private let flusher: LoopFlusher
    /// Whether this connection is in the flusher's list for this iteration.
    private var flushQueued = false
    /// Whether this connection's commands are running (its context is in use).
    private var executing = false
    /// The AOF sequence number this connection's sent replies are covered up to, and whether
    /// some of its replies still wait for the AOF.
    private var coveredSeq: UInt64 = 0
    private var waitingOnAOF = false
    /// The socket's descriptor, for CLIENT LIST's fd= (the acceptor knows it; NIO hides it).
    private let fd: Int

    init(engine: Engine, flusher: LoopFlusher, fd: Int) {
        self.engine = engine
        self.fd = fd
        self.flusher = flusher
        context = CommandContext(engine: engine, client: Self.placeholder, out: RESPWriter(buffer: ByteBuffer()))
    }

    private static let placeholder = Client(id: 0, address: "", localAddress: "", fd: -1, now: 0, authenticated: false)

    func channelActive(context ctx: ChannelHandlerContext) {
        let now = unixMillis()
        let channel = ctx.channel
        var remote = channel.remoteAddress.map(Self.describe) ?? "?"
        var local = channel.localAddress.map(Self.describe) ?? "?"
        if case .unixDomainSocket = channel.localAddress {
            // As Redis: both ends are the server's socket path, port 0.
            local = engine.config.get("unixsocket") + ":0"
            remote = local
        }
        let id = engine.clients.newID()
        let c = Client(id: id, address: remote, localAddress: local, fd: fd, now: now,
                       authenticated: !engine.passwordSet)
        client = c
        context = CommandContext(engine: engine, client: c,
                                 out: RESPWriter(buffer: ctx.channel.allocator.buffer(capacity: 1024)))
        started = true
        channelContext = ctx
        let bound = NIOLoopBound(self, eventLoop: ctx.eventLoop)
        let handlerLoop = ctx.eventLoop
        // Output from other connections and threads arrives as tasks on this loop, which keep
        // it in order; a pushed message may skip the task (see onPush) only when none is queued.
        let queued = QueuedTasks()
        context.session.onUnblock = { bytes in
            queued.add()
            handlerLoop.execute { queued.ran(); bound.value.unblocked(with: bytes) }
        }
        context.session.onPush = { bytes in
            // From another connection of this loop, straight into the reply buffer: a task per
            // message made a PUBLISH fan-in six times slower than Redis's. Not while this
            // connection runs a command (its context is in use), nor from another loop's
            // thread, nor ahead of output already queued (a replica's RDB before its stream).
            if handlerLoop.inEventLoop, queued.none, !bound.value.executing {
                bound.value.pushed(bytes)
            } else {
                queued.add()
                handlerLoop.execute { queued.ran(); bound.value.pushed(bytes) }
            }
        }
        context.session.onPayload = { bytes, written in
            queued.add()
            handlerLoop.execute { queued.ran(); bound.value.sendOutsideBuffer(bytes, written: written) }
        }
        c.setPushSink(context.session.onPush)
        engine.stats.add(engine.stats.connectionsReceived)

        // maxclients counts this connection; over the limit it gets Redis's error and is closed.
        if engine.clients.count >= engine.maxClients {
            engine.stats.add(engine.stats.rejectedConnections)
            rejectAndClose(ctx, "-ERR max number of clients reached\r\n")
            return
        }
        if engine.protectedMode && !engine.passwordSet && !Self.isLoopback(channel.remoteAddress) {
            engine.stats.add(engine.stats.rejectedConnections)
            rejectAndClose(ctx, Self.protectedModeMessage)
            return
        }
        engine.clients.add(c)
        let loop = ctx.eventLoop
        // A strong reference, dropped in channelInactive: a weak one would give the channel a
        // side table, and every retain of it on the hot path would take the slow path.
        c.setCloser {
            loop.execute { channel.close(promise: nil) }
        }
        ctx.fireChannelActive()
    }

    private func rejectAndClose(_ ctx: ChannelHandlerContext, _ message: String) {
        closed = true
        var b = ctx.channel.allocator.buffer(capacity: message.utf8.count)
        b.writeString(message)
        ctx.writeAndFlush(wrapOutboundOut(b)).whenComplete { _ in ctx.close(promise: nil) }
    }

    func channelInactive(context ctx: ChannelHandlerContext) {
        closed = true
        if let w = blocked {
            engine.cancel(w)
            blocked = nil
        }
        channelContext = nil
        if started {
            executing = true   // its context is in use: a push to it now goes through a task
            engine.releaseClientState(&context)
            executing = false
            context.session.onUnblock = nil   // the closures hold this handler
            context.session.onPush = nil
            context.session.onPayload = nil
            client.setPushSink(nil)
        }
        if let client {
            client.setCloser(nil)
            engine.forgetClientMemory(client)
            engine.clients.remove(client)
            engine.replicaGone(client)
        }
        ctx.fireChannelInactive()
    }

    func channelRead(context ctx: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard !closed else { return }
        context.session.counters.netInput += bytes.readableBytes
        if input == nil || input!.readableBytes == 0 {
            input = bytes
        } else {
            input!.writeBuffer(&bytes)
        }
        process(ctx)
        noteInputIfAny()
        reportMemory()
    }

    /// Input left unparsed (a partial command, or commands behind a blocked or paused one) is
    /// what CLIENT LIST shows as qbuf; most reads leave none and store nothing.
    @inline(__always) private func noteInputIfAny() {
        if input != nil || inputNoted { noteInput() }
    }

    /// What is left unparsed, for CLIENT LIST (qbuf, qbuf-free).
    private func noteInput() {
        client.inputBytes.store(input?.readableBytes ?? 0, ordering: .relaxed)
        client.inputFree.store(input.map { $0.capacity - $0.writerIndex } ?? 0, ordering: .relaxed)
        inputNoted = input != nil
    }

    /// Unsent output changed (counted only where a limit needs it): CLIENT LIST's omem and oll,
    /// and client eviction's count.
    private func noteOutput() {
        guard let client else { return }
        client.outputBytes.store(pendingOutput, ordering: .relaxed)
        client.pendingWrites.store(pendingWrites, ordering: .relaxed)
        reportMemory()
    }

    /// maxmemory-clients: what this connection's buffers hold now (unparsed input, unsent
    /// replies); one relaxed load when no limit is set.
    private func reportMemory() {
        guard engine.clientEvictionOn, let client, !closed else { return }
        engine.reportClientMemory(client, input: input?.readableBytes ?? 0, output: pendingOutput)
    }

    func channelReadComplete(context ctx: ChannelHandlerContext) {
        // Not passed on: this is the pipeline's only handler, and the walk to the tail's no-op
        // cost about 140 instructions per read (callgrind). The next read is asked for here,
        // next to the head, so SwiftNIO skips its own request (autoRead), which walks the
        // pipeline from the tail: about 150 instructions a read more.
        ctx.read()
        guard started, !flushQueued else { return }
        flushQueued = true
        flusher.flushAtEndOfIteration(self)
    }

    /// The loop's reads are done: the replies of this iteration leave.
    func endOfIteration() {
        flushQueued = false
        guard let ctx = channelContext, !closed else { return }
        flush(ctx)
        engine.flushCounters(&context)
    }

    private func flush(_ ctx: ChannelHandlerContext) {
        guard started, context.out.buffer.readableBytes > 0 else { return }
        if context.session.aofSeq > coveredSeq || waitingOnAOF {
            // Its writes are not in the AOF yet: the reply leaves with the loop's group commit.
            coveredSeq = context.session.aofSeq
            waitingOnAOF = true
            let reply = context.out.buffer
            context.out.buffer = ctx.channel.allocator.buffer(capacity: 1024)
            let bound = NIOLoopBound(self, eventLoop: ctx.eventLoop)
            let boundCtx = NIOLoopBound(ctx, eventLoop: ctx.eventLoop)
            flusher.hold(seq: coveredSeq) {
                let me = bound.value
                me.waitingOnAOF = false
                guard !me.closed else { return }
                me.send(boundCtx.value, reply)
                me.engine.flushCounters(&me.context)
            }
            return
        }
        send(ctx, context.out.buffer)
        // Usually the socket took the bytes already and the buffer is ours again to reuse.
        context.out.buffer.clear()
    }

    /// Writes and flushes, counting the bytes until the socket takes them, and closes a client
    /// whose output buffer passes its class's `client-output-buffer-limit`.
    private func send(_ ctx: ChannelHandlerContext, _ bytes: ByteBuffer) {
        let n = bytes.readableBytes
        context.session.counters.netOutput += n
        // Unsent bytes are counted only where a limit can close the client: the normal class has
        // none by default, and a write without a promise costs no allocation.
        guard pendingOutput > 0 || engine.hasOutputLimit(client, subscribed: context.session.subscribedForLimits)
                || engine.clientEvictionOn else {
            ctx.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
            return
        }
        pendingOutput += n
        pendingWrites += 1
        let bound = NIOLoopBound(self, eventLoop: ctx.eventLoop)
        ctx.writeAndFlush(wrapOutboundOut(bytes)).whenComplete { _ in
            bound.value.pendingOutput -= n
            bound.value.pendingWrites -= 1
            bound.value.noteOutput()
        }
        noteOutput()
        if pendingOutput > 0 && !closed, let limit = engine.outputLimit(for: client, subscribed: context.session.subscribedForLimits) {
            let now = unixMillis()
            if limit.hard > 0 && pendingOutput > limit.hard {
                closeNow(ctx)
            } else if limit.soft > 0 && pendingOutput > limit.soft {
                let since = softLimitSince ?? now
                softLimitSince = since
                if now - since > Int64(limit.seconds) * 1000 { closeNow(ctx) }
            } else {
                softLimitSince = nil
            }
        }
    }

    /// A pushed message (pub/sub, invalidation) from another connection's command.
    private func pushed(_ bytes: ByteBuffer) {
        guard channelContext != nil, !closed else { return }
        // Behind the replies of commands already run, those still waiting for the end of the
        // iteration or for the AOF; the messages of one iteration leave in one write.
        var b = bytes
        context.out.buffer.writeBuffer(&b)
        guard !flushQueued else { return }
        flushQueued = true
        flusher.flushAtEndOfIteration(self)
    }

    /// Bytes that do not count against the output buffer limit (a replica's RDB, as in Redis,
    /// where the snapshot is streamed apart from the client's reply buffer).
    private func sendOutsideBuffer(_ bytes: ByteBuffer, written: (@Sendable () -> Void)?) {
        guard let ctx = channelContext, !closed else {
            written?()
            return
        }
        flush(ctx)   // replies of commands already run go first
        context.session.counters.netOutput += bytes.readableBytes
        engine.flushCounters(&context)
        guard let written else {
            ctx.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
            return
        }
        let promise = ctx.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenComplete { _ in written() }
        ctx.writeAndFlush(wrapOutboundOut(bytes), promise: promise)
    }

    /// Runs every complete command in the input, in order.
    private func process(_ ctx: ChannelHandlerContext) {
        guard !closed, blocked == nil, var buf = input else { return }
        input = nil
        executing = true
        defer { executing = false }
        reader.limits.maxBulkLength = engine.protoMaxBulkLen
        reader.limits.unauthenticated = !engine.isAuthenticated(client)
        while buf.readableBytes > 0 && !closed {
            switch reader.parse(buf, into: &context.args) {
            case .incomplete:
                if buf.readableBytes > engine.queryBufferLimit {
                    // Redis closes such a client without a reply.
                    closeNow(ctx)
                    return
                }
                input = buf
                return
            case .skip(let n):
                buf.moveReaderIndex(forwardBy: n)
            case .error(let message):
                context.error("ERR " + message)
                flush(ctx)
                closeNow(ctx)
                return
            case .command(let n):
                engine.execute(&context)
                if let until = context.pausedUntil {
                    context.pausedUntil = nil
                    input = buf
                    scheduleResume(ctx, at: until)
                    return
                }
                buf.moveReaderIndex(forwardBy: n)
                if let w = context.blockedOn {
                    context.blockedOn = nil
                    blocked = w
                    client.setBlocked(true)
                    var argv = 0
                    for i in 0..<context.args.count { argv += context.args[i].count }
                    client.argvBytes.store(argv, ordering: .relaxed)
                    if context.blockTimeoutMs > 0 {
                        let engine = self.engine
                        ctx.eventLoop.scheduleTask(in: .milliseconds(context.blockTimeoutMs)) { engine.timeOut(w) }
                    }
                    if buf.readableBytes > 0 { input = buf }
                    return
                }
                if context.session.closeAfterReply {
                    flush(ctx)
                    closeNow(ctx)
                    return
                }
                reader.limits.unauthenticated = !engine.isAuthenticated(client)
            }
        }
        if buf.readableBytes > 0 { input = buf }
    }

    /// A blocked command's reply arrived (served, timed out or unblocked): send it, go on reading.
    private func unblocked(with reply: ByteBuffer) {
        guard let ctx = channelContext, !closed, blocked != nil else { return }
        blocked = nil
        client.setBlocked(false)
        client.argvBytes.store(0, ordering: .relaxed)
        var r = reply
        context.out.buffer.writeBuffer(&r)
        process(ctx)
        noteInputIfAny()
        flush(ctx)
        engine.flushCounters(&context)
    }

    private func scheduleResume(_ ctx: ChannelHandlerContext, at until: Int64) {
        guard !resumeScheduled else { return }
        resumeScheduled = true
        engine.pausedClients.wrappingAdd(1, ordering: .relaxed)
        client.setBlocked(true)
        // Looked at again every 50 ms at most: CLIENT UNPAUSE, or a manual failover's end,
        // lets the client go without a wake-up of its own (paused clients are few, and rare).
        let delay = min(50, max(1, until - unixMillis()))
        ctx.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(delay)) { [self] in
            resumeScheduled = false
            engine.pausedClients.wrappingSubtract(1, ordering: .relaxed)
            client.setBlocked(false)
            process(ctx)
            noteInputIfAny()
            flush(ctx)
            engine.flushCounters(&self.context)
        }
    }

    private func closeNow(_ ctx: ChannelHandlerContext) {
        closed = true
        input = nil
        ctx.close(promise: nil)
    }

    func errorCaught(context ctx: ChannelHandlerContext, error: Error) {
        closeNow(ctx)
    }

    /// "ip:port" as CLIENT LIST prints it. An IPv4 address is written by hand: NIO's
    /// `ipAddress` goes through inet_ntop and sprintf, about 3 700 instructions an address,
    /// for both ends of every accepted connection (callgrind).
    static func describe(_ a: SocketAddress) -> String {
        switch a {
        case .v4(let v4):
            let ip = UInt32(bigEndian: v4.address.sin_addr.s_addr)
            return String(unsafeUninitializedCapacity: 21) { out in
                var n = 0
                func put(_ v: Int, _ after: UInt8?) {
                    var digits = 1, rest = v
                    while rest >= 10 { rest /= 10; digits += 1 }
                    rest = v
                    for i in stride(from: n + digits - 1, through: n, by: -1) {
                        out[i] = UInt8(ascii: "0") + UInt8(rest % 10)
                        rest /= 10
                    }
                    n += digits
                    if let after { out[n] = after; n += 1 }
                }
                put(Int(ip >> 24), UInt8(ascii: "."))
                put(Int(ip >> 16 & 0xFF), UInt8(ascii: "."))
                put(Int(ip >> 8 & 0xFF), UInt8(ascii: "."))
                put(Int(ip & 0xFF), UInt8(ascii: ":"))
                put(Int(UInt16(bigEndian: v4.address.sin_port)), nil)
                return n
            }
        case .v6: return "[\(a.ipAddress ?? "?")]:\(a.port ?? 0)"
        case .unixDomainSocket: return a.pathname ?? "/unix"
        }
    }

    /// From the address's bytes, not its text (see `describe`).
    static func isLoopback(_ a: SocketAddress?) -> Bool {
        guard let a else { return true }
        switch a {
        case .unixDomainSocket: return true
        case .v4(let v4):
            return UInt32(bigEndian: v4.address.sin_addr.s_addr) >> 24 == 127
        case .v6(let v6):
            return withUnsafeBytes(of: v6.address.sin6_addr) { b in
                // ::1, or 127.x.x.x mapped (::ffff:127.x.x.x)
                let zeros = b.prefix(10).allSatisfy { $0 == 0 }
                if zeros && b[10] == 0 && b[11] == 0 { return b[12] == 0 && b[13] == 0 && b[14] == 0 && b[15] == 1 }
                return zeros && b[10] == 0xFF && b[11] == 0xFF && b[12] == 127
            }
        }
    }

    static let protectedModeMessage = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n"
}

/// How many tasks carrying a connection's output are queued on its loop, counted from any
/// thread.
final class QueuedTasks: Sendable {
    private let count = Atomic<Int>(0)

    func add() { count.add(1, ordering: .sequentiallyConsistent) }
    func ran() { count.subtract(1, ordering: .sequentiallyConsistent) }
    var none: Bool { count.load(ordering: .sequentiallyConsistent) == 0 }
}
