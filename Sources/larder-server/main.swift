import ArgumentParser
import Dispatch
import Foundation
import Logging
import Engine
import Server
import CLarderSys

/// `larder-server [config-file] [--directive value ...]`, as redis-server takes its arguments:
/// any configuration directive may be given as a flag, and flags override the file.
struct LarderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "larder-server",
        abstract: "A Redis-compatible key-value server.",
        discussion: """
        Examples:
          larder-server
          larder-server /etc/larder.conf
          larder-server --port 6380 --maxmemory 1gb
          larder-server larder.conf --loglevel verbose
        Every redis.conf directive Larder knows can be given as --name value.
        """,
        version: "larder \(Version.larder) (redis \(Version.redis) compatible)")

    @Argument(parsing: .captureForPassthrough, help: "A config file, then --directive value pairs.")
    var arguments: [String] = []

    func run() throws {
        var args = arguments
        if args == ["--version"] || args == ["-v"] {
            // As redis-server's line, with Larder's own version first.
            print("Larder server v=\(Version.larder) redis=\(Version.redis) bits=\(MemoryLayout<Int>.size * 8)")
            return
        }
        var configFile: String? = nil
        if let first = args.first, !first.hasPrefix("--") {
            configFile = first
            args.removeFirst()
        }
        let config = Config(configFile: configFile.map { URL(fileURLWithPath: $0).path })
        do throws(ConfigError) {
            if let path = configFile {
                try ConfigFile.apply(try ConfigFile.load(path: path), to: config)
            }
            try ConfigFile.apply(try ConfigFile.directives(fromFlags: args), to: config)
        } catch {
            throw ValidationError("*** FATAL CONFIG FILE ERROR *** \(error.message)")
        }
        if config.int("memcached-db") >= config.int("databases") {
            throw ValidationError("*** FATAL CONFIG FILE ERROR *** memcached-db must be below databases (\(config.int("databases")))")
        }

        let level: Logger.Level = switch config.get("loglevel") {
        case "debug": .debug
        case "verbose": .info
        case "warning": .warning
        case "nothing": .critical
        default: .notice
        }
        // logfile: the log goes there (appended), as Redis's; "" is standard output.
        let logfile = config.get("logfile")
        if !logfile.isEmpty {
            guard larder_redirect_output(logfile) == 0 else {
                throw ValidationError("Can't open the log file: \(String(cString: strerror(errno)))")
            }
        }
        larder_line_buffer_stdout()
        larder_configure_malloc()
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardOutput(label: label)
            h.logLevel = level
            return h
        }
        let logger = Logger(label: "larder")
        for p in Config.parameters where p.noEffect && config.get(p.name) != p.defaultValue {
            logger.warning("\(p.name) is set, but has no effect in Larder")
        }

        let dir = config.get("dir")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        guard FileManager.default.changeCurrentDirectoryPath(dir) else {
            throw ValidationError("Can't chdir to '\(dir)'")
        }

        raiseFileLimit(config: config, logger: logger)
        let engine = Engine(config: config)
        do { try engine.loadUsersAtStart() } catch {
            logger.critical("\(error.message)")
            throw ExitCode(1)
        }
        let threads = config.int("threads") > 0 ? config.int("threads") : defaultEventLoops(cores: ProcessInfo.processInfo.activeProcessorCount)
        let server = LarderServer(engine: engine, threads: threads, logger: logger)
        logger.notice("Larder \(Version.larder) starting, \(threads) event loop(s), data in \(dir)")
        engine.setLogSink { logger.notice("\($0)") }
        do {
            if config.bool("appendonly") {
                let loaded = try engine.loadAppendOnly()
                logger.notice("DB loaded from append only file: \(String(format: "%.3f", Double(loaded.millis) / 1000)) seconds")
            } else if let loaded = try engine.loadSnapshot() {
                logger.notice("DB loaded from disk: \(String(format: "%.3f", Double(loaded.millis) / 1000)) seconds (\(loaded.keys) keys)")
            }
        } catch {
            logger.critical("Error loading \(config.bool("appendonly") ? config.get("appendfilename") : config.get("dbfilename")): \(error)")
            throw ExitCode(1)
        }
        do {
            try server.start()
        } catch ServerError.tls {
            logger.critical("\(ServerError.tls)")
            throw ExitCode(1)
        } catch {
            logger.critical("Failed listening on port \(config.get("port")) (tcp): \(error)")
            throw ExitCode(1)
        }
        engine.startReplication()

        // pidfile: written once listening, removed at exit, as Redis's.
        // (A relative path is from `dir`, where the server runs, as Redis's.)
        let pidfile = config.get("pidfile")
        if !pidfile.isEmpty && !FileManager.default.createFile(atPath: pidfile, contents: Data("\(getpid())\n".utf8)) {
            logger.warning("Failed to write PID file: \(String(cString: strerror(errno)))")
        }
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        let stopQueue = DispatchQueue(label: "larder.stop")
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT] {
            let s = DispatchSource.makeSignalSource(signal: sig, queue: stopQueue)
            s.setEventHandler { server.stop() }
            s.resume()
            sources.append(s)
        }
        engine.setShutdownHook { stopQueue.async { server.stop() } }
        server.waitUntilStopped()
        _ = sources
        if !pidfile.isEmpty { unlink(pidfile) }
    }
}

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

LarderCommand.main()

/// Event loops when `threads` is 0: one per core but one, left to the kernel's network work
/// and to clients on the same host, as Redis advises for `io-threads` (at least 4 cores,
/// one spare). On 2 cores a second loop competes with both: measured in bench/README.md,
/// one loop served more requests with a third of the p99.
func defaultEventLoops(cores: Int) -> Int {
    cores <= 3 ? 1 : cores - 1
}
