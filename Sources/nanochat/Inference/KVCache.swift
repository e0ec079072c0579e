// The KV cache: every layer's keys and values of the tokens seen so far, so that generating the next
// token costs one position's work instead of re-running the whole context (nanochat: engine.py KVCache).
// Without it, writing n tokens costs O(n²) positions of work; with it, O(n). Rows are independent
// streams (a batch of samples of one prompt, for RL); they share a length.

final class KVCache {
    let rows: Int, maxLen: Int, layers: Int, kvDim: Int
    /// (layers, rows, maxLen, kvDim) each.
    let k, v: UnsafeMutablePointer<Float>
    private(set) var length = 0

    init(config: GPTConfig, rows: Int) {
        self.rows = rows; maxLen = config.sequenceLen; layers = config.nLayer; kvDim = config.kvDim
        let n = layers * rows * maxLen * kvDim
        k = .allocate(capacity: n); v = .allocate(capacity: n)
        k.initialize(repeating: 0, count: n); v.initialize(repeating: 0, count: n)
    }
    deinit { k.deallocate(); v.deallocate() }

    func reset() { length = 0 }

    @inline(__always) func keys(_ l: Int, _ r: Int) -> UnsafeMutablePointer<Float> { k + ((l * rows + r) * maxLen) * kvDim }
    @inline(__always) func values(_ l: Int, _ r: Int) -> UnsafeMutablePointer<Float> { v + ((l * rows + r) * maxLen) * kvDim }

    /// Copies row 0's cache into every other row: a prompt prefilled once serves all samples.
    func broadcastRowZero() {
        for l in 0..<layers {
            for r in 1..<max(1, rows) {
                keys(l, r).update(from: keys(l, 0), count: length * kvDim)
                values(l, r).update(from: values(l, 0), count: length * kvDim)
            }
        }
    }

    fileprivate func advance(_ n: Int) { length += n }
}

extension GPT {
    /// Runs `Tn` new tokens per row (B rows) through the model at positions cache.length ..< +Tn, using
    /// and extending the cache. Returns the soft-capped logits (B·Tn, V). Same math as forward().
    func forwardCached(_ tokens: UnsafePointer<Int32>, B: Int, Tn: Int, cache: KVCache) -> UnsafePointer<Float> {
        let pos = cache.length, N = B * Tn
        precondition(B <= cache.rows && pos + Tn <= cache.maxLen, "the KV cache holds \(cache.maxLen) positions")
        precondition(N <= maxBatch * config.sequenceLen, "too many tokens for one pass")
        let C = config.nEmbd, KC = config.kvDim, NH = config.nHead, NKV = config.nKvHead
        let hs = config.headDim, V = config.vocabSize, P = params
        let group = NH / NKV, scale = 1 / Float(hs).squareRoot()
        for n in 0..<N { precondition(tokens[n] >= 0 && Int(tokens[n]) < V, "token \(tokens[n]) outside the vocab") }

        embeddingForward(emb, tokens, P + wte, N, C)
        rmsNormForward(x0, rstd0, emb, N, C)
        residual.update(from: x0, count: N * C)
        for l in 0..<config.nLayer {
            let a = layers[l], bw = blocks[l]
            rmsNormForward(a.ln1, a.rstd1, residual, N, C)
            linearForward(a.q, a.ln1, P + bw.cq, N, C, C)
            linearForward(a.k, a.ln1, P + bw.ck, N, C, KC)
            linearForward(a.v, a.ln1, P + bw.cv, N, C, KC)
            rotaryForward(a.q, ropeCos, ropeSin, B, Tn, NH, hs, pos0: pos)
            rotaryForward(a.k, ropeCos, ropeSin, B, Tn, NKV, hs, pos0: pos)
            rmsNormForward(a.q, a.qrstd, a.q, N * NH, hs)
            rmsNormForward(a.k, a.krstd, a.k, N * NKV, hs)
            for b in 0..<B {
                cache.keys(l, b).advanced(by: pos * KC).update(from: a.k + b * Tn * KC, count: Tn * KC)
                cache.values(l, b).advanced(by: pos * KC).update(from: a.v + b * Tn * KC, count: Tn * KC)
            }
            // Attention of each new query over the cache (positions 0 ... pos+t), one task per (b, h).
            let scores = a.att  // scratch: (B·NH, maxLen) fits in the (B, NH, T, T) buffer
            parallelRanges(B * NH, minChunk: 1) { r0, r1 in
                for r in r0..<r1 {
                    let b = r / NH, h = r % NH, g = h / group
                    let keys = cache.keys(l, b) + g * hs, vals = cache.values(l, b) + g * hs
                    let s = scores + r * cache.maxLen
                    for t in 0..<Tn {
                        let qt = a.q + (b * Tn + t) * C + h * hs
                        let len = pos + t + 1
                        var mx = -Float.infinity
                        for t2 in 0..<len { let x = dot(qt, keys + t2 * KC, hs) * scale; s[t2] = x; mx = max(mx, x) }
                        let inv = 1 / expShiftInPlace(s, len, mx)
                        let yt = a.atty + (b * Tn + t) * C + h * hs
                        yt.update(repeating: 0, count: hs)
                        for t2 in 0..<len { axpy(yt, s[t2] * inv, vals + t2 * KC, hs) }
                    }
                }
            }
            linearForward(residual, a.atty, P + bw.attnProj, N, C, C, accumulate: true)
            rmsNormForward(a.ln2, a.rstd2, residual, N, C)
            linearForward(a.fch, a.ln2, P + bw.fc, N, C, 4 * C)
            reluSquaredForward(a.fca, a.fch, N * 4 * C)
            linearForward(residual, a.fca, P + bw.mlpProj, N, 4 * C, C, accumulate: true)
        }
        rmsNormForward(lnf, rstdf, residual, N, C)
        linearForward(logits, lnf, P + lmHead, N, C, V)
        _ = softcapCrossEntropyForward(losses, lse, logits, nil, nil, N, V)
        cache.advance(Tn)
        return UnsafePointer(logits)
    }
}
