// Our own small PRNG, so a seed gives the same model on every platform (Foundation's generators differ).
// SplitMix64 (Steele, Lea, Flood 2014) for the bits; Box-Muller for normals.

struct RNG {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 24 bits, exactly representable as Float.
    mutating func uniform() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Uniform integer in 0..<n.
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    /// Standard normal (Box-Muller; uses two uniforms, returns one value).
    mutating func normal() -> Float {
        let u1 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        return Float((-2 * log(max(u1, 1e-300))).squareRoot() * cos(2 * Double.pi * u2))
    }
}

/// 0..<n in a seeded random order (Fisher-Yates): data loaders and the chat mixture shuffle with it.
func shuffledIndices(_ n: Int, seed: UInt64) -> [Int] {
    var rng = RNG(seed: seed)
    var order = Array(0..<n)
    for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, rng.int(i + 1)) }
    return order
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
