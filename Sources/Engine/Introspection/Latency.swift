import Foundation
import Synchronization
import RESP
import Storage

/// The latency monitor, as Redis 7.0 keeps it: for each event (a command, a fast command, an
/// active expire cycle, an eviction cycle ...) that took at least `latency-monitor-threshold`
/// milliseconds, one sample a second (the worst of that second) in a ring of the last 160,
/// and the worst ever. Off (threshold 0) by default; call() pays one relaxed load and a
/// compare a command (Settings.latencyWatch), the same check as the slow log's.
final class LatencyMonitor: Sendable {
    static let historyLength = 160

    struct Series: Sendable {
        var times = [Int64](repeating: 0, count: LatencyMonitor.historyLength)
        var latencies = [Int](repeating: 0, count: LatencyMonitor.historyLength)
        var next = 0
        var max = 0

        /// The samples from oldest to newest.
        var samples: [(time: Int64, ms: Int)] {
            (0..<LatencyMonitor.historyLength).compactMap { i in
                let j = (next + i) % LatencyMonitor.historyLength
                return times[j] == 0 ? nil : (times[j], latencies[j])
            }
        }
    }

    let events = Locked<[String: Series]>([:])

    /// Records `ms` for `event` at `now` (Unix seconds): a second sample in the same second
    /// only raises that second's.
    func add(_ event: String, ms: Int, now: Int64) {
        events.withLock { all in
            var s = all[event] ?? Series()
            if ms > s.max { s.max = ms }
            let prev = (s.next + Self.historyLength - 1) % Self.historyLength
            if s.times[prev] == now {
                if ms > s.latencies[prev] { s.latencies[prev] = ms }
            } else {
                s.times[s.next] = now
                s.latencies[s.next] = ms
                s.next = (s.next + 1) % Self.historyLength
            }
            all[event] = s
        }
    }
}

extension Engine {
    /// Called with each command's duration: into its histogram (latency-tracking), and a
    /// sample when it reached the threshold. One load of Settings.latencyWatch decides both.
    @inline(__always)
    func latencyCheck(_ spec: CommandSpec, micros: Int) {
        let watch = settings.latencyWatch.load(ordering: .relaxed)
        if watch & 1 != 0 { spec.histogram.record(micros) }
        guard watch > 1, micros / 1000 >= watch >> 1 else { return }
        latency.add(spec.flags.contains(.fast) ? "fast-command" : "command", ms: micros / 1000, now: unixMillis() / 1000)
    }

    /// latency-monitor-threshold in ms (0: off), kept in Settings.latencyWatch.
    var latencyThreshold: Int { settings.latencyWatch.load(ordering: .relaxed) >> 1 }

    /// A sample for a background event (expire-cycle, eviction-cycle ...) when it reached the
    /// threshold.
    func latencySample(_ event: String, ms: Int) {
        let threshold = latencyThreshold
        guard threshold > 0, ms >= threshold else { return }
        latency.add(event, ms: ms, now: unixMillis() / 1000)
    }
}

