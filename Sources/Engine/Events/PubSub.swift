import NIOCore
import Synchronization
import RESP
import Storage

/// A client that can receive pushed messages at any time (subscriptions, invalidations).
public final class Subscriber: Sendable {
    public let id: Int
    let resp3 = Atomic<Bool>(false)
    let deliver: @Sendable (ByteBuffer) -> Void
    /// Shard channels the server dropped (their slot left this node's shard), for the
    /// connection to take off its own list at its next (un)subscription or command; set
    /// `revoked` is the one load a subscribed connection pays for it.
    let revoked = Atomic<Bool>(false)
    let revokedShardChannels = Locked<[[UInt8]]>([])

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
    ///
    /// Delivered under the lock: a delivery only appends to a reply buffer or queues a task on
    /// the subscriber's loop, and takes no lock of the engine's. Copying the subscribers out
    /// first, and growing each framed message from an empty buffer, were half of PUBLISH's cost
    /// (callgrind: two allocations and two reallocations a message).
    public func publish<Message: Collection>(_ channel: [UInt8], _ message: Message, shard: Bool = false,
                                             publisher: Int = -1,
                                             toPublisher: (ByteBuffer) -> Void = { _ in }) -> Int
        where Message.Element == UInt8 {
        func send(_ s: Subscriber, _ bytes: ByteBuffer) {
            if s.id == publisher { toPublisher(bytes) } else { s.deliver(bytes) }
        }
        // A framed message's largest size, so that its buffer is allocated once: the header,
        // then each bulk string at most 25 bytes more than its payload ("pmessage" and
        // "smessage" are the longest kinds).
        let framedSize = 4 + (8 + 25) + (channel.count + 25) + (message.count + 25)
        return state.withLock { st in
            var delivered = 0
            if let subscribers = shard ? st.shardChannels[channel] : st.channels[channel] {
                // The message as RESP2 and as RESP3 subscribers read it, each framed once.
                var framed: (resp2: ByteBuffer?, resp3: ByteBuffer?) = (nil, nil)
                for s in subscribers.values {
                    let r3 = s.resp3.load(ordering: .relaxed)
                    if let bytes = r3 ? framed.resp3 : framed.resp2 {
                        send(s, bytes)
                        continue
                    }
                    var w = RESPWriter(buffer: Self.allocator.buffer(capacity: framedSize))
                    w.resp3 = r3
                    w.push(3)
                    w.bulk(shard ? "smessage" : "message")
                    w.bulk(channel)
                    w.bulk(message)
                    if r3 { framed.resp3 = w.buffer } else { framed.resp2 = w.buffer }
                    send(s, w.buffer)
                }
                delivered += subscribers.count
            }
            guard !shard else { return delivered }
            for (p, subscribers) in st.patterns where globMatch(p, channel) {
                for s in subscribers.values {
                    var w = RESPWriter(buffer: Self.allocator.buffer(capacity: framedSize + p.count + 25))
                    w.resp3 = s.resp3.load(ordering: .relaxed)
                    w.push(4)
                    w.bulk("pmessage")
                    w.bulk(p)
                    w.bulk(channel)
                    w.bulk(message)
                    send(s, w.buffer)
                }
                delivered += subscribers.count
            }
            return delivered
        }
    }

    private static let allocator = ByteBufferAllocator()

    /// Drops every subscription to a shard channel of these cluster slots, each subscriber told
    /// with an `sunsubscribe` message and its shard channels left, as Redis's
    /// removeChannelsInSlot when a slot leaves the node's shard. Returns the channels dropped.
    func dropShardChannels(inSlots slots: Set<Int>) -> Int {
        state.withLock { st in
            let gone = st.shardChannels.keys.filter { slots.contains(KeySlot.of($0[...])) }
            for channel in gone {
                guard let subscribers = st.shardChannels.removeValue(forKey: channel) else { continue }
                for s in subscribers.values {
                    let left = st.shardChannels.values.reduce(0) { $0 + ($1[s.id] != nil ? 1 : 0) }
                    var w = RESPWriter(buffer: Self.allocator.buffer(capacity: 64 + channel.count))
                    w.resp3 = s.resp3.load(ordering: .relaxed)
                    w.push(3)
                    w.bulk("sunsubscribe")
                    w.bulk(channel)
                    w.integer(left)
                    s.revokedShardChannels.withLock { $0.append(channel) }
                    s.revoked.store(true, ordering: .relaxed)
                    s.deliver(w.buffer)
                }
            }
            return gone.count
        }
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

    /// A client's channels, patterns and shard channels (ACL changes check them).
    func subscriptions(of id: Int) -> (channels: [[UInt8]], patterns: [[UInt8]], shardChannels: [[UInt8]]) {
        state.withLock { st in
            (st.channels.filter { $0.value[id] != nil }.map(\.key), st.patterns.filter { $0.value[id] != nil }.map(\.key),
             st.shardChannels.filter { $0.value[id] != nil }.map(\.key))
        }
    }

    var patternCount: Int { state.withLock { $0.patterns.count } }
    var channelCount: Int { state.withLock { $0.channels.count } }
    var shardChannelCount: Int { state.withLock { $0.shardChannels.count } }
}
