import Synchronization
import Foundation
import Storage

/// How the server stops, as SHUTDOWN's arguments and `shutdown-on-sigterm` / `-sigint` say.
public struct ShutdownFlags: Sendable, Equatable {
    /// Save even without save points (SAVE); never save (NOSAVE); neither: save when save
    /// points are configured.
    public var save = false, nosave = false
    /// Do not wait for lagging replicas (NOW); stop even if the final save fails (FORCE).
    public var now = false, force = false

    public init() {}

    /// From the words of `shutdown-on-sigterm` ("default", "nosave now" ...).
    public init(words: String) {
        for w in words.split(separator: " ") {
            switch w {
            case "save": save = true
            case "nosave": nosave = true
            case "now": now = true
            case "force": force = true
            default: break
            }
        }
    }
}

/// A shutdown that waits for its replicas: SHUTDOWN ABORT ends it.
final class ShutdownState: Sendable {
    let inProgress = Atomic<Bool>(false)
    let abort = Atomic<Bool>(false)
    /// Where shutdowns are prepared, one at a time.
    let queue = DispatchQueue(label: "larder.shutdown")
}

extension Engine {
    /// Everything before the server closes, as Redis's prepareForShutdown: unless `now`, writes
    /// are paused and lagging replicas get up to `shutdown-timeout` seconds to acknowledge the
    /// whole stream; then the final save (as `flags` say). False when it must not stop: the
    /// save failed without `force`, or SHUTDOWN ABORT came while waiting. Blocks: runs off the
    /// event loops.
    public func prepareForShutdown(_ flags: ShutdownFlags) -> Bool {
        shutdown.abort.store(false, ordering: .relaxed)
        shutdown.inProgress.store(true, ordering: .relaxed)
        defer { shutdown.inProgress.store(false, ordering: .relaxed) }
        let timeout = config.int("shutdown-timeout")
        // The pause in force before the wait, put back if the server does not stop after all.
        var pausedBefore: (until: Int64, writesOnly: Bool)? = nil
        func resume() {
            guard let before = pausedBefore else { return }
            pause.withLock { $0 = before }
            publishPause()
        }
        if !flags.now && timeout > 0 && !repl.following.load(ordering: .relaxed) && laggingReplicas() > 0 {
            pausedBefore = pause.withLock { p -> (until: Int64, writesOnly: Bool) in
                defer { p = (Int64.max / 2, p.until > unixMillis() ? p.writesOnly : true) }
                return p
            }
            publishPause()
            log("Waiting for replicas before shutting down.")
            requestAcks()
            let deadline = unixMillis() + Int64(timeout) * 1000
            while laggingReplicas() > 0 && unixMillis() < deadline && !shutdown.abort.load(ordering: .relaxed) {
                usleep(10_000)
            }
            if shutdown.abort.load(ordering: .relaxed) {
                resume()
                log("Shutdown manually aborted.")
                return false
            }
            if laggingReplicas() > 0 { log("Lagging replica(s) did not catch up in time; shutting down anyway.") }
        }
        if !flags.nosave {
            if !saveForShutdown(force: flags.save) {
                if !flags.force {
                    resume()
                    log("Error trying to save the DB, can't exit.")
                    return false
                }
                log("Error trying to save the DB. Exit anyway.")
            }
        }
        return true
    }

    /// Prepares the shutdown off the event loops, then stops the server (the hook the server
    /// set), or runs `onFailure` when it must go on.
    public func requestShutdown(_ flags: ShutdownFlags, onFailure: @escaping @Sendable () -> Void) {
        shutdown.queue.async { [self] in
            if prepareForShutdown(flags) {
                shutdownHook.withLock { $0 }?()
            } else {
                onFailure()
            }
        }
    }

    /// Online replicas that have not acknowledged the whole stream yet.
    func laggingReplicas() -> Int {
        repl.lock.withLock { repl.replicas.reduce(0) { $0 + ($1.state == .online && $1.ackOffset < repl.offset ? 1 : 0) } }
    }

    /// SHUTDOWN ABORT: false when no shutdown is waiting.
    func abortShutdown() -> Bool {
        guard shutdown.inProgress.load(ordering: .relaxed) else { return false }
        shutdown.abort.store(true, ordering: .relaxed)
        return true
    }
}