enum LatencyCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("latency", arity: -2, flags: [], group: "server",
                    summary: "A container for latency diagnostics commands.", complexity: "Depends on subcommand.",
                    subcommands: [
                        sub("latest", 2, "Returns the latest latency samples for all events.", latest),
                        sub("history", 3, "Returns timestamp-latency samples for an event.", history),
                        sub("reset", -2, "Resets the latency data for one or more events.", reset),
                        sub("graph", 3, "Returns a latency graph for an event.", graph),
                        sub("doctor", 2, "Returns a human-readable latency analysis report.", doctor),
                        sub("histogram", -2, "Returns the cumulative distribution of latencies of a subset or all commands.", histogram),
                        CommandSpec("latency|help", arity: 2, flags: [.loading, .stale], group: "server",
                                    summary: "Returns helpful text about the different subcommands.", handler: help),
                    ], handler: nil),
    ]

    static func sub(_ name: String, _ arity: Int, _ summary: String, _ h: @escaping CommandHandler) -> CommandSpec {
        CommandSpec("latency|" + name, arity: arity, flags: [.admin, .noscript, .loading, .stale], group: "server", summary: summary, handler: h)
    }

    /// LATENCY LATEST
    static func latest(_ c: inout CommandContext) {
        let all = c.engine.latency.events.withLock { $0 }.sorted { $0.key < $1.key }
        c.out.array(all.count)
        for (name, s) in all {
            let last = s.samples.last ?? (0, 0)
            c.out.array(4)
            c.out.bulk(name)
            c.out.integer(Int(last.time))
            c.out.integer(last.ms)
            c.out.integer(s.max)
        }
    }

    /// LATENCY HISTORY event
    static func history(_ c: inout CommandContext) {
        let samples = c.engine.latency.events.withLock { $0[c.args.string(2)] }?.samples ?? []
        c.out.array(samples.count)
        for s in samples {
            c.out.array(2)
            c.out.integer(Int(s.time))
            c.out.integer(s.ms)
        }
    }

    /// LATENCY RESET [event ...]
    static func reset(_ c: inout CommandContext) {
        let names = (2..<c.argc).map { c.args.string($0) }
        let n = c.engine.latency.events.withLock { all -> Int in
            if names.isEmpty {
                defer { all.removeAll() }
                return all.count
            }
            return Set(names).filter { all.removeValue(forKey: $0) != nil }.count
        }
        c.out.integer(n)
    }

    /// LATENCY GRAPH event: the samples as columns of an ASCII chart, newest on the right, with
    /// how long ago each was written under it.
    static func graph(_ c: inout CommandContext) {
        let name = c.args.string(2)
        guard let s = c.engine.latency.events.withLock({ $0[name] }) else {
            c.error("ERR No samples available for event '\(name)'")
            return
        }
        let samples = s.samples
        let high = samples.map(\.ms).max() ?? 0, low = samples.map(\.ms).min() ?? 0
        var text = "\(name) - high \(high) ms, low \(low) ms (all time high \(s.max) ms)\n"
        text += String(repeating: "-", count: 80) + "\n"
        let rows = 4
        let now = unixMillis() / 1000
        for row in stride(from: rows, to: 0, by: -1) {
            var line = ""
            for sample in samples {
                // Each column is filled up to the sample's share of the highest.
                let level = high == low ? rows : 1 + (sample.ms - low) * (rows - 1) / max(1, high - low)
                line += level >= row ? (level == row ? "_" : "|") : " "
            }
            text += line + "\n"
        }
        let ages = samples.map { age(now - $0.time) }
        let depth = ages.map(\.count).max() ?? 0
        for i in 0..<depth {
            text += String(ages.map { a in i < a.count ? a[a.index(a.startIndex, offsetBy: i)] : " " }) + "\n"
        }
        c.out.verbatim(text)
    }

    /// "12s", "3m", "2h" for the graph's labels.
    static func age(_ seconds: Int64) -> String {
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m" }
        return "\(seconds / 3600)h"
    }

    /// LATENCY DOCTOR: for each event, its spikes, their average and mean deviation, how often
    /// they came, and the worst; then what may help.
    static func doctor(_ c: inout CommandContext) {
        let threshold = c.engine.latencyThreshold
        let all = c.engine.latency.events.withLock { $0 }.sorted { $0.key < $1.key }
        var text: String
        if all.isEmpty {
            text = threshold == 0
                ? "Latency monitoring is off: `CONFIG SET latency-monitor-threshold <milliseconds>` turns it on.\n"
                : "No latency spike of \(threshold) ms or more has been observed since the server started.\n"
        } else {
            text = "Latency spikes were observed (latency-monitor-threshold \(threshold) ms):\n\n"
            var advice = Set<String>()
            for (i, (name, s)) in all.enumerated() {
                let samples = s.samples
                let avg = samples.map(\.ms).reduce(0, +) / max(1, samples.count)
                let dev = samples.map { abs($0.ms - avg) }.reduce(0, +) / max(1, samples.count)
                let span = Double((samples.last?.time ?? 0) - (samples.first?.time ?? 0))
                let period = samples.count > 1 ? span / Double(samples.count - 1) : 1
                text += "\(i + 1). \(name): \(samples.count) latency spikes (average \(avg)ms, mean deviation \(dev)ms, period \(String(format: "%.2f", period)) sec). Worst all time event \(s.max)ms.\n"
                if name == "command" || name == "fast-command" {
                    advice.insert("- SLOWLOG GET shows which commands were slow; commands over many elements (KEYS, SMEMBERS, LRANGE of whole lists, SORT) are the usual ones.")
                }
                if name == "expire-cycle" {
                    advice.insert("- Many keys expiring at the same moment make the active expire cycle long: spread their TTLs.")
                }
                if name.hasPrefix("eviction") {
                    advice.insert("- Evicting large values takes long: lazyfree-lazy-eviction yes frees them in the background.")
                }
                if name.hasPrefix("aof") {
                    advice.insert("- Writing the AOF is slow on this disk: appendfsync everysec or a faster disk.")
                }
            }
            let slowlog = c.engine.slowlog.threshold.load(ordering: .relaxed)
            if slowlog < 0 || slowlog > threshold * 1000 {
                advice.insert("- The slow log does not keep commands as slow as the latency threshold: CONFIG SET slowlog-log-slower-than \(threshold * 1000).")
            }
            text += "\nWhat may help:\n\n" + advice.sorted().joined(separator: "\n") + "\n"
        }
        c.out.verbatim(text)
    }

    /// LATENCY HISTOGRAM [command ...]: each command's calls and the cumulative count of calls
    /// per power-of-two bucket of microseconds, as Redis reports it.
    static func histogram(_ c: inout CommandContext) {
        var specs: [CommandSpec] = []
        if c.argc == 2 {
            for s in c.engine.table.commands {
                specs.append(contentsOf: (s.subcommands.isEmpty ? [s] : s.subcommands).filter { $0.histogram.calls > 0 })
            }
        } else {
            var seen = Set<ObjectIdentifier>()
            for i in 2..<c.argc {
                let parts = c.args.string(i).lowercased().split(separator: "|", maxSplits: 1)
                guard let top = c.engine.table.lookup(String(parts[0])) else { continue }
                var spec = top
                if parts.count == 2 {
                    guard let sub = CommandTable.subcommand(of: top, Array(parts[1].utf8)[...]) else { continue }
                    spec = sub
                }
                let list = parts.count == 1 && !spec.subcommands.isEmpty ? spec.subcommands : [spec]
                for s in list where s.histogram.calls > 0 && seen.insert(ObjectIdentifier(s)).inserted { specs.append(s) }
            }
        }
        c.out.map(specs.count)
        for s in specs {
            c.out.bulk(s.name)
            let h = s.histogram
            c.out.map(2)
            c.out.bulk("calls"); c.out.integer(h.calls)
            c.out.bulk("histogram_usec")
            let buckets = h.cumulative
            c.out.map(buckets.count)
            for b in buckets {
                c.out.integer(b.upTo)
                c.out.integer(b.count)
            }
        }
    }

    /// LATENCY HELP
    static func help(_ c: inout CommandContext) {
        c.help(["LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "DOCTOR",
                "    Return a human readable latency analysis report.",
                "GRAPH <event>",
                "    Return an ASCII latency graph for the <event> class.",
                "HISTORY <event>",
                "    Return time-latency samples for the <event> class.",
                "LATEST",
                "    Return the latest latency samples for all events.",
                "RESET [<event> ...]",
                "    Reset latency data of one or more <event> classes.",
                "    (default: reset all data for all event classes)",
                "HISTOGRAM [COMMAND ...]",
                "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
                "    If no commands are specified then all histograms are replied.",
                "HELP",
                "    Prints this help."])
    }
}

