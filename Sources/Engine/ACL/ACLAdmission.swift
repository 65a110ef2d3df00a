import RESP
import Storage

/// Where ACL rules meet commands: the permission check at admission (and again at EXEC and
/// for each command a script runs), logging in, and what follows a change of users.
extension Engine {
    /// Takes the connection's user anew after the users changed (or on its first command).
    /// Clients of the server itself (the AOF's, the primary's stream, memcached's) are never
    /// checked.
    func refreshUser(_ ctx: inout CommandContext) {
        let generation = acl.generation.load(ordering: .relaxed)
        let user = acl.user(ctx.session.userName) ?? acl.user("default")!
        ctx.session.aclGeneration = generation
        ctx.session.aclRestricted = !user.unrestricted && ctx.client.id > 0 && !ctx.fromPrimary
        ctx.session.user = ACLUserBox(user)
    }

    /// Whether the connection's user may run the command in `ctx.args`; when not, logs the
    /// refusal (context "toplevel", "multi" or "lua") and gives why, with the argument at fault.
    func aclDenial(_ spec: CommandSpec, _ args: CommandArguments, _ ctx: inout CommandContext,
                   context: String) -> ACLSelector.Denial? {
        guard ctx.session.aclRestricted, let box = ctx.session.user,
              let (denial, at) = box.user.check(spec, args, acl.index) else { return nil }
        let user = box.user
        let object: String
        switch denial {
        case .command: object = spec.name
        case .key, .channel: object = args.string(at)
        }
        let reason = denial == .command ? "command" : denial == .key ? "key" : "channel"
        acl.addLog(reason: reason, context: context, object: object, username: user.name,
                   clientInfo: ctx.client.listLine(now: unixMillis()), now: unixMillis())
        return denial
    }

    /// SORT's BY and GET read keys named by patterns: only a user who may read every key may
    /// use them.
    func sortMayReadAnyKey(_ ctx: inout CommandContext) -> Bool {
        guard ctx.session.aclRestricted, let box = ctx.session.user else { return true }
        guard let spec = originalTable.lookup(ctx.args[0]) else { return true }
        return box.user.unrestrictedKeys(spec, ctx.args, .read, acl.index)
    }

    static func nopermMessage(_ d: ACLSelector.Denial, _ spec: CommandSpec) -> String {
        switch d {
        case .command: return "NOPERM this user has no permissions to run the '\(spec.name)' command"
        case .key: return "NOPERM this user has no permissions to access one of the keys used as arguments"
        case .channel: return "NOPERM this user has no permissions to access one of the channels used as arguments"
        }
    }

    /// EXEC's refusal of a queued command the user may no longer run.
    static func execNopermMessage(_ d: ACLSelector.Denial) -> String {
        let reason = switch d {
        case .command: "no permission to execute the command or subcommand"
        case .key: "no permission to touch the specified keys"
        case .channel: "no permission to access one of the channels used as arguments"
        }
        return "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: \(reason)"
    }

    /// A script's refusal of a command it runs.
    static func scriptNopermMessage(_ d: ACLSelector.Denial) -> String {
        let what = switch d {
        case .command: "run this command or subcommand"
        case .key: "access at least one of the keys mentioned in the command arguments"
        case .channel: "publish to the channel mentioned in the command"
        }
        return "ERR The user executing the script can't \(what)"
    }

    // MARK: logging in

    /// AUTH and HELLO ... AUTH: on success the connection becomes the user's; on failure the
    /// attempt is logged and WRONGPASS replied.
    func authenticate(_ ctx: inout CommandContext, user name: String, password: [UInt8], command: String = "AUTH") -> Bool {
        if acl.credentialsValid(name, password) {
            ctx.client.authenticated.store(true, ordering: .relaxed)
            ctx.session.userName = name
            ctx.client.info.withLock { $0.user = name }
            refreshUser(&ctx)
            return true
        }
        acl.addLog(reason: "auth", context: ctx.session.inMulti ? "multi" : "toplevel", object: command,
                   username: name, clientInfo: ctx.client.listLine(now: unixMillis()), now: unixMillis())
        ctx.error(Errors.wrongPass)
        return false
    }

