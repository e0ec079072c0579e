// The losses over the logits, fused with the soft cap: the weighted cross-entropy of every next-token stage
// (and RL's and distillation's weighted forms of it), and distillation's exact reverse KL over the whole
// vocabulary. Each overwrites the (N, V) logits with their gradient in place, saving a second buffer.
// Legend as in Kernels.swift: N rows, V vocab.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Soft-capped logits + weighted cross-entropy (fused)

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