/// How long a command's calls took, by power-of-two buckets of microseconds (`latency-tracking`):
/// LATENCY HISTOGRAM and INFO latencystats read it. Redis keeps an HDR histogram (1% precision);
/// a bucket per power of two costs a count and one relaxed atomic add a command, and gives
/// percentiles to within a factor of two, which is what these reports are read for.
///
/// A value holding a pointer, not an object: as a class, reaching it retained and released it
/// on every command (about 20 of the 31 instructions recording first cost, callgrind). Its
/// command spec frees it (`free`) when it goes.
struct CommandHistogram: @unchecked Sendable {
    static let bucketCount = 40
    /// Bucket b counts calls of at most 2^b µs (bucket 0: at most 1 µs).
    private let buckets: UnsafeMutablePointer<Atomic<Int>>

    init() {
        buckets = .allocate(capacity: Self.bucketCount)
        for i in 0..<Self.bucketCount { (buckets + i).initialize(to: Atomic(0)) }
    }

    func free() {
        buckets.deinitialize(count: Self.bucketCount)
        buckets.deallocate()
    }

    @inline(__always)
    func record(_ micros: Int) {
        let b = micros <= 1 ? 0 : min(Self.bucketCount - 1, Int.bitWidth - (micros - 1).leadingZeroBitCount)
        buckets[b].wrappingAdd(1, ordering: .relaxed)
    }

    var counts: [Int] { (0..<Self.bucketCount).map { buckets[$0].load(ordering: .relaxed) } }
    var calls: Int { counts.reduce(0, +) }

    func reset() {
        for i in 0..<Self.bucketCount { buckets[i].store(0, ordering: .relaxed) }
    }

    /// Each bucket's bound and the calls up to it, for the buckets that have calls.
    var cumulative: [(upTo: Int, count: Int)] {
        var total = 0
        var out: [(upTo: Int, count: Int)] = []
        for (b, n) in counts.enumerated() where n > 0 {
            total += n
            out.append((1 << b, total))
        }
        return out
    }

    /// The bound of the bucket the `p`th percentile falls in (µs).
    func percentile(_ p: Double) -> Int {
        let c = counts
        let total = c.reduce(0, +)
        guard total > 0 else { return 0 }
        let rank = max(1, Int((p / 100 * Double(total)).rounded(.up)))
        var seen = 0
        for (b, n) in c.enumerated() {
            seen += n
            if seen >= rank { return 1 << b }
        }
        return 1 << (Self.bucketCount - 1)
    }
}
