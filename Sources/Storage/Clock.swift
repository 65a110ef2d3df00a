#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock time in Unix milliseconds, as Redis's mstime().
@inline(__always) public func unixMillis() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

@inline(__always) public func unixMicros() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
}

/// Redis's 24-bit LRU clock: seconds, wrapping.
public let lruClockMax: UInt32 = (1 << 24) - 1
@inline(__always) public func lruClock(_ nowMs: Int64) -> UInt32 {
    UInt32(truncatingIfNeeded: nowMs / 1000) & lruClockMax
}

/// The access field of a key used now under an LRU policy: the 24-bit clock, and the
/// sixteenths of the second in the 4 bits above it (ties broken within a second).
@inline(__always) public func lruAccess(_ nowMs: Int64) -> UInt32 {
    lruClock(nowMs) | (UInt32(truncatingIfNeeded: (nowMs % 1000) * 16 / 1000) << 24)
}

/// Sixteenths of a second since `access` (an `lruAccess`), for ranking eviction candidates.
public func idleSixteenths(access: UInt32, nowMs: Int64) -> Int {
    let fraction = Int((access >> 24) & 0xF)
    let nowFraction = Int((nowMs % 1000) * 16 / 1000)
    return max(0, idleSeconds(access: access, nowMs: nowMs) * 16 + nowFraction - fraction)
}

/// Seconds since the LRU clock `access`, as OBJECT IDLETIME reports.
public func idleSeconds(access: UInt32, nowMs: Int64) -> Int {
    let now = lruClock(nowMs)
    let a = access & lruClockMax
    return Int(now >= a ? now - a : (lruClockMax - a) + now)
}
