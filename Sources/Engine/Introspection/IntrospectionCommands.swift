import RESP
import Storage

/// COMMAND and its sub-commands: the table described to clients (redis-cli hints, cluster clients).
enum IntrospectionCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("command", arity: -1, flags: [.loading, .stale], group: "server",
                    summary: "Returns detailed information about all commands.", complexity: "O(N) where N is the total number of Redis commands",
                    acl: ["connection"],
                    subcommands: [
                        sub("count", 2, "Returns a count of commands.", { c in c.out.integer(c.engine.table.commands.count) }),
                        sub("info", -2, "Returns information about one, multiple or all commands.", info),
                        sub("docs", -2, "Returns documentary information about one, multiple or all commands.", docs),
                        sub("getkeys", -4, "Extracts the key names from an arbitrary command.", getkeys),
                        sub("getkeysandflags", -4, "Extracts the key names and access flags for an arbitrary command.",
                            getkeysandflags),
                        sub("list", -2, "Returns a list of command names.", list),
                        sub("help", 2, "Returns helpful text about the different subcommands.", help),
                    ], handler: { c in
                        let all = c.engine.table.commands
                        c.out.array(all.count)
                        for spec in all { writeInfo(&c, spec) }
                    }),
    ]

    static func sub(_ name: String, _ arity: Int, _ summary: String, _ h: @escaping CommandHandler) -> CommandSpec {
        CommandSpec("command|" + name, arity: arity, flags: [.loading, .stale], group: "server",
                    summary: summary, acl: ["connection"], handler: h)
    }

    /// Commands whose keys all come after a count (their key finder locates them).
    static let keysAfterACount: Set<String> = ["blmpop", "bzmpop", "lmpop", "sintercard", "zdiff", "zinter",
                                               "zintercard", "zmpop", "zunion"]

    static func writeInfo(_ c: inout CommandContext, _ spec: CommandSpec) {
        c.out.array(10)
        c.out.bulk(spec.name)
        c.out.integer(spec.arity)
        let flags = spec.flags.names
        c.out.set(flags.count)
        for f in flags { c.out.simple(f) }
        // Redis's legacy (first, last, step) is 0 0 0 where every key follows a count.
        let legacy = Self.keysAfterACount.contains(spec.name) ? (0, 0, 0) : (spec.firstKey, spec.lastKey, spec.keyStep)
        c.out.integer(legacy.0)
        c.out.integer(legacy.1)
        c.out.integer(legacy.2)
        c.out.set(spec.aclCategories.count)
        for a in spec.aclCategories { c.out.simple("@" + a) }
        let doc = CommandDocs.doc(spec.name)
        c.out.set(doc.tips.count)
        for t in doc.tips { c.out.bulk(t) }
        CommandDocs.writeKeySpecs(&c.out, doc.keySpecs)
        // RESP3 shapes as Redis 7.0's: sub-commands an array, or an empty set without any.
        if spec.subcommands.isEmpty { c.out.set(0) } else { c.out.array(spec.subcommands.count) }
        for s in spec.subcommands { writeInfo(&c, s) }
    }

    /// A command or "container|sub" by name, as COMMAND INFO / DOCS accept it.
    static func find(_ c: CommandContext, _ name: String) -> CommandSpec? {
        let parts = name.lowercased().split(separator: "|", maxSplits: 1)
        guard let first = parts.first, let top = c.engine.table.lookup(String(first)) else { return nil }
        if parts.count == 2 { return top.subcommands.first { $0.name == name.lowercased() } }
        return top
    }

    /// COMMAND INFO [command-name [command-name ...]]
    static func info(_ c: inout CommandContext) {
        if c.argc == 2 {
            let all = c.engine.table.commands
            c.out.array(all.count)
            for spec in all { writeInfo(&c, spec) }
            return
        }
        c.out.array(c.argc - 2)
        for i in 2..<c.argc {
            if let spec = find(c, c.args.string(i)) { writeInfo(&c, spec) } else { c.out.nullArray() }
        }
    }

    static func writeDocs(_ c: inout CommandContext, _ spec: CommandSpec) {
        let hasSubs = !spec.subcommands.isEmpty
        let doc = CommandDocs.doc(spec.name)
        c.out.map((hasSubs ? 5 : 4) + CommandDocs.docFieldCount(doc))
        c.out.bulk("summary"); c.out.bulk(spec.summary)
        c.out.bulk("since"); c.out.bulk(doc.since)
        c.out.bulk("group"); c.out.bulk(spec.group)
        c.out.bulk("complexity"); c.out.bulk(spec.complexity)
        CommandDocs.writeDocFields(&c.out, doc)
        if hasSubs {
            c.out.bulk("subcommands")
            c.out.map(spec.subcommands.count)
            for s in spec.subcommands {
                c.out.bulk(s.name)
                writeDocs(&c, s)
            }
        }
    }

    /// COMMAND DOCS [command-name [command-name ...]]
    static func docs(_ c: inout CommandContext) {
        var specs: [CommandSpec] = []
        if c.argc == 2 {
            specs = c.engine.table.commands
        } else {
            for i in 2..<c.argc { if let s = find(c, c.args.string(i)) { specs.append(s) } }
        }
        c.out.map(specs.count)
        for s in specs {
            c.out.bulk(s.name)
            writeDocs(&c, s)
        }
    }

    /// COMMAND GETKEYS command [arg [arg ...]]
    static func getkeys(_ c: inout CommandContext) {
        guard let keys = commandKeys(&c) else { return }
        c.out.array(keys.count)
        for (i, _) in keys { c.out.bulk(c.args[i + 2]) }
    }

    /// COMMAND GETKEYSANDFLAGS command [arg [arg ...]]
    static func getkeysandflags(_ c: inout CommandContext) {
        guard let keys = commandKeys(&c) else { return }
        c.out.array(keys.count)
        for (i, flags) in keys {
            c.out.array(2)
            c.out.bulk(c.args[i + 2])
            c.out.set(flags.count)
            for f in flags { c.out.simple(f) }
        }
    }

    /// The keys of the command in GETKEYS' arguments (indexes from its name), each with the
    /// flags of the key spec that finds it, in the order of the specs as Redis lists them; a key
    /// no spec can locate (SORT's STORE) takes the last spec's. Nil after an error reply.
    static func commandKeys(_ c: inout CommandContext) -> [(Int, [String])]? {
        guard var spec = c.engine.table.lookup(c.args[2]) else {
            c.error("ERR Invalid command specified")
            return nil
        }
        let argc = c.argc - 2
        if !spec.subcommands.isEmpty && argc >= 2, let sub = CommandTable.subcommand(of: spec, c.args[3]) {
            spec = sub
        }
        if (spec.arity > 0 && argc != spec.arity) || argc < -spec.arity {
            c.error("ERR Invalid number of arguments specified for command")
            return nil
        }
        let args = c.args.dropping(first: 2)
        let idx = spec.keyIndexes(args)
        guard !idx.isEmpty else {
            c.error("ERR The command has no key arguments")
            return nil
        }
        let specs = CommandDocs.doc(spec.name).keySpecs
        var left = Set(idx)
        var out: [(Int, [String])] = []
        for k in specs {
            let flags = k.flags.contains("variable_flags") ? variableFlags(spec.name, args) ?? k.flags : k.flags
            for i in k.keys(args) ?? [] where left.contains(i) {
                out.append((i, flags))
                left.remove(i)
            }
        }
        for i in idx where left.contains(i) { out.append((i, specs.last?.flags ?? [])) }
        return out
    }

    /// The key flags of a call of SET or BITFIELD, whose spec says only that they vary: SET
    /// with GET reads its key, BITFIELD with nothing but complete GET and OVERFLOW only reads.
    static func variableFlags(_ name: String, _ args: CommandArguments) -> [String]? {
        switch name {
        case "set":
            let get = (3..<max(3, args.count)).contains { args.matches($0, "get") }
            return get ? ["RW", "access", "update"] : ["OW", "update"]
        case "bitfield":
            var i = 2
            while i < args.count {
                let left = args.count - i - 1
                if args.matches(i, "get") && left >= 2 { i += 3 }
                else if args.matches(i, "overflow") && left >= 1 { i += 2 }
                else { return ["RW", "access", "update"] }
            }
            return ["RO", "access"]
        default:
            return nil
        }
    }

    /// COMMAND LIST [FILTERBY <MODULE module-name | ACLCAT category | PATTERN pattern>]
    static func list(_ c: inout CommandContext) {
        var names: [String] = []
        for spec in c.engine.table.commands {
            names.append(spec.name)
            names.append(contentsOf: spec.subcommands.map(\.name))
        }
        if c.argc == 5 && c.args.matches(2, "filterby") {
            let v = c.args.string(4)
            if c.args.matches(3, "pattern") {
                names = names.filter { globMatch(Array(v.utf8), Array($0.utf8), nocase: true) }
            } else if c.args.matches(3, "aclcat") {
                let all = c.engine.table.commands.flatMap { [$0] + $0.subcommands }
                names = all.filter { $0.aclCategories.contains(v.lowercased()) }.map(\.name)
            } else if c.args.matches(3, "module") {
                names = []
            } else {
                c.error(Errors.syntax)
                return
            }
        } else if c.argc != 2 {
            c.error(Errors.syntax)
            return
        }
        c.out.array(names.count)
        for n in names { c.out.bulk(n) }
    }

    static func help(_ c: inout CommandContext) {
        let lines = ["COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                     "(no subcommand)", "    Return details about all Redis commands.",
                     "COUNT", "    Return the total number of commands in this Redis server.",
                     "LIST", "    Return a list of all commands in this Redis server.",
                     "INFO [<command-name> ...]", "    Return details about multiple Redis commands.",
                     "    If no command names are given, documentation details for all",
                     "    commands are returned.",
                     "DOCS [<command-name> ...]", "    Return documentation details about multiple Redis commands.",
                     "    If no command names are given, documentation details for all",
                     "    commands are returned.",
                     "GETKEYS <full-command>", "    Return the keys from a full Redis command.",
                     "GETKEYSANDFLAGS <full-command>", "    Return the keys and the access flags from a full Redis command.",
                     "HELP", "    Prints this help."]
        c.help(lines)
    }
}
