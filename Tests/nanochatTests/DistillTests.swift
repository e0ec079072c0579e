// Distillation and RL's KL penalty: the per-token weights by hand, the exact reverse-KL gradient that the
// on-policy weights give (finite differences over every token the student could sample), the KL
// penalty's gradient (finite differences), teacher = student leaving the weights alone, the tokenizer
// check, and a bit-exact resume.

import XCTest
@testable import nanochat

final class DistillTests: XCTestCase {
    /// A tiny model with random (not nanochat-init) weights, so that no gradient is trivially zero.
    func randomModel(seed: UInt64, maxBatch: Int) -> GPT {
        let config = GPTConfig(sequenceLen: 4, vocabSize: 11, nLayer: 2, nHead: 2, nKvHead: 1, nEmbd: 8)
        let model = GPT(config: config, maxBatch: maxBatch, seed: seed)
        var rng = RNG(seed: seed &+ 100)
        for i in 0..<model.numParams { model.params[i] = (2 * rng.uniform() - 1) * 0.5 }
        return model
    }

    func params(_ m: GPT) -> [Float] { Array(UnsafeBufferPointer(start: m.params, count: m.numParams)) }

    func testWeightsByHandOnTwoTokens() {
        // Token 1: the teacher likes it more than the student (log p −0.5 against −1): weight +0.5.
        // Token 2: less (−2 against −1): weight −1. The third position is a forced token: weight 0.
        let teacher: [Float] = [-0.5, -2, -1], student: [Float] = [-1, -1, -3], mask = [true, true, false]
        XCTAssertEqual(distillWeights(teacher: teacher, student: student, mask: mask, clip: 0), [0.5, -1, 0])
        XCTAssertEqual(distillWeights(teacher: teacher, student: student, mask: mask, clip: 0.7), [0.5, -0.7, 0])
        XCTAssertEqual(distillWeights(teacher: student, student: student, mask: mask, clip: 0), [0, 0, 0])
        // The KL penalty's weight by hand: β·(exp(lr − lp) − 1), and k3 = exp(d) − d − 1 with d = lr − lp.
        let k = klPenalty(policy: [-1, -2], reference: [-1 + log(2), -2], mask: [true, true], beta: 0.5)
        XCTAssertEqual(k.weights[0], 0.5, accuracy: 1e-6)
        XCTAssertEqual(k.weights[1], 0)
        XCTAssertEqual(k.kl, (1 - Double(log(Float(2)))) / 2, accuracy: 1e-6)
    }

    /// Averaged over every token the student could sample (each weighted by its probability), the
    /// on-policy weights give exactly the gradient of KL(student ‖ teacher) at that position: checked
    /// against central differences of the exact KL, computed from the full distributions.
    func testOnPolicyWeightsGiveTheReverseKLGradient() {
        let V = 11, prompt: [Int32] = [1, 2, 3]
        let student = randomModel(seed: 3, maxBatch: V), teacher = randomModel(seed: 4, maxBatch: V)
        // Row y: the prompt, then token y at the last position (the only one with a weight).
        let inputs = (0..<V).flatMap { _ in prompt }
        let targets = (0..<V).flatMap { y in [prompt[1], prompt[2], Int32(y)] }
        let mask = (0..<V).flatMap { _ in [false, false, true] }
        func lastLogProbs(_ m: GPT) -> [Float] {
            let lp = m.logProbs(inputs, targets, B: V, T: 3)
            return (0..<V).map { lp[$0 * 3 + 2] }
        }
        func exactKL() -> Double {
            let ls = lastLogProbs(student), lt = lastLogProbs(teacher)
            return (0..<V).reduce(0.0) { $0 + exp(Double(ls[$1])) * Double(ls[$1] - lt[$1]) }
        }
        let ls = student.logProbs(inputs, targets, B: V, T: 3), lt = teacher.logProbs(inputs, targets, B: V, T: 3)
        let w = distillWeights(teacher: lt, student: ls, mask: mask, clip: 0)
        // E_y[w(y)·∇(−log p(y))] = Σ_y p(y)·w(y)·∇(−log p(y)); the forward averages over the V weighted rows.
        let weights = (0..<(V * 3)).map { mask[$0] ? exp(ls[$0]) * w[$0] * Float(V) : 0 }
        student.zeroGrad()
        student.forward(inputs, targets, weights, B: V, T: 3)
        student.backward()
        checkModelGradient(student) { exactKL() }
    }

