import NIOCore
import Engine
import Storage

/// One per event loop: where the replies of a loop iteration wait until its reads are done,
/// as Redis writes its clients' replies in beforeSleep rather than after each read.
///
/// Writing each connection's replies right after its read woke the client (redis-benchmark,
/// an application's event loop) once per reply: it took the first reply, went back to epoll,
/// and was woken again by the next. The wake-ups doubled the kernel's share of the loop's
/// time (`_raw_spin_unlock_irqrestore` under `sock_def_readable`: 11% of the server's samples
/// at -P 16 against Redis's 5%) and slowed the client that paces the benchmark.
///
/// Replies that must wait for their writes to reach the AOF wait here too: one task writes the
/// AOF (and fsyncs it, under `appendfsync always`) for all of them at once, then sends them. A
/// connection whose replies wait keeps sending through the AOF queue until they left, so its
/// replies stay in order.
final class LoopFlusher: @unchecked Sendable {
    private let engine: Engine
    private let loop: EventLoop
    /// Connections with replies to send at the end of this iteration, each once.
    private var connections: [any FlushedAtEndOfIteration] = []
    private var flushing: [any FlushedAtEndOfIteration] = []
    /// Sends waiting for the AOF to hold everything up to `upTo`.
    private var waiting: [() -> Void] = []
    private var upTo: UInt64 = 0
    private var scheduled = false

    init(engine: Engine, loop: EventLoop) {
        self.engine = engine
        self.loop = loop
    }

    /// Has `connection.endOfIteration()` called once the iteration's reads are done.
    func flushAtEndOfIteration(_ connection: any FlushedAtEndOfIteration) {
        connections.append(connection)
        schedule()
    }

    /// Queues `send` until the AOF holds everything up to `seq`.
    func hold(seq: UInt64, _ send: @escaping () -> Void) {
        loop.assertInEventLoop()
        waiting.append(send)
        upTo = max(upTo, seq)
        schedule()
    }

    private func schedule() {
        guard !scheduled else { return }
        scheduled = true
        // A task queued from the loop's own thread runs after every I/O event of the iteration.
        loop.execute { self.run() }
    }

    private func run() {
        // Connections first: those whose replies need the AOF join `waiting` here, and are
        // served below in this same task (`scheduled` is still set).
        swap(&connections, &flushing)
        for c in flushing { c.endOfIteration() }
        flushing.removeAll(keepingCapacity: true)
        scheduled = false
        guard !waiting.isEmpty else { return }
        engine.aofBeforeReply(upTo: upTo)
        let sends = waiting
        waiting.removeAll(keepingCapacity: true)
        for send in sends { send() }
    }
}

/// A connection whose replies wait for the end of the loop iteration.
protocol FlushedAtEndOfIteration: AnyObject {
    func endOfIteration()
}

/// The flushers of a server's event loops.
final class LoopFlushers: Sendable {
    private let flushers: Locked<[ObjectIdentifier: LoopFlusher]> = Locked([:])
    private let engine: Engine

    init(engine: Engine) { self.engine = engine }

    func flusher(for loop: EventLoop) -> LoopFlusher {
        flushers.withLock { f in
            let id = ObjectIdentifier(loop)
            if let flusher = f[id] { return flusher }
            let flusher = LoopFlusher(engine: engine, loop: loop)
            f[id] = flusher
            return flusher
        }
    }
}
