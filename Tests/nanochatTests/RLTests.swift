// Reinforcement learning: group advantages, which tokens carry them, the direction of one update, and
// an interrupted-and-resumed run that matches an uninterrupted one.

import XCTest
@testable import nanochat

final class RLTests: XCTestCase {
    func testGroupAdvantages() {
        XCTAssertEqual(groupAdvantages([1, 1, 1, 1]), [0, 0, 0, 0], "all right: nothing to learn")
        XCTAssertEqual(groupAdvantages([0, 0, 0]), [0, 0, 0], "all wrong: nothing to learn")
        XCTAssertEqual(groupAdvantages([1, 0, 0, 1]), [0.5, -0.5, -0.5, 0.5])
        XCTAssertEqual(groupAdvantages([1, 0, 0, 0]), [0.75, -0.25, -0.25, -0.25])
    }

    func testPassAtK() {
        // By hand: n = 4 samples, 1 right: pass@1 = 1/4, pass@2 = 1 - C(3,2)/C(4,2) = 1/2, pass@4 = 1.
        let p = passAtK(correct: [1], n: 4)
        XCTAssertEqual(p[0], 0.25, accuracy: 1e-12); XCTAssertEqual(p[1], 0.5, accuracy: 1e-12); XCTAssertEqual(p[3], 1, accuracy: 1e-12)
        XCTAssertEqual(passAtK(correct: [0, 4], n: 4), [0.5, 0.5, 0.5, 0.5])
    }

    func testOnlySampledAnswerTokensCarryTheAdvantage() {
        // Prompt 10 11 12; answer A samples 20 21, calls the tool (30 31 forced), samples 22, then ends;
        // answer B samples 23 and runs out of budget (no end token).
        let a = [GeneratedToken(id: 20, forced: false), GeneratedToken(id: 21, forced: false), GeneratedToken(id: 30, forced: true),
                 GeneratedToken(id: 31, forced: true), GeneratedToken(id: 22, forced: false)]
        let g = RLGroup(prompt: [10, 11, 12], answers: [a, [GeneratedToken(id: 23, forced: false)]], ended: [true, false], rewards: [1, 0])
        let r = rlRows(g, endToken: 99, pad: 0, scale: 1)
        XCTAssertEqual(r.T, 8)  // A: 3 + 5 + end = 9 tokens
        XCTAssertEqual(r.inputs, [10, 11, 12, 20, 21, 30, 31, 22, 10, 11, 12, 23, 0, 0, 0, 0])
        XCTAssertEqual(r.targets, [11, 12, 20, 21, 30, 31, 22, 99, 11, 12, 23, 0, 0, 0, 0, 0])
        XCTAssertEqual(r.weights, [0, 0, 0.5, 0.5, 0, 0, 0.5, 0.5, 0, 0, -0.5, 0, 0, 0, 0, 0])
        XCTAssertEqual(rlRows(g, endToken: 99, pad: 0, scale: 0.25).weights[2], 0.125)
    }

    /// log p(answer | prompt) summed over the answer's tokens.
    func logProb(_ model: GPT, prompt: [Int], answer: [Int]) -> Float {
        let seq = (prompt + answer).map { Int32($0) }
        let w = (0..<seq.count - 1).map { $0 + 1 >= prompt.count ? Float(1) : 0 }
        return -model.forward(Array(seq.dropLast()), Array(seq.dropFirst()), w, B: 1, T: seq.count - 1) * Float(answer.count)
    }