    /// --exact-kl: the gradient of Σ_n w_n·KL(student_n ‖ teacher_n), the whole-vocabulary reverse KL at each
    /// weighted position, through reverseKLBackward and the model's backward: central differences of the KL
    /// computed from both models' log-softmax over every token.
    func testExactReverseKLGradientMatchesFiniteDifferences() {
        let student = randomModel(seed: 3, maxBatch: 2), teacher = randomModel(seed: 4, maxBatch: 2)
        let V = student.config.vocabSize, B = 2, T = 4, N = B * T
        let inputs: [Int32] = [1, 2, 3, 4, 5, 6, 7, 8]
        let weights: [Float] = [0, 0.5, 0.25, 1, 0, 0, 2, 0.75]
        let all = (0..<V).map { Int32($0) }
        // log p(v) at every position, one forward per v (targets = v everywhere): independent of the kernel.
        func logSoftmax(_ m: GPT) -> [[Float]] {
            let per = all.map { v in m.logProbs(inputs, [Int32](repeating: v, count: N), B: B, T: T) }
            return (0..<N).map { n in (0..<V).map { per[$0][n] } }
        }
        let lt = logSoftmax(teacher)
        func loss() -> Double {
            let ls = logSoftmax(student)
            return (0..<N).reduce(0.0) { acc, n in
                acc + Double(weights[n])
                    * (0..<V).reduce(0.0) { $0 + exp(Double(ls[n][$1])) * Double(ls[n][$1] - lt[n][$1]) }
            }
        }
        var kl = [Float](repeating: 0, count: N), total: Float = 0
        teacher.forward(inputs, nil, B: B, T: T)
        student.zeroGrad()
        student.forward(inputs, nil, B: B, T: T)
        student.backward { g in
            total = reverseKLBackward(g, teacher.lastLogits, weights, &kl, N, V, cap: student.config.arch.softcap)
        }
        XCTAssertEqual(Double(total), loss(), accuracy: 1e-4 * max(1, loss()), "the kernel's KL is the exact one")
        XCTAssertEqual(kl[0], 0, "an unweighted position has no KL computed")
        XCTAssertGreaterThan(kl[1], 0)
        checkModelGradient(student) { loss() }
        // Teacher = student: KL 0 at every position, and distillUpdate leaves the student bit-identical.
        let same = randomModel(seed: 3, maxBatch: 2), opt = Optimizer(model: student, hyper: .scaled(by: 1))
        let before = params(student)
        let r = distillUpdate(
            student: student, teacher: same, optimizer: opt, groups: [group()], offPolicy: false, clip: 0,
            endToken: 10, pad: 0, lrMultiplier: 1, exact: true)
        XCTAssertEqual(r.kl, 0)
        XCTAssertEqual(params(student), before)
        // Another teacher: one small step lowers the exact KL on the same rows.
        let rows = SampledRows(prompt: [1, 2], answers: group().answers, ended: [true, false], endToken: 10, pad: 0)
        let k0 = exactReverseKLStep(student: student, teacher: teacher, rows: rows, scale: 1).klSum
        distillUpdate(
            student: student, teacher: teacher, optimizer: opt, groups: [group()], offPolicy: false, clip: 0,
            endToken: 10, pad: 0, lrMultiplier: 0.1, exact: true)
        XCTAssertLessThan(exactReverseKLStep(student: student, teacher: teacher, rows: rows, scale: 1).klSum, k0)
    }

    /// The KL penalty's weights are the gradient of β·mean k3 over the sampled tokens: central differences.
    func testKLPenaltyGradientMatchesFiniteDifferences() {
        let policy = randomModel(seed: 5, maxBatch: 2), reference = randomModel(seed: 6, maxBatch: 2)
        let inputs: [Int32] = [1, 2, 3, 4, 5, 6, 7, 8], targets: [Int32] = [2, 3, 4, 9, 6, 7, 8, 10]
        let mask = [false, true, true, true, false, false, true, true], beta: Float = 0.3
        let lr = reference.logProbs(inputs, targets, B: 2, T: 4)
        func penalty() -> Double {
            klPenalty(policy: policy.logProbs(inputs, targets, B: 2, T: 4), reference: lr, mask: mask, beta: beta).kl
                * Double(beta)
        }
        let k = klPenalty(policy: policy.logProbs(inputs, targets, B: 2, T: 4), reference: lr, mask: mask, beta: beta)
        XCTAssertGreaterThan(k.kl, 0)
        policy.zeroGrad()
        policy.forward(inputs, targets, k.weights, B: 2, T: 4)
        policy.backward()
        checkModelGradient(policy) { penalty() }
    }

