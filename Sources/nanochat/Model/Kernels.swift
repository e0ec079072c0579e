// The GPT's layers as forward/backward pairs of free functions over raw Float pointers, in llm.c's style:
// output first, then what is saved for backward, then inputs and sizes. Backward always ADDS into gradients.
// Legend: B batch, T time, C channels, N = B·T rows, V vocab, NH query heads, NKV kv heads, hs head size.
// Attention lives in Attention.swift; every matmul goes through sgemm (BLAS.swift).

import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs body(start, end) over 0..<n split into contiguous ranges across the cores. Never wraps BLAS.
@inline(__always)
func parallelRanges(_ n: Int, minChunk: Int = 64, _ body: (Int, Int) -> Void) {
    let chunks = min(max(1, n / minChunk), 2 * ProcessInfoCores.count)
    if chunks <= 1 {
        body(0, n)
        return
    }
    DispatchQueue.concurrentPerform(iterations: chunks) { k in
        body(k * n / chunks, (k + 1) * n / chunks)
    }
}

enum ProcessInfoCores {
    static let count: Int = {
        #if canImport(Glibc)
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return max(1, Int(sysconf(_SC_NPROCESSORS_ONLN)))
        #endif
    }()
}

// MARK: - Embedding

/// out[n,:] = wte[inp[n],:]
func embeddingForward(
    _ out: UnsafeMutablePointer<Float>,  // (N, C)
    _ inp: UnsafePointer<Int32>,  // (N,)
    _ wte: UnsafePointer<Float>,  // (V, C)
    _ N: Int, _ C: Int
) {
    for n in 0..<N { (out + n * C).update(from: wte + Int(inp[n]) * C, count: C) }
}

/// dwte[inp[n],:] += dout[n,:]   (sequential: a token may repeat)
func embeddingBackward(
    _ dwte: UnsafeMutablePointer<Float>,  // (V, C)
    _ dout: UnsafePointer<Float>,  // (N, C)
    _ inp: UnsafePointer<Int32>,  // (N,)
    _ N: Int, _ C: Int
) {
    for n in 0..<N {
        let d = dwte + Int(inp[n]) * C, g = dout + n * C
        for i in 0..<C { d[i] += g[i] }
    }
}

// MARK: - RMSNorm (no learnable weights)

/// eps of every RMSNorm: Float's machine epsilon, as torch's F.rms_norm uses by default.
let rmsEps: Float = Float.ulpOfOne

/// out[r,:] = x[r,:] / sqrt(mean(x[r,:]²) + eps). Saves rstd for backward. Rows may be tokens (dim C)
/// or heads (dim hs, for the q/k norm). out may alias x (in-place).
func rmsNormForward(
    _ out: UnsafeMutablePointer<Float>,  // (R, D)
    _ rstd: UnsafeMutablePointer<Float>,  // (R,)  saved for backward
    _ x: UnsafePointer<Float>,  // (R, D)
    _ R: Int, _ D: Int
) {
    parallelRanges(R, minChunk: max(1, 8192 / D)) { r0, r1 in
        for r in r0..<r1 {
            let xr = x + r * D, o = out + r * D
            let s = 1 / (dot(xr, xr, D) / Float(D) + rmsEps).squareRoot()
            rstd[r] = s
            scaleVector(o, xr, s, D)
        }
    }
}

/// Forward was out = x·rstd, so dx += rstd·(dout - out·mean(dout·out)).
func rmsNormBackward(
    _ dx: UnsafeMutablePointer<Float>,  // (R, D) accumulated
    _ dout: UnsafePointer<Float>,  // (R, D)
    _ out: UnsafePointer<Float>,  // (R, D) saved
    _ rstd: UnsafePointer<Float>,  // (R,)   saved
    _ R: Int, _ D: Int
) {
    parallelRanges(R, minChunk: max(1, 8192 / D)) { r0, r1 in
        for r in r0..<r1 {
            let g = dout + r * D, o = out + r * D, d = dx + r * D
            let m = dot(g, o, D) / Float(D), s = rstd[r]
            axpy(d, s, g, D)
            axpy(d, -s * m, o, D)
        }
    }
}

// MARK: - Rotary embedding (non-interleaved halves)

/// cos/sin tables (T, hs/2): angle[t,j] = t / base^(2j/hs).
func rotaryTables(
    _ cos_: UnsafeMutablePointer<Float>, _ sin_: UnsafeMutablePointer<Float>,
    _ T: Int, _ hs: Int, base: Double = 10000
) {
    let half = hs / 2
    for t in 0..<T {
        for j in 0..<half {
            let angle = Double(t) / pow(base, Double(2 * j) / Double(hs))
            cos_[t * half + j] = Float(cos(angle))
            sin_[t * half + j] = Float(sin(angle))
        }
    }
}

