import NIOCore
import Engine
import Storage

/// One per event loop: replies that must wait for their writes to reach the AOF. Every
/// connection served in a loop iteration hands its replies here; one task, run once the
/// iteration's reads are done, writes the AOF (and fsyncs it, under `appendfsync always`) for
/// all of them at once, then sends them, as Redis does in beforeSleep. A connection whose
/// replies wait keeps sending through the gate until they left, so its replies stay in order.
final class AOFGate: @unchecked Sendable {
    private let engine: Engine
    private let loop: EventLoop
    private var waiting: [() -> Void] = []
    private var upTo: UInt64 = 0
    private var scheduled = false

    init(engine: Engine, loop: EventLoop) {
        self.engine = engine
        self.loop = loop
    }

    /// Queues `send` until the AOF holds everything up to `seq`.
    func hold(seq: UInt64, _ send: @escaping () -> Void) {
        loop.assertInEventLoop()
        waiting.append(send)
        upTo = max(upTo, seq)
        guard !scheduled else { return }
        scheduled = true
        loop.execute { self.release() }
    }

    private func release() {
        scheduled = false
        engine.aofBeforeReply(upTo: upTo)
        let sends = waiting
        waiting.removeAll(keepingCapacity: true)
        for send in sends { send() }
    }
}

/// The gates of a server's event loops.
final class AOFGates: Sendable {
    private let gates: Locked<[ObjectIdentifier: AOFGate]> = Locked([:])
    private let engine: Engine

    init(engine: Engine) { self.engine = engine }

    func gate(for loop: EventLoop) -> AOFGate {
        gates.withLock { g in
            let id = ObjectIdentifier(loop)
            if let gate = g[id] { return gate }
            let gate = AOFGate(engine: engine, loop: loop)
            g[id] = gate
            return gate
        }
    }
}
