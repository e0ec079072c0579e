// AdamW with decoupled weight decay, as nanochat's fused step (Loshchilov & Hutter 2019,
// https://arxiv.org/abs/1711.05101): p ← p·(1 - lr·wd); m ← lerp(m, g, 1-β1); v ← lerp(v, g², 1-β2);
// p ← p - (lr / (1-β1^t)) · m / (sqrt(v / (1-β2^t)) + eps). nanochat's betas (0.8, 0.95), eps 1e-10.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct AdamWHyper {
    var beta1: Float = 0.8
    var beta2: Float = 0.95
    var eps: Float = 1e-10
    var weightDecay: Float = 0
}

/// One AdamW step on `count` parameters; `step` counts from 1.
func adamwStep(
    _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
    _ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>,
    _ count: Int, lr: Float, step: Int, _ h: AdamWHyper
) {
    let bias1 = 1 - powf(h.beta1, Float(step)), bias2 = 1 - powf(h.beta2, Float(step))
    let decay = 1 - lr * h.weightDecay, stepSize = lr / bias1
    let b1 = 1 - h.beta1, b2 = 1 - h.beta2
    parallelRanges(count, minChunk: 1 << 14) { a, b in
        for i in a..<b {
            let gi = g[i]
            m[i] += b1 * (gi - m[i])
            v[i] += b2 * (gi * gi - v[i])
            p[i] = p[i] * decay - stepSize * m[i] / ((v[i] / bias2).squareRoot() + h.eps)
        }
    }
}