/// In place on x viewed (B, T, H, hs): x1 = x[:hs/2], x2 = x[hs/2:];
/// y1 = x1·cos + x2·sin; y2 = -x1·sin + x2·cos. Positions start at pos0 (KV-cached decoding).
func rotaryForward(
    _ x: UnsafeMutablePointer<Float>,  // (B, T, H, hs) in place
    _ cos_: UnsafePointer<Float>, _ sin_: UnsafePointer<Float>,  // (maxT, hs/2)
    _ B: Int, _ T: Int, _ H: Int, _ hs: Int, pos0: Int = 0
) {
    let half = hs / 2
    parallelRanges(B * T, minChunk: 16) { n0, n1 in
        for n in n0..<n1 {
            let t = n % T + pos0
            let c = cos_ + t * half, s = sin_ + t * half
            for h in 0..<H {
                let v = x + (n * H + h) * hs
                for j in 0..<half {
                    let x1 = v[j], x2 = v[j + half]
                    v[j] = x1 * c[j] + x2 * s[j]
                    v[j + half] = -x1 * s[j] + x2 * c[j]
                }
            }
        }
    }
}

/// The rotation's transpose, in place on the gradient: dx1 = dy1·cos - dy2·sin; dx2 = dy1·sin + dy2·cos.
/// (Rotary is linear, so the gradient needs no saved activations; written, not accumulated.)
func rotaryBackward(
    _ d: UnsafeMutablePointer<Float>,  // (B, T, H, hs) in place
    _ cos_: UnsafePointer<Float>, _ sin_: UnsafePointer<Float>,
    _ B: Int, _ T: Int, _ H: Int, _ hs: Int
) {
    let half = hs / 2
    parallelRanges(B * T, minChunk: 16) { n0, n1 in
        for n in n0..<n1 {
            let t = n % T
            let c = cos_ + t * half, s = sin_ + t * half
            for h in 0..<H {
                let v = d + (n * H + h) * hs
                for j in 0..<half {
                    let g1 = v[j], g2 = v[j + half]
                    v[j] = g1 * c[j] - g2 * s[j]
                    v[j + half] = g1 * s[j] + g2 * c[j]
                }
            }
        }
    }
}

// MARK: - ReLU²

/// out = relu(x)²
func reluSquaredForward(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ count: Int) {
    parallelRanges(count, minChunk: 1 << 14) { a, b in
        for i in a..<b {
            let r = max(x[i], 0)
            out[i] = r * r
        }
    }
}

/// dx += dout · 2·relu(x)
func reluSquaredBackward(
    _ dx: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
    _ x: UnsafePointer<Float>, _ count: Int
) {
    parallelRanges(count, minChunk: 1 << 14) { a, b in
        for i in a..<b { dx[i] += dout[i] * 2 * max(x[i], 0) }
    }
}

// MARK: - The MLP's activation (ReLU², or the ablation ladder's ReLU and GELU)

/// √(2/π) and the cubic coefficient of GELU's tanh form, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
private let geluA: Float = 0.797_884_6, geluB: Float = 0.044715

/// out = act(x), for the MLP's nonlinearity `kind`.
func activationForward(_ kind: Activation, _ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ count: Int)
{
    switch kind {
    case .reluSquared: reluSquaredForward(out, x, count)
    case .relu:
        parallelRanges(count, minChunk: 1 << 14) { a, b in
            for i in a..<b { out[i] = max(x[i], 0) }
        }
    case .gelu:
        parallelRanges(count, minChunk: 1 << 14) { a, b in
            for i in a..<b {
                let v = x[i]
                out[i] = 0.5 * v * (1 + tanhViaExp(geluA * (v + geluB * v * v * v)))
            }
        }
    }
}

/// dx += dout · act'(x)
func activationBackward(
    _ kind: Activation, _ dx: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
    _ count: Int
) {
    switch kind {
    case .reluSquared: reluSquaredBackward(dx, dout, x, count)
    case .relu:
        parallelRanges(count, minChunk: 1 << 14) { a, b in
            for i in a..<b where x[i] > 0 { dx[i] += dout[i] }
        }
    case .gelu:
        parallelRanges(count, minChunk: 1 << 14) { a, b in
            for i in a..<b {
                let v = x[i], t = tanhViaExp(geluA * (v + geluB * v * v * v))
                dx[i] += dout[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * geluA * (1 + 3 * geluB * v * v))
            }
        }
    }
}

