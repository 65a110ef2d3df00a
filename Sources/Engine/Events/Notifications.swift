import NIOCore
import Synchronization
import Storage

/// Keyspace notification classes, the letters of `notify-keyspace-events`.
public struct NotifyClass: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    public static let keyspace = NotifyClass(rawValue: 1 << 0)   // K
    public static let keyevent = NotifyClass(rawValue: 1 << 1)   // E
    public static let generic = NotifyClass(rawValue: 1 << 2)    // g
    public static let string = NotifyClass(rawValue: 1 << 3)     // $
    public static let list = NotifyClass(rawValue: 1 << 4)       // l
    public static let set = NotifyClass(rawValue: 1 << 5)        // s
    public static let hash = NotifyClass(rawValue: 1 << 6)       // h
    public static let zset = NotifyClass(rawValue: 1 << 7)       // z
    public static let expired = NotifyClass(rawValue: 1 << 8)    // x
    public static let evicted = NotifyClass(rawValue: 1 << 9)    // e
    public static let stream = NotifyClass(rawValue: 1 << 10)    // t
    public static let keyMiss = NotifyClass(rawValue: 1 << 11)   // m
    public static let module = NotifyClass(rawValue: 1 << 12)    // d
    public static let new = NotifyClass(rawValue: 1 << 13)       // n
    /// "A": every type class, not K, E, m or n.
    public static let all: NotifyClass = [.generic, .string, .list, .set, .hash, .zset, .expired, .evicted, .stream, .module]

    static let letters: [(Character, NotifyClass)] = [
        ("g", .generic), ("$", .string), ("l", .list), ("s", .set), ("h", .hash), ("z", .zset), ("x", .expired),
        ("e", .evicted), ("t", .stream), ("d", .module), ("n", .new),
    ]

    /// Parses the letters as Redis's keyspaceEventsStringToFlags; nil on an unknown letter.
    public static func parse(_ s: String) -> NotifyClass? {
        var f: NotifyClass = []
        for ch in s {
            switch ch {
            case "A": f.formUnion(.all)
            case "K": f.insert(.keyspace)
            case "E": f.insert(.keyevent)
            case "m": f.insert(.keyMiss)
            default:
                guard let c = letters.first(where: { $0.0 == ch })?.1 else { return nil }
                f.insert(c)
            }
        }
        return f
    }

    /// Canonical letters, as CONFIG GET prints them.
    public var text: String {
        var s = ""
        if isSuperset(of: .all) { s = "A" } else { for (ch, c) in Self.letters where contains(c) { s.append(ch) } }
        if contains(.keyspace) { s += "K" }
        if contains(.keyevent) { s += "E" }
        if contains(.keyMiss) { s += "m" }
        return s
    }
}

extension Engine {
    /// Publishes a keyspace event if the configuration asks for its class.
    /// `publisher` and `toPublisher` as in PubSub.publish: the client whose command caused the
    /// event gets its own copy ahead of the command's reply.
    public func notify(_ type: NotifyClass, _ event: String, _ key: [UInt8], db: Int,
                       publisher: Int = -1, toPublisher: (ByteBuffer) -> Void = { _ in }) {
        let flags = NotifyClass(rawValue: settings.notifyFlags.load(ordering: .relaxed))
        guard !flags.isDisjoint(with: type), !flags.isDisjoint(with: [.keyspace, .keyevent]) else { return }
        if flags.contains(.keyspace) {
            _ = pubsub.publish(Array("__keyspace@\(db)__:".utf8) + key, Array(event.utf8),
                               publisher: publisher, toPublisher: toPublisher)
        }
        if flags.contains(.keyevent) {
            _ = pubsub.publish(Array("__keyevent@\(db)__:\(event)".utf8), key,
                               publisher: publisher, toPublisher: toPublisher)
        }
    }

    var notificationsOn: Bool { settings.notifyFlags.load(ordering: .relaxed) != 0 }
}

extension CommandContext {
    /// Publishes a keyspace event for argument `i`'s key in this client's database.
    public mutating func notify(_ type: NotifyClass, _ event: String, _ i: Int) {
        guard engine.notificationsOn else { return }   // before the key's copy
        notify(type, event, key: args.owned(i))
    }

    public mutating func notify(_ type: NotifyClass, _ event: String, key: [UInt8], db: Int? = nil) {
        guard engine.notificationsOn else { return }
        engine.notify(type, event, key, db: db ?? dbIndex, publisher: client.id) { out.buffer.writeImmutableBuffer($0) }
    }

    /// The "del" event of a collection emptied by a command, as Redis sends after the command's own.
    public mutating func notifyIfDeleted(_ shard: Shard, _ i: Int) {
        guard engine.notificationsOn else { return }
        if shard.find(args[i], now: lookupNow) == nil { notify(.generic, "del", i) }
    }
}
