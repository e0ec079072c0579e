// The GPT's layers as forward/backward pairs of free functions over raw Float pointers, in llm.c's style:
// output first, then what is saved for backward, then inputs and sizes. Backward always ADDS into gradients.
// Legend: B batch, T time, C channels, N = B·T rows, V vocab, NH query heads, NKV kv heads, hs head size.
// Attention lives in Attention.swift, the losses over the logits in Loss.swift; every matmul goes through
// sgemm (BLAS.swift).

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
