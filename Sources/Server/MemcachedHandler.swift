import NIOCore
import Engine
import Memcache

/// One memcached client connection: parses text and meta requests (or binary ones, when its
/// first byte is the binary protocol's magic, as memcached decides), runs each in order, and
/// sends the replies of an event loop iteration once its reads are done (see LoopFlusher).
/// While the socket is not writable it stops reading, so a client that does not read its
/// replies holds bounded memory.
final class MemcachedHandler: ChannelInboundHandler, FlushedAtEndOfIteration {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var session: MemcachedSession
    private var input: [UInt8] = []
    private var start = 0
    private var out: ByteBuffer
    private var closing = false
    private var counted = false
    private var bytesRead = 0
    private let flusher: LoopFlusher
    private var flushQueued = false
    private var channelContext: ChannelHandlerContext? = nil
    /// Decided by the connection's first byte; nil until it arrives.
    private var binary: Bool? = nil

    init(engine: Engine, allocator: ByteBufferAllocator, flusher: LoopFlusher) {
        session = MemcachedSession(engine: engine)
        out = allocator.buffer(capacity: 1024)
        self.flusher = flusher
    }

    func handlerAdded(context ctx: ChannelHandlerContext) {
        channelContext = ctx
    }

    func channelActive(context ctx: ChannelHandlerContext) {
        let state = session.engine.memcached
        state.totalConnections.wrappingAdd(1, ordering: .relaxed)
        if state.currentConnections.load(ordering: .relaxed) >= session.engine.config.int("maxclients") {
            closing = true
            var b = ctx.channel.allocator.buffer(capacity: 48)
            b.writeString("SERVER_ERROR Too many open connections\r\n")
            ctx.writeAndFlush(wrapOutboundOut(b)).whenComplete { _ in ctx.close(promise: nil) }
            return
        }
        state.currentConnections.wrappingAdd(1, ordering: .relaxed)
        counted = true
        ctx.fireChannelActive()
    }

    func channelInactive(context ctx: ChannelHandlerContext) {
        if counted { session.engine.memcached.currentConnections.wrappingSubtract(1, ordering: .relaxed) }
        counted = false
        channelContext = nil
        ctx.fireChannelInactive()
    }

    func channelRead(context ctx: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        let buffer = unwrapInboundIn(data)
        bytesRead += buffer.readableBytes
        input.append(contentsOf: buffer.readableBytesView)
        if binary == nil, start < input.count { binary = input[start] == MemcacheBinaryRequest.requestMagic }
        if binary == true {
            readBinary()
        } else {
            while let request = session.parser.next(input, from: &start) {
                if !session.execute(request, &out) {
                    closing = true
                    break
                }
            }
        }
        // Drop what was consumed; a partial request stays at the front.
        if start == input.count {
            input.removeAll(keepingCapacity: input.capacity <= 1 << 16)
            start = 0
        } else if start > 1 << 16 || start > input.count / 2 {
            input.removeSubrange(0..<start)
            start = 0
        }
    }

    /// Binary requests, until one is incomplete; anything that is not one closes the
    /// connection (memcached does not switch protocols mid-connection).
    private func readBinary() {
        while !closing {
            switch MemcacheBinaryRequest.parse(input, from: &start) {
            case .incomplete:
                return
            case .invalid:
                closing = true
            case .request(let request):
                if !session.executeBinary(request, &out) { closing = true }
            }
        }
    }

    func channelReadComplete(context ctx: ChannelHandlerContext) {
        guard !flushQueued else { return }
        flushQueued = true
        flusher.flushAtEndOfIteration(self)
    }

    /// The loop's reads are done: the replies of this iteration leave.
    func endOfIteration() {
        flushQueued = false
        guard let ctx = channelContext else {
            session.flushCounters(bytesRead: bytesRead, bytesWritten: 0)
            bytesRead = 0
            return
        }
        let written = out.readableBytes
        if written > 0 {
            session.beforeReply()
            ctx.writeAndFlush(wrapOutboundOut(out), promise: nil)
            // Usually the socket took the bytes already and the buffer is ours again to reuse.
            out.clear()
        }
        session.flushCounters(bytesRead: bytesRead, bytesWritten: written)
        bytesRead = 0
        if closing {
            ctx.close(promise: nil)
            return
        }
        if !ctx.channel.isWritable { ctx.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in } }
    }

    func channelWritabilityChanged(context ctx: ChannelHandlerContext) {
        if ctx.channel.isWritable { ctx.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in } }
        ctx.fireChannelWritabilityChanged()
    }

    func errorCaught(context ctx: ChannelHandlerContext, error: Error) {
        ctx.close(promise: nil)
    }
}
