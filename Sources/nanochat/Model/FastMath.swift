// exp for 8 floats at once: the soft cap, the cross-entropy and the attention softmax spend their time
// here. Range reduction x = n·ln2 + r (|r| ≤ ln2/2), a degree-6 Taylor polynomial for e^r, then 2^n put
// into the exponent bits. Relative error about 2e-7 (float's own rounding is 6e-8); inputs below -87
// give ~1e-38 instead of 0, which no softmax can tell apart.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

typealias F8 = SIMD8<Float>

@inline(__always)
func exp8(_ x: F8) -> F8 {
    let xc = pointwiseMin(pointwiseMax(x, F8(repeating: -87.0)), F8(repeating: 88.0))
    // n = round(x·log2 e) by the 1.5·2^23 trick: adding it leaves n in the low mantissa bits.
    let magic = F8(repeating: 12_582_912.0)
    let t = xc * 1.442695040888963 + magic
    let n = t - magic
    let r = xc - n * 0.693145751953125 - n * 1.428606765330187e-06  // ln2 split in two for accuracy
    var p = F8(repeating: 1.0 / 720)
    p = p * r + 1.0 / 120
    p = p * r + 1.0 / 24
    p = p * r + 1.0 / 6
    p = p * r + 0.5
    p = p * r + 1
    p = p * r + 1
    let ni = unsafeBitCast(t, to: SIMD8<UInt32>.self) &- unsafeBitCast(magic, to: SIMD8<UInt32>.self)
    let scale = unsafeBitCast((ni &+ 127) &<< 23, to: F8.self)
    return p * scale
}

@inline(__always) func load8(_ p: UnsafePointer<Float>) -> F8 { UnsafeRawPointer(p).loadUnaligned(as: F8.self) }
@inline(__always) func store8(_ p: UnsafeMutablePointer<Float>, _ v: F8) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: F8.self)
}

/// z[i] ← exp(z[i] - mx) for i < n; returns their sum.
@inline(__always)
func expShiftInPlace(_ z: UnsafeMutablePointer<Float>, _ n: Int, _ mx: Float) -> Float {
    var acc = F8(repeating: 0)
    let vm = F8(repeating: mx)
    var i = 0
    while i + 8 <= n {
        let e = exp8(load8(z + i) - vm)
        store8(z + i, e)
        acc += e
        i += 8
    }
    var s = acc.sum()
    while i < n {
        let e = expf(z[i] - mx)
        z[i] = e
        s += e
        i += 1
    }
    return s
}

/// tanh(x) = 1 - 2/(e^{2x} + 1): one expf, about twice as fast as tanhf here; absolute error ~1e-7.
@inline(__always) func tanhViaExp(_ x: Float) -> Float { 1 - 2 / (expf(2 * x) + 1) }
