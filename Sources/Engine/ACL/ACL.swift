import Foundation
import Synchronization
import RESP
import Storage

/// The users, the ACL log, and what a connection needs to check a command quickly.
///
/// Users are values kept under one lock and changed whole. `generation` goes up with every
/// change: a connection keeps a copy of its user and takes a new one only when the
/// generation it saw is no longer current, so a command pays one relaxed load and a compare,
/// and nothing more while its user is unrestricted (the default user is, unless changed).
final class ACL: Sendable {
    let index: ACLCommandIndex
    let users: Locked<[String: ACLUser]>
    let generation = Atomic<UInt64>(1)
    let log = Locked<[LogEntry]>([])
    let logMaxLength = Atomic<Int>(128)
    /// acl-pubsub-default: allchannels, or resetchannels (Redis 7.0's default).
    let pubsubAll = Atomic<Bool>(false)
    /// The requirepass last applied to the default user (CONFIG SET changes it only when it
    /// changes, as ACL SETUSER default can set other passwords meanwhile).
    let appliedRequirePass = Locked<String?>(nil)

    struct LogEntry: Sendable {
        var count: Int
        let reason: String
        let context: String
        let object: String
        let username: String
        var createdMs: Int64
        var clientInfo: String
    }

    init(index: ACLCommandIndex) {
        self.index = index
        users = Locked([:])
        let d = defaultUser()
        users.withLock { $0["default"] = d }
    }

    var pubsubDefaultAll: Bool { pubsubAll.load(ordering: .relaxed) }

    /// The default user as at start: on, no password, every key, channel and command.
    func defaultUser() -> ACLUser {
        var u = ACLUser(name: "default", index: index, allChannels: true)
        for r in ["on", "nopass", "~*", "&*", "+@all"] { try? u.apply(r, self) }
        return u
    }

    func user(_ name: String) -> ACLUser? { users.withLock { $0[name] } }

    /// A new user as ACL SETUSER creates one: off, no password, no key, channels per
    /// acl-pubsub-default, no command.
    func newUser(_ name: String) -> ACLUser {
        ACLUser(name: name, index: index, allChannels: pubsubDefaultAll)
    }

    static func validUsername(_ name: String) -> Bool {
        !name.utf8.contains(where: { $0 == UInt8(ascii: " ") || $0 == 0 })
    }

    /// The login check: the user exists, is on, and the password is one of its (or it has none).
    func credentialsValid(_ name: String, _ password: some Sequence<UInt8>) -> Bool {
        guard let u = user(name), u.enabled else { return false }
        return u.accepts(password)
    }

    // MARK: the log

    func addLog(reason: String, context: String, object: String, username: String, clientInfo: String, now: Int64) {
        let max = logMaxLength.load(ordering: .relaxed)
        log.withLock { entries in
            // As Redis: the same refusal within a minute counts in its entry, which moves
            // first; only the ten newest entries are looked at.
            if let i = entries.prefix(10).firstIndex(where: { $0.reason == reason && $0.context == context && $0.object == object
                && $0.username == username && now - $0.createdMs < 60_000 }) {
                var e = entries.remove(at: i)
                e.count += 1
                e.createdMs = now
                e.clientInfo = clientInfo
                entries.insert(e, at: 0)
            } else {
                entries.insert(LogEntry(count: 1, reason: reason, context: context, object: object, username: username,
                                        createdMs: now, clientInfo: clientInfo), at: 0)
            }
            if entries.count > max { entries.removeLast(entries.count - max) }
        }
    }

    // MARK: the ACL file

    /// Reads users from an ACL file into a fresh set (the default user as at start unless the
    /// file defines it); nil and Redis's messages when a line is wrong.
    func parseFile(_ path: String) -> Result<[String: ACLUser], ACLFileError> {
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(ACLFileError(message: "Error loading ACLs, opening file '\(path)': \(String(cString: strerror(ENOENT)))"))
        }
        var users: [String: ACLUser] = ["default": defaultUser()]
        var seen = Set<String>()
        var errors = ""
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        for (n, raw) in lines.enumerated() {
            let line = raw.trimmingCharacters(in: CharacterSet(charactersIn: " \t\r\n"))
            // As Redis 7.0: blank lines are skipped, and every other line is a user (a comment is an error).
            if line.isEmpty { continue }
            let words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard words.count >= 2, words[0] == "user", Self.validUsername(words[1]) else {
                errors += "\(path):\(n + 1) should start with user keyword followed by the username. "
                continue
            }
            if seen.contains(words[1]) {
                errors += "WARNING: Duplicate user '\(words[1])' found on line \(n + 1). "
                continue
            }
            seen.insert(words[1])
            // A user of the file, the default one too, starts as a new user.
            var u = newUser(words[1])
            var failed = false
            let (rules, unclosed) = Self.mergeSelectors(Array(words.dropFirst(2)))
            for op in rules + (unclosed.map { [$0] } ?? []) {
                do throws(ACLUser.RuleError) { try u.apply(op, self) } catch {
                    errors += "\(path):\(n + 1): Error in applying operation '\(op)': \(error.message). "
                    failed = true
                    break
                }
            }
            if !failed { users[u.name] = u }
        }
        if !errors.isEmpty {
            return .failure(ACLFileError(message: errors + "WARNING: ACL errors detected, no change to the previously active ACL rules was performed"))
        }
        return .success(users)
    }

    struct ACLFileError: Error { let message: String }

    /// Joins a selector written over several words, "(~x*" "+get)", into one rule; the start
    /// of a selector never closed comes apart.
    static func mergeSelectors(_ words: [String]) -> (rules: [String], unclosed: String?) {
        var out: [String] = []
        var open: String? = nil
        for w in words {
            if var s = open {
                s += " " + w
                if w.hasSuffix(")") { out.append(s); open = nil } else { open = s }
            } else if w.hasPrefix("(") && !w.hasSuffix(")") {
                open = w
            } else {
                out.append(w)
            }
        }
        return (out, open)
    }

    /// Every user as an ACL file or CONFIG REWRITE writes it, sorted by name.
    func lines() -> [String] {
        users.withLock { $0 }.values.sorted { $0.name < $1.name }.map { "user \($0.name) \($0.describe(index))" }
    }
}
