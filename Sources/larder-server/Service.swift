import Foundation
import Logging
import Synchronization
import Engine
import CLarderSys

/// What running as a service asks of the process, as redis-server does it: telling systemd
/// or upstart when it is ready, the kernel's OOM-killer score, transparent huge pages, and
/// the title `ps` shows.
enum Service {
    enum Supervisor { case systemd, upstart }

    /// `supervised`: auto looks for the variables each supervisor sets.
    static func supervisor(_ config: Config) -> Supervisor? {
        let env = ProcessInfo.processInfo.environment
        switch config.get("supervised") {
        case "systemd": return .systemd
        case "upstart": return .upstart
        case "auto":
            if env["NOTIFY_SOCKET"] != nil { return .systemd }
            if env["UPSTART_JOB"] != nil { return .upstart }
            return nil
        default: return nil
        }
    }

    /// Said once the server listens and its data is loaded.
    static func ready(_ supervisor: Supervisor?, logger: Logger) {
        switch supervisor {
        case .systemd:
            if ProcessInfo.processInfo.environment["NOTIFY_SOCKET"] == nil {
                logger.warning("systemd supervision requested or auto-detected, but NOTIFY_SOCKET environment variable not found!")
            } else if larder_sd_notify("STATUS=Ready to accept connections\nREADY=1\n") != 0 {
                logger.warning("Failed to notify systemd: \(String(cString: strerror(errno)))")
            }
        case .upstart:
            // Upstart's "expect stop": the job is ready when the process stops itself once.
            guard ProcessInfo.processInfo.environment["UPSTART_JOB"] != nil else {
                logger.warning("upstart supervision requested, but UPSTART_JOB not found!")
                return
            }
            raise(SIGSTOP)
            unsetenv("UPSTART_JOB")
        case nil: break
        }
    }

    static func stopping(_ supervisor: Supervisor?) {
        if supervisor == .systemd { _ = larder_sd_notify("STOPPING=1\n") }
    }

    /// The oom_score_adj the process started with: `relative` adds to it, `no` puts it back.
    private static let oomBase = Mutex<(base: Int, changed: Bool)?>(nil)

    /// oom-score-adj and oom-score-adj-values (primary, replica, background child) as Redis
    /// applies them: relative to the score the server started with, or absolute; -1000..1000.
    static func applyOOMScore(_ config: Config, replica: Bool) throws(ConfigError) {
        let path = "/proc/self/oom_score_adj"
        let state = oomBase.withLock { s -> (base: Int, changed: Bool) in
            if s == nil {
                let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "0"
                s = (Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0, false)
            }
            return s!
        }
        let mode = config.get("oom-score-adj")
        var value: Int
        if mode == "no" {
            guard state.changed else { return }
            value = state.base
        } else {
            let values = config.get("oom-score-adj-values").split(separator: " ").compactMap { Int($0) }
            value = values.count == 3 ? values[replica ? 1 : 0] : 0
            if mode == "yes" { value += state.base }
            value = min(max(value, -1000), 1000)
        }
        guard let f = fopen(path, "w") else {
            throw ConfigError(message: "Failed to set current oom_score_adj. Check server logs.")
        }
        let ok = fputs("\(value)\n", f) >= 0
        fclose(f)
        guard ok else { throw ConfigError(message: "Failed to set current oom_score_adj. Check server logs.") }
        oomBase.withLock { $0?.changed = mode != "no" }
    }

    /// The program name as started, for {title}.
    private static let programName = CommandLine.arguments.first ?? "larder-server"
    private static let titleReady = Atomic<Bool>(false)

    /// Claims argv's memory for titles (set-proc-title yes), before anything reads the
    /// environment from another thread.
    static func prepareTitle(_ config: Config) {
        guard config.bool("set-proc-title") else { return }
        larder_proctitle_init(CommandLine.argc, CommandLine.unsafeArgv)
        titleReady.store(true, ordering: .relaxed)
    }

    /// proc-title-template expanded for this configuration.
    static func setTitle(_ config: Config) {
        guard titleReady.load(ordering: .relaxed),
              let title = ProcessTitle.expand(config.get("proc-title-template"), title: programName, ProcessTitle.values(config))
        else { return }
        larder_set_proctitle(title)
    }
}
