// `nanochat bench`: how fast training runs here. Times forward, backward and the optimizer on random
// tokens, measures this machine's sgemm GFLOP/s at the model's own matmul shapes, and reports MFU
// against that measured peak (not a datasheet number).

import ArgumentParser
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Training speed: ms per forward/backward/optimizer step, tokens/s, GFLOP/s and MFU.")

    @Option(help: "Model depth (C = 64·depth).") var depth = 4
    @Option(help: "Sequence length T.") var seqLen = 256
    @Option(help: "Batch size B (rows per step).") var batchSize = 16
    @Option(help: "Vocabulary size.") var vocabSize = 4096
    @Option(help: "Timed steps (after one warm-up step).") var steps = 5
    @Option(help: "Rows of the batched decode measurement (RL and chat-eval sample many rows at once).")
    var decodeRows = 64
    @Option(help: "Time a LoRA step instead: rank-R adapters on every block linear, everything else frozen.")
    var loraRank: Int?

    func validate() throws {
        try validateCount(depth, "--depth", 1...256)
        try validateCount(seqLen, "--seq-len", 1...1 << 20)
        try validateCount(batchSize, "--batch-size", 1...4096)
        try validateCount(vocabSize, "--vocab-size", 2...1 << 24)
        try validateCount(steps, "--steps", 1...1_000_000)
        try validateCount(decodeRows, "--decode-rows", 1...4096)
        if let loraRank { try validateCount(loraRank, "--lora-rank", 1...1024) }
    }

    func run() throws {
        var config = GPTConfig(depth: depth, vocabSize: vocabSize, sequenceLen: seqLen)
        config.lora = loraRank.map { LoRASpec(rank: $0, alpha: LoRAOptions.defaultAlpha, targets: LoRATarget.allCases) }
        try runReportingErrors {
            try GPT.checkFitsInMemory(config, maxBatch: batchSize, training: true)
            // the batched decode's model
            try GPT.checkFitsInMemory(config, maxBatch: decodeRows, training: false, rowsFlag: "--decode-rows")
        }
        let model = GPT(config: config, maxBatch: batchSize)
        if config.lora != nil { model.freeze { !$0.isAdapter } }
        let opt = Optimizer(model: model)
        let N = batchSize * seqLen
        var rng = RNG(seed: 1)
        let inputs = (0..<N).map { _ in Int32(rng.int(vocabSize)) },
            targets = (0..<N).map { _ in Int32(rng.int(vocabSize)) }
        print(
            "bench: \(config), batch \(batchSize) (\(N) tokens/step), \(config.numParams) params, BLAS threads "
                + "\(blasThreads())"
        )
        print(
            String(
                format: "bench: %d trained parameters, optimizer state %.2f MB (AdamW 2 floats, Muon 1 per parameter)",
                opt.stateCount, Double(opt.stateBytes) / 1e6))
        var tf = 0.0, tb = 0.0, to = 0.0
        for s in 0...steps {
            let t0 = now()
            model.zeroGrad()
            model.forward(inputs, targets, B: batchSize, T: seqLen)
            let t1 = now()
            model.backward()
            let t2 = now()
            opt.update(lrMultiplier: 1, momentum: 0.95)
            let t3 = now()
            if s > 0 {
                tf += t1 - t0
                tb += t2 - t1
                to += t3 - t2
            }
        }
        // One more step with the per-kernel profile on (timing adds a little overhead, so it is separate).
        model.profile = KernelProfile()
        let tp = now()
        model.zeroGrad()
        model.forward(inputs, targets, B: batchSize, T: seqLen)
        model.backward()
        let profiled = now() - tp
        let prof = model.profile!
        model.profile = nil
        let n = Double(steps)
        let step = (tf + tb + to) / n
        let flops = config.flopsPerToken * Double(N)
        let achieved = flops / step / 1e9
        let peak = measureSgemmPeak(config, rows: N)
        print(
            String(
                format: "bench: forward %.1f ms, backward %.1f ms, optimizer %.1f ms, step %.1f ms",
                1000 * tf / n, 1000 * tb / n, 1000 * to / n, 1000 * step))
        print(
            String(
                format: "bench: %.0f tokens/s, %.1f GFLOP/s (%.2f GFLOP/step, nanochat's 6N+12LCT estimate)",
                Double(N) / step, achieved, flops / 1e9))
        print("bench: forward+backward by kernel (ms): " + prof.summary(total: profiled))
        print(
            String(format: "bench: sgemm at the model's shapes %.1f GFLOP/s; MFU %.1f%%", peak, 100 * achieved / peak))
        print(String(format: "bench: peak memory %.0f MB (training)", peakMemoryMB()))
        // Decoding is a memory-bound loop: each step reads every weight once (shared by the rows) and each
        // row's keys and values. The bounds below divide those bytes by the read bandwidth measured here.
        let weightBytes = 4 * Double(config.matmulParams)
        let kvBytesPerRow = 4 * Double(2 * config.nLayer * config.kvDim) * (0.75 * Double(seqLen))  // mean position
        let cacheBW = measureReadBandwidth(bytes: Int(weightBytes + kvBytesPerRow))
        let memoryBW = measureReadBandwidth(bytes: 256 << 20)
        print(
            String(
                format: "bench: read bandwidth %.1f GB/s over %.0f MB (the weights and one row's KV cache), "
                    + "%.1f GB/s over 256 MB (main memory)", cacheBW / 1e9, (weightBytes + kvBytesPerRow) / 1e6,
                memoryBW / 1e9))
        let (prefill, decode) = measureInference(model, rows: 1)
        model.profile = KernelProfile()
        let t1 = now()
        _ = measureInference(model, rows: 1)
        print("bench: prefill + decode, one stream, by kernel (ms): " + model.profile!.summary(total: now() - t1))
        model.profile = nil
        print(
            String(
                format: "bench: inference (KV cache, one stream): prefill %.0f tokens/s, decode %.0f tokens/s "
                    + "(bound: %.1f MB per token at %.1f GB/s = %.0f tokens/s)", prefill, decode,
                (weightBytes + kvBytesPerRow) / 1e6, cacheBW / 1e9, cacheBW / (weightBytes + kvBytesPerRow)))
        // Sampling stages (RL, chat-eval's samples, distillation) decode many rows of one prompt at once.
        let wide = GPT(config: config, maxBatch: decodeRows)
        wide.params.update(from: model.params, count: model.numParams)
        let (_, decodeWide) = measureInference(wide, rows: decodeRows)
        let wideBytes = weightBytes + Double(decodeRows) * kvBytesPerRow
        let wideFlops = Double(decodeRows) * 2 * Double(config.matmulParams)
        print(
            String(
                format: "bench: decode over %d rows: %.0f tokens/s summed, %.0f per row (bound: %.0f MB per step "
                    + "at %.1f GB/s = %.0f tokens/s; %.2f GFLOP per step at sgemm's %.1f GFLOP/s = %.0f tokens/s)",
                decodeRows, decodeWide, decodeWide / Double(decodeRows), wideBytes / 1e6, memoryBW / 1e9,
                Double(decodeRows) * memoryBW / wideBytes, wideFlops / 1e9, peak,
                Double(decodeRows) * peak * 1e9 / wideFlops))
        wide.profile = KernelProfile()
        let t2 = now()
        _ = measureInference(wide, rows: decodeRows)
        print(
            "bench: prefill + decode over \(decodeRows) rows by kernel (ms): "
                + wide.profile!.summary(total: now() - t2))
    }
}

