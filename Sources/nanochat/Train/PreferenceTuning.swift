// Learning from preference pairs (Lessons/12-preferences.md): a Bradley–Terry reward model
// (`nanochat reward-train`) and Direct Preference Optimization (`nanochat chat-dpo`), on one loop.
//
// Reward model (InstructGPT, 2022): the SFT model with a scalar head, `score.weight`, on the final normed
// hidden state of the answer's last token (<|assistant_end|>). Trained on pairs with
//     loss = −log σ(r(chosen) − r(rejected)),
// the Bradley–Terry likelihood that the chosen answer wins. Only the difference of rewards is learned.
//
// DPO (Rafailov et al., 2023): the policy π starts from the SFT model and a frozen copy π_ref stays beside
// it. With Δ(y) = log π(y|x) − log π_ref(y|x), summed over the answer's tokens,
//     loss = −log σ(β·(Δ(chosen) − Δ(rejected))),
// the reward model's loss with the implicit reward β·Δ in place of r: the optimum of RLHF's
// KL-regularised objective, max E[r] − β·KL(π ‖ π_ref), written in terms of the policy itself. Its
// gradient is −β·σ(−z)·(∇log π(chosen) − ∇log π(rejected)), z = β·(Δ(chosen) − Δ(rejected)):
// raise the chosen answer, lower the rejected one, the more the less the model already prefers it. Through
// the shared weighted cross-entropy that is a per-token weight of +β·σ(−z) on chosen tokens and
// −β·σ(−z) on rejected ones (GPT.backward(tokenWeights:)).

import Foundation

/// softplus(x) = log(1 + eˣ), without overflow.
func softplus(_ x: Double) -> Double { x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)) }

func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }

/// The Bradley–Terry loss of one pair from its two scores (rewards, or DPO's implicit rewards β·Δ):
/// −log σ(chosen − rejected), and its derivative with respect to the chosen score (the rejected one's is
/// the negative).
func pairLoss(chosen: Double, rejected: Double) -> (loss: Double, dChosen: Double) {
    let margin = chosen - rejected
    return (softplus(-margin), -sigmoid(-margin))
}

/// Which model a preference stage trains.
enum PreferenceMethod: String {
    case reward, dpo

    var command: String { self == .reward ? "reward-train" : "chat-dpo" }
    /// Passes over the training pairs when --steps is not given. DPO overfits its pairs fast: at a tenth
    /// of SFT's learning rate, 3.5 epochs made the policy babble (Lessons/12-preferences.md section 6.3).
    var defaultEpochs: Int { self == .reward ? 2 : 1 }
    /// The learning-rate scale (of SFT's rates) when --lr-scale is not given, from section 6's runs.
    var defaultLRScale: Float { self == .reward ? 0.3 : 0.03 }
    var folder: String { self == .reward ? "reward" : "dpo" }
}

struct PreferenceOptions {
    var lora = LoRAStart()  // LoRA adapters instead of every weight (chat-dpo)
    var method = PreferenceMethod.dpo
    var steps = 100
    var batch = 8  // pairs per optimizer step
    var beta: Float = 0.1  // DPO's β: how far from the reference the policy may move (small = far)
    var hyper = OptimizerHyper.scaled(by: PreferenceMethod.dpo.defaultLRScale)  // the CLI sets the method's
    var seed: UInt64 = 11
    var evalEvery = 25  // held-out pair accuracy every N steps (0 = only at the end)
    var saveEvery = 25
    var resume = false
    var fresh = false
    var stopAfterStep: Int?  // tests: behave as if Ctrl-C came during this step
    var quiet = false
}

/// The figures of a batch of pairs: mean loss, accuracy (chosen scored above rejected; a tie counts half),
/// mean margin, and the mean chosen and rejected scores (reward model: the rewards; DPO: the log-prob
/// drifts Δ from the reference).
struct PairFigures {
    var loss = 0.0, accuracy = 0.0, margin = 0.0, chosen = 0.0, rejected = 0.0

    init() {}
    init(_ scores: [(chosen: Double, rejected: Double)], scale: Double) {
        guard !scores.isEmpty else { return }
        let n = Double(scores.count)
        for s in scores {
            loss += pairLoss(chosen: scale * s.chosen, rejected: scale * s.rejected).loss / n
            accuracy += (s.chosen > s.rejected ? 1 : s.chosen == s.rejected ? 0.5 : 0) / n  // a tie is a coin flip
            margin += scale * (s.chosen - s.rejected) / n
            chosen += s.chosen / n
            rejected += s.rejected / n
        }
    }
}

/// One step's record in log.jsonl (reward-train and chat-dpo).
struct PreferenceStepRecord: LogRecord {
    var step: Int
    var loss: Double
    var accuracy: Double  // of this step's pairs, before the update
    var margin: Double
    var chosen: Double  // reward model: mean reward; DPO: mean log π − log π_ref of the chosen answers
    var rejected: Double
    var lr: Float
    var time: Double
}

/// Held-out pair accuracy, per pair file.
struct PairAccuracyRecord: LogRecord {
    var step: Int
    var set: String
    var pair_accuracy: Double
    var margin: Double
}