    /// Whether a new connection must log in: the default user has a password or is off.
    func publishDefaultUser() {
        let d = acl.user("default")!
        settings.passwordSet.store(!d.nopass || !d.enabled, ordering: .relaxed)
    }

    /// requirepass sets the default user's only password, or none when empty.
    func applyRequirePass() {
        let pass = config.get("requirepass")
        let changed = acl.appliedRequirePass.withLock { old -> Bool in
            if old == pass { return false }
            old = pass
            return true
        }
        guard changed else { return }
        changeUsers { users in
            var d = users["default"]!
            try? d.apply("resetpass", acl)
            try? d.apply(pass.isEmpty ? "nopass" : ">" + pass, acl)
            users["default"] = d
        }
    }

    /// Changes the users under their lock, then lets every connection see it.
    func changeUsers<T>(_ body: (inout [String: ACLUser]) -> T) -> T {
        let r = acl.users.withLock { body(&$0) }
        acl.generation.wrappingAdd(1, ordering: .relaxed)
        publishDefaultUser()
        return r
    }

    /// Closes the connections of deleted users, and the subscribed connections of changed
    /// users whose channels no longer allow a subscription, as Redis does; whether `current`
    /// (the connection that made the change) is one of them, to be closed after its reply.
    func disconnectClients(of changed: [String: ACLUser?], current: Client) -> Bool {
        var closeCurrent = false
        for client in clients.all {
            let name = client.info.withLock { $0.user }
            guard let entry = changed[name] else { continue }
            if let user = entry {
                let subs = pubsub.subscriptions(of: client.id)
                guard !subs.channels.isEmpty || !subs.patterns.isEmpty || !subs.shardChannels.isEmpty else { continue }
                let allowed = subs.channels.allSatisfy { c in user.selectors.contains { $0.channelAllowed(c[...], pattern: false) } }
                    && subs.shardChannels.allSatisfy { c in user.selectors.contains { $0.channelAllowed(c[...], pattern: false) } }
                    && subs.patterns.allSatisfy { p in user.selectors.contains { $0.channelAllowed(p[...], pattern: true) } }
                if allowed { continue }
            }
            if client === current {
                closeCurrent = true
            } else {
                clients.remove(client)
                client.close()
            }
        }
        return closeCurrent
    }

    /// Users from the configuration at start: the aclfile, or the file's `user` lines (after
    /// requirepass, which reloadSettings applied when the engine was built, as Redis does).
    public func loadUsersAtStart() throws(ConfigError) {
        let lines = config.userLines
        let file = config.get("aclfile")
        if !file.isEmpty && !lines.isEmpty {
            throw ConfigError(message: "Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.")
        }
        if !file.isEmpty {
            switch acl.parseFile(file) {
            case .success(let users): changeUsers { $0 = users }
            case .failure(let e): throw ConfigError(message: "Aborting Redis startup because of ACL errors: \(e.message)")
            }
            return
        }
        for words in lines {
            guard let name = words.first else { continue }
            guard ACL.validUsername(name) else { throw ConfigError(message: "Error in user declaration '\(name)': Usernames can't contain spaces or null characters") }
            var u = acl.user(name) ?? acl.newUser(name)
            let (rules, unclosed) = ACL.mergeSelectors(Array(words.dropFirst()))
            for op in rules + (unclosed.map { [$0] } ?? []) {
                do throws(ACLUser.RuleError) { try u.apply(op, acl) } catch {
                    throw ConfigError(message: "Error in user declaration '\(name)': \(error.message)")
                }
            }
            changeUsers { $0[name] = u }
        }
    }
}
