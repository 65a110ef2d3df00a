import NIOCore
import Synchronization
import RESP
import Storage

/// MONITOR: every command the server runs, as Redis 7.0 shows it to its monitors — once it has
/// run (a transaction's commands between MULTI and EXEC, a script's after its EVAL, as `lua`),
/// not the administrative ones nor those it refused, AUTH's arguments redacted:
///
///     +1339518083.107412 [0 127.0.0.1:60866] "keys" "*"
///
/// call() checks one relaxed atomic load per command while nobody monitors.
final class Monitors: Sendable {
    static let specs: [CommandSpec] = [
        CommandSpec("monitor", arity: 1, flags: [.admin, .noscript, .loading, .stale], group: "server",
                    summary: "Listens for all requests received by the server in real-time.", handler: Engine.monitor),
    ]

    let clients = Locked<[Client]>([])
    let count = Atomic<Int>(0)
}

extension Engine {
    /// Feeds a command that ran to the monitors, if any.
    @inline(__always)
    func feedMonitors(_ spec: CommandSpec, _ ctx: inout CommandContext, fromScript: Bool = false) {
        guard monitors.count.load(ordering: .relaxed) > 0, !spec.flags.contains(.skipMonitor),
              !spec.flags.contains(.admin), !ctx.serving, !aof.loading.load(ordering: .relaxed) else { return }
        feedMonitorsNow(&ctx, redacted: Self.redactedArguments(spec, ctx.args), fromScript: fromScript)
    }

    /// The line for the command in `ctx`, to every monitor (EVAL and FCALL call this themselves,
    /// before their script's commands).
    func feedMonitorsNow(_ ctx: inout CommandContext, redacted: Set<Int> = [], fromScript: Bool = false) {
        let address = fromScript ? "lua" : ctx.client.address.hasPrefix("/") ? "unix:" + ctx.client.address.dropLast(2) : ctx.client.address
        let micros = unixMicros()
        var line = "+\(micros / 1_000_000)." + String(micros % 1_000_000).leftPadded(to: 6) + " [\(ctx.dbIndex) \(address)]"
        for i in 0..<ctx.args.count {
            line += " "
            line += redacted.contains(i) ? "\"(redacted)\"" : Self.quoted(ctx.args[i])
        }
        line += "\r\n"
        var buffer = ByteBuffer()
        buffer.writeString(line)
        for client in monitors.clients.withLock({ $0 }) {
            client.pushSink?(buffer)
        }
    }

    /// Bytes quoted as Redis's sdscatrepr: printable ASCII as it is, \n \r \t \a \b, \" and
    /// \\ escaped, anything else as \xNN.
    static func quoted<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var out = "\""
        for b in bytes {
            switch b {
            case UInt8(ascii: "\\"): out += "\\\\"
            case UInt8(ascii: "\""): out += "\\\""
            case 10: out += "\\n"
            case 13: out += "\\r"
            case 9: out += "\\t"
            case 7: out += "\\a"
            case 8: out += "\\b"
            case 32...126: out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                let hex = Array("0123456789abcdef".unicodeScalars)
                out += "\\x"
                out.unicodeScalars.append(hex[Int(b >> 4)])
                out.unicodeScalars.append(hex[Int(b & 15)])
            }
        }
        return out + "\""
    }

    /// MONITOR: this connection receives every command from now on.
    static func monitor(_ c: inout CommandContext) {
        guard !c.session.inMulti else { c.error("ERR MONITOR isn't allowed for DENY BLOCKING client"); return }
        let client = c.client
        let engine = c.engine
        let added = engine.monitors.clients.withLock { list -> Bool in
            if list.contains(where: { $0 === client }) { return false }
            list.append(client)
            engine.monitors.count.store(list.count, ordering: .relaxed)
            return true
        }
        if added { c.session.monitoring = true }
        c.ok()
    }

    /// A monitor went away (disconnect, RESET).
    public func stopMonitoring(_ client: Client) {
        monitors.clients.withLock { list in
            list.removeAll { $0 === client }
            monitors.count.store(list.count, ordering: .relaxed)
        }
    }
}

private extension String {
    func leftPadded(to n: Int) -> String {
        count >= n ? self : String(repeating: "0", count: n - count) + self
    }
}
