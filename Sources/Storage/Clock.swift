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

/// Seconds since the LRU clock `access`, as OBJECT IDLETIME reports.
public func idleSeconds(access: UInt32, nowMs: Int64) -> Int {
    let now = lruClock(nowMs)
    let a = access & lruClockMax
    return Int(now >= a ? now - a : (lruClockMax - a) + now)
}
