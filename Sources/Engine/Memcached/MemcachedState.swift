import Synchronization
import Storage

/// What the memcached listener shares across connections: its counters (memcached's `stats`)
/// and a pending delayed `flush_all`.
public final class MemcachedState: Sendable {
    /// memcached's counters, in the order `stats` prints them.
    public enum Counter: Int, CaseIterable, Sendable {
        case cmdGet, cmdSet, cmdFlush, cmdTouch, cmdMeta, getHits, getMisses, getExpired, getFlushed,
             deleteMisses, deleteHits, incrMisses, incrHits, decrMisses, decrHits, casMisses, casHits, casBadval,
             touchHits, touchMisses, bytesRead, bytesWritten, totalItems

        var statName: String {
            switch self {
            case .cmdGet: return "cmd_get"
            case .cmdSet: return "cmd_set"
            case .cmdFlush: return "cmd_flush"
            case .cmdTouch: return "cmd_touch"
            case .cmdMeta: return "cmd_meta"
            case .getHits: return "get_hits"
            case .getMisses: return "get_misses"
            case .getExpired: return "get_expired"
            case .getFlushed: return "get_flushed"
            case .deleteMisses: return "delete_misses"
            case .deleteHits: return "delete_hits"
            case .incrMisses: return "incr_misses"
            case .incrHits: return "incr_hits"
            case .decrMisses: return "decr_misses"
            case .decrHits: return "decr_hits"
            case .casMisses: return "cas_misses"
            case .casHits: return "cas_hits"
            case .casBadval: return "cas_badval"
            case .touchHits: return "touch_hits"
            case .touchMisses: return "touch_misses"
            case .bytesRead: return "bytes_read"
            case .bytesWritten: return "bytes_written"
            case .totalItems: return "total_items"
            }
        }
    }

    /// Added to once per read batch of a connection, so a lock costs little.
    private let counters = Locked<[Int]>([Int](repeating: 0, count: Counter.allCases.count))
    public let currentConnections = Atomic<Int>(0)
    public let totalConnections = Atomic<Int>(0)
    /// When a delayed flush_all falls due (Unix ms), or 0.
    let flushAt = Atomic<Int>(0)
    let startedAt = unixMillis()

    init() {}

    func values() -> [Int] { counters.withLock { $0 } }

    /// Adds a connection's counts (kept locally during a read batch) to the totals.
    func add(_ local: inout [Int]) {
        counters.withLock { c in
            for i in local.indices where local[i] != 0 { c[i] &+= local[i] }
        }
        for i in local.indices { local[i] = 0 }
    }

    func reset() { counters.withLock { c in for i in c.indices { c[i] = 0 } } }
}
