import Synchronization

/// The 24-bit access field of an entry, as Redis's `lru` field: under an LRU policy the LRU
/// clock (seconds); under an LFU policy the minutes of the last decrement (16 bits) and a
/// logarithmic access counter (8 bits).
public struct AccessPolicy: Sendable {
    public var lfu = false
    public var logFactor = 10
    public var decayMinutes = 1

    public init(lfu: Bool = false, logFactor: Int = 10, decayMinutes: Int = 1) {
        self.lfu = lfu
        self.logFactor = logFactor
        self.decayMinutes = decayMinutes
    }

    static let lfuInitialCounter: UInt32 = 5

    /// Random bits for the counter's coin flips: one SplitMix64 sequence shared by all
    /// threads, one atomic add per read of a key. The system generator would make a
    /// getrandom system call each time.
    private static let coinState = Atomic<UInt64>(UInt64(bitPattern: unixMillis()) &* RandomSource.increment)

    @inline(__always) static func coin() -> UInt64 {
        RandomSource.mix(coinState.wrappingAdd(RandomSource.increment, ordering: .relaxed).newValue)
    }

    @inline(__always) public static func minutes(_ nowMs: Int64) -> UInt32 {
        UInt32(truncatingIfNeeded: nowMs / 60_000) & 0xFFFF
    }

    /// The access field of a key just created.
    @inline(__always) public func initial(now: Int64) -> UInt32 {
        lfu ? (Self.minutes(now) << 8) | Self.lfuInitialCounter : lruAccess(now)
    }

    /// The access field after a read or write of the key.
    @inline(__always) public func touched(_ old: UInt32, now: Int64) -> UInt32 {
        guard lfu else { return lruAccess(now) }
        var counter = decayedCounter(old, now: now)
        if counter < 255 {
            let base = Double(max(0, Int(counter) - Int(Self.lfuInitialCounter)))
            let p = 1.0 / (base * Double(logFactor) + 1)
            if Double(Self.coin() >> 11) * 0x1p-53 < p { counter += 1 }
        }
        return (Self.minutes(now) << 8) | UInt32(counter)
    }

    /// The LFU counter with Redis's decay applied: one off per `lfu-decay-time` minutes idle.
    public func decayedCounter(_ access: UInt32, now: Int64) -> UInt8 {
        let ldt = (access >> 8) & 0xFFFF
        let counter = Int(access & 0xFF)
        let nowMin = Self.minutes(now)
        let elapsed = Int(nowMin >= ldt ? nowMin - ldt : 65535 - ldt + nowMin)
        let periods = decayMinutes > 0 ? elapsed / decayMinutes : 0
        return UInt8(periods > counter ? 0 : counter - periods)
    }
}
