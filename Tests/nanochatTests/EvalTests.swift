// Chat evaluation: the task table counts what the graders say of each answer (the model's answers are
// scripted through the engine's policy hook, so the right count is known before the run), categorical
// multiple choice picks the option letter with the highest logit (a model built to always prefer " C"),
// and RL's greedy accuracy counts the same way.

import XCTest
@testable import nanochat

final class EvalTests: XCTestCase {
    let tok = Fixtures.smallTokenizer
    var words: TaskWords { try! TaskWords.load(Fixtures.repoRoot.appendingPathComponent("data/words").path) }

    /// A depth-1 model whose blocks are zero and whose embeddings are all equal, so every position's final
    /// hidden state is the same vector of ones; lm_head then scores only `favourite` above zero.
    func modelPreferring(_ favourite: Int, seqLen: Int = 128) -> GPT {
        let config = GPTConfig(depth: 1, vocabSize: tok.vocabSize, sequenceLen: seqLen)
        let model = GPT(config: config, maxBatch: 1, seed: 1)
        model.params.update(repeating: 0, count: model.numParams)
        let wte = model.tensor("transformer.wte.weight")!, head = model.tensor("lm_head.weight")!
        (model.params + wte.offset).update(repeating: 0.3, count: wte.count)
        (model.params + head.offset + favourite * head.cols).update(repeating: 0.05, count: head.cols)
        return model
    }

    /// An engine whose answers are scripted: for each example in order, "#### <answer>" when `right(i)`,
    /// else "#### nope", then <|assistant_end|>.
    func scriptedEngine(_ model: GPT, _ examples: [TaskExample], right: (Int) -> Bool) -> Engine {
        let engine = Engine(model: model, tokenizer: tok)
        let end = tok.id(.assistantEnd)
        var queue: [Int] = []
        for (i, ex) in examples.enumerated() { queue += tok.encode("#### " + (right(i) ? ex.answer : "nope")) + [end] }
        var cursor = 0
        engine.policy = { _, _ in defer { cursor += 1 }; return queue[cursor] }
        return engine
    }

    func testTaskTableCountsWhatTheGradersSay() throws {
        let letters = choiceLetters.map { tok.encode(" " + $0) }
        XCTAssertTrue(letters.allSatisfy { $0.count == 1 }, "the test tokenizer has single-token option letters")
        let cID = letters[choiceLetters.firstIndex(of: "C")!][0]
        let n = 9
        let kinds = TaskKind.allCases
        let all = kinds.flatMap { testSet($0, words: words, count: n) }
        // Every third answer of each task is right: 3 of 9.
        let engine = scriptedEngine(modelPreferring(cID), all) { i in (i % n) % 3 == 0 }
        let rows = try evaluateTasks(engine: engine, words: words, count: n, maxTokens: 40, kinds: kinds) { _ in }
        XCTAssertEqual(rows.map(\.task), ["arithmetic", "spelling", "counting", "choice", "choice (categorical)"])
        for r in rows.prefix(4) {
            XCTAssertEqual(r.correct, 3, r.task)
            XCTAssertEqual(r.total, n)
            XCTAssertEqual(r.wrong.count, 6)
        }
        // Categorical: the letter with the highest logit after "####" is always C here.
        let choice = testSet(.choice, words: words, count: n)
        let expectedC = choice.filter { $0.answer == "C" }.count
        XCTAssertGreaterThan(expectedC, 0); XCTAssertLessThan(expectedC, n)
        XCTAssertEqual(rows[4].correct, expectedC)
        // Guessing: the share of the most common answer.
        var counts: [String: Int] = [:]
        for ex in choice { counts[ex.answer, default: 0] += 1 }
        XCTAssertEqual(rows[3].chance, Double(counts.values.max()!) / Double(n), accuracy: 1e-12)
    }

    func testCategoricalFollowsTheLogits() throws {
        // The same answers, with a model that prefers " A": the categorical count follows the letter.
        let aID = tok.encode(" A")[0]
        let choice = testSet(.choice, words: words, count: 12)
        let engine = scriptedEngine(modelPreferring(aID), choice) { _ in false }
        let rows = try evaluateTasks(engine: engine, words: words, count: 12, maxTokens: 40, kinds: [.choice]) { _ in }
        XCTAssertEqual(rows[0].correct, 0)
        XCTAssertEqual(rows[1].correct, choice.filter { $0.answer == "A" }.count)
    }

    func testGreedyAccuracy() throws {
        let examples = generateTask(.arithmetic, count: 8, seed: 5, words: words)
        let engine = scriptedEngine(modelPreferring(0), examples) { $0 < 6 }
        XCTAssertEqual(try greedyAccuracy(engine, tok, examples, maxTokens: 40), 0.75)
    }

    func testChanceLevel() {
        let ex = generateTask(.counting, count: 20, seed: 1, words: words)
        var counts: [String: Int] = [:]
        for e in ex { counts[e.answer, default: 0] += 1 }
        XCTAssertEqual(chanceLevel(.counting, ex), Double(counts.values.max()!) / 20)
    }
}
