// Preference tuning: the pair file format and its errors, the Bradley–Terry and DPO losses by hand, their
// gradients through the whole model by finite differences, DPO with policy = reference, the answer
// tokens → message parts round trip, and a bit-exact resume of both stages.

import XCTest
@testable import nanochat

final class PreferenceTests: XCTestCase {
    let line =
        #"{"prompt": [{"role": "user", "content": "Who are you?"}], "chosen": [{"role": "assistant", "content": "#
        + #""I am nanochat."}], "rejected": [{"role": "assistant", "content": "Figure it out."}]}"#

    func testPairFileParsesAndReportsErrorsByLine() throws {
        let pairs = try PreferenceFile.parse(line + "\r\n\r\n" + line + "\n", name: "p.jsonl")
        XCTAssertEqual(pairs.count, 2, "CRLF and blank lines are accepted")
        XCTAssertEqual(pairs[0].prompt, [Message(.user, "Who are you?")])
        XCTAssertEqual(pairs[0].chosen, Message(.assistant, "I am nanochat."))
        XCTAssertEqual(pairs[0].rejected.text, "Figure it out.")
        XCTAssertEqual(try PreferenceFile.parse(try PreferenceFile.line(pairs[0]), name: "x"), [pairs[0]], "round trip")
        let bad: [(String, [String])] = [
            ("{", ["p.jsonl line 2", "not a JSON object"]),
            (#"{"prompt": [], "chosen": [], "rejected": []}"#, ["line 2", "\"prompt\"", "non-empty"]),
            (
                #"{"prompt": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}], "#
                    + #""chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]}"#,
                ["line 2", "must end with a user message"]
            ),
            (
                #"{"prompt": [{"role": "user", "content": "hi"}], "chosen": [{"role": "user", "content": "a"}], "#
                    + #""rejected": [{"role": "assistant", "content": "b"}]}"#,
                ["line 2", "\"chosen\"", "from the assistant"]
            ),
            (
                #"{"prompt": [{"role": "user", "content": "hi"}], "chosen": [{"role": "assistant", "content": ""}], "#
                    + #""rejected": [{"role": "assistant", "content": "b"}]}"#, ["line 2", "chosen", "empty content"]
            ),
        ]
        for (text, fragments) in bad {
            assertUserError(fragments) { _ = try PreferenceFile.parse(line + "\n" + text, name: "p.jsonl") }
        }
    }

    func testShippedPreferenceFilesLoad() throws {
        for name in ["preferences-train", "preferences-test"] {
            let pairs = try PreferenceFile.load(
                Fixtures.repoRoot.appendingPathComponent("data/chat/\(name).jsonl").path)
            XCTAssertGreaterThanOrEqual(pairs.count, 50, name)
            XCTAssertTrue(pairs.allSatisfy { $0.chosen != $0.rejected }, name)
        }
    }

    func testPairLossByHand() {
        // Equal scores: −log σ(0) = log 2, slope −1/2. A margin of 2: log(1 + e⁻²), slope −σ(−2).
        let even = pairLoss(chosen: 1, rejected: 1)
        XCTAssertEqual(even.loss, log(2), accuracy: 1e-12)
        XCTAssertEqual(even.dChosen, -0.5, accuracy: 1e-12)
        let ahead = pairLoss(chosen: 3, rejected: 1)
        XCTAssertEqual(ahead.loss, log(1 + exp(-2)), accuracy: 1e-12)
        XCTAssertEqual(ahead.dChosen, -1 / (1 + exp(2)), accuracy: 1e-12)
        XCTAssertEqual(pairLoss(chosen: 0, rejected: 800).loss, 800, accuracy: 1e-9, "no overflow")
        // PairFigures by hand: two pairs, one right (2 > 1) and one wrong (0 < 1), scale 0.5.
        let f = PairFigures([(2, 1), (0, 1)], scale: 0.5)
        XCTAssertEqual(f.accuracy, 0.5)
        XCTAssertEqual(PairFigures([(1, 1)], scale: 1).accuracy, 0.5, "a tie is a coin flip")
        XCTAssertEqual(f.margin, 0, accuracy: 1e-12)
        XCTAssertEqual(f.chosen, 1)
        XCTAssertEqual(f.loss, (log(1 + exp(-0.5)) + log(1 + exp(0.5))) / 2, accuracy: 1e-12)
    }

    /// A pair tokenized by hand-free means: the small tokenizer's rendering of a short conversation.
    func rows(_ tok: Tokenizer) throws -> PairRows {
        let pair = try PreferenceFile.parse(line, name: "x")[0]
        let r = try XCTUnwrap(try PairRows(pair, tokenizer: tok, contextLength: 64))
        XCTAssertNil(
            try PairRows(pair, tokenizer: tok, contextLength: r.ids.map(\.count).max()! - 1), "too long: left out")
        return r
    }

    func randomModel(_ tok: Tokenizer, seed: UInt64, scoreHead: Bool = false) -> GPT {
        var config = GPTConfig(sequenceLen: 64, vocabSize: tok.vocabSize, nLayer: 1, nHead: 2, nKvHead: 1, nEmbd: 16)
        config.scoreHead = scoreHead
        let m = GPT(config: config, maxBatch: 2, seed: seed)
        var rng = RNG(seed: seed &+ 9)
        for i in 0..<m.numParams { m.params[i] = (2 * rng.uniform() - 1) * 0.3 }
        return m
    }

    func testPairRowsMarkOnlyTheAnswers() throws {
        let tok = Fixtures.smallTokenizer
        let r = try rows(tok)
        let promptLen = try tok.renderForCompletion(Conversation(messages: [Message(.user, "Who are you?")])).count
        for b in 0..<2 {
            let n = r.ids[b].count
            let trained = (0..<r.T).filter { r.mask[b * r.T + $0] }
            // Targets promptLen ..< n: the answer's tokens and <|assistant_end|>.
            XCTAssertEqual(trained, Array((promptLen - 1)..<(n - 1)), "row \(b)")
            XCTAssertEqual(Int(r.targets[b * r.T + n - 2]), tok.id(.assistantEnd))
        }
        XCTAssertEqual(tok.decode(r.ids[0].filter { !tok.isSpecial($0) }), "Who are you?I am nanochat.")
        // A multi-turn prompt: the earlier assistant turn is history, not part of the answer.
        let history =
            #"{"prompt": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello there"}, "#
            + #"{"role": "user", "content": "and?"}], "chosen": [{"role": "assistant", "content": "ok"}], "#
            + #""rejected": [{"role": "assistant", "content": "no"}]}"#
        let m = try XCTUnwrap(
            try PairRows(try PreferenceFile.parse(history, name: "x")[0], tokenizer: tok, contextLength: 64))
        for b in 0..<2 {
            let answer = tok.encode(b == 0 ? "ok" : "no").count + 1  // and <|assistant_end|>
            XCTAssertEqual((0..<m.T).filter { m.mask[b * m.T + $0] }.count, answer, "row \(b): the answer only")
        }
    }

    /// DPO's gradient through the model (reweighted cross-entropy) against central differences of the loss
    /// −log σ(β·(Δ(chosen) − Δ(rejected))), each Δ a sum of per-token log-probs from independent forwards.
    func testDPOGradientMatchesFiniteDifferences() throws {
        let tok = Fixtures.smallTokenizer
        let r = try rows(tok)
        let policy = randomModel(tok, seed: 1), reference = randomModel(tok, seed: 2), beta = 0.7
        let q = r.sequenceLogProbs(reference)
        func loss() -> Double {
            let p = r.sequenceLogProbs(policy)
            return pairLoss(chosen: beta * (p[0] - q[0]), rejected: beta * (p[1] - q[1])).loss
        }
        // A zero learning rate: the update only computes the gradient (and the figures).
        let opt = Optimizer(model: policy, hyper: OptimizerHyper(embeddingLR: 0, unembeddingLR: 0, matrixLR: 0))
        let f = preferenceUpdate(
            model: policy, reference: reference, optimizer: opt, pairs: [r], beta: Float(beta), lrMultiplier: 1)
        XCTAssertEqual(f.loss, loss(), accuracy: 1e-5)
        checkModelGradient(policy) { loss() }
    }

    /// The reward model's gradient (score head and backbone) against central differences of
    /// −log σ(r(chosen) − r(rejected)).
    func testRewardGradientMatchesFiniteDifferences() throws {
        let tok = Fixtures.smallTokenizer
        let r = try rows(tok)
        let model = randomModel(tok, seed: 3, scoreHead: true)
        XCTAssertEqual(model.tensors.last?.name, "score.weight")
        func loss() -> Double {
            let s = rewardScores(r, model)
            return pairLoss(chosen: s[0], rejected: s[1]).loss
        }
        let opt = Optimizer(model: model, hyper: OptimizerHyper(embeddingLR: 0, unembeddingLR: 0, matrixLR: 0))
        let f = preferenceUpdate(model: model, reference: nil, optimizer: opt, pairs: [r], beta: 0, lrMultiplier: 1)
        XCTAssertEqual(f.loss, loss(), accuracy: 1e-5)
        checkModelGradient(model, skip: ["lm_head.weight"]) { loss() }
        let head = model.tensor("lm_head.weight")!
        XCTAssertTrue((0..<head.count).allSatisfy { model.grads[head.offset + $0] == 0 }, "the LM head plays no part")
    }

    /// Policy = reference: every Δ is 0, so the loss is log 2, the margin 0, and the first step raises the
    /// chosen answer and lowers the rejected one.
    func testDPOFromItsReferenceStartsAtLog2AndSeparatesThePair() throws {
        let tok = Fixtures.smallTokenizer
        let r = try rows(tok)
        let policy = randomModel(tok, seed: 4), reference = randomModel(tok, seed: 4)
        let opt = Optimizer(model: policy, hyper: .scaled(by: 0.5))
        let f = preferenceUpdate(
            model: policy, reference: reference, optimizer: opt, pairs: [r], beta: 0.1, lrMultiplier: 1)
        XCTAssertEqual(f.loss, log(2), accuracy: 1e-9)
        XCTAssertEqual(f.margin, 0)
        let p = r.sequenceLogProbs(policy), q = r.sequenceLogProbs(reference)
        XCTAssertGreaterThan(p[0], q[0], "chosen answer more likely after one step")
        XCTAssertLessThan(p[1], q[1], "rejected answer less likely")
    }

    func testMessagePartsRoundTripACalculatorAnswer() throws {
        let tok = Fixtures.smallTokenizer
        let parts = [
            MessagePart(type: .text, text: "So "), MessagePart(type: .python, text: "3*4"),
            MessagePart(type: .python_output, text: "12"), MessagePart(type: .text, text: "\n#### 12"),
        ]
        let conv = Conversation(messages: [Message(.user, "hi"), Message(.assistant, parts: parts)])
        let ids = try tok.renderConversation(conv).ids
        let answer = Array(ids[(try tok.renderForCompletion(conv).count)...])
        XCTAssertEqual(tok.messageParts(answer), parts, "<|assistant_end|> dropped, tool parts kept")
    }

    func stageSetup() throws -> (Tokenizer, String, [PreferencePair]) {
        let tok = Fixtures.smallTokenizer
        let dir = Fixtures.tempDir("pref")
        let config = GPTConfig(depth: 1, vocabSize: tok.vocabSize, sequenceLen: 128)
        try Checkpoint.save(
            model: GPT(config: config, maxBatch: 1, seed: 5), optimizer: nil, to: dir + "/sft",
            extra: ["step": "0", "stage": "sft", "tokenizer_hash": tok.hash])
        let pairs = try PreferenceFile.load(
            Fixtures.repoRoot.appendingPathComponent("data/chat/preferences-test.jsonl").path)
        return (tok, dir, Array(pairs.prefix(6)))
    }

    func testInterruptedStagesResumeExactly() throws {
        let (tok, dir, pairs) = try stageSetup()
        for method in [PreferenceMethod.reward, .dpo] {
            var o = PreferenceOptions()
            o.method = method
            o.steps = 3
            o.batch = 4  // 3 steps × 4 pairs over 6 pairs: the second epoch's shuffle is used too
            o.evalEvery = 0
            o.saveEvery = 0
            o.quiet = true
            func run(_ o: PreferenceOptions, _ out: String) throws -> PreferenceResult {
                try preferenceStage(
                    tokenizer: tok, from: dir + "/sft", outDir: out, train: pairs, heldOut: [("held", pairs)],
                    options: o)
            }
            let full = dir + "/\(method)-full", cut = dir + "/\(method)-cut"
            XCTAssertEqual(try run(o, full).heldOut["held"]?.accuracy.isFinite, true)
            var stop = o
            stop.stopAfterStep = 1
            XCTAssertNotNil(try run(stop, cut).stopStatus)
            var rest = o
            rest.resume = true
            XCTAssertEqual(try run(rest, cut).step, 3)
            let a = try Safetensors.read(full + "/model.safetensors").tensors
            let b = try Safetensors.read(cut + "/model.safetensors").tensors
            XCTAssertEqual(a.keys.sorted(), b.keys.sorted())
            for k in a.keys { XCTAssertEqual(a[k]!.data, b[k]!.data, "\(method): \(k) differs after resume") }
            XCTAssertEqual(a["score.weight"] != nil, method == .reward, "only the reward model has a score head")
            let (config, _) = try Checkpoint.inspect(full)
            XCTAssertEqual(config.scoreHead, method == .reward)
            // --eval-every 0 still evaluates at the end (and only there, besides step 0).
            let steps = try String(contentsOfFile: full + "/log.jsonl", encoding: .utf8).split(separator: "\n")
                .compactMap { try? JSONDecoder().decode(PairAccuracyRecord.self, from: Data($0.utf8)) }.map(\.step)
            XCTAssertEqual(steps, [0, 3], "\(method)")
        }
        // DPO must start from a language model: a reward model (score head) is refused.
        var o = PreferenceOptions()
        o.quiet = true
        assertUserError(["is a reward model"]) {
            _ = try preferenceStage(
                tokenizer: tok, from: dir + "/reward-full", outDir: dir + "/dpo-bad", train: pairs, heldOut: [],
                options: o)
        }
    }
}
