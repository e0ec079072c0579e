// Validation loss and bits per byte (bpb), as nanochat's evaluate_bpb: the summed cross-entropy (nats)
// over target tokens, divided by ln 2 and by the number of bytes those targets stand for. Special tokens
// count 0 bytes and are excluded. bpb does not depend on the tokenizer: a bigger vocab makes fewer,
// harder predictions, but the bytes to predict stay the same.

import Foundation

struct EvalResult {
    var loss: Double
    var bpb: Double
    var tokens: Int
}

/// Evaluates consecutive windows of T+1 tokens from `tokens` (up to `maxTokens` targets), B rows at a time.
func evaluateBPB(_ model: GPT, tokens: [UInt16], tokenBytes: [Int], B: Int, T: Int, maxTokens: Int) -> EvalResult {
    let rowsAvailable = max(0, (tokens.count - 1) / T)
    let rows = min(rowsAvailable, max(1, maxTokens / T))
    var nats = 0.0, bytes = 0, counted = 0
    var inputs = [Int32](repeating: 0, count: B * T), targets = inputs
    var weights = [Float](repeating: 0, count: B * T)
    var r = 0
    while r < rows {
        let b = min(B, rows - r)
        for i in 0..<b {
            for t in 0..<T {
                let p = (r + i) * T + t
                inputs[i * T + t] = Int32(tokens[p])
                targets[i * T + t] = Int32(tokens[p + 1])
                weights[i * T + t] = tokenBytes[Int(tokens[p + 1])] > 0 ? 1 : 0
            }
        }
        model.forward(inputs, targets, Array(weights[0..<(b * T)]), B: b, T: T)
        let losses = model.lastLosses
        for i in 0..<(b * T) where weights[i] != 0 {
            nats += Double(losses[i])
            bytes += tokenBytes[Int(targets[i])]
            counted += 1
        }
        r += b
    }
    guard counted > 0 else { return EvalResult(loss: .nan, bpb: .nan, tokens: 0) }
    return EvalResult(loss: nats / Double(counted), bpb: nats / log(2) / Double(bytes), tokens: counted)
}

/// Bytes per token id (0 for special tokens), for bpb.
func tokenByteCounts(_ tok: Tokenizer) -> [Int] {
    (0..<tok.vocabSize).map { tok.isSpecial($0) ? 0 : tok.vocab[$0].count }
}
