// The GPT (nanochat's architecture, CPU-sized): parameters, gradients and activations each live in one
// allocation laid out by a table of tensor sizes (llm.c). forward(inputs, targets, weights) -> loss,
// backward() adds every gradient, zeroGrad() clears them. The same forward, given a KV cache, runs
// prefill and decode (Model/KVCache.swift); logProbs scores tokens; freeze() turns tensors off.
//   x = rmsnorm(wte[idx]); per block: x += attn(rmsnorm(x)); x += mlp(rmsnorm(x));
//   logits = 15·tanh(lm_head(rmsnorm(x)) / 15); attn: q,k,v projections, rotary, q/k rmsnorm, causal
//   softmax (GQA), c_proj; mlp: c_proj(relu(c_fc(x))²). No biases, no learnable norm weights.
//   config.arch can switch off rotary, the q/k rmsnorm and the cap, or swap relu² for relu or GELU.
// Initialisation (nanochat's, written down exactly): wte ~ N(0, 1); lm_head ~ N(0, 0.001);
// c_q, c_k, c_v, c_fc ~ U(-s, s) with s = sqrt(3)/sqrt(C) (the std of N(0, 1/sqrt(C))); both c_proj = 0.

import Foundation

/// Which optimizer updates a parameter tensor.
enum OptimizerKind: String, Codable, CaseIterable { case muon, adamw }

/// One parameter tensor: nanochat's state_dict name, shape (rows = out_features, cols = in_features), and
/// its parameter group: the optimizer that updates it, and whether it trains at all. A frozen tensor gets
/// no gradient work in backward and no optimizer state (the seam LoRA adapters use).
struct ParamTensor {
    let name: String
    let rows: Int, cols: Int
    let offset: Int
    var count: Int { rows * cols }
    /// Matrices inside the blocks get Muon; the embedding, the heads and LoRA factors get AdamW.
    var optimizer: OptimizerKind { name.hasPrefix("transformer.h.") && !isAdapter ? .muon : .adamw }
    var trainable = true
}

/// Offsets of one block's weights in the parameter slab.
struct BlockWeights { let cq, ck, cv, attnProj, fc, mlpProj: Int }

/// The parameter layout of a config, in nanochat's state_dict order.
func parameterTable(_ c: GPTConfig) -> [ParamTensor] {
    var table: [ParamTensor] = [], offset = 0
    func add(_ name: String, _ rows: Int, _ cols: Int) {
        table.append(ParamTensor(name: name, rows: rows, cols: cols, offset: offset))
        offset += rows * cols
    }
    add("transformer.wte.weight", c.vocabSize, c.nEmbd)
    for l in 0..<c.nLayer {
        add("transformer.h.\(l).attn.c_q.weight", c.nEmbd, c.nEmbd)
        add("transformer.h.\(l).attn.c_k.weight", c.kvDim, c.nEmbd)
        add("transformer.h.\(l).attn.c_v.weight", c.kvDim, c.nEmbd)
        add("transformer.h.\(l).attn.c_proj.weight", c.nEmbd, c.nEmbd)
        add("transformer.h.\(l).mlp.c_fc.weight", 4 * c.nEmbd, c.nEmbd)
        add("transformer.h.\(l).mlp.c_proj.weight", c.nEmbd, 4 * c.nEmbd)
    }
    add("lm_head.weight", c.vocabSize, c.nEmbd)
    if c.scoreHead { add("score.weight", 1, c.nEmbd) }
    if let lora = c.lora {  // after every base tensor, so that the base layout is the same with or without
        for l in 0..<c.nLayer {
            for t in lora.targets {
                let (names, shape) = (LoRASpec.names(layer: l, t), t.shape(c))
                add(names.a, lora.rank, shape.cols)
                add(names.b, shape.rows, lora.rank)
            }
        }
    }
    return table
}

/// Saved activations of one block (pointers into the activation slab).
struct BlockActs {
    var ln1, rstd1, q, qrstd, k, krstd, v, att, atty, ln2, rstd2, fch, fca: UnsafeMutablePointer<Float>
    /// A·x of each LoRA target (N, r) at index target.index (unused without adapters).
    var lora: UnsafeMutablePointer<Float>
}

