/// The process title `ps` shows, from `proc-title-template` as Redis expands it: {title} (the
/// program as started), {listen-addr} (first bind address and port), {server-mode} ("" or
/// "[cluster]"), {port}, {tls-port}, {unixsocket}, {config-file}; spaces trimmed at both ends.
public enum ProcessTitle {
    public struct Values: Sendable {
        var listenAddr = "", serverMode = "", port = "", tlsPort = "", unixsocket = "", configFile = ""
    }

    /// Nil when a brace is unmatched or a variable unknown.
    public static func expand(_ template: String, title: String, _ v: Values) -> String? {
        var out = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(where: { $0 == "{" || $0 == "}" }) {
            guard rest[open] == "{" else { return nil }
            out += rest[..<open]
            guard let close = rest[open...].firstIndex(of: "}") else { return nil }
            let name = rest[rest.index(after: open)..<close]
            switch name {
            case "title": out += title
            case "listen-addr": out += v.listenAddr
            case "server-mode": out += v.serverMode
            case "port": out += v.port
            case "tls-port": out += v.tlsPort
            case "unixsocket": out += v.unixsocket
            case "config-file": out += v.configFile
            default: return nil
            }
            rest = rest[rest.index(after: close)...]
        }
        out += rest
        return String(out.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }

    /// As Redis validates it: it expands, with an empty title, to something.
    static func isValid(template: String) -> Bool {
        guard let t = expand(template, title: "", Values(listenAddr: "*:6379")) else { return false }
        return !t.isEmpty
    }

    /// The variables' values for this configuration.
    public static func values(_ config: Config) -> Values {
        let bind = config.get("bind").split(separator: " ").first.map(String.init) ?? "*"
        let port = config.int("port") > 0 ? config.get("port") : config.get("tls-port")
        return Values(listenAddr: "\(bind):\(port)", serverMode: config.bool("cluster-enabled") ? "[cluster]" : "",
                      port: config.get("port"), tlsPort: config.get("tls-port"), unixsocket: config.get("unixsocket"),
                      configFile: config.configFile ?? "")
    }
}