/// GFLOP/s of sgemm over one training step's matmul shapes (forward and both backward products of every
/// linear layer, with their real sizes), timed here: the ceiling our training loop could reach.
func measureSgemmPeak(_ c: GPTConfig, rows N: Int) -> Double {
    let C = c.nEmbd, KC = c.kvDim, V = c.vocabSize
    // (IC, OC) of each linear layer, per step.
    var shapes: [(Int, Int)] = []
    for _ in 0..<c.nLayer { shapes += [(C, C), (C, KC), (C, KC), (C, C), (C, 4 * C), (4 * C, C)] }
    shapes.append((C, V))
    let maxIn = shapes.map { $0.0 }.max()!, maxOut = shapes.map { $0.1 }.max()!
    let x = UnsafeMutablePointer<Float>.allocate(capacity: N * maxIn),
        w = UnsafeMutablePointer<Float>.allocate(capacity: maxIn * maxOut)
    let y = UnsafeMutablePointer<Float>.allocate(capacity: N * maxOut),
        dw = UnsafeMutablePointer<Float>.allocate(capacity: maxIn * maxOut)
    defer {
        x.deallocate()
        w.deallocate()
        y.deallocate()
        dw.deallocate()
    }
    x.initialize(repeating: 0.01, count: N * maxIn)
    w.initialize(repeating: 0.01, count: maxIn * maxOut)
    y.initialize(repeating: 0.01, count: N * maxOut)
    dw.initialize(repeating: 0, count: maxIn * maxOut)
    var best = Double.infinity
    for _ in 0..<3 {
        let t0 = now()
        for (ic, oc) in shapes {
            linearForward(y, x, w, N, ic, oc)
            linearBackward(x, dw, y, x, w, N, ic, oc)
        }
        best = min(best, now() - t0)
    }
    let flops = shapes.reduce(0.0) { $0 + 6 * Double(N) * Double($1.0) * Double($1.1) }
    return flops / best / 1e9
}