final class GPT {
    let config: GPTConfig
    let maxBatch: Int
    private(set) var tensors: [ParamTensor]
    let numParams: Int
    /// Offsets of frozen tensors (see `freeze`): backward skips their weight gradients.
    private var frozen: Set<Int> = []
    let params: UnsafeMutablePointer<Float>
    let grads: UnsafeMutablePointer<Float>
    let wte: Int, lmHead: Int
    let score: Int?  // the reward model's head (config.scoreHead)
    let blocks: [BlockWeights]
    /// LoRA factors per layer, indexed by LoRATarget.index (empty without adapters).
    let adapters: [[AdapterWeights?]]
    /// The checkpoint a LoRA model's frozen weights came from, written into its adapter_config.json.
    var adapterBase: AdapterBase?

    // Activations: one slab, carved once for (maxBatch, sequenceLen).
    let actSlab: UnsafeMutablePointer<Float>
    let actCount: Int
    var emb, x0, rstd0, residual, lnf, rstdf, logits, losses, lse: UnsafeMutablePointer<Float>
    var layers: [BlockActs] = []
    var dres, dln, dq, dk, dv, datty, dfca, dfch, attScratch, loraScratch: UnsafeMutablePointer<Float>
    let ropeCos, ropeSin: UnsafeMutablePointer<Float>
    // The batch of the last forward, kept for backward.
    let inputs, targets: UnsafeMutablePointer<Int32>
    let weights: UnsafeMutablePointer<Float>
    var hasWeights = false, hasTargets = false, lastForwardCached = false
    private(set) var B = 0, T = 0
    /// Seconds spent per kind of kernel, when profiling is on (bench). nil = off, no cost.
    var profile: KernelProfile?

