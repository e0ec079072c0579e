// Causal multi-head self-attention with grouped-query heads (n_kv_head ≤ n_head), forward and backward.
// q, k are already rotated and RMS-normed; query head h reads kv head h / (NH/NKV). Work is split over
// (batch, kv head) so that the threads of the backward pass never write the same dk/dv rows.
// Idea: llm.c's attention_forward/backward (softmax saved, recomputation-free), plus GQA as in nanochat.

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
        acc += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self) * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
        i += 8
    }
    var s = acc.sum()
    while i < n { s += a[i] * b[i]; i += 1 }
    return s
}

/// y[0..<n] += alpha · x[0..<n]
@inline(__always)
func axpy(_ y: UnsafeMutablePointer<Float>, _ alpha: Float, _ x: UnsafePointer<Float>, _ n: Int) {
    var i = 0
    let a = SIMD8<Float>(repeating: alpha)
    while i + 8 <= n {
        let yp = UnsafeMutableRawPointer(y + i)
        yp.storeBytes(of: yp.loadUnaligned(as: SIMD8<Float>.self) + a * UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
        i += 8
    }
    while i < n { y[i] += alpha * x[i]; i += 1 }
}

/// y[b,t,h,:] = Σ_{t2≤t} softmax_t2(q[b,t,h]·k[b,t2,g] / sqrt(hs)) · v[b,t2,g], g = h / (NH/NKV).
func attentionForward(_ y: UnsafeMutablePointer<Float>,      // (B, T, NH, hs)
                      _ att: UnsafeMutablePointer<Float>,    // (B, NH, T, T) softmax, saved for backward
                      _ q: UnsafePointer<Float>,             // (B, T, NH, hs)
                      _ k: UnsafePointer<Float>,             // (B, T, NKV, hs)
                      _ v: UnsafePointer<Float>,             // (B, T, NKV, hs)
                      _ B: Int, _ T: Int, _ NH: Int, _ NKV: Int, _ hs: Int) {
    let scale = 1 / Float(hs).squareRoot()
    let group = NH / NKV, C = NH * hs, KC = NKV * hs
    parallelRanges(B * NH, minChunk: 1) { r0, r1 in
        for r in r0..<r1 {
            let b = r / NH, h = r % NH, g = h / group
            for t in 0..<T {
                let qt = q + (b * T + t) * C + h * hs
                let row = att + ((b * NH + h) * T + t) * T
                var mx = -Float.infinity
                for t2 in 0...t {
                    let s = dot(qt, k + (b * T + t2) * KC + g * hs, hs) * scale
                    row[t2] = s
                    mx = max(mx, s)
                }
                var sum: Float = 0
                for t2 in 0...t { let e = expf(row[t2] - mx); row[t2] = e; sum += e }
                let inv = 1 / sum
                for t2 in 0...t { row[t2] *= inv }
                let yt = y + (b * T + t) * C + h * hs
                yt.update(repeating: 0, count: hs)
                for t2 in 0...t { axpy(yt, row[t2], v + (b * T + t2) * KC + g * hs, hs) }
            }
        }
    }
}

/// Adds into dq, dk, dv. With P = att: dv += Pᵀ·dy; dP = dy·vᵀ; dS = P∘(dP - rowsum(P∘dP));
/// dq += dS·k·scale; dk += dSᵀ·q·scale. `scratch` holds one T-row per (batch, kv head) task.
func attentionBackward(_ dq: UnsafeMutablePointer<Float>,    // (B, T, NH, hs)
                       _ dk: UnsafeMutablePointer<Float>,    // (B, T, NKV, hs)
                       _ dv: UnsafeMutablePointer<Float>,    // (B, T, NKV, hs)
                       _ scratch: UnsafeMutablePointer<Float>, // (B, NKV, T)
                       _ dy: UnsafePointer<Float>,           // (B, T, NH, hs)
                       _ att: UnsafePointer<Float>,          // (B, NH, T, T)
                       _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
                       _ B: Int, _ T: Int, _ NH: Int, _ NKV: Int, _ hs: Int) {
    let scale = 1 / Float(hs).squareRoot()
    let group = NH / NKV, C = NH * hs, KC = NKV * hs
    parallelRanges(B * NKV, minChunk: 1) { r0, r1 in
        for r in r0..<r1 {
            let b = r / NKV, g = r % NKV
            let dS = scratch + r * T
            for h in (g * group)..<((g + 1) * group) {
                for t in 0..<T {
                    let row = att + ((b * NH + h) * T + t) * T
                    let dyt = dy + (b * T + t) * C + h * hs
                    // dP[t2] = dy·v[t2], and dv[t2] += P[t2]·dy
                    var rowDot: Float = 0
                    for t2 in 0...t {
                        let vt2 = v + (b * T + t2) * KC + g * hs
                        let dp = dot(dyt, vt2, hs)
                        dS[t2] = dp
                        rowDot += row[t2] * dp
                        axpy(dv + (b * T + t2) * KC + g * hs, row[t2], dyt, hs)
                    }
                    // softmax backward, then the two products of the scores
                    let qt = q + (b * T + t) * C + h * hs, dqt = dq + (b * T + t) * C + h * hs
                    for t2 in 0...t {
                        let ds = row[t2] * (dS[t2] - rowDot) * scale
                        axpy(dqt, ds, k + (b * T + t2) * KC + g * hs, hs)
                        axpy(dk + (b * T + t2) * KC + g * hs, ds, qt, hs)
                    }
                }
            }
        }
    }
}
