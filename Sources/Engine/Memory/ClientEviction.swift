import Synchronization
import Storage

/// `maxmemory-clients`, as Redis 7.0's client eviction: when the memory all ordinary clients
/// hold in their buffers (unparsed input, unsent replies) passes the limit, the clients holding
/// the most are closed, biggest first, until it is under again. Replicas, the link to a
/// primary and clients that said CLIENT NO-EVICT ON are never chosen (the last still count:
/// a protected client over the limit makes the others go, as on redis-server).
///
/// Each connection reports its buffers' size when it changes (only while a limit is set: then
/// its output is counted as output limits count it); the total is one atomic sum, so the check
/// after a report is one load and a compare. Choosing whom to close walks the client list, which
/// happens only once the limit is passed.
final class ClientEviction: Sendable {
    /// The limit in bytes (a percentage resolved against maxmemory); 0: off.
    let limit = Atomic<Int>(0)
    /// Bytes every client's buffers hold, as reported.
    let total = Atomic<Int>(0)
    /// One eviction pass at a time.
    let passing = Mutex<Void>(())
}

extension Engine {
    /// Whether connections must report their buffers (a limit is set).
    @inline(__always) public var clientEvictionOn: Bool { clientEviction.limit.load(ordering: .relaxed) > 0 }

    /// maxmemory-clients in bytes: "10%" is a tenth of maxmemory (off while maxmemory is 0).
    func reloadClientEviction() {
        let text = config.get("maxmemory-clients")
        var bytes = Int(text) ?? 0
        if text.hasSuffix("%"), let pct = Int(text.dropLast()) {
            bytes = config.int("maxmemory") * pct / 100
        }
        clientEviction.limit.store(max(0, bytes), ordering: .relaxed)
    }

    /// A connection's buffers now hold `input` and `output` bytes; closes clients if the total
    /// passes the limit.
    public func reportClientMemory(_ client: Client, input: Int, output: Int) {
        client.inputBytes.store(input, ordering: .relaxed)
        client.outputBytes.store(output, ordering: .relaxed)
        // A NO-EVICT client counts (the limit is on all ordinary clients, as Redis's), though
        // it is never the one closed.
        let counted = client.isReplica || client.isPrimary ? 0 : input + output
        let before = client.countedMemory.exchange(counted, ordering: .relaxed)
        guard counted != before else { return }
        let total = clientEviction.total.wrappingAdd(counted - before, ordering: .relaxed).newValue
        let limit = clientEviction.limit.load(ordering: .relaxed)
        if limit > 0 && total > limit { evictClients() }
    }

    /// A connection is gone: what it held no longer counts.
    public func forgetClientMemory(_ client: Client) {
        let before = client.countedMemory.exchange(0, ordering: .relaxed)
        if before != 0 { clientEviction.total.wrappingSubtract(before, ordering: .relaxed) }
    }

    /// Closes the clients holding the most until the total is under the limit (also run by
    /// the cron, for a limit lowered by CONFIG SET).
    public func evictClients() {
        clientEviction.passing.withLock { _ in
            let limit = clientEviction.limit.load(ordering: .relaxed)
            var total = clientEviction.total.load(ordering: .relaxed)
            guard limit > 0 && total > limit else { return }
            let candidates = clients.all
                .filter { !$0.isReplica && !$0.isPrimary && !$0.info.withLock { $0.noEvict || $0.closing } }
                .map { ($0, $0.countedMemory.load(ordering: .relaxed)) }
                .sorted { $0.1 > $1.1 }
            for (client, bytes) in candidates where total > limit && bytes > 0 {
                log("Evicting client: \(client.listLine(now: unixMillis()))")
                stats.evictedClients.add(1, ordering: .relaxed)
                total -= bytes
                forgetClientMemory(client)
                clients.remove(client)
                client.close()
            }
        }
    }
}