    func group() -> SampledGroup {
        SampledGroup(
            prompt: [1, 2], answers: [[5, 6], [7]].map { $0.map { GeneratedToken(id: $0, forced: false) } },
            ended: [true, false])
    }

    func testTeacherEqualToStudentLeavesTheStudentAlone() {
        let student = randomModel(seed: 3, maxBatch: 2), same = randomModel(seed: 3, maxBatch: 2)
        let opt = Optimizer(model: student, hyper: .scaled(by: 1))
        let before = params(student)
        let r = distillUpdate(
            student: student, teacher: same, optimizer: opt, groups: [group()], offPolicy: false, clip: 0,
            endToken: 10, pad: 0, lrMultiplier: 1)
        XCTAssertEqual(r.kl, 0)
        XCTAssertEqual(params(student), before, "zero weights: no update (not even weight decay)")
        // Another teacher moves the student towards it: on the sampled tokens, the weights are the gradient of
        // ½·Σ (log p_t − log p_s)², so a small step shrinks that distance.
        let teacher = randomModel(seed: 4, maxBatch: 2)
        let rows = SampledRows(prompt: [1, 2], answers: group().answers, ended: [true, false], endToken: 10, pad: 0)
        func distance() -> Float {
            let lt = rows.logProbs(teacher), ls = rows.logProbs(student)
            return rows.mask.indices.reduce(0) { $0 + (rows.mask[$1] ? (lt[$1] - ls[$1]) * (lt[$1] - ls[$1]) : 0) }
        }
        let d0 = distance()
        distillUpdate(
            student: student, teacher: teacher, optimizer: opt, groups: [group()], offPolicy: false, clip: 0,
            endToken: 10, pad: 0, lrMultiplier: 0.1)
        XCTAssertNotEqual(params(student), before)
        XCTAssertLessThan(distance(), d0, "one step brought the student's log-probs towards the teacher's")
    }

    /// chat-rl --kl: a group whose answers were all rewarded alike teaches RL nothing, but the penalty still
    /// pulls the policy towards the reference (the KL estimate falls).
    func testKLPenaltyPullsRLTowardsTheReference() {
        let policy = randomModel(seed: 3, maxBatch: 2), reference = randomModel(seed: 4, maxBatch: 2)
        let opt = Optimizer(model: policy, hyper: .scaled(by: 1))
        let g = RLGroup(prompt: [1, 2], answers: group().answers, ended: [true, false], rewards: [1, 1])
        let before = params(policy)
        let first = rlUpdate(
            model: policy, optimizer: opt, groups: [g], endToken: 10, pad: 0, lrMultiplier: 0.1, reference: reference,
            kl: 0.5)
        XCTAssertGreaterThan(first.kl, 0)
        XCTAssertNotEqual(params(policy), before)
        let second = rlUpdate(
            model: policy, optimizer: opt, groups: [g], endToken: 10, pad: 0, lrMultiplier: 0, reference: reference,
            kl: 0.5)
        XCTAssertLessThan(second.kl, first.kl)
    }

    func testOffPolicyLearnsTheTeachersAnswers() {
        let student = randomModel(seed: 3, maxBatch: 2), teacher = randomModel(seed: 4, maxBatch: 2)
        let opt = Optimizer(model: student, hyper: .scaled(by: 1))
        let rows = SampledRows(prompt: [1, 2], answers: group().answers, ended: [true, false], endToken: 10, pad: 0)
        func answerLogProb() -> Float {
            zip(rows.logProbs(student), rows.mask).reduce(0) { $0 + ($1.1 ? $1.0 : 0) }
        }
        let before = answerLogProb()
        distillUpdate(
            student: student, teacher: teacher, optimizer: opt, groups: [group()], offPolicy: true, clip: 0,
            endToken: 10, pad: 0, lrMultiplier: 0.3)
        XCTAssertGreaterThan(answerLogProb(), before + 1e-3)
    }

