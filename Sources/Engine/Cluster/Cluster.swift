import CLarderSys
import Foundation
import Storage
import Synchronization

/// `cluster-enabled yes`: this node's view of the cluster (ClusterState, behind one lock taken by
/// the bus's thread per message and by commands), its file (nodes.conf) and its bus.
public final class Cluster: Sendable {
    let state: Mutex<ClusterState>
    let bus = Locked<ClusterBus?>(nil)
    /// nodes.conf, resolved against `dir` at start.
    let path: Locked<String>

    /// Slots this node serves as a primary, neither migrating nor importing, while the cluster
    /// is ok: a command on one of them runs with no look at the state (no lock). Rewritten
    /// after every change of the state, under its lock.
    nonisolated(unsafe) let servedHere: UnsafeMutablePointer<UInt8> = larder_slot_map_new()

    init(config: Config) {
        state = Mutex(ClusterState(myself: ClusterState.randomName(), now: unixMillis()))
        path = Locked(config.get("cluster-config-file"))
    }

    /// Reads or changes the state; `servedHere` follows the change before the lock is let go.
    func withState<T>(_ body: (inout ClusterState) throws -> T) rethrows -> T {
        try state.withLock { st in
            let result = try body(&st)
            st.noteShardSlots()
            let now = (version: st.routingVersion, ok: st.ok, primary: st.me.isPrimary, myself: st.myself)
            if let w = st.routingWritten, w == now { return result }
            st.routingWritten = now
            let serving = st.ok && st.me.isPrimary
            var here = [UInt8](repeating: 0, count: ClusterState.KeySlotCount)
            if serving {
                for (a, b) in st.ranges(of: st.myself) { for s in a...b { here[s] = 1 } }
                for s in st.migrating.keys { here[s] = 0 }
                for s in st.importing.keys { here[s] = 0 }
            }
            for s in 0..<ClusterState.KeySlotCount where larder_slot_map_get(servedHere, Int32(s)) != here[s] {
                larder_slot_map_set(servedHere, Int32(s), here[s])
            }
            return result
        }
    }

    @inline(__always) func serves(_ slot: Int) -> Bool { larder_slot_map_get(servedHere, Int32(slot)) == 1 }

    /// The settings the state acts on, read again at each cron (CONFIG SET takes effect).
    func reloadSettings(_ config: Config, port: Int) {
        let busPort = config.int("cluster-port") > 0 ? config.int("cluster-port") : port + 10000
        withState { st in
            st.nodeTimeout = Int64(max(1, config.int("cluster-node-timeout")))
            st.requireFullCoverage = config.bool("cluster-require-full-coverage")
            st.replicaNoFailover = config.bool("cluster-replica-no-failover")
            st.validityFactor = Int64(config.int("cluster-replica-validity-factor"))
            st.replPingPeriod = Int64(max(1, config.int("repl-ping-replica-period")))
            st.migrationBarrier = config.int("cluster-migration-barrier")
            st.allowReplicaMigration = config.bool("cluster-allow-replica-migration")
            // Others see it in this node's flags, as Redis shows "nofailover".
            if st.replicaNoFailover != st.me.flags.contains(.noFailover) {
                if st.replicaNoFailover { st.nodes[st.myself]!.flags.insert(.noFailover) } else { st.nodes[st.myself]!.flags.remove(.noFailover) }
                st.dirty = true
            }
            st.announcedIP = config.get("cluster-announce-ip")
            st.preferredEndpoint = ClusterState.Endpoint(rawValue: config.get("cluster-preferred-endpoint-type")) ?? .ip
            let hostname = config.get("cluster-announce-hostname")
            if st.me.hostname != hostname {
                st.nodes[st.myself]!.hostname = hostname
                st.dirty = true
            }
            let announcedPort = config.int("cluster-announce-port")
            let announcedBus = config.int("cluster-announce-bus-port")
            st.port = announcedPort > 0 ? announcedPort : port
            st.cport = announcedBus > 0 ? announcedBus : busPort
            st.nodes[st.myself]!.port = st.port
            st.nodes[st.myself]!.cport = st.cport
            if !st.announcedIP.isEmpty { st.nodes[st.myself]!.ip = st.announcedIP }
        }
    }

    /// Reads nodes.conf, or writes a new one for a node that has none (as Redis: the file is
    /// this node's identity from then on). A file that cannot be read whole stops the start.
    func load(dir: String) throws(ConfigError) {
        let file = path.withLock { p in
            if !p.hasPrefix("/") { p = dir + "/" + p }
            return p
        }
        if let data = FileManager.default.contents(atPath: file) {
            guard let text = String(data: data, encoding: .utf8), !text.isEmpty else {
                throw ConfigError(message: "Unrecoverable error: corrupted cluster config file \"\(file)\": empty or not text.")
            }
            do {
                let loaded = try ClusterState.load(text, now: unixMillis())
                withState { st in
                    let keep = (st.nodeTimeout, st.requireFullCoverage, st.announcedIP, st.port, st.cport)
                    st = loaded
                    (st.nodeTimeout, st.requireFullCoverage, st.announcedIP, st.port, st.cport) = keep
                    st.nodes[st.myself]!.port = st.port
                    st.nodes[st.myself]!.cport = st.cport
                }
            } catch {
                switch error {
                case .corrupt(let line):
                    throw ConfigError(message: "Unrecoverable error: corrupted cluster config file \"\(file)\" at line: \(line)")
                }
            }
        } else {
            withState { $0.dirty = true }
        }
        try save()
    }

    /// Writes nodes.conf whole to a temporary file and renames it over the old one, so that a
    /// crash leaves the old file or the new one, never half of one.
    func save() throws(ConfigError) {
        let text = withState { st -> String in
            st.dirty = false
            return st.fileText()
        }
        let file = path.withLock { $0 }
        let tmp = file + ".tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw ConfigError(message: "Could not write the cluster config file \(file): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        fsync(fd)
        close(fd)
        guard written == bytes.count, rename(tmp, file) == 0 else {
            unlink(tmp)
            throw ConfigError(message: "Could not write the cluster config file \(file): \(String(cString: strerror(errno)))")
        }
    }

    func saveIfDirty(_ log: (String) -> Void) {
        guard withState({ $0.dirty }) else { return }
        do { try save() } catch { log("\(error)") }
    }

    var myName: String { withState { $0.myself } }
}
