import NIOCore
import RESP

/// A connection's state that outlives its commands: a transaction being queued, watched keys,
/// subscriptions, client tracking, CLIENT REPLY's mode, how the connection takes a reply that
/// comes later (a served blocked client) and a pushed message, and its counters.
public struct Session: Sendable {
    /// Commands queued since MULTI; nil outside a transaction.
    var multiQueue: [CommandArguments]? = nil
    /// The flags of the commands queued since MULTI: CLIENT PAUSE WRITE holds an EXEC that
    /// would write, as Redis.
    var queuedFlags: CommandFlags = []
    /// ASKING: the next command may touch a slot this node imports.
    var asking = false
    /// READONLY: reads of a cluster replica are served here rather than redirected.
    var clusterReadOnly = false
    /// MONITOR was sent: the connection is one of the engine's monitors.
    var monitoring = false
    /// Set when a command was refused while queueing: EXEC then aborts.
    var multiFailed = false
    /// WATCHed keys and the versions they had.
    var watches: [(db: Int, key: [UInt8], version: UInt64)] = []
    /// Channels, patterns and shard channels this client is subscribed to.
    var channels = Set<[UInt8]>()
    var patterns = Set<[UInt8]>()
    var shardChannels = Set<[UInt8]>()
    var subscriber: Subscriber? = nil
    /// CLIENT TRACKING is on for this client; CLIENT CACHING YES/NO applies to the next command.
    var tracking = false
    var cachingOverride = false
    /// CLIENT REPLY's mode; only this connection's commands read or change it.
    public var replyMode: ReplyMode = .on
    /// Set by QUIT and CLIENT KILL of oneself: close once the replies are flushed.
    public var closeAfterReply = false
    /// How the connection takes a reply that arrives after the client blocked.
    public var onUnblock: (@Sendable (ByteBuffer) -> Void)? = nil
    /// How the connection takes a pushed message (pub/sub, invalidations) at any time.
    public var onPush: (@Sendable (ByteBuffer) -> Void)? = nil
    /// How the connection sends bytes outside its output buffer (a replica's RDB payload);
    /// the function given, if any, is called once the bytes are written or cannot be.
    public var onPayload: (@Sendable (ByteBuffer, (@Sendable () -> Void)?) -> Void)? = nil
    /// The sequence number of this client's last write in the AOF: its replies wait for it.
    public var aofSeq: UInt64 = 0
    /// The replication offset just after this client's last write (what WAIT waits for).
    var writeOffset: Int64 = 0
    /// Statistics counted by this connection and added to the shared ones once per read batch,
    /// so that commands on different cores do not fight over the same cache lines.
    public var counters = Counters()
    /// The user the connection is logged in as, the copy of it checks use, and the users'
    /// generation that copy is from (see ACL).
    var userName = "default"
    var user: ACLUserBox? = nil
    var aclGeneration: UInt64 = 0
    /// The user's rules must be checked for each command (it is not unrestricted).
    var aclRestricted = false
    /// The command and time last published to the client's info (see Engine.execute).
    var publishedCommand: CommandSpec? = nil
    var publishedAt: Int64 = 0

    public struct Counters: Sendable {
        var commands = 0, hits = 0, misses = 0, errors = 0
        public var netInput = 0, netOutput = 0
    }

    public init() {}

    var inMulti: Bool { multiQueue != nil }
    /// Whether the pubsub output limits apply to this client rather than the normal ones.
    public var subscribedForLimits: Bool { subscriptionCount > 0 }
    var subscriptionCount: Int { channels.count + patterns.count + shardChannels.count }
}

/// What the dispatcher found while taking a command's shard locks, so that the handler neither
/// hashes a key again nor locates its shard a second time.
struct LockCache: Sendable {
    /// A one-key command: which argument is the key, its shard's index and the key's hash.
    var oneKeyArgument = -1
    var oneKeyShardIndex = 0
    var oneKeyHash: UInt64? = nil
    /// A multi-key command: each key argument's shard index (-1 for other arguments).
    var argumentShards: [Int] = []
    /// The shard indexes to lock, kept between commands for its capacity.
    var shardScratch: [Int] = []
}
