import Foundation
import Logging
import Synchronization
import CLarderSys

/// Log lines as redis-server writes them, `pid:role dd Mon yyyy hh:mm:ss.mmm level message`
/// (role M for a primary, S for a replica; level `.` debug, `-` verbose, `*` notice, `#`
/// warning), so that tools and people that read Redis's logs read Larder's. To standard
/// output, which `logfile` redirects, and to syslog when `syslog-enabled`.
struct ServerLogHandler: LogHandler {
    /// Whether the server follows a primary now (set once the engine exists).
    static let isReplica = Mutex<(@Sendable () -> Bool)?>(nil)
    /// syslog-enabled: set once, before the first line.
    static let syslog = Atomic<Bool>(false)

    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        let rank = Self.rank(level)
        let role: Character = Self.isReplica.withLock { $0?() ?? false } ? "S" : "M"
        let text = "\(getpid()):\(role) \(Self.timestamp()) \(Self.marks[rank]) \(message)\n"
        larder_write_stdout(text)
        if Self.syslog.load(ordering: .relaxed) { larder_syslog(Int32(rank), "\(message)") }
    }

    private static let marks: [Character] = [".", "-", "*", "#"]

    /// swift-log's levels on Redis's four: debug, verbose, notice, warning.
    static func rank(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 0
        case .info: 1
        case .notice: 2
        case .warning, .error, .critical: 3
        }
    }

    /// Redis's loglevel on swift-log's: what the handler lets through.
    static func level(_ loglevel: String) -> Logger.Level {
        switch loglevel {
        case "debug": .debug
        case "verbose": .info
        case "warning": .warning
        case "nothing": .critical
        default: .notice
        }
    }

    /// "04 Dec 2026 10:00:51.123", local time.
    static func timestamp() -> String {
        var tv = timeval()
        gettimeofday(&tv, nil)
        var t = time_t(tv.tv_sec)
        var parts = tm()
        localtime_r(&t, &parts)
        var buf = [CChar](repeating: 0, count: 64)
        let n = strftime(&buf, buf.count, "%d %b %Y %H:%M:%S.", &parts)
        let ms = Int(tv.tv_usec) / 1000
        return String(decoding: buf[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            + (ms < 10 ? "00" : ms < 100 ? "0" : "") + String(ms)
    }
}
