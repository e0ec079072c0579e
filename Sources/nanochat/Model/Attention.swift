// Causal multi-head self-attention with grouped-query heads (n_kv_head ≤ n_head), forward and backward.
// q, k are already rotated and RMS-normed; query head h reads kv head h / (NH/NKV). Each head is one task
// on one core: its products through single-threaded sgemm, per block of query rows so that the masked
// half is (mostly) never computed, its softmax rows in between.
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

/// out[0..<n] = a · x[0..<n] (out may alias x).
@inline(__always)
func scaleVector(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ a: Float, _ n: Int) {
    var i = 0
    let va = SIMD8<Float>(repeating: a)
    while i + 8 <= n {
        UnsafeMutableRawPointer(out + i).storeBytes(
            of: va * UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
        i += 8
    }
    while i < n {
        out[i] = a * x[i]
        i += 1
    }
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

/// The causal mask's row blocks: queries r0 ..< r1 see keys 0 ..< r1 only, so each block's products skip
/// the keys after it. Blocks of 64 rows leave (1+2+3+4)/16 = 62.5% of the full T×T work at T = 256.
func causalBlocks(_ T: Int, size: Int = 64) -> [(Int, Int)] {
    stride(from: 0, to: T, by: size).map { ($0, min($0 + size, T)) }
}

/// y[b,t,h,:] = Σ_{t2≤t} softmax_t2(q[b,t,h]·k[b,t2,g] / sqrt(hs)) · v[b,t2,g], g = h / (NH/NKV).
/// Per (b, h), one task on one core; per block of query rows (`causalBlocks`): S = scale·Q·Kᵀ over the
/// keys up to the block's end (sgemm), a causal softmax over its rows (the rest of each row zeroed), then
/// Y = P·V (sgemm).
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
    let blocks = causalBlocks(T)
    withBLASThreads(1) {
        parallelRanges(B * NH, minChunk: 1) { r0, r1 in
            for r in r0..<r1 {
                let b = r / NH, h = r % NH, g = h / group
                let P = att + r * T * T
                let qb = q + b * T * C + h * hs, kb = k + b * T * KC + g * hs, vb = v + b * T * KC + g * hs
                for (t0, t1) in blocks {
                    sgemm(
                        transA: false, transB: true, t1 - t0, t1, hs, alpha: scale, qb + t0 * C, lda: C, kb, ldb: KC,
                        beta: 0, P + t0 * T, ldc: T)
                    for t in t0..<t1 {
                        let row = P + t * T
                        let inv = 1 / expShiftInPlace(row, t + 1, rowMax(row, t + 1))
                        scaleVector(row, row, inv, t + 1)
                        if t + 1 < T { (row + t + 1).update(repeating: 0, count: T - t - 1) }
                    }
                    sgemm(
                        transA: false, transB: false, t1 - t0, hs, t1, P + t0 * T, lda: T, vb, ldb: KC, beta: 0,
                        y + b * T * C + h * hs + t0 * C, ldc: C)
                }
            }
        }
    }
}

/// d[i] = p[i] · (d[i] − rowDot) · scale for i < n: a softmax row's backward, in place on dP.
@inline(__always)
func softmaxRowBackward(
    _ d: UnsafeMutablePointer<Float>, _ p: UnsafePointer<Float>, _ rowDot: Float, _ scale: Float, _ n: Int
) {
    var i = 0
    let vr = F8(repeating: rowDot), vs = F8(repeating: scale)
    while i + 8 <= n {
        store8(d + i, load8(p + i) * (load8(d + i) - vr) * vs)
        i += 8
    }
    while i < n {
        d[i] = p[i] * (d[i] - rowDot) * scale
        i += 1
    }
}

/// Adds into dq, dk, dv. With P = att: dv += Pᵀ·dy; dP = dy·vᵀ; dS = P∘(dP - rowsum(P∘dP))·scale;
/// dq += dS·k; dk += dSᵀ·q, each product per block of rows over the keys the block sees (`causalBlocks`). `dAtt` (B, NH, T, T) is scratch for dP and dS. One task per (b, kv head),
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
    let blocks = causalBlocks(T)
    withBLASThreads(1) {
        parallelRanges(B * NKV, minChunk: 1) { r0, r1 in
            for r in r0..<r1 {
                let b = r / NKV, g = r % NKV
                let kb = k + b * T * KC + g * hs, vb = v + b * T * KC + g * hs
                let dkb = dk + b * T * KC + g * hs, dvb = dv + b * T * KC + g * hs
                for h in (g * group)..<((g + 1) * group) {
                    let P = att + (b * NH + h) * T * T, dS = dAtt + (b * NH + h) * T * T
                    let dyb = dy + b * T * C + h * hs, qb = q + b * T * C + h * hs, dqb = dq + b * T * C + h * hs
                    for (t0, t1) in blocks {  // rows t0 ..< t1 of P and dS, over keys 0 ..< t1
                        let n = t1 - t0, Pb = P + t0 * T, dSb = dS + t0 * T
                        sgemm(
                            transA: true, transB: false, t1, hs, n, Pb, lda: T, dyb + t0 * C, ldb: C, beta: 1, dvb,
                            ldc: KC)
                        sgemm(
                            transA: false, transB: true, n, t1, hs, dyb + t0 * C, lda: C, vb, ldb: KC, beta: 0, dSb,
                            ldc: T)
                        for t in t0..<t1 {
                            let p = P + t * T, d = dS + t * T
                            softmaxRowBackward(d, p, dot(p, d, t + 1), scale, t + 1)
                            if t + 1 < T { (d + t + 1).update(repeating: 0, count: T - t - 1) }
                        }
                        sgemm(
                            transA: false, transB: false, n, hs, t1, dSb, lda: T, kb, ldb: KC, beta: 1, dqb + t0 * C,
                            ldc: C)
                        sgemm(
                            transA: true, transB: false, t1, hs, n, dSb, lda: T, qb + t0 * C, ldb: C, beta: 1, dkb,
                            ldc: KC)
                    }
                }
            }
        }
    }
}