/// Prefill (half the context in one pass) and greedy decode (the other half, one token at a time per row)
/// through the KV cache: tokens/s of each, summed over `rows` streams that share the prefilled prompt.
func measureInference(_ model: GPT, rows: Int) -> (Double, Double) {
    let T = model.config.sequenceLen, V = model.config.vocabSize
    let cache = KVCache(config: model.config, rows: rows)
    var rng = RNG(seed: 3)
    let prompt = (0..<(T / 2)).map { _ in Int32(rng.int(V)) }
    let t0 = now()
    var logits = model.forward(prompt, B: 1, T: prompt.count, cache: cache) + (prompt.count - 1) * V
    let t1 = now()
    cache.broadcastRowZero()
    var next = [Int32](repeating: 0, count: rows)
    let steps = T - prompt.count
    for s in 0..<steps {
        for r in 0..<rows {
            let row = logits + (s == 0 ? 0 : r * V)  // the first step reads the prompt's last logits
            var best = 0
            for v in 1..<V where row[v] > row[best] { best = v }
            next[r] = Int32(best)
        }
        logits = model.forward(next, B: rows, T: 1, cache: cache)
    }
    let t2 = now()
    return (Double(prompt.count) / (t1 - t0), Double(rows * steps) / (t2 - t1))
}

/// Bytes per second of reading a buffer of `bytes` over and over (summing it, 8 lanes × 4 accumulators),
/// each core reading its own part at every pass, as a decode step's matrix-vector products could: best of
/// 3 timings of at least 0.2 GB each.
func measureReadBandwidth(bytes: Int) -> Double {
    let cores = ProcessInfoCores.count
    let n = max(1024 * cores, bytes / 4) / (32 * cores) * (32 * cores)
    let a = UnsafeMutablePointer<Float>.allocate(capacity: n)
    defer { a.deallocate() }
    a.initialize(repeating: 1, count: n)
    let reps = max(1, (200 << 20) / (4 * n))
    var best = Double.infinity
    var sums = [Float](repeating: 0, count: cores)
    for _ in 0..<3 {
        let t0 = now()
        sums.withUnsafeMutableBufferPointer { out in
            let sum = out.baseAddress!
            DispatchQueue.concurrentPerform(iterations: cores) { c in
                let lo = c * n / cores, hi = (c + 1) * n / cores
                var s0 = F8(repeating: 0), s1 = s0, s2 = s0, s3 = s0
                for _ in 0..<reps {
                    var i = lo
                    while i < hi {
                        s0 += load8(a + i)
                        s1 += load8(a + i + 8)
                        s2 += load8(a + i + 16)
                        s3 += load8(a + i + 24)
                        i += 32
                    }
                }
                sum[c] = (s0 + s1 + s2 + s3).sum()  // keeps the loads
            }
        }
        best = min(best, now() - t0)
    }
    return sums.reduce(0, +) < 0 ? 0 : Double(4 * n * reps) / best
}
