// Distillation from a teacher checkpoint (Lessons/11-distillation.md).
//
// On-policy (the default; Agarwal et al. 2024, "GKD"; Thinking Machines, "On-Policy Distillation", 2025):
// the student samples answers to prompts (Engine, calculator live), the teacher scores every sampled token
// in one forward pass, and each token the student chose gets the weight
//     w = log p_teacher(token) − log p_student(token)
// (detached, optionally clipped to ±clip): the negative per-token reverse KL, a reward for every token
// instead of one per answer. It trains through the same weighted cross-entropy as RL (loss = Σ w·(−log p)
// over the sampled tokens, per-token mean), so in expectation the step follows −∇ KL(student ‖ teacher)
// on the student's own samples. Forced tokens (prompt, calculator output) get weight 0, as in RL.
//
// Off-policy (--off-policy; the distillation of DeepSeek-R1's small models): the teacher samples, and the
// student trains on the teacher's answers with weight 1: SFT on teacher samples, which minimises the
// forward KL(teacher ‖ student) on states the student itself may never visit.
//
// Teacher and student must share the tokenizer (the weights compare their log-probs token by token); they
// may differ in size. The teacher is frozen: no gradient, no optimizer state.

import Foundation

/// Every setting of the distillation stage, with its defaults (chat-distill reads them from here).
struct DistillOptions {
    var lora = LoRAStart()  // LoRA adapters instead of every weight
    var steps = Stage.distill.defaultSteps
    /// The prompt families and their weights: each prompt of a step is drawn from one of them.
    var tasks: [(kind: TaskKind, weight: Double)] = [(.spelling, 1), (.counting, 1), (.choice, 1)]
    var prompts = 8  // prompts per step
    var samples = 4  // answers per prompt
    var maxTokens = 96  // most sampled tokens per answer (chat-eval's: multiple-choice answers run past 48)
    var temperature: Float = 1  // 1 and top-k 0: the student's own distribution, whose KL is measured
    var topK = 0
    var clip: Float = 0  // |w| at most this (0 = no clipping)
    var offPolicy = false
    /// Off-policy: keep only the teacher's answers the task's grader accepts (rejection sampling, as the
    /// SFT data of DeepSeek-R1's distilled models).
    var onlyCorrect = false
    var exact = false  // the whole-vocabulary reverse KL at each sampled position (exactReverseKLStep)
    var hyper = OptimizerHyper.scaled(by: RLOptions.lrScale)
    var seed: UInt64 = 7
    var evalEvery = 20  // greedy pass@1 on each family's validation slice (0 = never)
    var evalCount = 30
    var saveEvery = 20
    var resume = false
    var fresh = false
    var stopAfterStep: Int?  // tests: behave as if Ctrl-C came during this step
    var quiet = false
}

/// The per-token weights of on-policy distillation: log p_teacher − log p_student where `mask` is set
/// (tokens the student sampled), clipped to ±clip when clip > 0; 0 elsewhere.
func distillWeights(teacher: [Float], student: [Float], mask: [Bool], clip: Float) -> [Float] {
    mask.indices.map { i in
        guard mask[i] else { return 0 }
        let w = teacher[i] - student[i]
        return clip > 0 ? min(clip, max(-clip, w)) : w
    }
}

/// One prompt's sampled answers (rewards play no part in distillation).
struct SampledGroup {
    var prompt: [Int]
    var answers: [[GeneratedToken]]
    var ended: [Bool]
}

