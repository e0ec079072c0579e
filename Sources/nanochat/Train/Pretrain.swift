// Pretraining (nanochat: scripts/base_train.py): next-token prediction on the corpus's token shards with
// Muon + AdamW, gradient accumulation up to the total batch, the warmup/constant/warmdown schedule,
// validation bpb and samples every so often, a log.jsonl of every step, checkpoints every N steps and
// at the end. Ctrl-C finishes the step, saves and exits; --resume continues exactly where it stopped.

import Foundation

struct PretrainOptions {
    var depth = 4
    var seqLen = 256
    var batchSize = 16            // rows per forward pass
    var totalBatchTokens = 4096   // tokens per optimizer step (a multiple of batchSize·seqLen)
    var steps: Int?               // exactly this many steps, or:
    var minutes: Double?          // as many steps as fit in this time (measured after 3 steps), or:
    var ratio: Double?            // tokens = ratio · params
    var hyper = OptimizerHyper()
    var warmupSteps = 0
    var warmdownRatio = 0.2
    var finalLRFraction = 0.0
    var evalEvery = 100
    var evalTokens = 65536
    var sampleEvery = 200
    var saveEvery = 100
    var seed: UInt64 = 42
    var resume = false
    var stopAfterStep: Int?       // tests: behave as if Ctrl-C came during this step
    var quiet = false
    var stage = "base"            // name in logs and checkpoint metadata
    var initFrom: String?         // start from this checkpoint's weights (mid from base, sft from mid)
    var warmStartOptimizer = false // ...and its optimizer state
}

/// Set by the SIGINT handler; the training loop checks it after every step.
var stopRequested: sig_atomic_t = 0

func installStopHandler() {
    signal(SIGINT) { _ in stopRequested = 1 }
}

struct PretrainResult { var step: Int; var totalSteps: Int; var lastLoss: Float; var valBPB: Double?; var interrupted: Bool }

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

func pretrain(tokenizer tok: Tokenizer, train: [UInt16], val: [UInt16], outDir: String,
              options o: PretrainOptions) throws -> PretrainResult {
    var loader = try DataLoader(tokens: train, bos: tok.bosId, T: o.seqLen, seed: o.seed)
    return try trainStage(tokenizer: tok, source: &loader, val: val, outDir: outDir, options: o)
}