/// Attention of T new queries per row over a KV cache that already holds their keys and values
/// (positions 0 ..< pos0+T; query t sees 0 ... pos0+t): the decode and prefill path of `GPT.forward`.
/// One task per (b, h), spread over the cores only when there is enough work to pay for waking them
/// (one stream's decode step runs on the caller's core). `scores` is scratch of (B·NH, maxLen).
func cachedAttentionForward(
    _ y: UnsafeMutablePointer<Float>,  // (B, T, NH, hs)
    _ scores: UnsafeMutablePointer<Float>,  // (B·NH, maxLen) scratch
    _ q: UnsafePointer<Float>,  // (B, T, NH, hs)
    _ cache: KVCache, layer l: Int, pos0: Int,
    _ B: Int, _ T: Int, _ NH: Int, _ NKV: Int, _ hs: Int
) {
    let group = NH / NKV, scale = 1 / Float(hs).squareRoot()
    let C = NH * hs
    let perTask = T * (pos0 + T)  // query-key pairs of one (b, h), about
    parallelRanges(B * NH, minChunk: max(1, 2048 / perTask)) { r0, r1 in
        for r in r0..<r1 {
            let b = r / NH, h = r % NH
            let g = h / group  // query head h reads kv head g
            let keys = cache.keys(l, b, g), vals = cache.values(l, b, g)
            let s = scores + r * cache.maxLen
            for t in 0..<T {
                let qt = q + (b * T + t) * C + h * hs
                let len = pos0 + t + 1
                var mx = -Float.infinity
                for t2 in 0..<len {
                    let x = dot(qt, keys + t2 * hs, hs) * scale
                    s[t2] = x
                    mx = max(mx, x)
                }
                let inv = 1 / expShiftInPlace(s, len, mx)
                let yt = y + (b * T + t) * C + h * hs
                yt.update(repeating: 0, count: hs)
                for t2 in 0..<len { axpy(yt, s[t2] * inv, vals + t2 * hs, hs) }
            }
        }
    }
}
