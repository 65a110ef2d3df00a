import DequeModule
import Synchronization
import RESP
import Storage

/// The slow log: commands that ran at least `slowlog-log-slower-than` microseconds (-1: none,
/// 0: all), newest first, at most `slowlog-max-len` of them, as Redis 7.0 keeps it. Checked
/// by call() for every command with the duration it measures anyway: one relaxed load and a
/// comparison when the command was fast. The context goes by reference: passed by value, a
/// copy of it (a retain and release of each of its references) cost about 90 instructions a
/// command (callgrind).
final class Slowlog: Sendable {
    struct Entry: Sendable {
        let id: Int
        let time: Int64
        let micros: Int
        let arguments: [[UInt8]]
        let address: String
        let name: String
    }

    struct State {
        var entries = Deque<Entry>()
        var nextID = 0
    }

    let state = Locked(State())
    let threshold = Atomic<Int>(10_000)
    let maxLength = Atomic<Int>(128)

    /// Redis's SLOWLOG_ENTRY_MAX_ARGC and SLOWLOG_ENTRY_MAX_STRING.
    static let maxArguments = 32
    static let maxArgumentBytes = 128
}

extension Engine {
    /// Called with each command's duration; logs it when slow. A command a script ran shows
    /// the script's client as Redis's Lua client does ("?:0", no name).
    @inline(__always)
    func slowlogCheck(_ spec: CommandSpec, _ ctx: inout CommandContext, micros: Int, fromScript: Bool = false) {
        let threshold = slowlog.threshold.load(ordering: .relaxed)
        guard threshold >= 0, micros >= threshold, !spec.flags.contains(.skipSlowlog),
              !aof.loading.load(ordering: .relaxed) else { return }
        slowlogPush(spec, &ctx, micros: micros, fromScript: fromScript)
    }

    private func slowlogPush(_ spec: CommandSpec, _ ctx: inout CommandContext, micros: Int, fromScript: Bool) {
        let argc = ctx.args.count
        let kept = min(argc, Slowlog.maxArguments)
        var arguments: [[UInt8]] = []
        arguments.reserveCapacity(kept)
        let redacted = Self.redactedArguments(spec, ctx.args)
        for i in 0..<kept {
            if kept != argc && i == kept - 1 {
                arguments.append(Array("... (\(argc - kept + 1) more arguments)".utf8))
            } else if redacted.contains(i) {
                arguments.append(Array("(redacted)".utf8))
            } else {
                let a = ctx.args[i]
                if a.count > Slowlog.maxArgumentBytes {
                    arguments.append(Array(a.prefix(Slowlog.maxArgumentBytes))
                                     + Array("... (\(a.count - Slowlog.maxArgumentBytes) more bytes)".utf8))
                } else {
                    arguments.append(Array(a))
                }
            }
        }
        let address = fromScript ? "?:0" : ctx.client.address
        let name = fromScript ? "" : ctx.client.info.withLock { $0.name }
        let maxLength = slowlog.maxLength.load(ordering: .relaxed)
        slowlog.state.withLock { s in
            s.entries.prepend(Slowlog.Entry(id: s.nextID, time: unixMillis() / 1000, micros: micros,
                                            arguments: arguments, address: address, name: name))
            s.nextID += 1
            while s.entries.count > maxLength { s.entries.removeLast() }
        }
    }

    /// Arguments Redis keeps out of its logs: AUTH's, HELLO's AUTH pair, CONFIG SET's values
    /// of passwords.
    static func redactedArguments(_ spec: CommandSpec, _ args: CommandArguments) -> Set<Int> {
        switch spec.name {
        case "auth":
            return Set(1..<max(1, args.count))
        case "hello":
            var out = Set<Int>()
            var i = 2
            while i < args.count {
                if args.matches(i, "auth") && i + 2 < args.count { out.formUnion([i + 1, i + 2]); i += 3 } else { i += 1 }
            }
            return out
        case "config|set":
            var out = Set<Int>()
            var i = 2
            while i + 1 < args.count {
                if ["requirepass", "masterauth", "masteruser"].contains(args.string(i).lowercased()) { out.insert(i + 1) }
                i += 2
            }
            return out
        default:
            return []
        }
    }
}

/// SLOWLOG GET / LEN / RESET / HELP.
enum SlowlogCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("slowlog", arity: -2, flags: [], group: "server",
                    summary: "A container for slow log commands.", complexity: "Depends on subcommand.",
                    subcommands: [
                        sub("get", -2, "Returns the slow log's entries.", get),
                        sub("len", 2, "Returns the number of entries in the slow log.") { c in
                            c.out.integer(c.engine.slowlog.state.withLock { $0.entries.count })
                        },
                        sub("reset", 2, "Clears all entries from the slow log.") { c in
                            c.engine.slowlog.state.withLock { $0.entries.removeAll() }
                            c.ok()
                        },
                        CommandSpec("slowlog|help", arity: 2, flags: [.loading, .stale], group: "server",
                                    summary: "Show helpful text about the different subcommands", handler: help),
                    ], handler: nil),
    ]

    static func sub(_ name: String, _ arity: Int, _ summary: String, _ h: @escaping CommandHandler) -> CommandSpec {
        CommandSpec("slowlog|" + name, arity: arity, flags: [.admin, .loading, .stale], group: "server",
                    summary: summary, handler: h)
    }

    /// SLOWLOG GET [count]
    static func get(_ c: inout CommandContext) {
        var count = 10
        if c.argc == 3 {
            guard let n = parseCanonicalInt(c.args[2]), n >= -1 else {
                c.error("ERR count should be greater than or equal to -1")
                return
            }
            count = n == -1 ? Int.max : n
        }
        let entries = c.engine.slowlog.state.withLock { Array($0.entries.prefix(count)) }
        c.out.array(entries.count)
        for e in entries {
            c.out.array(6)
            c.out.integer(e.id)
            c.out.integer(Int(e.time))
            c.out.integer(e.micros)
            c.out.array(e.arguments.count)
            for a in e.arguments { c.out.bulk(a) }
            c.out.bulk(e.address)
            c.out.bulk(e.name)
        }
    }

    static func help(_ c: inout CommandContext) {
        c.help(["SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET [<count>]",
                "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
                "    Entries are made of:",
                "    id, timestamp, time in microseconds, arguments array, client IP and port,",
                "    client name",
                "LEN",
                "    Return the length of the slowlog.",
                "RESET",
                "    Reset the slowlog.",
                "HELP",
                "    Prints this help."])
    }
}
