// The GPT's backward passes (Model/GPT.swift has the parameters, activations and the forward pass):
// from the cross-entropy of the last forward (`backward()`), from weights chosen after it (DPO,
// `backward(tokenWeights:)`), from a given gradient of the logits (distillation's exact KL,
// `backward(logitGradient:)`), and from a reward model's scalar head (`backward(rewardGradients:)`).
// All of them end in the same backward through the blocks, down to the embedding.

extension GPT {
    // MARK: - Backward

    /// Adds the gradient of the last forward's loss into `grads`. The last forward must have had targets.
    func backward() {
        precondition(hasTargets, "backward() needs a forward with targets")
        let N = B * T, V = config.vocabSize
        timed(.crossEntropy) {
            softcapCrossEntropyBackward(
                logits, lse, targets, hasWeights ? UnsafePointer(weights) : nil, N, V, cap: config.arch.softcap)
        }
        backwardFromLogits()
    }

    /// Backward for Σ_n w_n·(−log p(target_n)), with weights chosen after the forward (DPO's depend on the
    /// forward's log-probs): the forward must have had a nonzero weight wherever `w` has one.
    func backward(tokenWeights w: [Float]) {
        precondition(hasTargets && w.count == B * T, "backward(tokenWeights:) needs the forward's targets")
        // softcapCrossEntropyBackward divides by the count of nonzero weights: multiply it back in.
        let count = Float(w.reduce(0) { $0 + ($1 != 0 ? 1 : 0) })
        for n in 0..<(B * T) {
            precondition(w[n] == 0 || !hasWeights || weights[n] != 0, "a weighted position the forward skipped")
            weights[n] = w[n] * count
        }
        hasWeights = true
        backward()
    }

    /// Backward for a loss of the logits other than cross-entropy (distillation's exact KL): `fill` gets the
    /// last forward's capped logits, (B·T, V), and must overwrite them with the loss's gradient with respect
    /// to the raw (uncapped) logits; the rest of the backward then adds the gradient into `grads`.
    func backward(logitGradient fill: (UnsafeMutablePointer<Float>) -> Void) {
        precondition(!lastForwardCached, "a cached forward keeps no activations for backward")
        timed(.crossEntropy) { fill(logits) }
        backwardFromLogits()
    }

    /// The reward model's scalar at each position given (flat indices b·T + t into the last forward's batch):
    /// r = score · h, h the final normed hidden state there (the last token of an answer, for a reward).
    func rewards(at positions: [Int]) -> [Float] {
        guard let score else { preconditionFailure("rewards(at:) needs a model with a score head") }
        let C = config.nEmbd
        return positions.map { n in
            precondition(n >= 0 && n < B * T, "position \(n) outside the last batch")
            var r: Float = 0
            for c in 0..<C { r += params[score + c] * lnf[n * C + c] }
            return r
        }
    }

    /// Backward for a loss of the rewards: adds d(loss)/d(reward) · ∇reward for each (position, gradient)
    /// into `grads` (score.weight gets g·h; the hidden state gets g·score, then the usual backward).
    func backward(rewardGradients: [(position: Int, gradient: Float)]) {
        guard let score else { preconditionFailure("backward(rewardGradients:) needs a model with a score head") }
        precondition(!lastForwardCached, "a cached forward keeps no activations for backward")
        let N = B * T, C = config.nEmbd
        dln.update(repeating: 0, count: N * C)
        for (n, g) in rewardGradients {
            precondition(n >= 0 && n < N, "position \(n) outside the last batch")
            for c in 0..<C {
                if let ds = grad(score) { ds[c] += g * lnf[n * C + c] }
                dln[n * C + c] += g * params[score + c]
            }
        }
        backwardFromFinalNorm()
    }

    /// The backward from d(raw logits), held in `logits`, down to the embedding.
    fileprivate func backwardFromLogits() {
        let N = B * T, C = config.nEmbd, V = config.vocabSize
        dln.update(repeating: 0, count: N * C)
        timed(.matmul) { linearBackward(dln, grad(lmHead), logits, lnf, params + lmHead, N, C, V) }
        backwardFromFinalNorm()
    }