/// One distillation update from a batch of groups: per group, the teacher's and the student's log-probs
/// of the sampled tokens, the weights (on-policy: distillWeights; off-policy: 1), forward/backward scaled
/// by 1/groups; then one optimizer step. A group whose weights are all zero (teacher = student) is
/// skipped, and with none left the parameters stay as they are. Returns the surrogate loss and the mean
/// per-token KL estimate the mode minimises (on-policy: log p_s − log p_t on the student's samples,
/// reverse KL; off-policy: log p_t − log p_s on the teacher's, forward KL).
@discardableResult
func distillUpdate(
    student: GPT, teacher: GPT, optimizer: Optimizer, groups: [SampledGroup], offPolicy: Bool, clip: Float,
    endToken: Int, pad: Int, lrMultiplier: Float, exact: Bool = false
) -> (loss: Float, kl: Double) {
    student.zeroGrad()
    var loss: Float = 0, trained = 0, klSum = 0.0, tokens = 0
    for g in groups {
        let rows = SampledRows(prompt: g.prompt, answers: g.answers, ended: g.ended, endToken: endToken, pad: pad)
        let scale = 1 / Float(groups.count)
        if exact && !offPolicy {
            let r = exactReverseKLStep(student: student, teacher: teacher, rows: rows, scale: scale)
            klSum += r.klSum
            tokens += r.tokens
            guard r.klSum > 0 else { continue }
            loss += r.loss
            trained += 1
            continue
        }
        let lt = rows.logProbs(teacher), ls = rows.logProbs(student)
        for i in rows.mask.indices where rows.mask[i] {
            klSum += Double(offPolicy ? lt[i] - ls[i] : ls[i] - lt[i])
            tokens += 1
        }
        let w =
            offPolicy
            ? rows.mask.map { $0 ? scale : 0 }
            : distillWeights(teacher: lt, student: ls, mask: rows.mask, clip: clip).map { $0 * scale }
        guard w.contains(where: { $0 != 0 }) else { continue }
        loss += student.forward(rows.inputs, rows.targets, w, B: rows.B, T: rows.T)
        student.backward()
        trained += 1
    }
    if trained > 0 { optimizer.update(lrMultiplier: lrMultiplier, momentum: 0.95) }
    return (trained == 0 ? 0 : loss / Float(trained), tokens == 0 ? 0 : klSum / Double(tokens))
}

/// The exact reverse KL of one group's rows (`chat-distill --exact-kl`): both models run once over the rows
/// (logits only), and at every sampled position the student's gradient is that of the whole-vocabulary
/// KL(student ‖ teacher), not the one-sample estimate log p_s − log p_t of the sampled token
/// (reverseKLBackward). Each position weighs scale / (sampled positions), the per-token mean. Adds the
/// gradient into the student's grads; returns the weighted loss and the KL summed over the sampled positions.
func exactReverseKLStep(
    student: GPT, teacher: GPT, rows: SampledRows, scale: Float
) -> (loss: Float, klSum: Double, tokens: Int) {
    let N = rows.B * rows.T, V = student.config.vocabSize
    let count = rows.mask.reduce(0) { $0 + ($1 ? 1 : 0) }
    guard count > 0 else { return (0, 0, 0) }
    let w = rows.mask.map { $0 ? scale / Float(count) : 0 }
    var kl = [Float](repeating: 0, count: N), loss: Float = 0
    teacher.forward(rows.inputs, nil, B: rows.B, T: rows.T)
    student.forward(rows.inputs, nil, B: rows.B, T: rows.T)
    student.backward { g in
        loss = reverseKLBackward(g, teacher.lastLogits, w, &kl, N, V, cap: student.config.arch.softcap)
    }
    return (loss, kl.reduce(0.0) { $0 + Double($1) }, count)
}

/// The prompts of step `step`: each family's examples come from the same seed formula as chat-rl's
/// (so with arithmetic alone, and the same --seed, both stages see the same prompts at every step), and
/// each prompt's family is drawn by weight.
func distillPrompts(_ o: DistillOptions, step: Int, words: TaskWords) -> [TaskExample] {
    let seed = o.seed &* 1_000_003 &+ UInt64(step) &+ 1_000_000
    let byKind = o.tasks.map { generateTask($0.kind, count: o.prompts, seed: seed, words: words) }
    if o.tasks.count == 1 { return byKind[0] }
    var rng = RNG(seed: seed &+ 77)
    let total = o.tasks.reduce(0) { $0 + $1.weight }
    return (0..<o.prompts).map { k in
        var u = Double(rng.uniform()) * total, f = 0
        while f < o.tasks.count - 1 && u >= o.tasks[f].weight {
            u -= o.tasks[f].weight
            f += 1
        }
        return byKind[f][k]
    }
}