// MARK: - Residual add

/// out = a + b
func residualForward(
    _ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int
) {
    for i in 0..<count { out[i] = a[i] + b[i] }
}

/// da += dout; db += dout
func residualBackward(
    _ da: UnsafeMutablePointer<Float>, _ db: UnsafeMutablePointer<Float>,
    _ dout: UnsafePointer<Float>, _ count: Int
) {
    for i in 0..<count {
        da[i] += dout[i]
        db[i] += dout[i]
    }
}

// MARK: - Linear (no bias): every product through sgemm

/// Up to this many rows, `linearForward` runs one matrix-vector product per row (decode), not sgemm.
let gemvRows = 2

/// out (N, OC) = inp (N, IC) · W^T, W stored (OC, IC) as nn.Linear.
func linearForward(
    _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ W: UnsafePointer<Float>,
    _ N: Int, _ IC: Int, _ OC: Int, accumulate: Bool = false
) {
    if N <= gemvRows {
        for n in 0..<N { sgemv(OC, IC, W, lda: IC, inp + n * IC, beta: accumulate ? 1 : 0, out + n * OC) }
        return
    }
    sgemm(transA: false, transB: true, N, OC, IC, inp, lda: IC, W, ldb: IC, beta: accumulate ? 1 : 0, out, ldc: OC)
}

/// dinp (N, IC) += dout · W;  dW (OC, IC) += dout^T · inp (dW nil: a frozen weight, no gradient work).
func linearBackward(
    _ dinp: UnsafeMutablePointer<Float>?, _ dW: UnsafeMutablePointer<Float>?,
    _ dout: UnsafePointer<Float>, _ inp: UnsafePointer<Float>, _ W: UnsafePointer<Float>,
    _ N: Int, _ IC: Int, _ OC: Int
) {
    if let dinp { sgemm(transA: false, transB: false, N, IC, OC, dout, lda: OC, W, ldb: IC, beta: 1, dinp, ldc: IC) }
    if let dW { sgemm(transA: true, transB: false, OC, IC, N, dout, lda: OC, inp, ldb: IC, beta: 1, dW, ldc: IC) }
}

// MARK: - Low-rank adapter on a linear layer (LoRA): out += s·(inp·Aᵀ)·Bᵀ, s = α/r

/// out (N, OC) += s · h · Bᵀ with h (N, r) = inp (N, IC) · Aᵀ saved for backward; A (r, IC), B (OC, r).
/// Added after `linearForward` of the frozen W, so the layer computes W x + s·B A x.
func loraForward(
    _ out: UnsafeMutablePointer<Float>, _ h: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
    _ A: UnsafePointer<Float>, _ Bm: UnsafePointer<Float>, _ N: Int, _ IC: Int, _ OC: Int, _ r: Int, _ s: Float
) {
    sgemm(transA: false, transB: true, N, r, IC, inp, lda: IC, A, ldb: IC, beta: 0, h, ldc: r)
    sgemm(transA: false, transB: true, N, OC, r, alpha: s, h, lda: r, Bm, ldb: r, beta: 1, out, ldc: OC)
}

/// dB (OC, r) += s · doutᵀ · h;  dh (N, r) = s · dout · B;  dA (r, IC) += dhᵀ · inp;  dinp (N, IC) += dh · A.
/// `dh` is scratch of N·r floats. dA/dB nil: frozen factors (only dinp is computed).
func loraBackward(
    _ dinp: UnsafeMutablePointer<Float>, _ dA: UnsafeMutablePointer<Float>?, _ dB: UnsafeMutablePointer<Float>?,
    _ dh: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>, _ inp: UnsafePointer<Float>,
    _ h: UnsafePointer<Float>, _ A: UnsafePointer<Float>, _ Bm: UnsafePointer<Float>,
    _ N: Int, _ IC: Int, _ OC: Int, _ r: Int, _ s: Float
) {
    if let dB { sgemm(transA: true, transB: false, OC, r, N, alpha: s, dout, lda: OC, h, ldb: r, beta: 1, dB, ldc: r) }
    sgemm(transA: false, transB: false, N, r, OC, alpha: s, dout, lda: OC, Bm, ldb: r, beta: 0, dh, ldc: r)
    if let dA { sgemm(transA: true, transB: false, r, IC, N, dh, lda: r, inp, ldb: IC, beta: 1, dA, ldc: IC) }
    sgemm(transA: false, transB: false, N, IC, r, dh, lda: r, A, ldb: IC, beta: 1, dinp, ldc: IC)
}