    /// The backward from d(final normed hidden state), held in `dln`, down to the embedding.
    fileprivate func backwardFromFinalNorm() {
        let B = self.B, T = self.T, N = B * T, C = config.nEmbd, KC = config.kvDim
        let NH = config.nHead, NKV = config.nKvHead, hs = config.headDim, arch = config.arch
        let P = params

        dres.update(repeating: 0, count: N * C)
        timed(.rmsnorm) { rmsNormBackward(dres, dln, lnf, rstdf, N, C) }
        for l in stride(from: config.nLayer - 1, through: 0, by: -1) {
            let a = layers[l], bw = blocks[l]
            // mlp: x_out = x_mid + mlp(ln2(x_mid)); dres flows through unchanged and gains the branch.
            dfca.update(repeating: 0, count: 4 * N * C)
            timed(.matmul) { linearBackward(dfca, grad(bw.mlpProj), dres, a.fca, P + bw.mlpProj, N, 4 * C, C) }
            adapterBackward(l, .mlpProj, dfca, dres, a.fca, N, 4 * C, C)
            dfch.update(repeating: 0, count: 4 * N * C)
            timed(.relu2) { activationBackward(arch.activation, dfch, dfca, a.fch, 4 * N * C) }
            dln.update(repeating: 0, count: N * C)
            timed(.matmul) { linearBackward(dln, grad(bw.fc), dfch, a.ln2, P + bw.fc, N, C, 4 * C) }
            adapterBackward(l, .fc, dln, dfch, a.ln2, N, C, 4 * C)
            timed(.rmsnorm) { rmsNormBackward(dres, dln, a.ln2, a.rstd2, N, C) }
            // attention: x_mid = x_in + proj(attn(...))
            datty.update(repeating: 0, count: N * C)
            timed(.matmul) { linearBackward(datty, grad(bw.attnProj), dres, a.atty, P + bw.attnProj, N, C, C) }
            adapterBackward(l, .attnProj, datty, dres, a.atty, N, C, C)
            dq.update(repeating: 0, count: N * C)
            dk.update(repeating: 0, count: N * KC)
            dv.update(repeating: 0, count: N * KC)
            timed(.attention) {
                attentionBackward(dq, dk, dv, attScratch, datty, a.att, a.q, a.k, a.v, B, T, NH, NKV, hs)
            }
            // q/k norm then rotary, undone in reverse order (dfch/dfca are free now: reuse them as scratch).
            let dqr = dfch, dkr = dfca
            if arch.qkNorm {
                dqr.update(repeating: 0, count: N * C)
                dkr.update(repeating: 0, count: N * KC)
                timed(.rmsnorm) { rmsNormBackward(dqr, dq, a.q, a.qrstd, N * NH, hs) }
                timed(.rmsnorm) { rmsNormBackward(dkr, dk, a.k, a.krstd, N * NKV, hs) }
            } else {
                dqr.update(from: dq, count: N * C)
                dkr.update(from: dk, count: N * KC)
            }
            if arch.rotary {
                timed(.rotary) { rotaryBackward(dqr, ropeCos, ropeSin, B, T, NH, hs) }
                timed(.rotary) { rotaryBackward(dkr, ropeCos, ropeSin, B, T, NKV, hs) }
            }
            dln.update(repeating: 0, count: N * C)
            timed(.matmul) { linearBackward(dln, grad(bw.cq), dqr, a.ln1, P + bw.cq, N, C, C) }
            timed(.matmul) { linearBackward(dln, grad(bw.ck), dkr, a.ln1, P + bw.ck, N, C, KC) }
            timed(.matmul) { linearBackward(dln, grad(bw.cv), dv, a.ln1, P + bw.cv, N, C, KC) }
            adapterBackward(l, .q, dln, dqr, a.ln1, N, C, C)
            adapterBackward(l, .k, dln, dkr, a.ln1, N, C, KC)
            adapterBackward(l, .v, dln, dv, a.ln1, N, C, KC)
            timed(.rmsnorm) { rmsNormBackward(dres, dln, a.ln1, a.rstd1, N, C) }
        }
        // x0 = rmsnorm(emb): dres is d(x0) now.
        let demb = dln
        demb.update(repeating: 0, count: N * C)
        timed(.rmsnorm) { rmsNormBackward(demb, dres, x0, rstd0, N, C) }
        if let dwte = grad(wte) { timed(.embedding) { embeddingBackward(dwte, demb, inputs, N, C) } }
    }
}