/// Rejection sampling (`chat-distill --off-policy --only-correct`): the answers the task's grader accepts,
/// with their end flags, in their order.
func gradedRight(
    _ example: TaskExample, answers: [[GeneratedToken]], ended: [Bool], tok: Tokenizer
) -> (answers: [[GeneratedToken]], ended: [Bool]) {
    let keep = answers.indices.filter { grade(example, response: answerText(tok, answers[$0])) }
    return (keep.map { answers[$0] }, keep.map { ended[$0] })
}

struct DistillResult {
    var step: Int
    var kl: Double  // the last step's
    var pass1: [String: Double]  // the last validation, by family
    var stopStatus: Int32?  // 128 + the signal when stopped, nil when it ran to its end
}

/// The distillation stage on the harness: the student from `student` (a checkpoint folder) into `outDir`,
/// taught by the frozen `teacher` checkpoint, with progress, log.jsonl, checkpoints, Ctrl-C and --resume.
func distill(
    tokenizer tok: Tokenizer, words: TaskWords, student: String, teacher: String, outDir: String,
    options o: DistillOptions
) throws -> DistillResult {
    guard !o.tasks.isEmpty, o.tasks.allSatisfy({ $0.weight > 0 && $0.weight.isFinite }) else {
        throw UserError("distillation needs at least one prompt family, each with a positive weight (--tasks)")
    }
    // Both checkpoints must come from this tokenizer: the weights compare log-probs of the same token ids.
    let teacherMeta = try Checkpoint.inspect(teacher).1, studentMeta = try Checkpoint.inspect(student).1
    if let a = teacherMeta["tokenizer_hash"], let b = studentMeta["tokenizer_hash"], a != b {
        throw UserError(
            "teacher \(teacher) and student \(student) were trained with different tokenizers (hash \(a) and "
                + "\(b)); distillation compares their log-probs token by token, so they must share one")
    }
    let start = StageStart(
        outDir: outDir, resume: o.resume, from: student, fresh: o.fresh, lora: o.lora, maxBatch: o.samples,
        seed: o.seed, hyper: o.hyper)
    let loaded = try openFromCheckpoint(start, steps: o.steps, tokenizer: tok)
    let model = loaded.model, opt = loaded.optimizer
    let (teacherModel, _) = try loadCheckpoint(
        teacher, tokenizer: tok, tokenizerDir: "the run's tokenizer", maxBatch: o.samples)
    let h = try StageHarness(
        name: "chat-distill", outDir: outDir, model: model, resumeFrom: o.resume ? loaded.step : nil, quiet: o.quiet)
    let studentEngine = Engine(model: model, tokenizer: tok, rows: o.samples)
    let sampler = o.offPolicy ? Engine(model: teacherModel, tokenizer: tok, rows: o.samples) : studentEngine
    let end = tok.id(.assistantEnd)
    let families = o.tasks.map(\.kind)
    let val = families.map { generateTask($0, count: o.evalCount, seed: 2000, words: words) }
    h.say(
        "chat-distill: \(o.offPolicy ? "off" : "on")-policy, student \(o.resume ? outDir : student) (step "
            + "\(loaded.meta["step"] ?? "?")), teacher \(teacher): \(o.steps) steps of \(o.prompts) prompts x "
            + "\(o.samples) samples (\(families.map(\.rawValue).joined(separator: ", "))), temperature "
            + "\(o.temperature), top-k \(o.topK)" + (o.exact ? ", exact reverse KL over the vocabulary" : "")
            + (o.clip > 0 ? ", weights clipped to ±\(o.clip)" : "")
            + (o.onlyCorrect ? ", only the answers graded right" : ""))
    func save() throws {
        try Checkpoint.save(
            model: model, optimizer: opt, to: outDir,
            extra: [
                "step": "\(h.step)", "total_steps": "\(o.steps)", "tokenizer_hash": tok.hash, "stage": "distill",
                "seed": "\(o.seed)", "teacher": teacher, "off_policy": "\(o.offPolicy)",
                "only_correct": "\(o.onlyCorrect)",
            ])
    }
    var pass1: [String: Double] = [:]
    func evaluate() throws {
        var shown: [String] = []
        for (kind, examples) in zip(families, val) {
            let p = try greedyAccuracy(studentEngine, tok, examples, maxTokens: o.maxTokens)
            try h.log.write(PassRecord(step: h.step, pass1: p, task: kind.rawValue))
            pass1[kind.rawValue] = p
            shown.append(String(format: "%@ %.0f%%", kind.rawValue, 100 * p))
        }
        h.say("step \(h.step) | pass@1 (greedy, \(o.evalCount) validation each): " + shown.joined(separator: ", "))
    }

    if h.step == 0 && o.evalEvery > 0 { try evaluate() }
    var kl = 0.0, sampled = 0, sampleTime = 0.0, lrm: Float = 1, done = 0, kept = 0
    let stopStatus = try h.run(
        more: { h.step < o.steps }, isLast: { h.step == o.steps },
        schedule: StageSchedule(evalEvery: o.evalEvery, saveEvery: o.saveEvery, stopAfterStep: o.stopAfterStep),
        divergenceHint: o.exact || o.offPolicy
            ? "lower --lr-scale and restart." : "lower --lr-scale or set --clip, and restart.",
        body: {
            let t0 = now()
            var groups: [SampledGroup] = []
            sampled = 0
            kept = 0
            for (k, ex) in distillPrompts(o, step: h.step, words: words).enumerated() {
                let prompt = try ex.prompt(tok)
                let opts = SamplingOptions(
                    temperature: o.temperature, topK: o.topK, seed: o.seed &+ UInt64(h.step * 1000 + k),
                    maxTokens: o.maxTokens)
                var answers = sampler.generateBatch(prompt: prompt, samples: o.samples, options: opts)
                var ended = sampler.lastEnded
                sampled += answers.reduce(0) { $0 + $1.filter { !$0.forced }.count }
                if o.onlyCorrect { (answers, ended) = gradedRight(ex, answers: answers, ended: ended, tok: tok) }
                kept += answers.count
                if !answers.isEmpty { groups.append(SampledGroup(prompt: prompt, answers: answers, ended: ended)) }
            }
            sampleTime = now() - t0
            lrm = 1 - Float(h.step) / Float(o.steps)  // linear decay to 0, as RL
            let r = distillUpdate(
                student: model, teacher: teacherModel, optimizer: opt, groups: groups, offPolicy: o.offPolicy,
                clip: o.clip, endToken: end, pad: tok.bosId, lrMultiplier: lrm, exact: o.exact)
            kl = r.kl
            return r.loss
        },
        after: { loss in
            done += 1
            let tps = Double(sampled) / max(sampleTime, 1e-9)
            try h.log.write(
                DistillStepRecord(
                    step: h.step, kl: kl, loss: loss, lr: lrm, tok_per_s: Int(tps), time: h.elapsed, sampled: sampled,
                    kept: o.onlyCorrect ? kept : nil))
            guard !o.quiet else { return }
            let perStep = (now() - h.start) / Double(done)
            h.progress.show(
                String(
                    format: "step %d/%d | KL %.3f nats/token | %.0f sampled tok/s | %@, %@ left", h.step, o.steps,
                    kl, tps, formatDuration(now() - h.start), formatDuration(Double(o.steps - h.step) * perStep)),
                force: h.step == o.steps)
        },
        periodic: [(o.evalEvery, evaluate)],
        save: save)
    return DistillResult(step: h.step, kl: kl, pass1: pass1, stopStatus: stopStatus)
}
