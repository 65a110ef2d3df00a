import RESP
import Storage

/// Connection commands: PING, ECHO, QUIT, RESET, HELLO, AUTH and CLIENT.
enum ConnectionCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("ping", arity: -1, flags: [.whileSubscribed, .fast], group: "connection",
                    summary: "Returns the server's liveliness response.", handler: ping),
        CommandSpec("echo", arity: 2, flags: [.loading, .stale, .fast], group: "connection",
                    summary: "Returns the given string.", handler: { c in c.out.bulk(c.args[1]) }),
        CommandSpec("quit", arity: -1, flags: [.whileSubscribed, .runsInMulti, .noscript, .noAuth, .allowBusy, .fast, .loading, .stale], group: "connection",
                    summary: "Closes the connection.", handler: quit),
        CommandSpec("reset", arity: 1, flags: [.whileSubscribed, .runsInMulti, .noAuth, .allowBusy, .fast, .loading, .stale, .noscript], group: "connection", summary: "Resets the connection.", handler: reset),
        CommandSpec("hello", arity: -1, flags: [.noAuth, .allowBusy, .fast, .loading, .stale, .noscript], group: "connection", summary: "Handshakes with the Redis server.", handler: hello),
        CommandSpec("auth", arity: -2, flags: [.noAuth, .allowBusy, .fast, .loading, .stale, .noscript], group: "connection",
                    summary: "Authenticates the connection.", complexity: "O(N) where N is the number of passwords defined for the user",
                    handler: auth),
        CommandSpec("client", arity: -2, flags: [], group: "connection",
                    summary: "A container for client connection commands.", complexity: "Depends on subcommand.",
                    subcommands: [
                        sub("id", 2, "Returns the unique client ID of the connection.", { c in c.out.integer(c.client.id) }),
                        sub("setname", 3, "Sets the connection name.", setname),
                        sub("getname", 2, "Returns the name of the connection.", getname),
                        sub("list", -2, "Lists open connections.", list, admin: true),
                        sub("info", 2, "Returns information about the connection.",
                            { c in c.out.verbatim(c.client.listLine(now: c.now, running: running(c)) + "\n") }),
                        sub("kill", -3, "Terminates open connections.", kill, admin: true),
                        sub("pause", -3, "Suspends commands processing.", pause, admin: true),
                        sub("unpause", 2, "Resumes processing commands from paused clients.", unpause, admin: true),
                        sub("reply", 3, "Instructs the server whether to reply to commands.", reply),
                        sub("no-evict", 3, "Sets the client eviction mode of the connection.", noEvict, admin: true),
                        sub("unblock", -3, "Unblocks a client blocked by a blocking command from a different connection.", unblock, admin: true),
                        sub("tracking", -3, "Controls server-assisted client-side caching for the connection.", TrackingCommands.tracking),
                        sub("caching", 3, "Instructs the server whether to track the keys in the next request.", TrackingCommands.caching),
                        sub("getredir", 2, "Returns the client ID to which the connection's tracking notifications are redirected.", TrackingCommands.getredir),
                        sub("trackinginfo", 2, "Returns information about server-assisted client-side caching for the connection.", TrackingCommands.trackinginfo),
                        sub("setinfo", 4, "Sets information specific to the client or connection.", setinfo),
                        CommandSpec("client|help", arity: 2, flags: [.loading, .stale], group: "connection",
                                    summary: "Returns helpful text about the different subcommands.", handler: help),
                    ], handler: nil),
    ]

    static func sub(_ name: String, _ arity: Int, _ summary: String, _ h: @escaping CommandHandler,
                    admin: Bool = false) -> CommandSpec {
        CommandSpec("client|" + name, arity: arity, flags: admin ? [.admin, .noscript, .loading, .stale] : [.noscript, .loading, .stale],
                    group: "connection", summary: summary, handler: h)
    }

    /// PING [message]
    static func ping(_ c: inout CommandContext) {
        if c.argc > 2 { c.error(Errors.arity("ping")); return }
        // A RESP2 subscriber gets PING's answer in the shape of a message.
        if c.session.subscriptionCount > 0 && !c.out.resp3 {
            c.out.array(2)
            c.out.bulk("pong")
            if c.argc == 2 { c.out.bulk(c.args[1]) } else { c.out.bulk("") }
            return
        }
        if c.argc == 2 { c.out.bulk(c.args[1]) } else { c.out.raw("+PONG\r\n") }
    }

    /// QUIT
    static func quit(_ c: inout CommandContext) {
        c.ok()
        c.session.closeAfterReply = true
    }

    /// RESET
    static func reset(_ c: inout CommandContext) {
        c.engine.releaseClientState(&c)
        c.dbIndex = 0
        c.out.resp3 = false
        // Back to the default user, logged in only if it needs no password.
        c.client.authenticated.store(!c.engine.passwordSet, ordering: .relaxed)
        c.session.userName = "default"
        c.engine.refreshUser(&c)
        c.client.info.withLock { i in
            i.user = "default"
            i.db = 0
            i.resp = 2
            i.name = ""
            i.noEvict = false

        }
        c.session.replyMode = .on
        c.out.simple("RESET")
    }

    /// AUTH [username] password
    static func auth(_ c: inout CommandContext) {
        if c.argc > 3 { c.error(Errors.syntax); return }
        if c.argc == 2 && c.engine.acl.user("default")!.nopass {
            c.error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
            return
        }
        let user = c.argc == 3 ? c.args.string(1) : "default"
        if c.engine.authenticate(&c, user: user, password: c.args.owned(c.argc - 1)) { c.ok() }
    }

    static func validName(_ name: ArraySlice<UInt8>) -> Bool {
        name.allSatisfy { $0 >= UInt8(ascii: "!") && $0 <= UInt8(ascii: "~") }
    }

    /// HELLO [protover [AUTH username password] [SETNAME clientname]]
    static func hello(_ c: inout CommandContext) {
        var proto = c.out.resp3 ? 3 : 2
        if c.argc >= 2 {
            guard let v = c.integer(1, error: "ERR Protocol version is not an integer or out of range") else { return }
            guard v == 2 || v == 3 else { c.error("NOPROTO unsupported protocol version"); return }
            proto = v
        }
        var user: String? = nil
        var pass: [UInt8] = []
        var name: ArraySlice<UInt8>? = nil
        var j = 2
        while j < c.argc {
            let more = c.argc - 1 - j
            if c.args.matches(j, "auth") && more >= 2 {
                user = c.args.string(j + 1)
                pass = c.args.owned(j + 2)
                j += 2
            } else if c.args.matches(j, "setname") && more >= 1 {
                guard validName(c.args[j + 1]) else {
                    c.error("ERR Client names cannot contain spaces, newlines or special characters.")
                    return
                }
                name = c.args[j + 1]
                j += 1
            } else {
                c.error("ERR Syntax error in HELLO option '\(c.args.string(j))'")
                return
            }
            j += 1
        }
        if let user {
            guard c.engine.authenticate(&c, user: user, password: pass, command: "HELLO") else { return }
        }
        guard c.engine.isAuthenticated(c.client) else {
            c.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
            return
        }
        let newName = name.map { String(decoding: $0, as: UTF8.self) }
        c.client.info.withLock { i in
            if let newName { i.name = newName }
            i.resp = proto
        }
        c.out.resp3 = proto == 3
        c.out.map(7)
        c.out.bulk("server"); c.out.bulk("redis")
        c.out.bulk("version"); c.out.bulk(Version.redis)
        c.out.bulk("proto"); c.out.integer(proto)
        c.out.bulk("id"); c.out.integer(c.client.id)
        c.out.bulk("mode"); c.out.bulk("standalone")
        c.out.bulk("role"); c.out.bulk(c.engine.repl.following.load(ordering: .relaxed) ? "replica" : "master")
        c.out.bulk("modules"); c.out.array(0)
    }

    /// CLIENT SETNAME connection-name
    static func setname(_ c: inout CommandContext) {
        guard validName(c.args[2]) else {
            c.error("ERR Client names cannot contain spaces, newlines or special characters.")
            return
        }
        let name = c.args.string(2)
        c.client.info.withLock { $0.name = name }
        c.ok()
    }

    /// CLIENT GETNAME
    static func getname(_ c: inout CommandContext) {
        let name = c.client.info.withLock { $0.name }
        if name.isEmpty { c.out.null() } else { c.out.bulk(name) }
    }

    /// CLIENT SETINFO <LIB-NAME libname | LIB-VER libver>
    static func setinfo(_ c: inout CommandContext) {
        let value = c.args.string(3)
        if value.utf8.contains(where: { $0 < UInt8(ascii: "!") || $0 > UInt8(ascii: "~") }) {
            c.error("ERR \(c.args.string(2).uppercased()) cannot contain spaces, newlines or special characters.")
            return
        }
        if c.args.matches(2, "lib-name") {
            c.client.info.withLock { $0.libName = value }
        } else if c.args.matches(2, "lib-ver") {
            c.client.info.withLock { $0.libVersion = value }
        } else {
            c.error("ERR Unrecognized option '\(c.args.string(2))'")
            return
        }
        c.ok()
    }

    /// CLIENT LIST [TYPE NORMAL | MASTER | REPLICA | PUBSUB] [ID client-id [client-id ...]]
    static func list(_ c: inout CommandContext) {
        var ids: Set<Int>? = nil
        var typeFilter: String? = nil
        var j = 2
        while j < c.argc {
            if c.args.matches(j, "type") && j + 1 < c.argc {
                let t = c.args.string(j + 1).lowercased()
                guard ["normal", "master", "replica", "slave", "pubsub"].contains(t) else {
                    c.error("ERR Unknown client type '\(c.args.string(j + 1))'")
                    return
                }
                typeFilter = t
                j += 2
            } else if c.args.matches(j, "id") && j + 1 < c.argc {
                var s = Set<Int>()
                j += 1
                while j < c.argc {
                    guard let id = parseCanonicalInt(c.args[j]), id > 0 else { c.error("ERR Invalid client ID"); return }
                    s.insert(id)
                    j += 1
                }
                ids = s
            } else {
                c.error(Errors.syntax)
                return
            }
        }
        var text = ""
        for client in c.engine.clients.all {
            if let ids, !ids.contains(client.id) { continue }
            if let t = typeFilter, Self.typeName(t) != client.typeName { continue }
            text += client.listLine(now: c.now, running: client === c.client ? running(c) : nil) + "\n"
        }
        c.out.verbatim(text)
    }

    /// The caller's own figures: the command it runs as it came (a multibulk request), its
    /// arguments, and the replies of earlier commands not yet sent.
    static func running(_ c: CommandContext) -> Client.Running {
        func digits(_ n: Int) -> Int { String(n).utf8.count }
        var request = 3 + digits(c.argc)
        var arguments = 0
        for i in 0..<c.argc {
            let n = c.args[i].count
            arguments += n
            request += 5 + digits(n) + n
        }
        return Client.Running(commandBytes: request, argumentBytes: arguments,
                              replyBytes: c.out.buffer.readableBytes)
    }

    /// CLIENT KILL ip:port | CLIENT KILL <ID id | ADDR ip:port | LADDR ip:port | TYPE t | USER u | SKIPME yes/no> ...
    static func kill(_ c: inout CommandContext) {
        let clients = c.engine.clients.all
        if c.argc == 3 {
            let addr = c.args.string(2)
            guard let target = clients.first(where: { $0.address == addr }) else {
                c.error("ERR No such client")
                return
            }
            c.ok()
            closeClient(&c, target)
            return
        }
        var id: Int? = nil, addr: String? = nil, laddr: String? = nil, type: String? = nil, user: String? = nil
        var skipMe = true
        var j = 2
        while j < c.argc {
            guard j + 1 < c.argc else { c.error(Errors.syntax); return }
            let v = c.args.string(j + 1)
            if c.args.matches(j, "id") {
                guard let n = parseCanonicalInt(c.args[j + 1]), n > 0 else {
                    c.error("ERR client-id should be greater than 0")
                    return
                }
                id = n
            } else if c.args.matches(j, "addr") { addr = v }
            else if c.args.matches(j, "laddr") { laddr = v }
            else if c.args.matches(j, "type") {
                let t = v.lowercased()
                guard ["normal", "master", "replica", "slave", "pubsub"].contains(t) else {
                    c.error("ERR Unknown client type '\(v)'")
                    return
                }
                type = t
            } else if c.args.matches(j, "user") {
                guard c.engine.acl.user(v) != nil else { c.error("ERR No such user '\(v)'"); return }
                user = v
            } else if c.args.matches(j, "skipme") {
                switch v.lowercased() {
                case "yes": skipMe = true
                case "no": skipMe = false
                default: c.error(Errors.syntax); return
                }
            } else {
                c.error(Errors.syntax)
                return
            }
            j += 2
        }
        var victims: [Client] = []
        for cl in clients {
            if let id, cl.id != id { continue }
            if let addr, cl.address != addr { continue }
            if let laddr, cl.localAddress != laddr { continue }
            if let type, Self.typeName(type) != cl.typeName { continue }
            if let user, user != cl.info.withLock({ $0.user }) { continue }
            if skipMe && cl === c.client { continue }
            victims.append(cl)
        }
        c.out.integer(victims.count)
        for v in victims { closeClient(&c, v) }
    }

    /// A TYPE argument as Client.typeName spells it ("replica" is "slave").
    static func typeName(_ t: String) -> String { t == "replica" ? "slave" : t }

    static func closeClient(_ c: inout CommandContext, _ target: Client) {
        if target === c.client {
            c.session.closeAfterReply = true
        } else {
            // Gone from CLIENT LIST at once, as in Redis; the socket closes on its own loop.
            c.engine.clients.remove(target)
            target.close()
        }
    }

    /// CLIENT PAUSE timeout [WRITE | ALL]
    static func pause(_ c: inout CommandContext) {
        guard let ms = c.integer(2, error: "ERR timeout is not an integer or out of range") else { return }
        guard ms >= 0 else { c.error("ERR timeout is negative"); return }
        var writesOnly = false
        if c.argc == 4 {
            if c.args.matches(3, "write") { writesOnly = true }
            else if !c.args.matches(3, "all") { c.error("ERR CLIENT PAUSE mode must be WRITE or ALL"); return }
        } else if c.argc > 4 {
            c.error(Errors.syntax)
            return
        }
        let until = c.now + Int64(min(ms, Int(Int64.max / 2)))
        c.engine.pause.withLock { p in
            // A second pause extends, never shortens, and ALL wins over WRITE (as Redis).
            if until > p.until || (p.writesOnly && !writesOnly) {
                p = (max(until, p.until), p.until > c.now ? (p.writesOnly && writesOnly) : writesOnly)
            }
        }
        c.engine.publishPause()
        c.ok()
    }

    /// CLIENT UNPAUSE
    static func unpause(_ c: inout CommandContext) {
        c.engine.pause.withLock { $0 = (0, false) }
        c.engine.publishPause()
        c.ok()
    }

    /// CLIENT REPLY ON | OFF | SKIP
    static func reply(_ c: inout CommandContext) {
        if c.args.matches(2, "on") {
            c.session.replyMode = .on
            c.ok()
        } else if c.args.matches(2, "off") {
            c.session.replyMode = .off
        } else if c.args.matches(2, "skip") {
            if c.session.replyMode == .on { c.session.replyMode = .skip }
        } else {
            c.error(Errors.syntax)
        }
    }

    /// CLIENT UNBLOCK client-id [TIMEOUT | ERROR]
    static func unblock(_ c: inout CommandContext) {
        guard let id = c.integer(2) else { return }
        var withError = false
        if c.argc == 4 {
            if c.args.matches(3, "error") { withError = true }
            else if !c.args.matches(3, "timeout") {
                c.error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
                return
            }
        } else if c.argc > 4 {
            c.error(Errors.syntax)
            return
        }
        c.out.integer(c.engine.unblock(clientID: id, withError: withError) ? 1 : 0)
    }

    /// CLIENT NO-EVICT ON | OFF
    static func noEvict(_ c: inout CommandContext) {
        if c.args.matches(2, "on") { c.client.info.withLock { $0.noEvict = true } }
        else if c.args.matches(2, "off") { c.client.info.withLock { $0.noEvict = false } }
        else { c.error(Errors.syntax); return }
        c.ok()
    }

    /// CLIENT HELP
    static func help(_ c: inout CommandContext) {
        let lines = ["CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                     "GETNAME", "ID", "INFO", "KILL <ip:port>", "KILL <option> <value> [<option> <value> [...]]",
                     "LIST [options ...]", "UNPAUSE", "PAUSE <timeout> [WRITE|ALL]", "REPLY (ON|OFF|SKIP)",
                     "SETNAME <name>", "NO-EVICT (ON|OFF)", "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]] [OPTIN] [OPTOUT] [NOLOOP]",
                     "CACHING (YES|NO)", "GETREDIR", "TRACKINGINFO", "UNBLOCK <clientid> [TIMEOUT|ERROR]", "HELP"]
        c.help(lines)
    }
}
