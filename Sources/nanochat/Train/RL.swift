// Reinforcement learning on the arithmetic task (nanochat: scripts/chat_rl.py; `--task` picks another
// family, for RL from mid in Lessons/14-reasoning.md): REINFORCE with a group
// baseline. Each step samples a group of answers to each of a few train prompts from the Engine (with the
// calculator), rewards an answer 1 if the task's grader accepts its final answer and 0 otherwise, and
// trains on the model's own tokens with per-token weight = advantage = reward - the group's mean reward.
// Prompt tokens and the calculator's forced output carry weight 0: the model did not choose them.
// As nanochat: no KL penalty, no reference model, no division by the group's standard deviation, the
// objective averaged over the trained tokens. (Ours averages each group over its tokens with a
// nonzero weight, then over the groups: softcapCrossEntropyForward's normalisation.)

import Foundation

/// Every setting of the RL stage, with its defaults (the chat-rl command reads them from here).
struct RLOptions {
    var lora = LoRAStart()  // LoRA adapters instead of every weight
    var steps = Stage.rl.defaultSteps
    var prompts = 8  // prompts per step
    var samples = 8  // answers per prompt (the group)
    var maxTokens = 48  // most sampled tokens per answer
    var temperature: Float = 1
    var topK = 50
    var hyper = OptimizerHyper.scaled(by: RLOptions.lrScale)
    /// RL's learning rates are SFT's times this (LOG.md: ×0.5 collapsed the policy, ×0.2 and ×0.1 learned).
    static let lrScale: Float = 0.1
    var seed: UInt64 = 7
    var evalEvery = 20  // greedy pass@1 on the validation slice (0 = never)
    var evalCount = 50
    var saveEvery = 20
    var resume = false
    var fresh = false  // replace a checkpoint already in the stage's folder
    var stopAfterStep: Int?  // tests: behave as if Ctrl-C came during this step
    var quiet = false
    /// β of the KL penalty to a frozen reference (0 = none, as nanochat); see klPenalty.
    var kl: Float = 0
    /// The reference's checkpoint folder (nil = the checkpoint RL starts from, the SFT model).
    var reference: String?
    /// The weights of the accuracy and format rewards (Train/Reward.swift); the default is accuracy alone.
    var rewards = RewardWeights()
    /// The task family RL trains on (its prompts, grader and validation slice); arithmetic by default.
    var task = TaskKind.arithmetic
    /// A curriculum: the first N steps draw only easy arithmetic problems (easyArithmeticTemplates).
    var easyFirst = 0
    /// The reward of an answer's text, replacing `rewards` (tests set their own); nil = taskReward.
    var reward: ((TaskExample, String) -> Float)?
}

/// One prompt's group of sampled answers and their rewards.
struct RLGroup {
    var prompt: [Int]
    var answers: [[GeneratedToken]]  // as the Engine returned them (end token not included)
    var ended: [Bool]  // whether the answer stopped with <|assistant_end|> (then it is trained too)
    var rewards: [Float]
}

/// Advantages of a group: reward minus the group's mean. All right or all wrong gives all zeros, so such a
/// group teaches nothing (nanochat's choice: no std division, which would blow up near-uniform groups).
func groupAdvantages(_ rewards: [Float]) -> [Float] {
    guard !rewards.isEmpty else { return [] }
    let mean = rewards.reduce(0, +) / Float(rewards.count)
    return rewards.map { $0 - mean }
}

/// Sampled answers to one prompt as training rows (RL and distillation train on them alike): for each
/// answer, inputs = prompt + answer (+ the end token if the model chose it) minus the last token, targets
/// shifted by one; `mask` is true where the target is a token the model sampled, false for prompt targets,
/// forced tool-output targets and padding. Rows are padded to the longest.
struct SampledRows {
    var inputs: [Int32] = [], targets: [Int32] = [], mask: [Bool] = []
    var B = 0, T = 0