// MARK: - Soft-capped logits + weighted cross-entropy (fused)

/// tanh(x) = 1 - 2/(e^{2x} + 1): one expf, about twice as fast as tanhf here; absolute error ~1e-7.
@inline(__always) func tanhViaExp(_ x: Float) -> Float { 1 - 2 / (expf(2 * x) + 1) }

/// Caps the logits in place, then per row: ce = logsumexp(z) - z[target]. Returns
/// loss = Σ w·ce / count(w ≠ 0) (w = per-token weight: 1 for pretraining, the mask for SFT, the
/// advantage for RL; 0 = ignored). Saves the row's logsumexp for backward. Without targets only caps.
/// The cap is the model's (GPTConfig.arch.softcap, nanochat's 15): z ← cap·tanh(z/cap); 0 = no cap.
func softcapCrossEntropyForward(
    _ losses: UnsafeMutablePointer<Float>,  // (N,) per-token ce (0 where w = 0)
    _ lse: UnsafeMutablePointer<Float>,  // (N,) saved
    _ logits: UnsafeMutablePointer<Float>,  // (N, V) raw in, capped out
    _ targets: UnsafePointer<Int32>?,  // (N,)
    _ weights: UnsafePointer<Float>?,  // (N,) nil = all 1
    _ N: Int, _ V: Int, cap: Float
) -> Float {
    parallelRanges(N, minChunk: 8) { n0, n1 in
        for n in n0..<n1 {
            let z = logits + n * V
            let mx = softcapRow(z, V, cap)
            guard let targets else { continue }
            let w = weights?[n] ?? 1
            if w == 0 {
                losses[n] = 0
                lse[n] = 0
                continue
            }
            let l = mx + logf(sumExp(z, V, mx))
            lse[n] = l
            losses[n] = l - z[Int(targets[n])]
        }
    }
    guard targets != nil else { return 0 }
    var total: Double = 0, count = 0
    for n in 0..<N {
        let w = weights?[n] ?? 1
        if w != 0 {
            total += Double(w) * Double(losses[n])
            count += 1
        }
    }
    return count == 0 ? 0 : Float(total / Double(count))
}

/// Caps a row of logits in place, cap·tanh(z/cap) with tanh(x) = 1 - 2/(e^{2x}+1); returns the row max.
/// cap 0 leaves the row as it is.
@inline(__always)
func softcapRow(_ z: UnsafeMutablePointer<Float>, _ V: Int, _ cap: Float) -> Float {
    if cap == 0 { return rowMax(z, V) }
    var vmax = F8(repeating: -.infinity)
    let k = F8(repeating: 2 / cap), vcap = F8(repeating: cap)
    var v = 0
    while v + 8 <= V {
        let c = vcap * (1 - 2 / (exp8(load8(z + v) * k) + 1))
        store8(z + v, c)
        vmax = pointwiseMax(vmax, c)
        v += 8
    }
    var mx = vmax.max()
    while v < V {
        let c = cap * tanhViaExp(z[v] / cap)
        z[v] = c
        mx = max(mx, c)
        v += 1
    }
    return mx
}

/// Σ exp(z[v] - mx) over a row.
@inline(__always)
func sumExp(_ z: UnsafePointer<Float>, _ V: Int, _ mx: Float) -> Float {
    var acc = F8(repeating: 0)
    let vm = F8(repeating: mx)
    var v = 0
    while v + 8 <= V {
        acc += exp8(load8(z + v) - vm)
        v += 8
    }
    var s = acc.sum()
    while v < V {
        s += expf(z[v] - mx)
        v += 1
    }
    return s
}

