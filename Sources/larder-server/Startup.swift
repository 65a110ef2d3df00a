import Foundation
import Logging
import Engine
import CLarderSys

/// Raises the open-file limit to what maxclients needs (32 spare for listeners and files), as
/// redis-server does; if the hard limit is lower, lowers maxclients to fit and says so.
func raiseFileLimit(config: Config, logger: Logger) {
    let maxclients = config.int("maxclients")
    let wanted = rlim_t(maxclients + 32)
    var lim = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &lim) == 0 else { return }
    if lim.rlim_cur >= wanted { return }
    var raised = lim
    raised.rlim_cur = min(wanted, lim.rlim_max)
    if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) != 0 { raised = lim }
    if raised.rlim_cur < wanted {
        let fit = max(1, Int(raised.rlim_cur) - 32)
        try? config.set("maxclients", [String(fit)], atStartup: true)
        logger.warning("You requested maxclients of \(maxclients) requiring at least \(wanted) max file descriptors; the limit is \(raised.rlim_cur), so maxclients is now \(fit).")
    }
}

/// Event loops: `threads` when given; else Redis's `io-threads` when above 1 (Larder's loops
/// each read, run and write their clients' commands, which is what a Redis user raising
/// io-threads asks for); else one per core but one, left to the kernel's network work and to
/// clients on the same host, as Redis advises for io-threads (at least 4 cores, one spare).
/// On 2 cores a second loop competes with both: measured in bench/README.md, one loop served
/// more requests with a third of the p99.
func eventLoops(_ config: Config, cores: Int) -> Int {
    if config.int("threads") > 0 { return config.int("threads") }
    if config.int("io-threads") > 1 { return config.int("io-threads") }
    return cores <= 3 ? 1 : cores - 1
}

/// Redis shows its logo when the log is a terminal or always-show-logo says so, and one line
/// otherwise; Larder's is its own.
func showLogo(_ config: Config, threads: Int, logger: Logger) {
    let mode = config.bool("cluster-enabled") ? "cluster" : "standalone"
    guard config.bool("always-show-logo") || (isatty(STDOUT_FILENO) != 0 && !config.bool("syslog-enabled")) else {
        logger.notice("Running mode=\(mode), port=\(config.get("port")).")
        return
    }
    let lines = [
        "      .-------.",
        "      |_______|      Larder \(Version.larder) (Redis \(Version.redis) compatible) \(MemoryLayout<Int>.size * 8) bit",
        "      |       |",
        "      | LARDER|      Running in \(mode) mode, \(threads) event loop(s)",
        "      |       |      Port: \(config.get("port"))",
        "      '-------'      PID: \(getpid())",
    ]
    larder_write_stdout(lines.joined(separator: "\n") + "\n\n")
}
