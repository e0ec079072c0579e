// Sampling the next token from logits: temperature (0 = greedy), top-k, and our own seeded RNG.
// `generateNaive` re-runs the whole context for each new token: the quadratic baseline that the KV-cached
// Engine replaces (Lessons/08-inference.md); base-train's and base-eval's few samples still use it.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Picks a token from one row of logits (V values).
func sampleToken(_ logits: UnsafePointer<Float>, _ V: Int, temperature: Float, topK: Int, rng: inout RNG) -> Int {
    if temperature <= 0 {
        var best = 0
        for v in 1..<V where logits[v] > logits[best] { best = v }
        return best
    }
    // Candidates: the top-k logits (all when topK <= 0).
    var ids = Array(0..<V)
    if topK > 0 && topK < V {
        ids.sort { logits[$0] > logits[$1] }
        ids.removeLast(V - topK)
    }
    let mx = ids.map { logits[$0] }.max()!
    let probs = ids.map { expf((logits[$0] - mx) / temperature) }
    let total = probs.reduce(0, +)
    var u = rng.uniform() * total
    for (i, p) in probs.enumerated() {
        u -= p
        if u <= 0 { return ids[i] }
    }
    return ids.last!
}

/// Continues `prompt` by `maxTokens` tokens (stops early at `stop` ids). Runs the full window each step.
func generateNaive(
    _ model: GPT, prompt: [Int], maxTokens: Int, temperature: Float, topK: Int, seed: UInt64,
    stop: Set<Int> = []
) -> [Int] {
    var rng = RNG(seed: seed)
    var seq = prompt.map { Int32($0) }
    var out: [Int] = []
    let V = model.config.vocabSize, Tmax = model.config.sequenceLen
    for _ in 0..<maxTokens {
        let window = Array(seq.suffix(Tmax))
        model.forward(window, nil, B: 1, T: window.count)
        let next = sampleToken(
            model.lastLogits + (window.count - 1) * V, V, temperature: temperature, topK: topK, rng: &rng)
        if stop.contains(next) { break }
        out.append(next)
        seq.append(Int32(next))
    }
    return out
}
