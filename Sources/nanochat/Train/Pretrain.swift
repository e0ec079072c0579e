// Pretraining (nanochat: scripts/base_train.py): next-token prediction on the corpus's token shards with
// Muon + AdamW, gradient accumulation up to the total batch, the warmup/constant/warmdown schedule,
// validation bpb and samples every so often, a log.jsonl of every step, checkpoints every N steps and
// at the end. Ctrl-C finishes the step, saves and exits; --resume continues exactly where it stopped.

import Foundation

/// Every setting of a next-token training stage, with the defaults of base-train (the CLI reads them from
/// here; mid-train and chat-sft set their own through StageOptions).
struct PretrainOptions {
    var depth = 4
    var arch = Architecture()  // the ablation ladder's switches (a fresh model only)
    var seqLen = 256
    var batchSize = 16  // rows per forward pass
    var totalBatchTokens = 4096  // tokens per optimizer step (a multiple of batchSize·seqLen)
    var steps: Int?  // exactly this many steps, or:
    var minutes: Double?  // as many steps as fit in this time (measured after 3 steps), or:
    var ratio: Double?  // tokens = ratio · params
    var hyper = OptimizerHyper()
    var warmupSteps = 0
    var warmdownRatio = 0.2
    var finalLRFraction = 0.0
    var evalEvery = 100
    var evalTokens = 65536
    var sampleEvery = 150
    var saveEvery = 50
    var seed: UInt64 = 42
    var resume = false
    var fresh = false  // replace a checkpoint already in the stage's folder
    var stopAfterStep: Int?  // tests: behave as if Ctrl-C came during this step
    var quiet = false
    var stage = Stage.base  // name in messages and checkpoint metadata
    var initFrom: String?  // start from this checkpoint's weights (mid from base, sft from mid)
    var warmStartOptimizer = false  // ...and its optimizer state
    var lora = LoRAStart()  // LoRA adapters instead of every weight (post-training stages)
}

struct PretrainResult {
    var step: Int
    var totalSteps: Int
    var lastLoss: Float
    var valBPB: Double?
    /// The exit status a stopped run ends with (128 + the signal), nil when it ran to its end.
    var stopStatus: Int32?
    var interrupted: Bool { stopStatus != nil }
}

/// --ratio: the steps that train on `ratio` × params tokens (nanochat's Chinchilla-style budget), at least 1.
func stepsForRatio(_ ratio: Double, params: Int, tokensPerStep: Int) -> Int {
    max(1, Int(ratio * Double(params) / Double(tokensPerStep)))
}

/// --minutes: the total steps that fit in `minutes` at the measured speed, never fewer than one more step.
func stepsThatFit(minutes: Double, secondsPerStep: Double, done: Int) -> Int {
    max(done + 1, Int(minutes * 60 / secondsPerStep))
}

/// Prompts for the samples printed at each evaluation.
let samplePrompts = ["ROMEO:\n", "To be, or not to be", "KING HENRY V:\nOnce more", "The king"]

func pretrain(
    tokenizer tok: Tokenizer, train: [UInt16], val: [UInt16], outDir: String,
    options o: PretrainOptions
) throws -> PretrainResult {
    var loader = try DataLoader(tokens: train, bos: tok.bosId, T: o.seqLen, seed: o.seed)
    return try trainStage(tokenizer: tok, source: &loader, val: val, outDir: outDir, options: o)
}

