// The KV cache: every layer's keys and values of the tokens seen so far, so that generating the next
// token costs one position's work instead of re-running the whole context (nanochat: engine.py KVCache).
// Without it, writing n tokens costs O(n²) positions of work; with it, O(n). Rows are independent
// streams (a batch of samples of one prompt, for RL); they share a length. `GPT.forward(..., cache:)`
// reads and extends it: the same forward pass serves training, prefill and decode.

final class KVCache {
    let rows: Int, maxLen: Int, layers: Int, kvDim: Int
    /// (layers, rows, maxLen, kvDim) each.
    let k, v: UnsafeMutablePointer<Float>
    private(set) var length = 0

    init(config: GPTConfig, rows: Int) {
        self.rows = rows
        maxLen = config.sequenceLen
        layers = config.nLayer
        kvDim = config.kvDim
        let n = layers * rows * maxLen * kvDim
        k = .allocate(capacity: n)
        v = .allocate(capacity: n)
        k.initialize(repeating: 0, count: n)
        v.initialize(repeating: 0, count: n)
    }
    deinit {
        k.deallocate()
        v.deallocate()
    }

    func reset() { length = 0 }

    @inline(__always) func keys(_ l: Int, _ r: Int) -> UnsafeMutablePointer<Float> {
        k + ((l * rows + r) * maxLen) * kvDim
    }
    @inline(__always) func values(_ l: Int, _ r: Int) -> UnsafeMutablePointer<Float> {
        v + ((l * rows + r) * maxLen) * kvDim
    }

    /// Copies row 0's cache into every other row: a prompt prefilled once serves all samples.
    func broadcastRowZero() {
        for l in 0..<layers {
            for r in 1..<max(1, rows) {
                keys(l, r).update(from: keys(l, 0), count: length * kvDim)
                values(l, r).update(from: values(l, 0), count: length * kvDim)
            }
        }
    }

    /// Writes layer l's keys and values of T new positions per row (B rows) at positions length ..< length+T.
    func store(layer l: Int, k newK: UnsafePointer<Float>, v newV: UnsafePointer<Float>, B: Int, T: Int) {
        for b in 0..<B {
            keys(l, b).advanced(by: length * kvDim).update(from: newK + b * T * kvDim, count: T * kvDim)
            values(l, b).advanced(by: length * kvDim).update(from: newV + b * T * kvDim, count: T * kvDim)
        }
    }

    /// Called once per forward, after every layer has stored its T new positions.
    func advance(_ n: Int) { length += n }
}