/// The training loop shared by every stage: pretraining (rows of corpus text), mid-training (text and
/// conversations) and SFT (packed conversations with per-token weights).
func trainStage<S: BatchSource>(tokenizer tok: Tokenizer, source loader: inout S, val: [UInt16], outDir: String,
                                options o: PretrainOptions) throws -> PretrainResult {
    var config = GPTConfig(depth: o.depth, vocabSize: tok.vocabSize, sequenceLen: o.seqLen)
    if let from = o.initFrom, !o.resume {
        config = try Checkpoint.inspect(from).0
        guard config.sequenceLen == o.seqLen else {
            throw UserError("\(from) was trained with sequence length \(config.sequenceLen); this stage uses \(o.seqLen). Use --seq-len \(config.sequenceLen).")
        }
    } else if o.resume, let (saved, _) = try? Checkpoint.inspect(outDir), o.initFrom != nil {
        config = saved
    }
    try config.validate()
    let rowTokens = o.batchSize * o.seqLen
    guard o.totalBatchTokens % rowTokens == 0, o.totalBatchTokens >= rowTokens else {
        throw UserError("--total-batch \(o.totalBatchTokens) must be a multiple of --batch-size × --seq-len = \(rowTokens)")
    }
    let accum = o.totalBatchTokens / rowTokens
    let model = GPT(config: config, maxBatch: o.batchSize, seed: o.seed)
    let opt = Optimizer(model: model, hyper: o.hyper)
    let name = o.stage == "base" ? "base-train" : o.stage
    let logPath = outDir + "/log.jsonl"
    let bytesPerToken = tokenByteCounts(tok)
    var progress = ProgressLine()
    let say = { (s: String) in if !o.quiet { progress.log(s) } }

    var step = 0, totalSteps = o.steps ?? 0
    if let r = o.ratio { totalSteps = stepsForRatio(r, params: config.numParams, tokensPerStep: o.totalBatchTokens) }
    if o.resume {
        let meta = try Checkpoint.load(into: model, optimizer: opt, from: outDir)
        guard meta["tokenizer_hash"] == tok.hash else {
            throw UserError("\(outDir) was trained with another tokenizer (hash \(meta["tokenizer_hash"] ?? "none"), now \(tok.hash)); start fresh without --resume")
        }
        step = Int(meta["step"] ?? "") ?? 0
        totalSteps = Int(meta["total_steps"] ?? "") ?? totalSteps
        loader.skip(rows: Int(meta["data_rows"] ?? "") ?? 0)
        say("\(name): resumed from \(outDir) at step \(step)/\(totalSteps)")
    } else {
        if let from = o.initFrom {
            let meta = try Checkpoint.load(into: model, optimizer: o.warmStartOptimizer ? opt : nil, from: from)
            guard meta["tokenizer_hash"] == nil || meta["tokenizer_hash"] == tok.hash else {
                throw UserError("\(from) was trained with another tokenizer; retrain it with this run's tokenizer")
            }
            say("\(name): starting from \(from) (step \(meta["step"] ?? "?"))" + (o.warmStartOptimizer ? " with its optimizer state" : ""))
            opt.step = o.warmStartOptimizer ? opt.step : 0
        }
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: logPath, contents: Data())
    }
    guard let log = FileHandle(forWritingAtPath: logPath) else { throw UserError("cannot write \(logPath)") }
    log.seekToEndOfFile()
    defer { try? log.close() }

    say("\(name): \(config), \(config.numParams) params, batch \(o.batchSize)x\(o.seqLen) x \(accum) accumulation = \(o.totalBatchTokens) tokens/step")
    let peak = measureSgemmPeak(config, rows: rowTokens)
    var schedule = LRSchedule(totalSteps: max(totalSteps, 1), warmupSteps: o.warmupSteps,
                              warmdownRatio: o.warmdownRatio, finalFraction: o.finalLRFraction)
    let inputs = UnsafeMutablePointer<Int32>.allocate(capacity: rowTokens), targets = UnsafeMutablePointer<Int32>.allocate(capacity: rowTokens)
    let weights = UnsafeMutablePointer<Float>.allocate(capacity: rowTokens)
    defer { inputs.deallocate(); targets.deallocate(); weights.deallocate() }

    func save(_ extra: [String: String] = [:]) throws {
        var meta = ["step": "\(step)", "total_steps": "\(totalSteps)", "data_rows": "\(loader.rowsProduced)",
                    "tokenizer_hash": tok.hash, "stage": o.stage, "seed": "\(o.seed)"]
        meta.merge(extra) { _, n in n }
        try Checkpoint.save(model: model, optimizer: opt, to: outDir, extra: meta)
    }
    func evaluate() -> Double {
        let r = evaluateBPB(model, tokens: val, tokenBytes: bytesPerToken, B: o.batchSize, T: o.seqLen, maxTokens: o.evalTokens)
        say(String(format: "step %d | val loss %.4f | val bpb %.4f (%d tokens)", step, r.loss, r.bpb, r.tokens))
        log.write(Data("{\"step\":\(step),\"val_loss\":\(r.loss),\"val_bpb\":\(r.bpb)}\n".utf8))
        return r.bpb
    }
    func samples() {
        for (k, p) in samplePrompts.enumerated() {
            let ids = [tok.bosId] + tok.encode(p)
            let out = generateNaive(model, prompt: ids, maxTokens: 48, temperature: 0.8, topK: 40, seed: UInt64(k), stop: [tok.bosId])
            say("sample: " + (p + tok.decode(out)).replacingOccurrences(of: "\n", with: "\n        "))
        }
    }

    installStopHandler()
    let start = now()
    var trainTime = 0.0, timedSteps = 0, smooth: Float = 0, lastLoss: Float = .nan, valBPB: Double?
    var interrupted = false
    while step < totalSteps || (o.minutes != nil && totalSteps == 0) {
        let t0 = now()
        model.zeroGrad()
        var loss: Float = 0
        for _ in 0..<accum {
            let weighted = loader.nextBatch(B: o.batchSize, inputs: inputs, targets: targets, weights: weights)
            loss += model.forward(inputs: inputs, targets: targets, weights: weighted ? UnsafePointer(weights) : nil,
                                  B: o.batchSize, T: o.seqLen) / Float(accum)
            model.backward()
        }
        guard loss.isFinite else {
            progress.finish()
            throw UserError("the loss became \(loss) at step \(step + 1): training diverged. The last good checkpoint in \(outDir) is kept; lower the learning rates (--matrix-lr, --embedding-lr) and resume or restart.")
        }
        if accum > 1 { let s = 1 / Float(accum); for i in 0..<model.numParams { model.grads[i] *= s } }
        let lrm = schedule.multiplier(step)
        opt.update(lrMultiplier: lrm, momentum: muonMomentum(step))
        step += 1
        let dt = now() - t0
        if step > 1 || o.resume { trainTime += dt; timedSteps += 1 }
        // --minutes: fix the number of steps once a few steps have been timed.
        if let m = o.minutes, totalSteps == 0, timedSteps >= 3 {
            totalSteps = stepsThatFit(minutes: m, secondsPerStep: trainTime / Double(timedSteps), done: step)
            schedule.totalSteps = totalSteps
            say("\(name): \(String(format: "%.2f", trainTime / Double(timedSteps))) s/step -> \(totalSteps) steps fit in \(m) minutes")
        }
        lastLoss = loss
        smooth = step == 1 ? loss : 0.9 * smooth + 0.1 * loss
        let tps = Double(o.totalBatchTokens) / dt
        let mfu = config.flopsPerToken * tps / 1e9 / peak
        log.write(Data("{\"step\":\(step),\"loss\":\(loss),\"lr\":\(lrm),\"tok_per_s\":\(Int(tps)),\"tokens\":\(step * o.totalBatchTokens),\"time\":\(String(format: "%.2f", now() - start))}\n".utf8))
        let perStep = timedSteps > 0 ? trainTime / Double(timedSteps) : dt
        if !o.quiet {
            progress.show(String(format: "step %d/%d | loss %.4f | lr %.2f | %.0f tok/s | MFU %.0f%% | %@, %@ left",
                                 step, totalSteps, smooth, lrm, tps, 100 * mfu, formatDuration(now() - start),
                                 formatDuration(Double(max(0, totalSteps - step)) * perStep)), force: step == totalSteps)
        }
        let last = step == totalSteps
        if o.evalEvery > 0 && (step % o.evalEvery == 0 || last) { valBPB = evaluate() }
        if o.sampleEvery > 0 && (step % o.sampleEvery == 0 || last) && !o.quiet { samples() }
        if stopRequested != 0 || step == o.stopAfterStep {
            try save()
            progress.finish()
            say("\(name): interrupted at step \(step); checkpoint saved to \(outDir). Continue with --resume.")
            interrupted = true
            break
        }
        if last || (o.saveEvery > 0 && step % o.saveEvery == 0) {
            try save(valBPB.map { ["val_bpb": String(format: "%.4f", $0)] } ?? [:])
        }
    }
    progress.finish()
    stopRequested = 0
    return PretrainResult(step: step, totalSteps: totalSteps, lastLoss: lastLoss, valBPB: valBPB, interrupted: interrupted)
}
