import NIOCore
import Synchronization
import RESP
import Storage

/// A client that can receive pushed messages at any time (subscriptions, invalidations).
public final class Subscriber: Sendable {
    public let id: Int
    let resp3 = Atomic<Bool>(false)
    let deliver: @Sendable (ByteBuffer) -> Void

    init(id: Int, deliver: @escaping @Sendable (ByteBuffer) -> Void) {
        self.id = id
        self.deliver = deliver
    }
}

/// Who listens to what: channels, patterns and shard channels, for PUBLISH and PUBSUB.
/// Its lock may be taken under shard locks (keyspace notifications), never the reverse.
public final class PubSub: Sendable {
    enum Kind { case channel, pattern, shard }

    struct State {
        var channels: [[UInt8]: [Int: Subscriber]] = [:]
        var patterns: [[UInt8]: [Int: Subscriber]] = [:]
        var shardChannels: [[UInt8]: [Int: Subscriber]] = [:]
    }

    private let state = Locked(State())

    public init() {}

    func add(_ kind: Kind, _ name: [UInt8], _ s: Subscriber) {
        state.withLock { st in
            switch kind {
            case .channel: st.channels[name, default: [:]][s.id] = s
            case .pattern: st.patterns[name, default: [:]][s.id] = s
            case .shard: st.shardChannels[name, default: [:]][s.id] = s
            }
        }
    }

    func remove(_ kind: Kind, _ name: [UInt8], _ id: Int) {
        func drop(_ m: inout [[UInt8]: [Int: Subscriber]]) {
            m[name]?[id] = nil
            if m[name]?.isEmpty == true { m[name] = nil }
        }
        state.withLock { st in
            switch kind {
            case .channel: drop(&st.channels)
            case .pattern: drop(&st.patterns)
            case .shard: drop(&st.shardChannels)
            }
        }
    }

    /// Sends `message` on `channel`; returns how many clients received it.
    /// The publishing client's own copy (`publisher`, a client id) goes to `toPublisher` at
    /// once, into the reply being written, as Redis adds it to the client's buffer ahead of the
    /// command's reply; the others are delivered through their connections.
    public func publish(_ channel: [UInt8], _ message: [UInt8], shard: Bool = false,
                        publisher: Int = -1, toPublisher: (ByteBuffer) -> Void = { _ in }) -> Int {
        func send(_ s: Subscriber, _ bytes: ByteBuffer) {
            if s.id == publisher { toPublisher(bytes) } else { s.deliver(bytes) }
        }
        let (direct, matched): ([Subscriber], [([UInt8], Subscriber)]) = state.withLock { st in
            if shard { return (Array((st.shardChannels[channel] ?? [:]).values), []) }
            let d = Array((st.channels[channel] ?? [:]).values)
            var m: [([UInt8], Subscriber)] = []
            for (p, subs) in st.patterns where globMatch(p, channel) {
                for s in subs.values { m.append((p, s)) }
            }
            return (d, m)
        }
        // The message as RESP2 and as RESP3 subscribers read it, each framed once.
        var framed: (resp2: ByteBuffer?, resp3: ByteBuffer?) = (nil, nil)
        for s in direct {
            let r3 = s.resp3.load(ordering: .relaxed)
            if let bytes = r3 ? framed.resp3 : framed.resp2 {
                send(s, bytes)
                continue
            }
            var w = RESPWriter(buffer: ByteBuffer())
            w.resp3 = r3
            w.push(3)
            w.bulk(shard ? "smessage" : "message")
            w.bulk(channel)
            w.bulk(message)
            if r3 { framed.resp3 = w.buffer } else { framed.resp2 = w.buffer }
            send(s, w.buffer)
        }
        for (p, s) in matched {
            var w = RESPWriter(buffer: ByteBuffer())
            w.resp3 = s.resp3.load(ordering: .relaxed)
            w.push(4)
            w.bulk("pmessage")
            w.bulk(p)
            w.bulk(channel)
            w.bulk(message)
            send(s, w.buffer)
        }
        return direct.count + matched.count
    }

    func channels(matching pattern: [UInt8]?, shard: Bool) -> [[UInt8]] {
        state.withLock { st in
            Array((shard ? st.shardChannels : st.channels).keys).filter { pattern == nil || globMatch(pattern!, $0) }
        }
    }

    func subscriberCount(_ channel: [UInt8], shard: Bool) -> Int {
        state.withLock { (shard ? $0.shardChannels : $0.channels)[channel]?.count ?? 0 }
    }

    func isSubscribed(_ id: Int, _ channel: [UInt8]) -> Bool {
        state.withLock { $0.channels[channel]?[id] != nil }
    }

    var patternCount: Int { state.withLock { $0.patterns.count } }
    var channelCount: Int { state.withLock { $0.channels.count } }
}
