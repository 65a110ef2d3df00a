import Foundation
import RESP
import Storage

/// ACL: users, their rules, the log and the ACL file, as Redis 7.0.
enum ACLCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("acl", arity: -2, flags: [], group: "server",
                    summary: "A container for Access List Control commands.", complexity: "Depends on subcommand.",
                    subcommands: [
                        sub("cat", -2, [], "Lists the ACL categories, or the commands inside a category.", cat),
                        sub("deluser", -3, [.admin], "Deletes ACL users, and terminates their connections.", deluser),
                        sub("dryrun", -4, [.admin], "Simulates the execution of a command by a user, without executing the command.", dryrun),
                        sub("genpass", -2, [], "Generates a pseudorandom, secure password that can be used to identify ACL users.", genpass),
                        sub("getuser", 3, [.admin], "Lists the ACL rules of a user.", getuser),
                        sub("list", 2, [.admin], "Dumps the effective rules in ACL file format.", list),
                        sub("load", 2, [.admin], "Reloads the rules from the configured ACL file.", load),
                        sub("log", -2, [.admin], "Lists recent security events generated due to ACL rules.", log),
                        sub("save", 2, [.admin], "Saves the effective ACL rules in the configured ACL file.", save),
                        sub("setuser", -3, [.admin], "Creates and modifies an ACL user and its rules.", setuser),
                        sub("users", 2, [.admin], "Lists all ACL users.", users),
                        sub("whoami", 2, [], "Returns the authenticated username of the current connection.") { c in
                            c.out.bulk(c.session.userName)
                        },
                        CommandSpec("acl|help", arity: 2, flags: [.loading, .stale], group: "server",
                                    summary: "Returns helpful text about the different subcommands.", handler: help),
                    ], handler: nil),
    ]

    static func sub(_ name: String, _ arity: Int, _ flags: CommandFlags, _ summary: String,
                    _ h: @escaping CommandHandler) -> CommandSpec {
        CommandSpec("acl|" + name, arity: arity, flags: flags.union([.noscript, .loading, .stale]), group: "server", summary: summary, complexity: "O(1)", handler: h)
    }

    /// ACL SETUSER username [rule [rule ...]]
    static func setuser(_ c: inout CommandContext) {
        let name = c.args.string(2)
        guard ACL.validUsername(name) else { c.error("ERR Usernames can't contain spaces or null characters"); return }
        let acl = c.engine.acl
        var user = acl.user(name) ?? acl.newUser(name)
        do throws(ACLUser.RuleError) {
            try user.apply((3..<c.argc).map { c.args.string($0) }, acl)
        } catch {
            c.error(error.message)
            return
        }
        c.engine.changeUsers { $0[name] = user }
        if c.engine.disconnectClients(of: [name: user], current: c.client) { c.session.closeAfterReply = true }
        c.ok()
    }

    /// ACL DELUSER username [username ...]
    static func deluser(_ c: inout CommandContext) {
        let names = (2..<c.argc).map { c.args.string($0) }
        if names.contains("default") { c.error("ERR The 'default' user cannot be removed"); return }
        let removed = c.engine.changeUsers { users in names.filter { users.removeValue(forKey: $0) != nil } }
        let gone = Dictionary(removed.map { ($0, ACLUser?.none) }, uniquingKeysWith: { a, _ in a })
        if c.engine.disconnectClients(of: gone, current: c.client) { c.session.closeAfterReply = true }
        c.out.integer(removed.count)
    }

    /// ACL GETUSER username
    static func getuser(_ c: inout CommandContext) {
        guard let u = c.engine.acl.user(c.args.string(2)) else { c.out.null(); return }
        let index = c.engine.acl.index
        c.out.map(6)
        c.out.bulk("flags")
        c.out.set(u.flagNames.count)
        for f in u.flagNames { c.out.bulk(f) }
        c.out.bulk("passwords")
        c.out.array(u.passwords.count)
        for p in u.passwords { c.out.bulk(p) }
        selectorFields(&c, u.selectors[0], index)
        c.out.bulk("selectors")
        c.out.array(u.selectors.count - 1)
        for s in u.selectors.dropFirst() {
            c.out.map(3)
            selectorFields(&c, s, index)
        }
    }

    private static func selectorFields(_ c: inout CommandContext, _ s: ACLSelector, _ index: ACLCommandIndex) {
        c.out.bulk("commands"); c.out.bulk(s.commandRules(index))
        c.out.bulk("keys"); c.out.bulk(s.keysDescription)
        c.out.bulk("channels"); c.out.bulk(s.channelsDescription)
    }

    /// ACL LIST
    static func list(_ c: inout CommandContext) {
        let lines = c.engine.acl.lines()
        c.out.array(lines.count)
        for l in lines { c.out.bulk(l) }
    }

    /// ACL USERS
    static func users(_ c: inout CommandContext) {
        let names = c.engine.acl.users.withLock { Array($0.keys) }.sorted()
        c.out.array(names.count)
        for n in names { c.out.bulk(n) }
    }

    /// ACL CAT [category]
    static func cat(_ c: inout CommandContext) {
        if c.argc > 3 { c.error(Errors.subcommandArguments(c.args.string(1), "acl")); return }
        let index = c.engine.acl.index
        guard c.argc == 3 else {
            c.out.array(ACLCommandIndex.categories.count)
            for n in ACLCommandIndex.categories { c.out.bulk(n) }
            return
        }
        let name = c.args.string(2)
        guard let bit = ACLCommandIndex.categoryBit(name) else { c.error("ERR Unknown category '\(name)'"); return }
        let ids = index.commands(in: bit)
        c.out.array(ids.count)
        for id in ids { c.out.bulk(index.names[id]) }
    }

    /// ACL GENPASS [bits]
    static func genpass(_ c: inout CommandContext) {
        var bits = 256
        if c.argc == 3 {
            guard let n = c.integer(2) else { return }
            guard n > 0, n <= 4096 else {
                c.error("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096")
                return
            }
            bits = n
        } else if c.argc > 3 {
            c.error(Errors.subcommandArguments(c.args.string(1), "acl"))
            return
        }
        var rng = SystemRandomNumberGenerator()
        let hex = Array("0123456789abcdef".utf8)
        let chars = (bits + 3) / 4
        c.out.bulk((0..<chars).map { _ in hex[Int(rng.next() & 15)] })
    }

    /// ACL DRYRUN username command [arg ...]
    static func dryrun(_ c: inout CommandContext) {
        let name = c.args.string(2)
        guard let user = c.engine.acl.user(name) else { c.error("ERR User '\(name)' not found"); return }
        var args = CommandArguments()
        for i in 3..<c.argc { args.append(c.args[i]) }
        guard var spec = c.engine.originalTable.lookup(args[0]) else {
            c.error("ERR Command '\(args.string(0))' not found")
            return
        }
        if !spec.subcommands.isEmpty && args.count >= 2, let s = CommandTable.subcommand(of: spec, args[1]) { spec = s }
        if (spec.arity > 0 && args.count != spec.arity) || args.count < -spec.arity {
            c.error(Errors.arity(spec.name))
            return
        }
        guard let (denial, at) = user.check(spec, args, c.engine.acl.index) else { c.ok(); return }
        switch denial {
        case .command: c.out.bulk("This user has no permissions to run the '\(spec.name)' command")
        case .key: c.out.bulk("This user has no permissions to access the '\(args.string(at))' key")
        case .channel: c.out.bulk("This user has no permissions to access the '\(args.string(at))' channel")
        }
    }

    /// ACL LOG [count | RESET]
    static func log(_ c: inout CommandContext) {
        var count = 10
        if c.argc == 3 {
            if c.args.matches(2, "reset") {
                c.engine.acl.log.withLock { $0.removeAll() }
                c.ok()
                return
            }
            guard let n = c.integer(2) else { return }
            count = max(0, n)
        } else if c.argc > 3 {
            c.error(Errors.subcommandArguments(c.args.string(1), "acl"))
            return
        }
        let entries = c.engine.acl.log.withLock { Array($0.prefix(count)) }
        let now = unixMillis()
        c.out.array(entries.count)
        for e in entries {
            c.out.map(7)
            c.out.bulk("count"); c.out.integer(e.count)
            c.out.bulk("reason"); c.out.bulk(e.reason)
            c.out.bulk("context"); c.out.bulk(e.context)
            c.out.bulk("object"); c.out.bulk(e.object)
            c.out.bulk("username"); c.out.bulk(e.username)
            c.out.bulk("age-seconds"); c.out.double(String(format: "%.17g", Double(now - e.createdMs) / 1000))
            c.out.bulk("client-info"); c.out.bulk(e.clientInfo)
        }
    }

    static let noFileMessage = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration."

    /// ACL SAVE
    static func save(_ c: inout CommandContext) {
        let path = c.engine.config.get("aclfile")
        guard !path.isEmpty else { c.error(noFileMessage); return }
        let text = c.engine.acl.lines().map { $0 + "\n" }.joined()
        let tmp = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: tmp, contents: Array(text.utf8).withUnsafeBufferPointer { Data($0) }),
              rename(tmp, path) == 0 else {
            unlink(tmp)
            c.engine.log("Failed saving ACLs to \(path)")
            c.error("ERR There was an error trying to save the ACLs. Please check the server logs for more information")
            return
        }
        c.ok()
    }

    /// ACL LOAD: the file's users replace every user; connections of users other than the
    /// default one are closed, as Redis does.
    static func load(_ c: inout CommandContext) {
        let path = c.engine.config.get("aclfile")
        guard !path.isEmpty else { c.error(noFileMessage); return }
        switch c.engine.acl.parseFile(path) {
        case .failure(let e):
            c.error("ERR " + e.message)
        case .success(let users):
            let old = c.engine.changeUsers { current -> [String] in
                let names = Array(current.keys)
                current = users
                return names
            }
            let gone = Dictionary(old.filter { $0 != "default" }.map { ($0, ACLUser?.none) }, uniquingKeysWith: { a, _ in a })
            if c.engine.disconnectClients(of: gone, current: c.client) { c.session.closeAfterReply = true }
            c.ok()
        }
    }

    /// ACL HELP
    static func help(_ c: inout CommandContext) {
        c.help(["ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "CAT [<category>]",
                "    List all commands that belong to <category>, or all command categories",
                "    when no category is specified.",
                "DELUSER <username> [<username> ...]",
                "    Delete a list of users.",
                "DRYRUN <username> <command> [<arg> ...]",
                "    Returns whether the user can execute the given command without executing the command.",
                "GETUSER <username>",
                "    Get the user's details.",
                "GENPASS [<bits>]",
                "    Generate a secure 256-bit user password. The optional `bits` argument can",
                "    be used to specify a different size.",
                "LIST",
                "    Show users details in config file format.",
                "LOAD",
                "    Reload users from the ACL file.",
                "LOG [<count> | RESET]",
                "    Show the ACL log entries.",
                "SAVE",
                "    Save the current config to the ACL file.",
                "SETUSER <username> <attribute> [<attribute> ...]",
                "    Create or modify a user with the specified attributes.",
                "USERS",
                "    List all the registered usernames.",
                "WHOAMI",
                "    Return the current connection username.",
                "HELP",
                "    Prints this help."])
    }
}