    init(config: GPTConfig, maxBatch: Int, seed: UInt64 = 42) {
        self.config = config
        self.maxBatch = maxBatch
        tensors = parameterTable(config)
        numParams = tensors.last!.offset + tensors.last!.count
        params = .allocate(capacity: numParams)
        grads = .allocate(capacity: numParams)
        params.initialize(repeating: 0, count: numParams)
        grads.initialize(repeating: 0, count: numParams)
        let byName = Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0.offset) })
        wte = byName["transformer.wte.weight"]!
        lmHead = byName["lm_head.weight"]!
        score = byName["score.weight"]
        blocks = (0..<config.nLayer).map { l in
            let p = "transformer.h.\(l)."
            return BlockWeights(
                cq: byName[p + "attn.c_q.weight"]!, ck: byName[p + "attn.c_k.weight"]!,
                cv: byName[p + "attn.c_v.weight"]!, attnProj: byName[p + "attn.c_proj.weight"]!,
                fc: byName[p + "mlp.c_fc.weight"]!, mlpProj: byName[p + "mlp.c_proj.weight"]!)
        }
        adapters =
            config.lora == nil
            ? []
            : (0..<config.nLayer).map { l in
                LoRATarget.allCases.map { t in
                    let n = LoRASpec.names(layer: l, t)
                    guard let a = byName[n.a], let b = byName[n.b] else { return nil }
                    return AdapterWeights(a: a, b: b)
                }
            }

        // Activation table: measure, allocate, carve.
        let N = maxBatch * config.sequenceLen, T = config.sequenceLen
        let sizes = GPT.activationSizes(config, maxBatch: maxBatch)
        actCount = sizes.reduce(0, +)
        actSlab = .allocate(capacity: actCount)
        actSlab.initialize(repeating: 0, count: actCount)
        var cursor = actSlab, k = 0
        func take() -> UnsafeMutablePointer<Float> {
            let p = cursor
            cursor += sizes[k]
            k += 1
            return p
        }
        emb = take()
        x0 = take()
        rstd0 = take()
        residual = take()
        lnf = take()
        rstdf = take()
        logits = take()
        losses = take()
        lse = take()
        for _ in 0..<config.nLayer {
            layers.append(
                BlockActs(
                    ln1: take(), rstd1: take(), q: take(), qrstd: take(), k: take(), krstd: take(),
                    v: take(), att: take(), atty: take(), ln2: take(), rstd2: take(), fch: take(), fca: take(),
                    lora: take()))
        }
        dres = take()
        dln = take()
        dq = take()
        dk = take()
        dv = take()
        datty = take()
        dfca = take()
        dfch = take()
        attScratch = take()
        loraScratch = take()

        ropeCos = .allocate(capacity: T * config.headDim / 2)
        ropeSin = .allocate(capacity: T * config.headDim / 2)
        rotaryTables(ropeCos, ropeSin, T, config.headDim)
        inputs = .allocate(capacity: N)
        targets = .allocate(capacity: N)
        weights = .allocate(capacity: N)
        initWeights(seed: seed)
    }

    deinit {
        params.deallocate()
        grads.deallocate()
        actSlab.deallocate()
        ropeCos.deallocate()
        ropeSin.deallocate()
        inputs.deallocate()
        targets.deallocate()
        weights.deallocate()
    }

    /// The activation slab's pieces, in the order init carves them (floats each).
    static func activationSizes(_ config: GPTConfig, maxBatch: Int) -> [Int] {
        let N = maxBatch * config.sequenceLen, T = config.sequenceLen
        let C = config.nEmbd, KC = config.kvDim, NH = config.nHead, NKV = config.nKvHead, V = config.vocabSize
        let R = config.lora?.rank ?? 0
        var sizes: [Int] = [N * C, N * C, N, N * C, N * C, N, N * V, N, N]
        for _ in 0..<config.nLayer {
            sizes += [
                N * C, N, N * C, N * NH, N * KC, N * NKV, N * KC, maxBatch * NH * T * T, N * C, N * C, N, 4 * N * C,
                4 * N * C, LoRATarget.allCases.count * N * R,
            ]
        }
        sizes += [N * C, N * C, N * C, N * KC, N * KC, N * C, 4 * N * C, 4 * N * C, maxBatch * NH * T * T, N * R]
        return sizes
    }

    /// Refuses a model that would not fit in this machine's memory, before allocating it: parameters and
    /// gradients, optimizer state when training, and the activations of `maxBatch` rows (in bytes, as
    /// floats; computed in Double so that absurd sizes cannot overflow). `rowsFlag` is the option that set
    /// the rows, named in the message.
    static func checkFitsInMemory(
        _ config: GPTConfig, maxBatch: Int, training: Bool, rowsFlag: String = "--batch-size"
    ) throws {
        let N = Double(maxBatch * config.sequenceLen), T = Double(config.sequenceLen), L = Double(config.nLayer)
        let C = Double(config.nEmbd), V = Double(config.vocabSize), NH = Double(config.nHead)
        let params = Double(config.numParams) * (training ? 5 : 2)
        let activations = N * C * (16 * L + 12) + N * V + Double(maxBatch) * NH * T * T * (L + 1)
        let needed = 4 * (params + activations), have = Double(ProcessInfo.processInfo.physicalMemory)
        guard needed <= 0.9 * have else {
            throw UserError(
                String(
                    format: "this model needs about %.1f GB of memory (%@, %d rows) and the machine has %.1f GB; ",
                    needed / 1e9, config.description, maxBatch, have / 1e9)
                    + "use a smaller \(rowsFlag), --seq-len or --depth")
        }
    }

    /// nanochat's initialisation (see the file header). Deterministic given the seed.
    func initWeights(seed: UInt64) {
        var rng = RNG(seed: seed)
        let s = Float(3).squareRoot() / Float(config.nEmbd).squareRoot()
        for t in tensors {
            let p = params + t.offset
            if t.name == "transformer.wte.weight" {
                for i in 0..<t.count { p[i] = rng.normal() }
            } else if t.name == "lm_head.weight" {
                for i in 0..<t.count { p[i] = 0.001 * rng.normal() }
            } else if t.name.hasSuffix("lora_B.weight") {
                p.update(repeating: 0, count: t.count)  // B = 0: the adapted model starts as the base model
            } else if t.name.hasSuffix("lora_A.weight") {
                let a = 1 / Float(t.cols).squareRoot()  // PEFT's kaiming_uniform(a=sqrt(5)): U(±1/sqrt(in))
                for i in 0..<t.count { p[i] = (2 * rng.uniform() - 1) * a }
            } else if t.name.hasSuffix("c_proj.weight") || t.name == "score.weight" {
                p.update(repeating: 0, count: t.count)
            } else {
                for i in 0..<t.count { p[i] = (2 * rng.uniform() - 1) * s }
            }
        }
    }

    func zeroGrad() { grads.update(repeating: 0, count: numParams) }

    /// Whether every weight is a finite number (a diverged run's are not; such weights are never saved).
    func parametersAreFinite() -> Bool {
        var i = 0
        while i < numParams {
            if !params[i].isFinite { return false }
            i += 1
        }
        return true
    }

    /// Marks the tensors for which `isFrozen` is true as frozen and every other one as trainable.
    /// Set it before making the Optimizer, which keeps state for the trainable tensors only.
    func freeze(where isFrozen: (ParamTensor) -> Bool) {
        for i in tensors.indices { tensors[i].trainable = !isFrozen(tensors[i]) }
        frozen = Set(tensors.filter { !$0.trainable }.map(\.offset))
    }

    /// The gradient slice of the tensor at `offset`, or nil when it is frozen (no gradient work).
    @inline(__always) func grad(_ offset: Int) -> UnsafeMutablePointer<Float>? {
        frozen.contains(offset) ? nil : grads + offset
    }

    func tensor(_ name: String) -> ParamTensor? { tensors.first { $0.name == name } }

    /// The soft-capped logits of the last forward, (B, T, V). Overwritten by backward().
    var lastLogits: UnsafePointer<Float> { UnsafePointer(logits) }
    /// Per-token cross-entropy of the last forward (0 where the weight was 0).
    var lastLosses: UnsafePointer<Float> { UnsafePointer(losses) }

    /// Runs body, adding its wall time to the profile's `kind` when profiling.
    @inline(__always)
    func timed<R>(_ kind: KernelKind, _ body: () -> R) -> R {
        guard profile != nil else { return body() }
        let t0 = now()
        let r = body()
        profile![kind] += now() - t0
        return r
    }

    // MARK: - Forward

    /// Runs the model on inputs (B, T). With targets, returns the weighted mean cross-entropy
    /// (weights nil = all 1; see softcapCrossEntropyForward); without, only computes logits and returns 0.
    /// With a KV cache (nanochat's forward(idx, targets, kv_cache)), the T tokens of each row sit at
    /// positions cache.length ..< +T, attend to everything the cache holds, and are added to it: one
    /// pass serves training, evaluation, prefill and decode. lastLogits has the soft-capped logits.
    @discardableResult
    func forward(
        inputs inp: UnsafePointer<Int32>, targets tgt: UnsafePointer<Int32>?, weights w: UnsafePointer<Float>?,
        B: Int, T: Int, cache: KVCache? = nil
    ) -> Float {
        precondition(
            B >= 1 && B <= maxBatch && T >= 1 && T <= config.sequenceLen,
            "batch \(B)x\(T) exceeds the model's \(maxBatch)x\(config.sequenceLen)")
        let pos0 = cache?.length ?? 0
        if let cache {
            precondition(B <= cache.rows && pos0 + T <= cache.maxLen, "the KV cache holds \(cache.maxLen) positions")
            precondition(tgt == nil, "a cached forward computes logits only")
        }
        self.B = B
        self.T = T
        let N = B * T, C = config.nEmbd, KC = config.kvDim, NH = config.nHead, NKV = config.nKvHead
        let hs = config.headDim, V = config.vocabSize, arch = config.arch
        inputs.update(from: inp, count: N)
        for n in 0..<N { precondition(inp[n] >= 0 && Int(inp[n]) < V, "input token \(inp[n]) outside the vocab") }
        hasTargets = tgt != nil
        lastForwardCached = cache != nil
        hasWeights = w != nil
        if let tgt { targets.update(from: tgt, count: N) }
        if let w { weights.update(from: w, count: N) }
        if let tgt {
            for n in 0..<N where (w?[n] ?? 1) != 0 {
                precondition(
                    tgt[n] >= 0 && Int(tgt[n]) < V, "target \(tgt[n]) outside the vocab at a weighted position")
            }
        }
        let P = params

        timed(.embedding) { embeddingForward(emb, inputs, P + wte, N, C) }
        timed(.rmsnorm) { rmsNormForward(x0, rstd0, emb, N, C) }
        residual.update(from: x0, count: N * C)
        for l in 0..<config.nLayer {
            let a = layers[l], bw = blocks[l]
            // attention
            timed(.rmsnorm) { rmsNormForward(a.ln1, a.rstd1, residual, N, C) }
            timed(.matmul) { linearForward(a.q, a.ln1, P + bw.cq, N, C, C) }
            timed(.matmul) { linearForward(a.k, a.ln1, P + bw.ck, N, C, KC) }
            timed(.matmul) { linearForward(a.v, a.ln1, P + bw.cv, N, C, KC) }
            adapterForward(l, .q, a.q, a.ln1, N, C, C)
            adapterForward(l, .k, a.k, a.ln1, N, C, KC)
            adapterForward(l, .v, a.v, a.ln1, N, C, KC)
            if arch.rotary {
                timed(.rotary) { rotaryForward(a.q, ropeCos, ropeSin, B, T, NH, hs, pos0: pos0) }
                timed(.rotary) { rotaryForward(a.k, ropeCos, ropeSin, B, T, NKV, hs, pos0: pos0) }
            }
            if arch.qkNorm {
                timed(.rmsnorm) { rmsNormForward(a.q, a.qrstd, a.q, N * NH, hs) }
                timed(.rmsnorm) { rmsNormForward(a.k, a.krstd, a.k, N * NKV, hs) }
            }
            if let cache {
                cache.store(layer: l, k: a.k, v: a.v, B: B, T: T)
                timed(.attention) {
                    cachedAttentionForward(a.atty, a.att, a.q, cache, layer: l, pos0: pos0, B, T, NH, NKV, hs)
                }
            } else {
                timed(.attention) { attentionForward(a.atty, a.att, a.q, a.k, a.v, B, T, NH, NKV, hs) }
            }
            timed(.matmul) { linearForward(residual, a.atty, P + bw.attnProj, N, C, C, accumulate: true) }  // x += attn
            adapterForward(l, .attnProj, residual, a.atty, N, C, C)
            // mlp
            timed(.rmsnorm) { rmsNormForward(a.ln2, a.rstd2, residual, N, C) }
            timed(.matmul) { linearForward(a.fch, a.ln2, P + bw.fc, N, C, 4 * C) }
            adapterForward(l, .fc, a.fch, a.ln2, N, C, 4 * C)
            timed(.relu2) { activationForward(arch.activation, a.fca, a.fch, N * 4 * C) }
            // x += mlp
            timed(.matmul) { linearForward(residual, a.fca, P + bw.mlpProj, N, 4 * C, C, accumulate: true) }
            adapterForward(l, .mlpProj, residual, a.fca, N, 4 * C, C)
        }
        timed(.rmsnorm) { rmsNormForward(lnf, rstdf, residual, N, C) }
        timed(.matmul) { linearForward(logits, lnf, P + lmHead, N, C, V) }
        cache?.advance(T)
        return timed(.crossEntropy) {
            softcapCrossEntropyForward(
                losses, lse, logits, tgt == nil ? nil : UnsafePointer(targets),
                w == nil ? nil : UnsafePointer(weights), N, V, cap: arch.softcap)
        }
    }

    /// log p(targets[n] | inputs up to n) for every position of a (B, T) batch: one forward, no gradient
    /// (DPO and distillation score a policy, a frozen reference or a teacher with it).
    func logProbs(_ inp: [Int32], _ tgt: [Int32], B: Int, T: Int) -> [Float] {
        forward(inp, tgt, nil, B: B, T: T)
        return (0..<(B * T)).map { -losses[$0] }
    }

    /// Convenience for arrays (tests, tools).
    @discardableResult
    func forward(_ inp: [Int32], _ tgt: [Int32]?, _ w: [Float]? = nil, B: Int, T: Int) -> Float {
        inp.withUnsafeBufferPointer { i in
            withOptionalPointer(tgt) { t in
                withOptionalPointer(w) { ww in
                    forward(inputs: i.baseAddress!, targets: t, weights: ww, B: B, T: T)
                }
            }
        }
    }

    /// The cached forward for arrays: T new tokens per row through the cache; returns the logits (B·T, V).
    func forward(_ inp: [Int32], B: Int, T: Int, cache: KVCache) -> UnsafePointer<Float> {
        inp.withUnsafeBufferPointer {
            _ = forward(inputs: $0.baseAddress!, targets: nil, weights: nil, B: B, T: T, cache: cache)
        }
        return lastLogits
    }
}

/// Calls body with the array's base address, or nil for a nil array.
func withOptionalPointer<T, R>(_ a: [T]?, _ body: (UnsafePointer<T>?) -> R) -> R {
    guard let a else { return body(nil) }
    return a.withUnsafeBufferPointer { body($0.baseAddress) }
}

/// The kinds of kernel a profile separates.
enum KernelKind: Int, CaseIterable {
    case matmul, attention, crossEntropy, rmsnorm, rotary, relu2, embedding
}

/// Accumulated seconds per kernel kind.
struct KernelProfile {
    var seconds = [Double](repeating: 0, count: KernelKind.allCases.count)
    subscript(kind: KernelKind) -> Double {
        get { seconds[kind.rawValue] }
        set { seconds[kind.rawValue] = newValue }
    }
    /// "matmul 802, attention 185, …, other 40" in milliseconds; other = `total` seconds minus the kernels.
    func summary(total: Double) -> String {
        let parts = KernelKind.allCases.map { String(format: "%@ %.1f", "\($0)", 1000 * self[$0]) }
        return (parts + [String(format: "other %.1f", 1000 * (total - seconds.reduce(0, +)))]).joined(separator: ", ")
    }
}
