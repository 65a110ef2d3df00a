/// The random numbers of sampling (SPOP, SRANDMEMBER, RANDOMKEY, eviction, active expiry):
/// SplitMix64 seeded once from the system's generator.
///
/// Not SystemRandomNumberGenerator, for two reasons: on Linux each of its numbers is a
/// getrandom system call, and it is a zero-sized type, whose `inout` address Swift's
/// ThreadSanitizer instrumentation reads as garbage (the server crashed under TSan in
/// SPOP's `Int.random(in:using:)` depending on the stack's layout).
public struct RandomSource: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init() {
        var system = SystemRandomNumberGenerator()
        state = system.next()
    }

    /// A sequence that repeats: the same numbers for the same seed (benchmark loads).
    public init(seed: UInt64) { state = seed }

    /// SplitMix64's step between two states.
    public static let increment: UInt64 = 0x9E37_79B9_7F4A_7C15

    public mutating func next() -> UInt64 {
        state &+= Self.increment
        return Self.mix(state)
    }

    /// SplitMix64's output function: a state's random bits.
    @inline(__always) public static func mix(_ state: UInt64) -> UInt64 {
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
