import Foundation
import Synchronization
import Logging
import NIOCore
import NIOPosix
import NIOHTTP1
import Engine
import Storage

/// Binds the configured addresses, runs the event loops and the periodic jobs (active expiry,
/// idle-client timeout), and stops cleanly.
public final class LarderServer: Sendable {
    public let engine: Engine
    private let group: MultiThreadedEventLoopGroup
    private let logger: Logger
    private let acceptor: Acceptor
    private let flushers: LoopFlushers
    private let tls: TLSSetup
    /// The TLS port and its listening sockets (CONFIG SET tls-port moves them).
    private let tlsListening = Locked<(port: Int, fds: [Int32])>((0, []))
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
        self.acceptor = Acceptor(group: group, engine: engine, logger: logger)
        self.tls = TLSSetup(engine: engine)
    }

    /// Binds every address of `bind`; a "-" prefix marks one that may fail (as Redis).
    public func start() throws {
        let addresses = engine.config.get("bind").split(separator: " ").map(String.init)
        let engine = self.engine
        let flushers = self.flushers
        // port 0: no plain TCP (TLS only, or the Unix socket only), as Redis.
        let port = engine.config.int("port")
        var bound = port == 0 ? 0 : try bind(addresses, port: port, what: "connections") { channel, fd in
            channel.eventLoop.makeCompletedFuture {
                try Self.configure(channel, keepalive: engine.tcpKeepalive)
                try channel.pipeline.syncOperations.addHandler(
                    ConnectionHandler(engine: engine, flusher: flushers.flusher(for: channel.eventLoop), fd: Int(fd)))
            }
        }.count
        do { try reloadTLSIfUsed() } catch {
            logger.critical("Failed to configure TLS: \(error)")
            throw ServerError.tls
        }
        let tls = self.tls, group = self.group
        engine.setTLSHooks(TLSHooks(reload: { [unowned self] in try self.applyTLSConfig() },
                                    dial: { host, port, timeout in try tls.dial(host: host, port: port, timeoutMs: timeout, group: group) }))
        if bound > 0 { logger.notice("Ready to accept connections tcp") }
        let tlsBound = try moveTLSPort(to: engine.config.int("tls-port"))
        if tlsBound > 0 { logger.notice("Ready to accept connections tls") }
        bound += tlsBound
        let unixPath = engine.config.get("unixsocket")
        if !unixPath.isEmpty {
            // unixsocketperm is octal, as in Redis ("700").
            let mode = mode_t(engine.config.get("unixsocketperm"), radix: 8) ?? 0
            _ = try acceptor.listenUnix(path: unixPath, mode: mode, backlog: engine.config.int("tcp-backlog")) { channel, fd in
                channel.eventLoop.makeCompletedFuture {
                    try channel.syncOptions?.setOption(ChannelOptions.maxMessagesPerRead, value: 16)
                    try channel.pipeline.syncOperations.addHandler(
                        ConnectionHandler(engine: engine, flusher: flushers.flusher(for: channel.eventLoop), fd: Int(fd)))
                }
            }
            logger.notice("Ready to accept connections unix")
        }
        guard bound > 0 || !unixPath.isEmpty else { throw ServerError.nothingBound }
        let memcachedPort = engine.config.int("memcached-port")
        if memcachedPort > 0 {
            let memcachedTLS = engine.config.bool("memcached-tls")
            _ = try bind(addresses, port: memcachedPort, what: "memcached connections") { channel, _ in
                channel.eventLoop.makeCompletedFuture {
                    try Self.configure(channel, keepalive: 0)
                    // memcached-tls: the memcached protocol inside TLS, as memcached's -Z.
                    if memcachedTLS {
                        guard let handshake = tls.serverHandler() else { throw ServerError.tls }
                        try channel.pipeline.syncOperations.addHandler(handshake)
                    }
                    try channel.pipeline.syncOperations.addHandler(MemcachedHandler(engine: engine, allocator: channel.allocator, flusher: flushers.flusher(for: channel.eventLoop)))
                }
            }
            logger.notice("Ready to accept memcached connections \(memcachedTLS ? "tls" : "tcp") on port \(memcachedPort)")
        }
        let metricsPort = engine.config.int("metrics-port")
        if metricsPort > 0 {
            _ = try bind(addresses, port: metricsPort, what: "Prometheus scrapes (metrics-port)") { channel, _ in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(MetricsHandler(engine: engine))
                }
            }
            logger.notice("Serving Prometheus metrics on port \(metricsPort)")
        }
        acceptor.start()
        startCron()
    }

    /// Listens for TLS connections on `port`; the listening sockets.
    private func bindTLS(_ addresses: [String], port: Int) throws -> [Int32] {
        let engine = self.engine, flushers = self.flushers, tls = self.tls
        return try bind(addresses, port: port, what: "TLS connections") { channel, fd in
            channel.eventLoop.makeCompletedFuture {
                try Self.configure(channel, keepalive: engine.tcpKeepalive)
                guard let handshake = tls.serverHandler() else { throw ServerError.tls }
                try channel.pipeline.syncOperations.addHandler(handshake)
                try channel.pipeline.syncOperations.addHandler(
                    ConnectionHandler(engine: engine, flusher: flushers.flusher(for: channel.eventLoop), fd: Int(fd)))
            }
        }
    }

    /// CONFIG SET of a tls-* parameter: new certificates and rules for the connections to
    /// come, and the TLS port moved when it changed (0 closes it), as Redis does. Nothing
    /// changes when either fails.
    private func applyTLSConfig() throws {
        do { try reloadTLSIfUsed() } catch {
            logger.warning("Failed to update TLS configuration: \(error)")
            throw ConfigError(message: "Unable to update TLS configuration. Check server logs.")
        }
        let port = engine.config.int("tls-port")
        do { _ = try moveTLSPort(to: port) } catch {
            logger.warning("Failed listening on TLS port \(port): \(error)")
            throw ConfigError(message: "Unable to listen on this port. Check server logs.")
        }
    }

    /// Builds the TLS contexts when anything uses them: the TLS port, the memcached port with
    /// memcached-tls, or a replica's link with tls-replication.
    private func reloadTLSIfUsed() throws {
        let config = engine.config
        let memcachedTLS = config.bool("memcached-tls") && config.int("memcached-port") > 0
        if config.int("tls-port") > 0 || memcachedTLS || config.bool("tls-replication") || config.bool("tls-cluster") { try tls.reload() }
    }

    /// Listens for TLS on `port` in place of the current TLS port (0: none); the number of
    /// sockets listening. The old port closes only once the new one is bound.
    private func moveTLSPort(to port: Int) throws -> Int {
        let current = tlsListening.withLock { $0 }
        guard port != current.port else { return current.fds.count }
        let fds = port > 0 ? try bindTLS(engine.config.get("bind").split(separator: " ").map(String.init), port: port) : []
        acceptor.retire(current.fds)
        tlsListening.withLock { $0 = (port, fds) }
        return fds.count
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

    /// Binds every address; one with a "-" prefix may fail (as Redis's bind). Answers how many
    /// were bound.
    private func bind(_ addresses: [String], port: Int, what: String,
                      setUp: @escaping @Sendable (Channel, Int32) -> EventLoopFuture<Void>) throws -> [Int32] {
        var bound: [Int32] = []
        for var address in addresses {
            let optional = address.hasPrefix("-")
            if optional { address.removeFirst() }
            do {
                let listener = try acceptor.listen(host: address, port: port,
                                                   backlog: engine.config.int("tcp-backlog"), setUp: setUp)
                bound.append(listener.fd)
                logger.info("Listening for \(what) on \(address):\(listener.port)")
            } catch {
                if optional { continue }
                acceptor.retire(bound)   // nothing half bound stays
                throw error
            }
        }
        return bound
    }

    public var boundPort: Int? { acceptor.firstPort }

    /// The periodic jobs of Redis's serverCron, run `hz` times a second on one event loop.
    private func startCron() {
        let hz = max(1, min(500, engine.config.int("hz")))
        let engine = self.engine
        let loop = group.next()
        loop.scheduleRepeatedTask(initialDelay: .milliseconds(100), delay: .milliseconds(Int64(1000 / hz))) { _ in
            engine.activeExpireCycle()
            engine.memcachedFlushIfDue(now: unixMillis())
            engine.stats.sampleInstantaneous(now: unixMillis())
        }
        loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            engine.snapshotCron()
            engine.aofCron()
            let now = unixMillis()
            engine.replicationCron(now: now)
            engine.evictClients()
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
        acceptor.stop()
        let unixPath = engine.config.get("unixsocket")
        if !unixPath.isEmpty { unlink(unixPath) }
        // Replies already made (a stopped script's error among them) leave at the end of their
        // loop's iteration: two rounds on every loop let that iteration end before the
        // connections close.
        for loop in group.makeIterator() {
            for _ in 0..<2 { try? loop.submit {}.wait() }
        }
        for c in engine.clients.all { c.close() }
        // The final save was made, or skipped, before the stop (Engine.prepareForShutdown).
        engine.stopReplicationLink()
        engine.closeAOF()
        try? group.syncShutdownGracefully()
        acceptor.shutdownSpare()
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
    case tls
    public var description: String {
        switch self {
        case .nothingBound: return "could not bind any address"
        case .tls: return "Failed to configure TLS. Check logs for more info."
        }
    }
}