/// The next-token stages' step on the harness: pretraining (rows of corpus text), mid-training (text and
/// conversations) and SFT (packed conversations with per-token weights) all run here.
func trainStage<S: BatchSource>(
    tokenizer tok: Tokenizer, source loader: inout S, val: [UInt16], outDir: String,
    options o: PretrainOptions
) throws -> PretrainResult {
    let rowTokens = o.batchSize * o.seqLen
    guard o.totalBatchTokens % rowTokens == 0, o.totalBatchTokens >= rowTokens else {
        throw UserError(
            "--total-batch \(o.totalBatchTokens) must be a multiple of --batch-size × --seq-len = \(rowTokens)")
    }
    let accum = o.totalBatchTokens / rowTokens
    let start = StageStart(
        outDir: outDir, resume: o.resume, from: o.initFrom, warmOptimizer: o.warmStartOptimizer, fresh: o.fresh,
        lora: o.lora, maxBatch: o.batchSize, seed: o.seed, hyper: o.hyper)
    var fresh = GPTConfig(depth: o.depth, vocabSize: tok.vocabSize, sequenceLen: o.seqLen)
    fresh.arch = o.arch
    let loaded = try openStage(start, fresh: fresh, tokenizer: tok)
    let model = loaded.model, opt = loaded.optimizer, config = model.config
    guard config.sequenceLen == o.seqLen else {
        throw UserError(
            "\(o.initFrom ?? outDir) was trained with sequence length \(config.sequenceLen); this stage uses "
                + "\(o.seqLen). "
                + "Use --seq-len \(config.sequenceLen).")
    }
    let name = o.stage == .base ? "base-train" : o.stage.folder
    let h = try StageHarness(
        name: name, outDir: outDir, model: model, resumeFrom: o.resume ? loaded.step : nil, quiet: o.quiet)
    let bytesPerToken = tokenByteCounts(tok)

    var totalSteps = o.steps ?? 0
    if let r = o.ratio { totalSteps = stepsForRatio(r, params: config.numParams, tokensPerStep: o.totalBatchTokens) }
    if o.resume {
        // A --steps given on resume sets a new total (the schedule stretches to it); else the saved one.
        totalSteps = o.steps ?? Int(loaded.meta["total_steps"] ?? "") ?? totalSteps
        guard totalSteps > loaded.step || o.minutes != nil else {
            throw UserError(
                "\(outDir) is at step \(loaded.step) already; to train further, resume with --steps above \(loaded.step)"
            )
        }
        loader.skip(rows: Int(loaded.meta["data_rows"] ?? "") ?? 0)
        h.say("\(name): resumed from \(outDir) at step \(h.step)/\(totalSteps)")
    } else if let from = o.initFrom {
        h.say(
            "\(name): starting from \(from) (step \(loaded.meta["step"] ?? "?"))"
                + (loaded.optimizerLoaded ? " with its optimizer state" : ""))
    }
    h.say(
        "\(name): \(config), \(config.numParams) params, batch \(o.batchSize)x\(o.seqLen) x \(accum) accumulation "
            + "= \(o.totalBatchTokens) tokens/step"
            + (opt.matrixKind == .adamw ? ", AdamW (lr \(opt.hyper.matrixLR)) on the block matrices" : ""))
    var schedule = LRSchedule(
        totalSteps: max(totalSteps, 1), warmupSteps: o.warmupSteps,
        warmdownRatio: o.warmdownRatio, finalFraction: o.finalLRFraction)
    let inputs = UnsafeMutablePointer<Int32>.allocate(capacity: rowTokens)
    let targets = UnsafeMutablePointer<Int32>.allocate(capacity: rowTokens)
    let weights = UnsafeMutablePointer<Float>.allocate(capacity: rowTokens)
    defer {
        inputs.deallocate()
        targets.deallocate()
        weights.deallocate()
    }

    var valBPB: Double?
    func save() throws {
        var meta = [
            "step": "\(h.step)", "total_steps": "\(totalSteps)", "data_rows": "\(loader.rowsProduced)",
            "tokenizer_hash": tok.hash, "stage": o.stage.folder, "seed": "\(o.seed)",
        ]
        if let valBPB { meta["val_bpb"] = String(format: "%.4f", valBPB) }
        try Checkpoint.save(model: model, optimizer: opt, to: outDir, extra: meta)
    }
    func evaluate() throws {
        let r = evaluateBPB(
            model, tokens: val, tokenBytes: bytesPerToken, B: o.batchSize, T: o.seqLen, maxTokens: o.evalTokens)
        h.say(String(format: "step %d | val loss %.4f | val bpb %.4f (%d tokens)", h.step, r.loss, r.bpb, r.tokens))
        try h.log.write(ValRecord(step: h.step, val_loss: r.loss, val_bpb: r.bpb))
        valBPB = r.bpb
    }
    func samples() {
        guard !o.quiet else { return }
        for (k, p) in samplePrompts.enumerated() {
            let ids = [tok.bosId] + tok.encode(p)
            let out = generateNaive(
                model, prompt: ids, maxTokens: 48, temperature: 0.8, topK: 40, seed: UInt64(k), stop: [tok.bosId])
            h.say("sample: " + (p + tok.decode(out)).replacingOccurrences(of: "\n", with: "\n        "))
        }
    }

    // --minutes: until the budget is known (after 3 timed steps) the rate stays at its peak.
    func lrMultiplier(_ step: Int) -> Float { o.minutes != nil && totalSteps == 0 ? 1 : schedule.multiplier(step) }
    var trainTime = 0.0, timedSteps = 0, smooth: Float?, lastLoss: Float = .nan, t0 = 0.0
    let stopStatus = try h.run(
        more: { h.step < totalSteps || (o.minutes != nil && totalSteps == 0) }, isLast: { h.step == totalSteps },
        schedule: StageSchedule(evalEvery: o.evalEvery, saveEvery: o.saveEvery, stopAfterStep: o.stopAfterStep),
        divergenceHint: "lower the learning rates (--matrix-lr, --embedding-lr) and resume or restart.",
        body: {
            t0 = now()
            model.zeroGrad()
            var loss: Float = 0
            for _ in 0..<accum {
                let weighted = loader.nextBatch(B: o.batchSize, inputs: inputs, targets: targets, weights: weights)
                loss +=
                    model.forward(
                        inputs: inputs, targets: targets, weights: weighted ? UnsafePointer(weights) : nil,
                        B: o.batchSize, T: o.seqLen) / Float(accum)
                model.backward()
            }
            guard loss.isFinite else { return loss }
            if accum > 1 {
                let s = 1 / Float(accum)
                for i in 0..<model.numParams { model.grads[i] *= s }
            }
            opt.update(lrMultiplier: lrMultiplier(h.step), momentum: muonMomentum(h.step))
            return loss
        },
        after: { loss in
            let lrm = lrMultiplier(h.step - 1)
            let dt = now() - t0
            if h.step > 1 || o.resume {
                trainTime += dt
                timedSteps += 1
            }
            // --minutes: fix the number of steps once a few steps have been timed.
            if let m = o.minutes, totalSteps == 0, timedSteps >= 3 {
                totalSteps = stepsThatFit(minutes: m, secondsPerStep: trainTime / Double(timedSteps), done: h.step)
                schedule.totalSteps = totalSteps
                h.say(
                    "\(name): \(String(format: "%.2f", trainTime / Double(timedSteps))) s/step -> \(totalSteps) "
                        + "steps fit in \(m) minutes"
                )
            }
            lastLoss = loss
            smooth = smooth.map { 0.9 * $0 + 0.1 * loss } ?? loss  // from the first loss of this run, also on resume
            let tps = Double(o.totalBatchTokens) / dt
            try h.log.write(
                TrainStepRecord(
                    step: h.step, loss: loss, lr: lrm, tok_per_s: Int(tps), tokens: h.step * o.totalBatchTokens,
                    time: h.elapsed))
            guard !o.quiet else { return }
            let perStep = timedSteps > 0 ? trainTime / Double(timedSteps) : dt
            let left = formatDuration(Double(max(0, totalSteps - h.step)) * perStep)
            let gflops = config.flopsPerToken * tps / 1e9
            h.progress.show(
                String(
                    format: "step %d/%d | loss %.4f | lr %.2f | %.0f tok/s | %.1f GFLOP/s | %@, %@ left",
                    h.step, totalSteps, smooth ?? loss, lrm, tps, gflops, formatDuration(now() - h.start), left),
                force: h.step == totalSteps)
        },
        periodic: [(o.evalEvery, evaluate), (o.sampleEvery, samples)],
        save: save)
    return PretrainResult(
        step: h.step, totalSteps: totalSteps, lastLoss: lastLoss, valBPB: valBPB, stopStatus: stopStatus)
}