/// Scores pairs without training: rewards (a model with a score head) or DPO's log-prob drifts Δ.
func scorePairs(_ rows: [PairRows], model: GPT, reference: GPT?) -> [(chosen: Double, rejected: Double)] {
    rows.map { r in
        if model.config.scoreHead {
            let s = rewardScores(r, model)
            return (s[0], s[1])
        }
        let p = r.sequenceLogProbs(model), q = r.sequenceLogProbs(reference!)
        return (p[0] - q[0], p[1] - q[1])
    }
}

/// The reward model's scores of a pair's two conversations: one forward over the whole sequences, the
/// score read at each one's last token.
func rewardScores(_ r: PairRows, _ model: GPT) -> [Double] {
    let (inputs, last, T) = rewardRows(r, pad: 0)
    model.forward(inputs, nil, B: 2, T: T)
    return model.rewards(at: last).map(Double.init)
}

/// The whole sequences as 2 rows (padded), and the flat index of each row's last token.
func rewardRows(_ r: PairRows, pad: Int) -> (inputs: [Int32], last: [Int], T: Int) {
    let T = r.ids.map(\.count).max()!
    var inputs: [Int32] = []
    for ids in r.ids { inputs += (0..<T).map { Int32($0 < ids.count ? ids[$0] : pad) } }
    return (inputs, r.ids.enumerated().map { $0 * T + $1.count - 1 }, T)
}

/// One update from a batch of pairs: the reward model's Bradley–Terry loss, or DPO's. Each pair's
/// gradient is scaled by 1/pairs and added; then one optimizer step. Returns the batch's figures (the
/// scores before the update).
@discardableResult
func preferenceUpdate(
    model: GPT, reference: GPT?, optimizer: Optimizer, pairs: [PairRows], beta: Float, lrMultiplier: Float
) -> PairFigures {
    model.zeroGrad()
    var scores: [(chosen: Double, rejected: Double)] = []
    let scale = 1 / Double(pairs.count)
    for r in pairs {
        if model.config.scoreHead {
            let (inputs, last, T) = rewardRows(r, pad: 0)
            model.forward(inputs, nil, B: 2, T: T)
            let s = model.rewards(at: last).map(Double.init)
            let d = pairLoss(chosen: s[0], rejected: s[1]).dChosen * scale
            model.backward(rewardGradients: [(last[0], Float(d)), (last[1], Float(-d))])
            scores.append((s[0], s[1]))
        } else {
            let q = r.sequenceLogProbs(reference!)
            // One forward of both rows with the answer tokens weighted, so that backward can reweight them.
            model.forward(r.inputs, r.targets, r.mask.map { $0 ? 1 : 0 }, B: 2, T: r.T)
            let lp = UnsafeBufferPointer(start: model.lastLosses, count: 2 * r.T)
            let p = (0..<2).map { b in
                (0..<r.T).reduce(0.0) { $0 - (r.mask[b * r.T + $1] ? Double(lp[b * r.T + $1]) : 0) }
            }
            let b = Double(beta)
            let d = pairLoss(chosen: b * (p[0] - q[0]), rejected: b * (p[1] - q[1])).dChosen * b * scale
            // loss_CE = Σ w·(−log p): d(loss)/d(log p(chosen)) = d is w = −d on chosen tokens, +d on rejected.
            let w = r.mask.indices.map { i -> Float in r.mask[i] ? Float(i < r.T ? -d : d) : 0 }
            model.backward(tokenWeights: w)
            scores.append((p[0] - q[0], p[1] - q[1]))
        }
    }
    optimizer.update(lrMultiplier: lrMultiplier, momentum: 0.95)
    return PairFigures(scores, scale: model.config.scoreHead ? 1 : Double(beta))
}

struct PreferenceResult {
    var step: Int
    var heldOut: [String: PairFigures]  // the last evaluation, by pair file
    var stopStatus: Int32?
}