/// In place: the capped logits become the gradient of the raw logits.
/// d(capped) = (w/count)·(softmax - onehot); d(raw) = d(capped)·(1 - (capped/cap)²). With cap 0 (no cap)
/// 1/cap is taken as 0, so the factor is 1.
func softcapCrossEntropyBackward(
    _ logits: UnsafeMutablePointer<Float>,  // (N, V) capped in, dlogits out
    _ lse: UnsafePointer<Float>,  // (N,) saved
    _ targets: UnsafePointer<Int32>,
    _ weights: UnsafePointer<Float>?,
    _ N: Int, _ V: Int, cap: Float
) {
    var count = 0
    for n in 0..<N where (weights?[n] ?? 1) != 0 { count += 1 }
    let scale: Float = count == 0 ? 0 : 1 / Float(count)
    let invCap: Float = cap == 0 ? 0 : 1 / cap
    parallelRanges(N, minChunk: 8) { n0, n1 in
        for n in n0..<n1 {
            let z = logits + n * V
            let w = (weights?[n] ?? 1) * scale
            if w == 0 {
                z.update(repeating: 0, count: V)
                continue
            }
            let l = lse[n], t = Int(targets[n])
            let ut = cap == 0 ? 0 : z[t] / cap  // the target's capped logit, before the row is overwritten
            let vw = F8(repeating: w), vl = F8(repeating: l), inv = F8(repeating: invCap)
            var v = 0
            while v + 8 <= V {  // g = w·softmax; d(raw) = g·(1 - (c/cap)²)
                let c = load8(z + v), u = c * inv
                store8(z + v, vw * exp8(c - vl) * (1 - u * u))
                v += 8
            }
            while v < V {
                let c = z[v], u = cap == 0 ? 0 : c / cap
                z[v] = w * expf(c - l) * (1 - u * u)
                v += 1
            }
            z[t] -= w * (1 - ut * ut)  // the one-hot part of softmax - onehot
        }
    }
}

/// The largest entry of a row.
@inline(__always)
func rowMax(_ z: UnsafePointer<Float>, _ V: Int) -> Float {
    var vmax = F8(repeating: -.infinity)
    var v = 0
    while v + 8 <= V {
        vmax = pointwiseMax(vmax, load8(z + v))
        v += 8
    }
    var mx = vmax.max()
    while v < V {
        mx = max(mx, z[v])
        v += 1
    }
    return mx
}

/// Exact reverse KL over the whole vocabulary, per weighted position (chat-distill --exact-kl):
/// KL_n = Σ_v p(v)·(log p(v) − log q(v)), p the model's softmax of its capped logits c, q the teacher's.
/// In place, the model's capped logits become the gradient of Σ_n w_n·KL_n with respect to its raw logits:
/// dKL/dc_v = p(v)·(log p(v) − log q(v) − KL), times the softcap's derivative 1 − (c/cap)². Rows with
/// w = 0 get zero. Returns Σ_n w_n·KL_n and writes each KL_n (0 where w = 0) into `kl`.
func reverseKLBackward(
    _ logits: UnsafeMutablePointer<Float>,  // (N, V) the model's capped logits in, d(raw logits) out
    _ teacher: UnsafePointer<Float>,  // (N, V) the teacher's capped logits, same positions
    _ weights: UnsafePointer<Float>,  // (N,)
    _ kl: UnsafeMutablePointer<Float>,  // (N,) out
    _ N: Int, _ V: Int, cap: Float
) -> Float {
    let invCap: Float = cap == 0 ? 0 : 1 / cap  // no cap: the factor is 1
    parallelRanges(N, minChunk: 8) { n0, n1 in
        for n in n0..<n1 {
            let z = logits + n * V, t = teacher + n * V, w = weights[n]
            kl[n] = 0
            if w == 0 {
                z.update(repeating: 0, count: V)
                continue
            }
            let mz = rowMax(z, V), mt = rowMax(t, V)
            let lz = mz + logf(sumExp(z, V, mz)), lt = mt + logf(sumExp(t, V, mt))
            // d_v = log p(v) − log q(v) = (c_v − lz) − (t_v − lt); KL = Σ p·d.
            let shift = F8(repeating: lt - lz), vlz = F8(repeating: lz)
            var acc = F8(repeating: 0)
            var v = 0
            while v + 8 <= V {
                let c = load8(z + v)
                acc += exp8(c - vlz) * (c - load8(t + v) + shift)
                v += 8
            }
            var k = acc.sum()
            while v < V {
                k += expf(z[v] - lz) * (z[v] - t[v] + lt - lz)
                v += 1
            }
            kl[n] = k
            let vw = F8(repeating: w), vk = F8(repeating: k), inv = F8(repeating: invCap)
            v = 0
            while v + 8 <= V {
                let c = load8(z + v), u = c * inv
                store8(z + v, vw * exp8(c - vlz) * (c - load8(t + v) + shift - vk) * (1 - u * u))
                v += 8
            }
            while v < V {
                let c = z[v], u = cap == 0 ? 0 : c / cap
                z[v] = w * expf(c - lz) * (c - t[v] + lt - lz - k) * (1 - u * u)
                v += 1
            }
        }
    }
    var total: Double = 0
    for n in 0..<N { total += Double(weights[n]) * Double(kl[n]) }
    return Float(total)
}
