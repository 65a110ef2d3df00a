import Foundation
import Synchronization
import Logging
import NIOCore
import NIOPosix
import Engine
import Storage

/// Binds the configured addresses, runs the event loops and the periodic jobs (active expiry,
/// idle-client timeout), and stops cleanly.
public final class LarderServer: Sendable {
    public let engine: Engine
    private let group: MultiThreadedEventLoopGroup
    private let logger: Logger
    private let channels = Locked<[Channel]>([])
    private let flushers: LoopFlushers
    private let stopped = Locked<Bool>(false)
    /// Signalled once stop() has finished. The main thread waits on this rather than on a
    /// channel's close future: waiting on a future after its event loop has shut down never
    /// returns.
    private let finished = DispatchSemaphore(value: 0)

    public init(engine: Engine, threads: Int, logger: Logger) {
        self.engine = engine
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        self.logger = logger
        self.flushers = LoopFlushers(engine: engine)
    }

    /// Binds every address of `bind`; a "-" prefix marks one that may fail (as Redis).
    public func start() throws {
        let port = engine.config.int("port")
        let addresses = engine.config.get("bind").split(separator: " ").map(String.init)
        let engine = self.engine
        let flushers = self.flushers
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: Int32(engine.config.int("tcp-backlog")))
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(ChannelOptions.maxMessagesPerRead, value: 256)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try Self.configure(channel, keepalive: engine.tcpKeepalive)
                    try channel.pipeline.syncOperations.addHandler(
                        ConnectionHandler(engine: engine, flusher: flushers.flusher(for: channel.eventLoop)))
                }
            }
        var bound = try bind(bootstrap, addresses, port: port, what: "connections")
        guard !bound.isEmpty else { throw ServerError.nothingBound }
        bound += try bindMemcached(addresses)
        channels.withLock { $0 = bound }
        startCron()
    }

    /// The memcached listener, on the same addresses as RESP, when `memcached-port` is set.
    private func bindMemcached(_ addresses: [String]) throws -> [Channel] {
        let port = engine.config.int("memcached-port")
        guard port > 0 else { return [] }
        let engine = self.engine
        let flushers = self.flushers
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: Int32(engine.config.int("tcp-backlog")))
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try Self.configure(channel, keepalive: 0)
                    try channel.pipeline.syncOperations.addHandler(MemcachedHandler(engine: engine, allocator: channel.allocator, flusher: flushers.flusher(for: channel.eventLoop)))
                }
            }
        return try bind(bootstrap, addresses, port: port, what: "memcached connections")
    }

    /// An accepted connection's options, set in place. As the bootstrap's `childChannelOption`s
    /// each went through futures and generic metadata look-ups: about 28 000 instructions a
    /// connection under callgrind, a quarter of the cost of taking one in during a storm.
    /// TCP_NODELAY is a TCP-level option: as `socketOption(.tcp_nodelay)` it was SOL_SOCKET's
    /// option 1, SO_DEBUG, which only root may set, so every connection to a server run by
    /// another user was closed as it was accepted.
    private static func configure(_ channel: Channel, keepalive: Int) throws {
        guard let options = channel.syncOptions else { return }
        try options.setOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
        if keepalive > 0 {
            // As Redis: probes after `tcp-keepalive` idle seconds, then every third of it, and
            // the peer is dead after three unanswered (the kernel's own idle time is 2 hours).
            try options.setOption(ChannelOptions.socketOption(.so_keepalive), value: 1)
            #if os(Linux)
            try options.setOption(Self.tcp(TCP_KEEPIDLE), value: SocketOptionValue(keepalive))
            try options.setOption(Self.tcp(TCP_KEEPINTVL), value: SocketOptionValue(max(1, keepalive / 3)))
            try options.setOption(Self.tcp(TCP_KEEPCNT), value: 3)
            #endif
        }
        try options.setOption(ChannelOptions.maxMessagesPerRead, value: 16)
    }

    private static func tcp(_ name: Int32) -> ChannelOptions.Types.SocketOption {
        ChannelOptions.tcpOption(NIOBSDSocket.Option(rawValue: name))
    }

    /// Binds every address; one with a "-" prefix may fail (as Redis's bind).
    private func bind(_ bootstrap: ServerBootstrap, _ addresses: [String], port: Int, what: String) throws -> [Channel] {
        var bound: [Channel] = []
        for var address in addresses {
            let optional = address.hasPrefix("-")
            if optional { address.removeFirst() }
            do {
                let ch = try bootstrap.bind(host: address, port: port).wait()
                bound.append(ch)
                logger.notice("Ready to accept \(what) tcp on \(address):\(ch.localAddress?.port ?? port)")
            } catch {
                if optional { continue }
                throw error
            }
        }
        return bound
    }

    public var boundPort: Int? { channels.withLock { $0.first?.localAddress?.port } }

    /// The periodic jobs of Redis's serverCron, run `hz` times a second on one event loop.
    private func startCron() {
        let hz = max(1, min(500, engine.config.int("hz")))
        let engine = self.engine
        let loop = group.next()
        loop.scheduleRepeatedTask(initialDelay: .milliseconds(100), delay: .milliseconds(Int64(1000 / hz))) { _ in
            engine.activeExpireCycle()
            engine.memcachedFlushIfDue(now: unixMillis())
        }
        loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            engine.snapshotCron()
            engine.aofCron()
            let now = unixMillis()
            engine.replicationCron(now: now)
            let timeout = engine.config.int("timeout")
            guard timeout > 0 else { return }
            for c in engine.clients.all where !c.isReplica {
                let idle = c.info.withLock { now - $0.lastInteraction }
                if idle > Int64(timeout) * 1000 { c.close() }
            }
        }
    }

    /// Stops accepting, closes every connection, and ends the event loops.
    public func stop() {
        let already = stopped.withLock { s -> Bool in
            defer { s = true }
            return s
        }
        guard !already else { return }
        logger.notice("Received shutdown request, closing connections")
        // A running script would keep its event loop (and its shard locks) from ever
        // stopping: it ends at its next check, whether or not it wrote.
        engine.stopScripts()
        let listening = channels.withLock { $0 }
        for ch in listening { ch.close(promise: nil) }
        // The close future completes a tick after close(): wait for it before the loops stop,
        // or it never completes (and waitUntilStopped would wait for ever).
        for ch in listening { try? ch.closeFuture.wait() }
        for c in engine.clients.all { c.close() }
        // A signal stops the server as SHUTDOWN does: with a final snapshot when save points
        // are configured (SHUTDOWN itself has decided already).
        engine.saveOnStop()
        engine.closeAOF()
        try? group.syncShutdownGracefully()
        logger.notice("Larder is now ready to exit, bye bye...")
        finished.signal()
    }

    /// Waits until stop() has run (SHUTDOWN, a signal).
    public func waitUntilStopped() {
        finished.wait()
        finished.signal()   // let any other waiter through too
    }
}

public enum ServerError: Error, CustomStringConvertible {
    case nothingBound
    public var description: String { "could not bind any address" }
}