    init(prompt: [Int], answers: [[GeneratedToken]], ended: [Bool], endToken: Int, pad: Int) {
        let seqs = answers.indices.map { i -> [GeneratedToken] in
            prompt.map { GeneratedToken(id: $0, forced: true) } + answers[i]
                + (ended[i] ? [GeneratedToken(id: endToken, forced: false)] : [])
        }
        B = seqs.count
        T = seqs.map { $0.count - 1 }.max() ?? 0
        for s in seqs {
            for t in 0..<T {
                let has = t + 1 < s.count
                inputs.append(Int32(t < s.count ? s[t].id : pad))
                targets.append(Int32(has ? s[t + 1].id : pad))
                // The prompt's tokens are marked forced above, so one test covers prompt and tool output.
                mask.append(has && !s[t + 1].forced)
            }
        }
    }

    /// log p(target) of every position under `model` (one forward, no gradient).
    func logProbs(_ model: GPT) -> [Float] { model.logProbs(inputs, targets, B: B, T: T) }
}

/// A group as training rows, weight = the answer's advantage·scale on the tokens it sampled, else 0.
func rlRows(
    _ g: RLGroup, endToken: Int, pad: Int, scale: Float
) -> (inputs: [Int32], targets: [Int32], weights: [Float], T: Int) {
    let r = SampledRows(prompt: g.prompt, answers: g.answers, ended: g.ended, endToken: endToken, pad: pad)
    return (r.inputs, r.targets, advantageWeights(r, rewards: g.rewards, scale: scale), r.T)
}

/// Each answer's advantage·scale on the tokens it sampled (`mask`), 0 elsewhere.
func advantageWeights(_ r: SampledRows, rewards: [Float], scale: Float) -> [Float] {
    let adv = groupAdvantages(rewards)
    return r.mask.indices.map { r.mask[$0] ? adv[$0 / max(1, r.T)] * scale : 0 }
}

/// The KL penalty to a frozen reference (`chat-rl --kl BETA`), as GRPO writes it (DeepSeekMath, 2024):
/// β·mean over the sampled tokens of k3 = exp(lr − lp) − (lr − lp) − 1, where lp and lr are the policy's
/// and the reference's log-probs of the token: an estimate of KL(policy ‖ reference) that is never negative.
/// Its gradient is β·(1 − exp(lr − lp))·∇lp per token, so it enters the shared weighted cross-entropy
/// (loss = Σ w·(−log p)) as the per-token weight w = β·(exp(lr − lp) − 1), taken at the current weights.
/// Returns those weights (0 off the mask) and the mean k3.
func klPenalty(
    policy: [Float], reference: [Float], mask: [Bool], beta: Float
) -> (weights: [Float], kl: Double) {
    var weights = [Float](repeating: 0, count: mask.count), sum = 0.0, n = 0
    for i in mask.indices where mask[i] {
        let d = reference[i] - policy[i]
        weights[i] = beta * (exp(d) - 1)
        sum += Double(exp(d) - d - 1)
        n += 1
    }
    return (weights, n == 0 ? 0 : sum / Double(n))
}

/// One policy-gradient update from a batch of groups: forward/backward per group (gradients add up),
/// each group's loss scaled by 1/groups, then one optimizer step. Groups whose advantages are all zero
/// are skipped, unless a KL penalty to `reference` (β = `kl`) still has something to say about them.
/// Returns the mean loss of the groups that trained and the mean per-token KL estimate (0 without one).
@discardableResult
func rlUpdate(
    model: GPT, optimizer: Optimizer, groups: [RLGroup], endToken: Int, pad: Int, lrMultiplier: Float,
    reference: GPT? = nil, kl beta: Float = 0
) -> (loss: Float, kl: Double) {
    model.zeroGrad()
    var loss: Float = 0, trained = 0, klSum = 0.0
    let scale = 1 / Float(groups.count), penalised = reference != nil && beta > 0
    for g in groups where penalised || groupAdvantages(g.rewards).contains(where: { $0 != 0 }) {
        let rows = SampledRows(prompt: g.prompt, answers: g.answers, ended: g.ended, endToken: endToken, pad: pad)
        var weights = advantageWeights(rows, rewards: g.rewards, scale: scale)
        if let reference, penalised {
            let k = klPenalty(
                policy: rows.logProbs(model), reference: rows.logProbs(reference), mask: rows.mask, beta: beta)
            for i in weights.indices { weights[i] += k.weights[i] * scale }
            klSum += k.kl
        }
        loss += model.forward(rows.inputs, rows.targets, weights, B: rows.B, T: rows.T)
        model.backward()
        trained += 1
    }
    if trained > 0 { optimizer.update(lrMultiplier: lrMultiplier, momentum: 0.95) }
    return (trained == 0 ? 0 : loss / Float(trained), penalised ? klSum / Double(groups.count) : 0)
}

