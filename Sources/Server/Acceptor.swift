import Foundation
import Synchronization
import Logging
import NIOCore
import NIOPosix
import Engine
import Storage

/// Takes in every connection, RESP and memcached, on a thread of its own, and hands each to an
/// event loop that can serve it.
///
/// Why not SwiftNIO's ServerBootstrap: it gives connections to its child loops in turn, a
/// choice fixed when it binds. A script that runs past busy-reply-threshold holds its loop until
/// it ends; with one loop (the default on up to 3 cores) every connection accepted then waited
/// on that loop too, so `redis-cli SCRIPT KILL` could never reach the server and an endless
/// script could only be ended by stopping it. Here a new connection skips the loop running such
/// a script; when that is the only loop, it goes to a spare loop kept for that case, which is
/// otherwise idle (one sleeping thread). Clients already on the busy loop wait for the script's
/// end, as they would for any long command; clients of the other loops get BUSY, as Redis's.
///
/// Invariant: the listening sockets are non-blocking and only this thread accepts from them;
/// `stop()` returns once the thread has closed them.
final class Acceptor: Sendable {
    struct Listener: Sendable {
        let fd: Int32
        let port: Int
        let setUp: @Sendable (Channel, Int32) -> EventLoopFuture<Void>
    }

    private let listeners: Locked<[Listener]> = Locked([])
    /// Listening sockets taken out of service (CONFIG SET tls-port), closed by the accepting
    /// thread once it no longer polls them.
    private let retired: Locked<[Int32]> = Locked([])
    private let loops: [EventLoop]
    /// Each loop's thread, to know which one a busy script holds.
    private let loopThreads: [UInt]
    private let spare: MultiThreadedEventLoopGroup?
    private let next = Atomic<Int>(0)
    private let engine: Engine
    private let logger: Logger
    /// Written to wake the thread up from poll when the server stops.
    private let wake: (read: Int32, write: Int32)
    private let done = DispatchSemaphore(value: 0)
    private let running = Atomic<Bool>(false)

