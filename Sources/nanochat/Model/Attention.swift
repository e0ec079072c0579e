// Causal multi-head self-attention with grouped-query heads (n_kv_head ≤ n_head), forward and backward.
// q, k are already rotated and RMS-normed; query head h reads kv head h / (NH/NKV). Each head is one task
// on one core: its two products through single-threaded sgemm, its softmax rows in between.
// Idea: llm.c's attention_forward/backward (softmax saved, no recomputation), plus GQA as in nanochat.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Dot product of two length-n vectors, 8 lanes at a time.
@inline(__always)
func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD8<Float>(repeating: 0)
    var i = 0
    while i + 8 <= n {
        acc +=
            UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
            * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
        i += 8
    }
    var s = acc.sum()
    while i < n {
        s += a[i] * b[i]
        i += 1
    }
    return s
}

/// y[0..<n] += alpha · x[0..<n]
@inline(__always)
func axpy(_ y: UnsafeMutablePointer<Float>, _ alpha: Float, _ x: UnsafePointer<Float>, _ n: Int) {
    var i = 0
    let a = SIMD8<Float>(repeating: alpha)
    while i + 8 <= n {
        let yp = UnsafeMutableRawPointer(y + i)
        yp.storeBytes(
            of: yp.loadUnaligned(as: SIMD8<Float>.self) + a
                * UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
        i += 8
    }
    while i < n {
        y[i] += alpha * x[i]
        i += 1
    }
}

/// y[b,t,h,:] = Σ_{t2≤t} softmax_t2(q[b,t,h]·k[b,t2,g] / sqrt(hs)) · v[b,t2,g], g = h / (NH/NKV).
/// Per (b, h), one task on one core: S = scale·Q·Kᵀ (sgemm; the masked upper triangle is computed and
/// then zeroed), a causal softmax over its rows, then Y = P·V (sgemm).
func attentionForward(
    _ y: UnsafeMutablePointer<Float>,  // (B, T, NH, hs)
    _ att: UnsafeMutablePointer<Float>,  // (B, NH, T, T) softmax, saved for backward
    _ q: UnsafePointer<Float>,  // (B, T, NH, hs)
    _ k: UnsafePointer<Float>,  // (B, T, NKV, hs)
    _ v: UnsafePointer<Float>,  // (B, T, NKV, hs)
    _ B: Int, _ T: Int, _ NH: Int, _ NKV: Int, _ hs: Int
) {
    let scale = 1 / Float(hs).squareRoot()
    let group = NH / NKV, C = NH * hs, KC = NKV * hs
    withBLASThreads(1) {
        parallelRanges(B * NH, minChunk: 1) { r0, r1 in
            for r in r0..<r1 {
                let b = r / NH, h = r % NH, g = h / group
                let P = att + r * T * T
                sgemm(
                    transA: false, transB: true, T, T, hs, alpha: scale, q + b * T * C + h * hs, lda: C,
                    k + b * T * KC + g * hs, ldb: KC, beta: 0, P, ldc: T)
                for t in 0..<T {
                    let row = P + t * T
                    var mx = -Float.infinity
                    for t2 in 0...t { mx = max(mx, row[t2]) }
                    let inv = 1 / expShiftInPlace(row, t + 1, mx)
                    for t2 in 0...t { row[t2] *= inv }
                    if t + 1 < T { (row + t + 1).update(repeating: 0, count: T - t - 1) }
                }
                sgemm(
                    transA: false, transB: false, T, hs, T, P, lda: T,
                    v + b * T * KC + g * hs, ldb: KC, beta: 0, y + b * T * C + h * hs, ldc: C)
            }
        }
    }
}

/// Adds into dq, dk, dv. With P = att: dv += Pᵀ·dy; dP = dy·vᵀ; dS = P∘(dP - rowsum(P∘dP))·scale;
/// dq += dS·k; dk += dSᵀ·q. `dAtt` (B, NH, T, T) is scratch for dP and dS. One task per (b, kv head),
/// so that no two threads add into the same dk/dv rows.
func attentionBackward(
    _ dq: UnsafeMutablePointer<Float>,  // (B, T, NH, hs)
    _ dk: UnsafeMutablePointer<Float>,  // (B, T, NKV, hs)
    _ dv: UnsafeMutablePointer<Float>,  // (B, T, NKV, hs)
    _ dAtt: UnsafeMutablePointer<Float>,  // (B, NH, T, T) scratch
    _ dy: UnsafePointer<Float>,  // (B, T, NH, hs)
    _ att: UnsafePointer<Float>,  // (B, NH, T, T)
    _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
    _ B: Int, _ T: Int, _ NH: Int, _ NKV: Int, _ hs: Int
) {
    let scale = 1 / Float(hs).squareRoot()
    let group = NH / NKV, C = NH * hs, KC = NKV * hs
    withBLASThreads(1) {
        parallelRanges(B * NKV, minChunk: 1) { r0, r1 in
            for r in r0..<r1 {
                let b = r / NKV, g = r % NKV
                let kb = k + b * T * KC + g * hs, vb = v + b * T * KC + g * hs
                let dkb = dk + b * T * KC + g * hs, dvb = dv + b * T * KC + g * hs
                for h in (g * group)..<((g + 1) * group) {
                    let P = att + (b * NH + h) * T * T, dS = dAtt + (b * NH + h) * T * T
                    let dyb = dy + b * T * C + h * hs
                    sgemm(transA: true, transB: false, T, hs, T, P, lda: T, dyb, ldb: C, beta: 1, dvb, ldc: KC)
                    sgemm(transA: false, transB: true, T, T, hs, dyb, lda: C, vb, ldb: KC, beta: 0, dS, ldc: T)
                    for t in 0..<T {
                        let p = P + t * T, d = dS + t * T
                        var rowDot: Float = 0
                        for t2 in 0...t { rowDot += p[t2] * d[t2] }
                        for t2 in 0...t { d[t2] = p[t2] * (d[t2] - rowDot) * scale }
                        if t + 1 < T { (d + t + 1).update(repeating: 0, count: T - t - 1) }
                    }
                    sgemm(
                        transA: false, transB: false, T, hs, T, dS, lda: T, kb, ldb: KC, beta: 1,
                        dq + b * T * C + h * hs, ldc: C)
                    sgemm(
                        transA: true, transB: false, T, hs, T, dS, lda: T, q + b * T * C + h * hs, ldb: C, beta: 1, dkb,
                        ldc: KC)
                }
            }
        }
    }
}

/// Attention of T new queries per row over a KV cache that already holds their keys and values
/// (positions 0 ..< pos0+T; query t sees 0 ... pos0+t): the decode and prefill path of `GPT.forward`.
/// One task per (b, h); `scores` is scratch of (B·NH, maxLen).
func cachedAttentionForward(
    _ y: UnsafeMutablePointer<Float>,  // (B, T, NH, hs)
    _ scores: UnsafeMutablePointer<Float>,  // (B·NH, maxLen) scratch
    _ q: UnsafePointer<Float>,  // (B, T, NH, hs)
    _ cache: KVCache, layer l: Int, pos0: Int,
    _ B: Int, _ T: Int, _ NH: Int, _ NKV: Int, _ hs: Int
) {
    let group = NH / NKV, scale = 1 / Float(hs).squareRoot()
    let C = NH * hs, KC = NKV * hs
    parallelRanges(B * NH, minChunk: 1) { r0, r1 in
        for r in r0..<r1 {
            let b = r / NH, h = r % NH
            let g = h / group  // query head h reads kv head g
            let keys = cache.keys(l, b) + g * hs, vals = cache.values(l, b) + g * hs
            let s = scores + r * cache.maxLen
            for t in 0..<T {
                let qt = q + (b * T + t) * C + h * hs
                let len = pos0 + t + 1
                var mx = -Float.infinity
                for t2 in 0..<len {
                    let x = dot(qt, keys + t2 * KC, hs) * scale
                    s[t2] = x
                    mx = max(mx, x)
                }
                let inv = 1 / expShiftInPlace(s, len, mx)
                let yt = y + (b * T + t) * C + h * hs
                yt.update(repeating: 0, count: hs)
                for t2 in 0..<len { axpy(yt, s[t2] * inv, vals + t2 * KC, hs) }
            }
        }
    }
}