/// Greedy accuracy of a model on a list of examples, through the Engine with the calculator.
func greedyAccuracy(_ engine: Engine, _ tok: Tokenizer, _ examples: [TaskExample], maxTokens: Int) throws -> Double {
    var right = 0
    for ex in examples {
        let prompt = try ex.prompt(tok)
        let out = engine.generate(
            prompt: prompt, options: SamplingOptions(temperature: 0, topK: 0, seed: 0, maxTokens: maxTokens))
        if grade(ex, response: answerText(tok, out)) { right += 1 }
    }
    return Double(right) / Double(max(1, examples.count))
}

/// The validation slice RL watches (seed 2000: neither the train prompts nor chat-eval's test set).
func rlValidationSet(_ words: TaskWords, count: Int, task: TaskKind = .arithmetic) -> [TaskExample] {
    generateTask(task, count: count, seed: 2000, words: words)
}

struct RLResult {
    var step: Int
    var meanReward: Double
    var pass1: Double?
    /// The exit status a stopped run ends with (128 + the signal), nil when it ran to its end.
    var stopStatus: Int32?
    var interrupted: Bool { stopStatus != nil }
}

/// The RL stage on the harness: from the SFT checkpoint `from` into `outDir`, with progress, log.jsonl,
/// checkpoints, Ctrl-C and --resume as the other stages.
func reinforce(
    tokenizer tok: Tokenizer, words: TaskWords, from: String, outDir: String, options o: RLOptions
) throws -> RLResult {
    let start = StageStart(
        outDir: outDir, resume: o.resume, from: from, fresh: o.fresh, lora: o.lora, maxBatch: o.samples,
        seed: o.seed, hyper: o.hyper)
    let loaded = try openFromCheckpoint(start, steps: o.steps, tokenizer: tok)
    let model = loaded.model, opt = loaded.optimizer
    let h = try StageHarness(
        name: "chat-rl", outDir: outDir, model: model, resumeFrom: o.resume ? loaded.step : nil, quiet: o.quiet)
    let engine = Engine(model: model, tokenizer: tok, rows: o.samples)
    let refDir = o.reference ?? from
    let reference =
        o.kl > 0
        ? try loadCheckpoint(refDir, tokenizer: tok, tokenizerDir: "the tokenizer", maxBatch: o.samples).0 : nil
    let end = tok.id(.assistantEnd)
    let val = rlValidationSet(words, count: o.evalCount, task: o.task)
    h.say(
        "chat-rl: from \(o.resume ? outDir : from) (step \(loaded.meta["step"] ?? "?")): \(o.steps) steps of "
            + "\(o.prompts) \(o.task.rawValue) prompts "
            + "x \(o.samples) samples, temperature \(o.temperature), top-k \(o.topK)"
            + (o.kl > 0 ? ", KL penalty β \(o.kl) to \(refDir)" : "")
            + (o.rewards == RewardWeights()
                ? "" : ", reward \(o.rewards.accuracy)·accuracy + \(o.rewards.format)·format")
            + (o.easyFirst > 0 ? ", easy problems only for the first \(o.easyFirst) steps" : ""))
    func save() throws {
        try Checkpoint.save(
            model: model, optimizer: opt, to: outDir,
            extra: [
                "step": "\(h.step)", "total_steps": "\(o.steps)", "tokenizer_hash": tok.hash, "stage": "rl",
                "seed": "\(o.seed)", "kl": "\(o.kl)", "accuracy_reward": "\(o.rewards.accuracy)",
                "format_reward": "\(o.rewards.format)", "easy_first": "\(o.easyFirst)", "task": o.task.rawValue,
            ])
    }
    var pass1: Double?
    func evaluate() throws {
        let p = try greedyAccuracy(engine, tok, val, maxTokens: o.maxTokens)
        try h.log.write(PassRecord(step: h.step, pass1: p))
        h.say(String(format: "step %d | pass@1 (greedy) %.1f%% on %d validation problems", h.step, 100 * p, val.count))
        pass1 = p
    }

    if h.step == 0 && o.evalEvery > 0 { try evaluate() }
    var rewardSum = 0.0, rewardCount = 0, smooth = 0.0
    var groups: [RLGroup] = [], sampled = 0, sampleTime = 0.0, lrm: Float = 1, kl = 0.0, right = 0
    let stopStatus = try h.run(
        more: { h.step < o.steps }, isLast: { h.step == o.steps },
        schedule: StageSchedule(evalEvery: o.evalEvery, saveEvery: o.saveEvery, stopAfterStep: o.stopAfterStep),
        divergenceHint: "lower --lr-scale and restart.",
        body: {
            let t0 = now()
            // The step's prompts depend only on the seed and the step, so a resumed run sees the same ones.
            let examples = generateTask(
                o.task, count: o.prompts, seed: o.seed &* 1_000_003 &+ UInt64(h.step) &+ 1_000_000,
                words: words, easy: h.step < o.easyFirst)
            groups = []
            sampled = 0
            right = 0
            for (k, ex) in examples.enumerated() {
                let prompt = try ex.prompt(tok)
                let opts = SamplingOptions(
                    temperature: o.temperature, topK: o.topK, seed: o.seed &+ UInt64(h.step * 1000 + k),
                    maxTokens: o.maxTokens)
                let answers = engine.generateBatch(prompt: prompt, samples: o.samples, options: opts)
                let ended = engine.lastEnded
                let rewards = answers.indices.map { j -> Float in
                    if let reward = o.reward { return reward(ex, answerText(tok, answers[j])) }
                    return taskReward(ex, tokens: answers[j], ended: ended[j], tok: tok, weights: o.rewards)
                }
                right += answers.filter { grade(ex, response: answerText(tok, $0)) }.count
                sampled += answers.reduce(0) { $0 + $1.filter { !$0.forced }.count }
                groups.append(RLGroup(prompt: prompt, answers: answers, ended: ended, rewards: rewards))
            }
            sampleTime = now() - t0
            lrm = 1 - Float(h.step) / Float(o.steps)  // linear decay to 0, as nanochat's RL
            let r = rlUpdate(
                model: model, optimizer: opt, groups: groups, endToken: end, pad: tok.bosId, lrMultiplier: lrm,
                reference: reference, kl: o.kl)
            kl = r.kl
            return r.loss
        },
        after: { loss in
            let reward = Double(groups.reduce(0) { $0 + $1.rewards.reduce(0, +) }) / Double(o.prompts * o.samples)
            rewardSum += reward
            rewardCount += 1
            smooth = rewardCount == 1 ? reward : 0.9 * smooth + 0.1 * reward
            let tps = Double(sampled) / sampleTime
            try h.log.write(
                RLStepRecord(
                    step: h.step, reward: reward, loss: loss, lr: lrm, tok_per_s: Int(tps), time: h.elapsed,
                    kl: reference == nil ? nil : kl, sampled: sampled,
                    accuracy: Double(right) / Double(o.prompts * o.samples)))
            guard !o.quiet else { return }
            let perStep = (now() - h.start) / Double(rewardCount)
            let shown = pass1.map { String(format: "%.0f%%", 100 * $0) } ?? "-"
            let accuracy =
                o.rewards.format == 0
                ? "" : String(format: " | %.0f%% right", 100 * Double(right) / Double(o.prompts * o.samples))
            h.progress.show(
                String(
                    format: "step %d/%d | reward %.2f (avg %.2f)%@ | pass@1 %@ | %.0f sampled tok/s | %@, %@ left",
                    h.step, o.steps, reward, smooth, accuracy, shown, tps, formatDuration(now() - h.start),
                    formatDuration(Double(o.steps - h.step) * perStep)), force: h.step == o.steps)
        },
        periodic: [(o.evalEvery, evaluate)],
        save: save)
    return RLResult(
        step: h.step, meanReward: rewardSum / Double(max(1, rewardCount)), pass1: pass1, stopStatus: stopStatus)
}