    func testArithmeticPromptsAreRLsPrompts() throws {
        let words = try TaskWords.load(Fixtures.repoRoot.appendingPathComponent("data/words").path)
        var o = DistillOptions()
        o.tasks = [(.arithmetic, 1)]
        let rl = RLOptions()
        for step in [0, 5] {
            let ours = distillPrompts(o, step: step, words: words).map(\.answer)
            let theirs = generateTask(
                .arithmetic, count: rl.prompts, seed: rl.seed &* 1_000_003 &+ UInt64(step) &+ 1_000_000, words: words
            ).map(\.answer)
            XCTAssertEqual(ours, theirs)
        }
        o.tasks = [(.spelling, 1), (.choice, 3)]
        o.prompts = 400
        let kinds = distillPrompts(o, step: 1, words: words).map(\.kind)
        XCTAssertEqual(Double(kinds.filter { $0 == .choice }.count) / 400, 0.75, accuracy: 0.07, "drawn by weight")
    }

    func stageSetup() throws -> (Tokenizer, TaskWords, String) {
        let tok = Fixtures.smallTokenizer
        let words = try TaskWords.load(Fixtures.repoRoot.appendingPathComponent("data/words").path)
        let dir = Fixtures.tempDir("distill")
        let config = GPTConfig(depth: 1, vocabSize: tok.vocabSize, sequenceLen: 128)
        for (name, seed) in [("student", UInt64(5)), ("teacher", 6)] {
            try Checkpoint.save(
                model: GPT(config: config, maxBatch: 1, seed: seed), optimizer: nil, to: dir + "/" + name,
                extra: ["step": "0", "stage": "sft", "tokenizer_hash": tok.hash])
        }
        return (tok, words, dir)
    }

    func testTeacherWithAnotherTokenizerIsRefused() throws {
        let (tok, words, dir) = try stageSetup()
        let other = GPT(config: GPTConfig(depth: 1, vocabSize: tok.vocabSize, sequenceLen: 128), maxBatch: 1, seed: 7)
        try Checkpoint.save(
            model: other, optimizer: nil, to: dir + "/alien",
            extra: ["step": "0", "tokenizer_hash": "0123456789abcdef"])
        var o = DistillOptions()
        o.quiet = true
        assertUserError(["different tokenizers", "must share one"]) {
            _ = try distill(
                tokenizer: tok, words: words, student: dir + "/student", teacher: dir + "/alien", outDir: dir + "/out",
                options: o)
        }
    }

    func testInterruptedRunResumesExactly() throws {
        let (tok, words, dir) = try stageSetup()
        var o = DistillOptions()
        o.steps = 3
        o.prompts = 2
        o.samples = 2
        o.maxTokens = 6
        o.evalEvery = 0
        o.saveEvery = 0
        o.quiet = true
        o.hyper = OptimizerHyper(embeddingLR: 0.02, unembeddingLR: 0.002, matrixLR: 0.002, weightDecay: 0)
        func run(_ o: DistillOptions, _ out: String) throws -> DistillResult {
            try distill(
                tokenizer: tok, words: words, student: dir + "/student", teacher: dir + "/teacher", outDir: out,
                options: o)
        }
        _ = try run(o, dir + "/full")
        var cut = o
        cut.stopAfterStep = 1
        XCTAssertNotNil(try run(cut, dir + "/cut").stopStatus)
        var rest = o
        rest.resume = true
        XCTAssertEqual(try run(rest, dir + "/cut").step, 3)
        let full = try Safetensors.read(dir + "/full/model.safetensors").tensors
        let resumed = try Safetensors.read(dir + "/cut/model.safetensors").tensors
        XCTAssertEqual(full.keys.sorted(), resumed.keys.sorted())
        for k in full.keys { XCTAssertEqual(full[k]!.data, resumed[k]!.data, "\(k) differs after resume") }
        let start = try Safetensors.read(dir + "/student/model.safetensors").tensors
        XCTAssertNotEqual(start["lm_head.weight"]!.data, full["lm_head.weight"]!.data, "the run trained")
        let log = try XCTUnwrap(StageLog(path: dir + "/cut/log.jsonl"))
        XCTAssertEqual(log.series(.kl).map(\.x), [1, 2, 3], "each step logged once, with its KL")
    }
}