/// A preference stage on the harness: `from` (the SFT checkpoint) into `outDir`, trained on `train` pairs
/// (epochs of a seeded shuffle), evaluated on each held-out set; progress, log.jsonl, checkpoints,
/// Ctrl-C and --resume as every stage.
func preferenceStage(
    tokenizer tok: Tokenizer, from: String, outDir: String, train: [PreferencePair],
    heldOut: [(name: String, pairs: [PreferencePair])], options o: PreferenceOptions
) throws -> PreferenceResult {
    guard !train.isEmpty else {
        throw UserError(
            "\(o.method.command): the --pairs files hold no pairs (nanochat pairs reports why it made none)")
    }
    let start = StageStart(
        outDir: outDir, resume: o.resume, from: from, fresh: o.fresh, addScoreHead: o.method == .reward,
        lora: o.lora, maxBatch: 2, seed: o.seed, hyper: o.hyper)
    let loaded = try openFromCheckpoint(start, steps: o.steps, tokenizer: tok)
    let model = loaded.model, opt = loaded.optimizer
    if o.method == .reward && !model.config.scoreHead {
        throw UserError("\(outDir) holds a language model, not a reward model; use another --out or --fresh")
    }
    if o.method == .dpo && model.config.scoreHead {
        throw UserError("\(o.resume ? outDir : from) is a reward model; DPO starts from a language model (--from sft)")
    }
    // A resumed DPO run keeps the reference it started with.
    let referenceDir = o.resume ? loaded.meta["from"] ?? from : from
    let reference =
        o.method == .dpo
        ? try loadCheckpoint(referenceDir, tokenizer: tok, tokenizerDir: "the run's tokenizer", maxBatch: 2).0 : nil
    let context = model.config.sequenceLen
    var tooLong = 0
    func rows(_ pairs: [PreferencePair]) throws -> [PairRows] {
        let r = try pairs.compactMap { try PairRows($0, tokenizer: tok, contextLength: context) }
        tooLong += pairs.count - r.count
        return r
    }
    let trainRows = try rows(train)
    guard !trainRows.isEmpty else {
        throw UserError(
            "\(o.method.command): none of the \(train.count) training pairs fits in the \(context)-token context")
    }
    let heldRows = try heldOut.map { ($0.name, try rows($0.pairs)) }.filter { !$0.1.isEmpty }
    let h = try StageHarness(
        name: o.method.command, outDir: outDir, model: model, resumeFrom: o.resume ? loaded.step : nil,
        quiet: o.quiet)
    h.say(
        "\(o.method.command): from \(o.resume ? outDir : from) (step \(loaded.meta["step"] ?? "?")), "
            + "\(train.count) training pairs, \(o.steps) steps of \(o.batch)"
            + (o.method == .dpo ? String(format: ", beta %g", o.beta) : "")
            + (heldRows.isEmpty
                ? "" : "; held out: " + heldRows.map { "\($0.0) (\($0.1.count))" }.joined(separator: ", "))
            + (tooLong > 0 ? "; left out \(tooLong) pairs longer than the \(context)-token context" : ""))
    func save() throws {
        try Checkpoint.save(
            model: model, optimizer: opt, to: outDir,
            extra: [
                "step": "\(h.step)", "total_steps": "\(o.steps)", "tokenizer_hash": tok.hash,
                "stage": o.method.folder, "seed": "\(o.seed)", "beta": "\(o.beta)", "from": referenceDir,
            ])
    }
    var last: [String: PairFigures] = [:]
    let scale = o.method == .dpo ? Double(o.beta) : 1
    func evaluate() throws {
        guard !heldRows.isEmpty else { return }
        var shown: [String] = []
        for (name, rows) in heldRows {
            let f = PairFigures(scorePairs(rows, model: model, reference: reference), scale: scale)
            try h.log.write(PairAccuracyRecord(step: h.step, set: name, pair_accuracy: f.accuracy, margin: f.margin))
            last[name] = f
            shown.append(String(format: "%@ %.1f%%", name, 100 * f.accuracy))
        }
        h.say("step \(h.step) | held-out pair accuracy: " + shown.joined(separator: ", "))
    }
    if h.step == 0 { try evaluate() }
    var figures = PairFigures(), lrm: Float = 1, done = 0
    let stopStatus = try h.run(
        more: { h.step < o.steps }, isLast: { h.step == o.steps },
        schedule: StageSchedule(evalEvery: o.evalEvery, saveEvery: o.saveEvery, stopAfterStep: o.stopAfterStep),
        divergenceHint: "lower --lr-scale and restart.",
        body: {
            // Pair i of the run is pair order[i mod n] of its epoch's shuffle: a resumed run continues it.
            let n = trainRows.count
            let batch = (0..<o.batch).map { k -> PairRows in
                let i = h.step * o.batch + k, epoch = i / n
                return trainRows[shuffledIndices(n, seed: o.seed &+ UInt64(epoch) &* 0x2545_F491)[i % n]]
            }
            lrm = 1 - Float(h.step) / Float(o.steps)
            figures = preferenceUpdate(
                model: model, reference: reference, optimizer: opt, pairs: batch, beta: o.beta, lrMultiplier: lrm)
            return Float(figures.loss)
        },
        after: { _ in
            done += 1
            try h.log.write(
                PreferenceStepRecord(
                    step: h.step, loss: figures.loss, accuracy: figures.accuracy, margin: figures.margin,
                    chosen: figures.chosen, rejected: figures.rejected, lr: lrm, time: h.elapsed))
            guard !o.quiet else { return }
            let perStep = (now() - h.start) / Double(done)
            h.progress.show(
                String(
                    format: "step %d/%d | loss %.3f | pair accuracy %.0f%% | margin %.2f | %@, %@ left", h.step,
                    o.steps, figures.loss, 100 * figures.accuracy, figures.margin, formatDuration(now() - h.start),
                    formatDuration(Double(o.steps - h.step) * perStep)), force: h.step == o.steps)
        },
        periodic: [(o.evalEvery > 0 ? o.evalEvery : Int.max, evaluate)],  // 0: only at the end
        save: save)
    return PreferenceResult(step: h.step, heldOut: last, stopStatus: stopStatus)
}
