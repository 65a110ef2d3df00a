import Foundation
import RESP

/// Reading and rewriting redis.conf-style files: one directive per line, arguments split as
/// Redis splits them (quotes allowed), `#` comments.
public enum ConfigFile {
    /// The directives of a file's text, in order, as (name, arguments).
    public static func parse(_ text: String) throws(ConfigError) -> [(String, [String])] {
        var out: [(String, [String])] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            var args = CommandArguments()
            let ok = Array(line.utf8).withUnsafeBytes { splitArgs($0, into: &args) }
            guard ok, args.count > 0 else {
                throw ConfigError(message: "line \(n + 1): Unbalanced quotes in configuration line")
            }
            out.append((args.string(0).lowercased(), (1..<args.count).map { args.string($0) }))
        }
        return out
    }

    /// The directives of the file at `path`, each `include` line replaced by the included
    /// file's directives where it stands (so the last value wins, as in Redis; a relative
    /// path is from the working directory, as Redis reads it).
    public static func load(path: String, depth: Int = 0) throws(ConfigError) -> [(String, [String])] {
        guard depth < 16 else { throw ConfigError(message: "include nested more than 16 deep at '\(path)'") }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigError(message: "Fatal error, can't open config file '\(path)'")
        }
        let directives = try parse(text)
        var out: [(String, [String])] = []
        for d in directives {
            if d.0 != "include" {
                out.append(d)
                continue
            }
            if d.1.count != 1 { throw ConfigError(message: "'include': wrong number of arguments") }
            let included = try load(path: d.1[0], depth: depth + 1)
            out.append(contentsOf: included)
        }
        return out
    }

    /// Turns `--port 6380 --save "" --bind a b` into directives, as redis-server's argv handling.
    public static func directives(fromFlags flags: [String]) throws(ConfigError) -> [(String, [String])] {
        var out: [(String, [String])] = []
        for f in flags {
            if f.hasPrefix("--") && f.count > 2 {
                out.append((String(f.dropFirst(2)).lowercased(), []))
            } else {
                guard !out.isEmpty else { throw ConfigError(message: "Invalid argument '\(f)'") }
                out[out.count - 1].1.append(f)
            }
        }
        return out
    }

    /// Applies directives to a config at start-up; the message names the bad one.
    public static func apply(_ directives: [(String, [String])], to config: Config) throws(ConfigError) {
        var sawSave = false
        for (name, args) in directives {
            if name == "save" && !sawSave {
                sawSave = true
                config.clearSaveDefault()
            }
            do throws(ConfigError) {
                if name == "user" {
                    guard !args.isEmpty else { throw ConfigError(message: "wrong number of arguments") }
                    config.addUserLine(args)
                    continue
                }
                if name == "rename-command" {
                    guard args.count == 2 else { throw ConfigError(message: "wrong number of arguments") }
                    try config.renameCommand(args[0], args[1], known: Engine.commandNames)
                    continue
                }
                try config.set(name, args, atStartup: true)
            } catch {
                throw ConfigError(message: "'\(name) \(args.joined(separator: " "))': \(error.message)")
            }
        }
    }

    /// CONFIG REWRITE: keeps the file's comments and order, updates the directives it has,
    /// and appends the others that differ from their default. `users` (ACL LIST's lines, when
    /// there is no aclfile) take the places of the file's `user` lines, in order, as Redis
    /// writes them; those left over are appended.
    public static func rewrite(path: String, config: Config, users: [String]? = nil) throws {
        var users = users.map { ArraySlice($0) }
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        var lines: [String] = []
        var written = Set<String>()
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { lines.append(line); continue }
            let name = trimmed.split(separator: " ").first.map { $0.lowercased() } ?? ""
            if name == "user", users != nil {
                if let u = users!.popFirst() { lines.append(u) }
                continue
            }
            guard let p = Config.parameter(name) else { lines.append(line); continue }
            if written.contains(p.name) { continue }
            written.insert(p.name)
            // A directive the file has keeps its line, at its default too (as Redis), but for
            // replicaof, whose line goes once the server is a primary.
            if p.name == "replicaof" && config.get(p.name).isEmpty { continue }
            lines.append(render(p.name, config.get(p.name)))
        }
        if lines.last == "" { lines.removeLast() }
        var appended = false
        for p in Config.parameters where !written.contains(p.name) {
            let value = config.get(p.name)
            if value != p.defaultValue {
                if !appended { lines.append("# Generated by CONFIG REWRITE"); appended = true }
                lines.append(render(p.name, value))
            }
        }
        for u in users ?? [] {
            if !appended { lines.append("# Generated by CONFIG REWRITE"); appended = true }
            lines.append(u)
        }
        let out = lines.joined(separator: "\n") + "\n"
        let tmp = path + ".tmp-rewrite"
        try out.write(toFile: tmp, atomically: false, encoding: .utf8)
        guard rename(tmp, path) == 0 else { throw ConfigError(message: "rename failed") }
    }

    static func render(_ name: String, _ value: String) -> String {
        // Bytes in the largest unit that divides them, as Redis's rewriteConfigBytesOption.
        if case .memory = Config.parameter(name)?.kind, let v = Int(value) { return "\(name) \(bytesText(v))" }
        if case .unsignedMemory = Config.parameter(name)?.kind, let v = Int(value) { return "\(name) \(bytesText(v))" }
        if name == "save" && value.isEmpty { return "save \"\"" }
        if name == "save" {
            let parts = value.split(separator: " ")
            return stride(from: 0, to: parts.count, by: 2).map { "save \(parts[$0]) \(parts[$0 + 1])" }.joined(separator: "\n")
        }
        if case .memoryOrPercent = Config.parameter(name)?.kind, let v = Int(value) { return "\(name) \(bytesText(v))" }
        // Strings are written quoted whatever they hold, as Redis's sdscatrepr; words of a list
        // or of flags as they are.
        if case .string = Config.parameter(name)?.kind { return "\(name) \(quoted(value))" }
        if value.isEmpty { return "\(name) \"\"" }
        return "\(name) \(value)"
    }

    /// A value in double quotes with Redis's escapes (sdscatrepr), which the file reader undoes.
    static func quoted(_ value: String) -> String {
        var out = "\""
        for b in value.utf8 {
            switch b {
            case UInt8(ascii: "\\"): out += "\\\\"
            case UInt8(ascii: "\""): out += "\\\""
            case UInt8(ascii: "\n"): out += "\\n"
            case UInt8(ascii: "\r"): out += "\\r"
            case UInt8(ascii: "\t"): out += "\\t"
            case 7: out += "\\a"
            case 8: out += "\\b"
            case 0x20...0x7e: out.unicodeScalars.append(Unicode.Scalar(b))
            default: out += "\\x" + String(format: "%02x", b)
            }
        }
        return out + "\""
    }

    static func bytesText(_ v: Int) -> String {
        if v != 0 && v % (1 << 30) == 0 { return "\(v >> 30)gb" }
        if v != 0 && v % (1 << 20) == 0 { return "\(v >> 20)mb" }
        if v != 0 && v % (1 << 10) == 0 { return "\(v >> 10)kb" }
        return String(v)
    }
}
