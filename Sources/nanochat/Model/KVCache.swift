// The KV cache: every layer's keys and values of the tokens seen so far, so that generating the next
// token costs one position's work instead of re-running the whole context (nanochat: engine.py KVCache).
// Without it, writing n tokens costs O(n²) positions of work; with it, O(n). Rows are independent
// streams (a batch of samples of one prompt, for RL); they share a length. `GPT.forward(..., cache:)`
// reads and extends it: the same forward pass serves training, prefill and decode.

final class KVCache {
    let rows: Int, maxLen: Int, layers: Int, heads: Int, headDim: Int
    /// (layers, rows, kv heads, maxLen, headDim) each: one head's keys (and values) lie in position order,
    /// one after the other, so attention streams through them (a position-major layout made every head
    /// read 256 bytes out of each kilobyte, at a third of the memory bandwidth: Lessons/15-where-the-time-goes.md).
    let k, v: UnsafeMutablePointer<Float>
    private(set) var length = 0

    init(config: GPTConfig, rows: Int) {
        self.rows = rows
        maxLen = config.sequenceLen
        layers = config.nLayer
        heads = config.nKvHead
        headDim = config.headDim
        let n = layers * rows * heads * maxLen * headDim
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

    /// Keys of layer l, row r, kv head g: (maxLen, headDim).
    @inline(__always) func keys(_ l: Int, _ r: Int, _ g: Int) -> UnsafeMutablePointer<Float> {
        k + (((l * rows + r) * heads + g) * maxLen) * headDim
    }
    /// Values of layer l, row r, kv head g: (maxLen, headDim).
    @inline(__always) func values(_ l: Int, _ r: Int, _ g: Int) -> UnsafeMutablePointer<Float> {
        v + (((l * rows + r) * heads + g) * maxLen) * headDim
    }

    /// Copies row 0's cache into every other row: a prompt prefilled once serves all samples.
    func broadcastRowZero() {
        for l in 0..<layers {
            for r in 1..<max(1, rows) {
                for g in 0..<heads {
                    keys(l, r, g).update(from: keys(l, 0, g), count: length * headDim)
                    values(l, r, g).update(from: values(l, 0, g), count: length * headDim)
                }
            }
        }
    }

    /// Writes layer l's keys and values of T new positions per row (B rows, each (T, heads, headDim)) at
    /// positions length ..< length+T.
    func store(layer l: Int, k newK: UnsafePointer<Float>, v newV: UnsafePointer<Float>, B: Int, T: Int) {
        for b in 0..<B {
            for t in 0..<T {
                let src = ((b * T + t) * heads) * headDim, dst = (length + t) * headDim
                for g in 0..<heads {
                    (keys(l, b, g) + dst).update(from: newK + src + g * headDim, count: headDim)
                    (values(l, b, g) + dst).update(from: newV + src + g * headDim, count: headDim)
                }
            }
        }
    }

    /// Called once per forward, after every layer has stored its T new positions.
    func advance(_ n: Int) { length += n }
}