    func testUpdateRaisesRewardedAndLowersPenalisedAnswers() {
        let config = GPTConfig(sequenceLen: 16, vocabSize: 64, nLayer: 2, nHead: 2, nKvHead: 1, nEmbd: 32)
        let model = GPT(config: config, maxBatch: 2, seed: 3)
        let opt = Optimizer(model: model, hyper: OptimizerHyper(embeddingLR: 0.02, unembeddingLR: 0.002, matrixLR: 0.002, weightDecay: 0))
        let prompt = [1, 2, 3], good = [5, 6, 7], bad = [8, 9, 10]
        let before = (logProb(model, prompt: prompt, answer: good), logProb(model, prompt: prompt, answer: bad))
        let g = RLGroup(prompt: prompt, answers: [good, bad].map { $0.map { GeneratedToken(id: $0, forced: false) } },
                        ended: [false, false], rewards: [1, 0])
        rlUpdate(model: model, optimizer: opt, groups: [g], endToken: 63, pad: 0, lrMultiplier: 1)
        let after = (logProb(model, prompt: prompt, answer: good), logProb(model, prompt: prompt, answer: bad))
        XCTAssertGreaterThan(after.0, before.0 + 1e-3, "the rewarded answer became more likely")
        XCTAssertLessThan(after.1, before.1 - 1e-3, "the penalised answer became less likely")
        // A group with equal rewards changes nothing.
        let frozen = Array(UnsafeBufferPointer(start: model.params, count: model.numParams))
        rlUpdate(model: model, optimizer: opt, groups: [RLGroup(prompt: prompt, answers: g.answers, ended: g.ended, rewards: [1, 1])],
                 endToken: 63, pad: 0, lrMultiplier: 1)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: model.params, count: model.numParams)), frozen)
    }

    func testInterruptedRunResumesExactly() throws {
        let tok = Fixtures.smallTokenizer, words = try TaskWords.load(Fixtures.repoRoot.appendingPathComponent("data/words").path)
        let dir = Fixtures.tempDir("rl")
        let model = GPT(config: GPTConfig(depth: 1, vocabSize: tok.vocabSize, sequenceLen: 128), maxBatch: 1, seed: 5)
        try Checkpoint.save(model: model, optimizer: nil, to: dir + "/sft", extra: ["step": "0", "stage": "sft"])
        var o = RLOptions()
        o.steps = 3; o.prompts = 2; o.samples = 3; o.maxTokens = 6; o.evalEvery = 0; o.saveEvery = 0; o.quiet = true
        o.hyper = OptimizerHyper(embeddingLR: 0.02, unembeddingLR: 0.002, matrixLR: 0.002, weightDecay: 0)
        // A random model never solves arithmetic: reward answers by their length so groups differ.
        o.reward = { _, text in Float(text.utf8.count % 2) }
        _ = try reinforce(tokenizer: tok, words: words, from: dir + "/sft", outDir: dir + "/full", options: o)
        var cut = o; cut.stopAfterStep = 1
        let r1 = try reinforce(tokenizer: tok, words: words, from: dir + "/sft", outDir: dir + "/cut", options: cut)
        XCTAssertTrue(r1.interrupted)
        var rest = o; rest.resume = true
        let r2 = try reinforce(tokenizer: tok, words: words, from: dir + "/sft", outDir: dir + "/cut", options: rest)
        XCTAssertEqual(r2.step, 3)
        let full = try Safetensors.read(dir + "/full/model.safetensors").tensors, resumed = try Safetensors.read(dir + "/cut/model.safetensors").tensors
        XCTAssertEqual(full.keys.sorted(), resumed.keys.sorted())
        for k in full.keys { XCTAssertEqual(full[k]!.data, resumed[k]!.data, "\(k) differs after resume") }
        XCTAssertNotEqual(try Safetensors.read(dir + "/sft/model.safetensors").tensors["lm_head.weight"]!.data, full["lm_head.weight"]!.data,
                          "the run trained")
        // The learning rate decays linearly to 0 over the steps (nanochat's RL): 1, 2/3, 1/3.
        let lines = try String(contentsOfFile: dir + "/full/log.jsonl", encoding: .utf8).split(separator: "\n")
        let lrs = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }.compactMap { $0["lr"] as? Double }
        XCTAssertEqual(lrs.count, 3)
        for (a, b) in zip(lrs, [1, 2.0 / 3, 1.0 / 3]) { XCTAssertEqual(a, b, accuracy: 1e-6) }
    }
}