    init(group: MultiThreadedEventLoopGroup, engine: Engine, logger: Logger) {
        var loops: [EventLoop] = []
        for loop in group.makeIterator() { loops.append(loop) }
        self.loops = loops
        self.loopThreads = loops.map { loop in
            (try? loop.submit { UInt(pthread_self()) }.wait()) ?? 0
        }
        self.spare = loops.count == 1 ? MultiThreadedEventLoopGroup(numberOfThreads: 1) : nil
        self.engine = engine
        self.logger = logger
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) != 0 { fds = [-1, -1] }
        for fd in fds where fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        self.wake = (fds[0], fds[1])
    }

    /// Binds `host:port` and listens. Throws Redis's message when it cannot.
    func listen(host: String, port: Int, backlog: Int,
                setUp: @escaping @Sendable (Channel, Int32) -> EventLoopFuture<Void>) throws -> Listener {
        let address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        let family = address.protocol.rawValue
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw AcceptorError(call: "socket", code: errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if family == AF_INET6 {
            // As Redis: an IPv6 address listens for IPv6 only; "::1 127.0.0.1" binds both.
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        let bound = address.withSockAddr { sa, len in bind(fd, sa, socklen_t(len)) }
        guard bound == 0, Glibc.listen(fd, Int32(clamping: backlog)) == 0 else {
            let e = errno
            close(fd)
            throw AcceptorError(call: "bind", code: e)
        }
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let actual = withUnsafeMutablePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) == 0 ? Self.port(of: p) : port }
        }
        let listener = Listener(fd: fd, port: actual, setUp: setUp)
        listeners.withLock { $0.append(listener) }
        wakeUp()
        return listener
    }

    /// Stops listening on these sockets (a port given up at run time).
    func retire(_ fds: [Int32]) {
        guard !fds.isEmpty else { return }
        listeners.withLock { $0.removeAll { fds.contains($0.fd) } }
        if running.load(ordering: .relaxed) {
            retired.withLock { $0.append(contentsOf: fds) }
            wakeUp()
        } else {
            for fd in fds { close(fd) }
        }
    }

    /// Makes the accepting thread look at its listeners again.
    private func wakeUp() {
        guard running.load(ordering: .relaxed) else { return }
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
    }

    /// Listens on a Unix socket at `path` (an old socket file there is replaced, as Redis
    /// does), with the permissions `mode` when not 0.
    func listenUnix(path: String, mode: mode_t, backlog: Int,
                    setUp: @escaping @Sendable (Channel, Int32) -> EventLoopFuture<Void>) throws -> Listener {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw AcceptorError(call: "unix socket path too long", code: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw AcceptorError(call: "socket", code: errno) }
        unlink(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, Glibc.listen(fd, Int32(clamping: backlog)) == 0 else {
            let e = errno
            close(fd)
            throw AcceptorError(call: "bind", code: e)
        }
        if mode != 0 { chmod(path, mode) }
        let listener = Listener(fd: fd, port: 0, setUp: setUp)
        listeners.withLock { $0.append(listener) }
        return listener
    }

    private static func port(of p: UnsafeMutablePointer<sockaddr_storage>) -> Int {
        if Int32(p.pointee.ss_family) == AF_INET6 {
            return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
        }
        return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
    }

    var firstPort: Int? { listeners.withLock { $0.first { $0.port > 0 }?.port } }

    /// Starts the accepting thread.
    func start() {
        running.store(true, ordering: .relaxed)
        let thread = Thread { [self] in run() }
        thread.name = "larder-accept"
        thread.start()
    }

    private func run() {
        defer { done.signal() }
        while running.load(ordering: .relaxed) {
            for fd in retired.withLock({ r -> [Int32] in defer { r.removeAll() }; return r }) { close(fd) }
            let current = listeners.withLock { $0 }
            var fds = current.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            fds.append(pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0))
            let n = poll(&fds, nfds_t(fds.count), -1)
            if n < 0 {
                if errno == EINTR { continue }
                logger.warning("Accepting connections stopped: poll: \(String(cString: strerror(errno)))")
                break
            }
            for (i, listener) in current.enumerated() where fds[i].revents != 0 {
                acceptAll(listener)
            }
            if fds[fds.count - 1].revents != 0 {
                var drain = [UInt8](repeating: 0, count: 64)
                _ = read(wake.read, &drain, drain.count)
            }
        }
        for listener in listeners.withLock({ $0 }) { close(listener.fd) }
    }

    /// Accepts until the backlog is empty; the kernel queues new ones meanwhile.
    private func acceptAll(_ listener: Listener) {
        while true {
            // Non-blocking comes from SwiftNIO when it takes the descriptor (Glibc's module has
            // no accept4).
            let fd = accept(listener.fd, nil, nil)
            if fd < 0 {
                switch errno {
                case EAGAIN, EWOULDBLOCK, EINTR, ECONNABORTED:
                    return
                default:
                    // Out of descriptors (EMFILE) and the like: as Redis, log it and try again
                    // later rather than spin on a backlog that cannot be taken.
                    logger.warning("Accepting client connection: \(String(cString: strerror(errno)))")
                    usleep(10_000)
                    return
                }
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            let setUp = listener.setUp
            ClientBootstrap(group: loop())
                .channelInitializer { channel in setUp(channel, fd) }
                .withConnectedSocket(fd)
                .whenFailure { [logger] error in logger.warning("Taking in a connection: \(error)") }
        }
    }

    /// The next loop in turn, skipping one a busy script holds.
    private func loop() -> EventLoop {
        let i = next.wrappingAdd(1, ordering: .relaxed).oldValue % loops.count
        guard let held = engine.busyScriptThread, loopThreads[i] == held else { return loops[i] }
        if let spare { return spare.next() }
        return loops[(i + 1) % loops.count]
    }

    /// Stops accepting and closes the listening sockets; returns once they are closed.
    func stop() {
        guard running.exchange(false, ordering: .relaxed) else {
            for listener in listeners.withLock({ $0 }) { close(listener.fd) }
            return
        }
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
        done.wait()
    }

    /// Ends the spare loop, after the connections it may hold were closed.
    func shutdownSpare() {
        try? spare?.syncShutdownGracefully()
    }
}

struct AcceptorError: Error, CustomStringConvertible {
    let call: String
    let code: Int32
    var description: String { "\(call): \(String(cString: strerror(code))) (errno: \(code))" }
}
