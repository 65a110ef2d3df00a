import Dispatch
import Foundation
import Logging
import Engine
import Server
import CLarderSys

/// `larder-server [config-file] [--directive value ...] [-]`, as redis-server takes its
/// arguments: any configuration directive may be given as a flag, flags override the file,
/// and `-` reads more directives from standard input (after the file, before the flags).

// Top-level code runs on the main actor; the server's closures run on Dispatch's and NIO's
// threads, so the start lives in a plain function.
runLarder()

func runLarder() -> Never {
    let usage = """
    Usage: ./larder-server [/path/to/larder.conf] [options] [-]
           ./larder-server - (read config from stdin)
           ./larder-server -v or --version
           ./larder-server -h or --help

    Examples:
           ./larder-server (run the server with default conf)
           echo 'maxmemory 128mb' | ./larder-server -
           ./larder-server /etc/larder/larder.conf
           ./larder-server --port 7777
           ./larder-server --port 7777 --replicaof 127.0.0.1 8888
           ./larder-server /etc/mylarder.conf --loglevel verbose -
           ./larder-server /etc/mylarder.conf --loglevel verbose

    Every redis.conf directive can be given as --name value (see the README).

    """

    func fatal(_ message: String) -> Never {
        larder_write_stderr(message + "\n")
        exit(1)
    }

    var args = Array(CommandLine.arguments.dropFirst())
    if args == ["-v"] || args == ["--version"] {
        // As redis-server's line, with Larder's own version first.
        print("Larder server v=\(Version.larder) redis=\(Version.redis) bits=\(MemoryLayout<Int>.size * 8)")
        exit(0)
    }
    if args == ["-h"] || args == ["--help"] {
        larder_write_stderr(usage)
        exit(1)
    }
    var configFile: String? = nil
    if let first = args.first, !first.hasPrefix("-") {
        configFile = first
        args.removeFirst()
    }
    let fromStdin = args.last == "-"
    if fromStdin { args.removeLast() }

    let config = Config(configFile: configFile.map { URL(fileURLWithPath: $0).path })
    do throws(ConfigError) {
        if let path = configFile {
            try ConfigFile.apply(try ConfigFile.load(path: path), to: config)
        }
        if fromStdin {
            var text = ""
            while let line = readLine(strippingNewline: false) { text += line }
            try ConfigFile.apply(try ConfigFile.parse(text), to: config)
        }
        try ConfigFile.apply(try ConfigFile.directives(fromFlags: args), to: config)
        if config.int("memcached-db") >= config.int("databases") {
            throw ConfigError(message: "memcached-db must be below databases (\(config.int("databases")))")
        }
    } catch {
        fatal("\n*** FATAL CONFIG FILE ERROR (Larder \(Version.larder)) ***\n\(error.message)")
    }

    // Supervised by systemd or upstart, the server stays in the foreground, as Redis's.
    let supervisor = Service.supervisor(config)
    let background = config.bool("daemonize") && supervisor == nil
    if background { larder_daemonize() }
    Service.prepareTitle(config)

    // The server runs in `dir`: relative paths (logfile, pidfile, the data files) are from
    // there, as Redis's.
    let dir = config.get("dir")
    do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
        fatal("Can't create the directory '\(dir)': \(error)")
    }
    guard FileManager.default.changeCurrentDirectoryPath(dir) else { fatal("Can't chdir to '\(dir)': \(String(cString: strerror(errno)))") }
    // logfile: the log goes there (appended), as Redis's; "" is standard output (/dev/null
    // once daemonized).
    let logfile = config.get("logfile")
    if !logfile.isEmpty && larder_redirect_output(logfile) != 0 {
        fatal("Can't open the log file: \(String(cString: strerror(errno)))")
    }
    larder_line_buffer_stdout()
    larder_configure_malloc()
    if config.bool("syslog-enabled") {
        let facilities = ["user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"]
        larder_openlog(config.get("syslog-ident"), Int32(facilities.firstIndex(of: config.get("syslog-facility")) ?? 1))
        ServerLogHandler.syslog.store(true, ordering: .relaxed)
    }
    let level = ServerLogHandler.level(config.get("loglevel"))
    LoggingSystem.bootstrap { _ in ServerLogHandler(logLevel: level) }
    let logger = Logger(label: "larder")

    logger.warning("oO0OoO0OoO0Oo Larder is starting oO0OoO0OoO0Oo")
    logger.warning("Larder version=\(Version.larder), redis=\(Version.redis), bits=\(MemoryLayout<Int>.size * 8), pid=\(getpid()), just started")
    if let file = configFile {
        logger.warning("Configuration loaded from \(file)")
    } else {
        logger.warning("Warning: no config file specified, using the default config. In order to specify a config file use \(CommandLine.arguments[0]) /path/to/larder.conf")
    }
    switch supervisor {
    case .systemd: logger.notice("supervised by systemd. Please make sure you set appropriate values for TimeoutStartSec and TimeoutStopSec in your service unit.")
    case .upstart: logger.notice("supervised by upstart, will stop to signal readiness.")
    case nil: break
    }
    for p in Config.parameters where p.noEffect && config.get(p.name) != p.defaultValue {
        logger.warning("\(p.name) is set, but has no effect in Larder")
    }
    if config.bool("disable-thp") && larder_disable_thp() != 0 {
        logger.warning("Failed to disable transparent huge pages for this process: \(String(cString: strerror(errno)))")
    }


    raiseFileLimit(config: config, logger: logger)
    let engine = Engine(config: config)
    ServerLogHandler.isReplica.withLock { $0 = { engine.isReplica } }
    do { try engine.loadUsersAtStart() } catch {
        logger.critical("\(error.message)")
        exit(1)
    }
    engine.setLogSink { logger.notice("\($0)") }
    do { try engine.loadCluster() } catch {
        logger.warning("\(error.message)")
        exit(1)
    }
    let threads = eventLoops(config, cores: ProcessInfo.processInfo.activeProcessorCount)
    let server = LarderServer(engine: engine, threads: threads, logger: logger)
    showLogo(config, threads: threads, logger: logger)
    logger.warning("Server initialized")
    do {
        if config.bool("appendonly") {
            let loaded = try engine.loadAppendOnly()
            logger.notice("DB loaded from append only file: \(String(format: "%.3f", Double(loaded.millis) / 1000)) seconds")
        } else if let loaded = try engine.loadSnapshot() {
            logger.notice("DB loaded from disk: \(String(format: "%.3f", Double(loaded.millis) / 1000)) seconds (\(loaded.keys) keys)")
        }
    } catch {
        logger.warning("Error loading \(config.bool("appendonly") ? config.get("appendfilename") : config.get("dbfilename")): \(error)")
        exit(1)
    }
    do {
        try server.start()
    } catch ServerError.tls {
        logger.warning("\(ServerError.tls)")
        exit(1)
    } catch {
        logger.warning("Failed listening on port \(config.get("port")) (tcp): \(error)")
        exit(1)
    }
    do { try engine.startClusterBus() } catch {
        logger.warning("\(error.message)")
        exit(1)
    }
    engine.setProcessHook { () throws(ConfigError) in
        try Service.applyOOMScore(config, replica: engine.isReplica)
        Service.setTitle(config)
    }
    do { try Service.applyOOMScore(config, replica: false) } catch { logger.warning("\(error.message)") }
    Service.setTitle(config)
    engine.startReplication()

    // pidfile: written once listening, removed at exit, as Redis's; a daemon without one writes
    // /var/run/larder.pid.
    let pidfile = config.get("pidfile").isEmpty && background ? "/var/run/larder.pid" : config.get("pidfile")
    if !pidfile.isEmpty && !FileManager.default.createFile(atPath: pidfile, contents: Data("\(getpid())\n".utf8)) {
        logger.warning("Failed to write PID file: \(String(cString: strerror(errno)))")
    }
    Service.ready(supervisor, logger: logger)

    // SIGTERM and SIGINT stop the server as SHUTDOWN does, with shutdown-on-sigterm's and
    // shutdown-on-sigint's flags; when that fails (the final save, without force) it goes on.
    signal(SIGTERM, SIG_IGN)
    signal(SIGINT, SIG_IGN)
    signal(SIGPIPE, SIG_IGN)
    let stopQueue = DispatchQueue(label: "larder.stop")
    var sources: [DispatchSourceSignal] = []
    for (sig, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
        let s = DispatchSource.makeSignalSource(signal: sig, queue: stopQueue)
        s.setEventHandler {
            logger.warning("Received \(name) scheduling shutdown...")
            let flags = ShutdownFlags(words: config.get(sig == SIGTERM ? "shutdown-on-sigterm" : "shutdown-on-sigint"))
            engine.requestShutdown(flags) {
                logger.warning("\(name) received but errors trying to shut down the server, check the logs for more information")
            }
        }
        s.resume()
        sources.append(s)
    }
    engine.setShutdownHook { stopQueue.async { Service.stopping(supervisor); server.stop() } }
    server.waitUntilStopped()
    if !pidfile.isEmpty {
        logger.notice("Removing the pid file.")
        unlink(pidfile)
    }
    logger.warning("Larder is now ready to exit, bye bye...")
    exit(0)
}
