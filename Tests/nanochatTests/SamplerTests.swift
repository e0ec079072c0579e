// Sampling and the engine's stopping rules: greedy is the argmax, temperature and top-k give the
// distributions they should (seeded draws, checked against the softmax computed here by hand within
// a few standard errors), the engine stops on <|bos|> as on <|assistant_end|>, and generation stops
// cleanly when the KV cache reaches the context length.

import Foundation
import XCTest
@testable import nanochat

final class SamplerTests: XCTestCase {

    /// How often each token is drawn in `n` seeded draws.
    func frequencies(_ logits: [Float], temperature: Float, topK: Int, n: Int = 40_000, seed: UInt64 = 1) -> [Double] {
        var rng = RNG(seed: seed)
        var counts = [Int](repeating: 0, count: logits.count)
        logits.withUnsafeBufferPointer { p in
            for _ in 0..<n { counts[sampleToken(p.baseAddress!, logits.count, temperature: temperature, topK: topK, rng: &rng)] += 1 }
        }
        return counts.map { Double($0) / Double(n) }
    }

    /// Asserts that observed frequencies match probabilities within 5 standard errors of n draws.
    func assertMatches(_ freq: [Double], _ probs: [Double], n: Int = 40_000, _ what: String,
                       file: StaticString = #filePath, line: UInt = #line) {
        for (i, (f, p)) in zip(freq, probs).enumerated() {
            let se = max((p * (1 - p) / Double(n)).squareRoot(), 1e-9)
            XCTAssertEqual(f, p, accuracy: 5 * se + 1e-12, "\(what): token \(i) drawn \(f), expected \(p)", file: file, line: line)
        }
    }

    func testGreedyIsTheArgmax() {
        var rng = RNG(seed: 3)
        let cases: [([Float], Int)] = [
            ([5, 1, 2, 3], 0),            // the maximum first
            ([1, 2, 3, 9], 3),            // ... last
            ([-4, -1, -3, -2], 1),        // all negative
            ([2, 7, 7, 1], 1),            // a tie goes to the lower id
        ]
        for (logits, want) in cases {
            XCTAssertEqual(sampleToken(logits, logits.count, temperature: 0, topK: 0, rng: &rng), want, "\(logits)")
            XCTAssertEqual(sampleToken(logits, logits.count, temperature: 0, topK: 2, rng: &rng), want, "top-k does not change greedy")
        }
        // Greedy draws no random numbers: the generator is where it started.
        XCTAssertEqual(rng.state, RNG(seed: 3).state)
    }

    func testTemperatureGivesTheSoftmax() {
        // logits 0, ln 2, ln 4: at temperature 1 the probabilities are 1/7, 2/7, 4/7; at temperature 2 they
        // are proportional to 1, √2, 2; at 0.5 to 1, 4, 16.
        let logits: [Float] = [0, Float(log(2.0)), Float(log(4.0))]
        assertMatches(frequencies(logits, temperature: 1, topK: 0), [1 / 7, 2 / 7, 4 / 7], "T=1")
        let s2 = 1 + 2.0.squareRoot() + 2
        assertMatches(frequencies(logits, temperature: 2, topK: 0), [1 / s2, 2.0.squareRoot() / s2, 2 / s2], "T=2")
        assertMatches(frequencies(logits, temperature: 0.5, topK: 0), [1 / 21, 4 / 21, 16 / 21], "T=0.5")
    }

    func testTopKKeepsTheKMostLikely() {
        // Five tokens; top-2 keeps ids 3 and 1 (logits ln 8 and ln 4), renormalised to 2/3 and 1/3.
        let logits: [Float] = [0, Float(log(4.0)), Float(log(2.0)), Float(log(8.0)), Float(log(1.5))]
        assertMatches(frequencies(logits, temperature: 1, topK: 2), [0, 1 / 3, 0, 2 / 3, 0], "top-2")
        assertMatches(frequencies(logits, temperature: 1, topK: 1), [0, 0, 0, 1, 0], "top-1")
        let all = 1 + 4 + 2 + 8 + 1.5
        assertMatches(frequencies(logits, temperature: 1, topK: 5), [1 / all, 4 / all, 2 / all, 8 / all, 1.5 / all], "top-5 = all")
        assertMatches(frequencies(logits, temperature: 1, topK: 0), [1 / all, 4 / all, 2 / all, 8 / all, 1.5 / all], "top-k 0 = all")
    }

    func testSamplingIsSeeded() {
        let logits: [Float] = (0..<50).map { Float($0 % 7) * 0.3 }
        XCTAssertEqual(frequencies(logits, temperature: 1, topK: 10, n: 500, seed: 9),
                       frequencies(logits, temperature: 1, topK: 10, n: 500, seed: 9))
        XCTAssertNotEqual(frequencies(logits, temperature: 1, topK: 10, n: 500, seed: 9),
                          frequencies(logits, temperature: 1, topK: 10, n: 500, seed: 10))
    }

    // MARK: The engine's stopping rules

    func tinyEngine(seqLen: Int = 32, rows: Int = 1) -> Engine {
        let tok = Fixtures.smallTokenizer
        let config = GPTConfig(sequenceLen: seqLen, vocabSize: tok.vocabSize, nLayer: 1, nHead: 1, nKvHead: 1, nEmbd: 16)
        return Engine(model: GPT(config: config, maxBatch: rows, seed: 1), tokenizer: tok, rows: rows)
    }

    func testEngineStopsAtBOSAndAssistantEnd() {
        let tok = Fixtures.smallTokenizer
        for stop in [tok.bosId, tok.id(.assistantEnd)] {
            let engine = tinyEngine()
            let script = [7, 8, 9, stop, 10, 11]
            var i = 0
            engine.policy = { _, _ in defer { i += 1 }; return script[i] }
            let out = engine.generate(prompt: [tok.bosId, 5, 6], options: SamplingOptions(maxTokens: 20))
            XCTAssertEqual(out.map(\.id), [7, 8, 9], "stops before \(stop) and leaves it out")
            XCTAssertEqual(i, 4, "nothing is sampled after the stop token")
            XCTAssertEqual(engine.lastEnded, [stop == tok.id(.assistantEnd)], "only <|assistant_end|> ends an answer")
        }
    }

    func testGenerationStopsAtTheContextLength() {
        // A 16-token context and a 5-token prompt: 11 tokens fill it; a budget of 50 must not overrun.
        let engine = tinyEngine(seqLen: 16)
        engine.policy = { _, _ in 42 }
        let out = engine.generate(prompt: [1, 2, 3, 4, 5], options: SamplingOptions(maxTokens: 50))
        XCTAssertEqual(out.count, 11)
        XCTAssertEqual(engine.cache.length, 16)
        // A batch stops at the same place, and a new prompt afterwards starts from an empty cache.
        let batch = tinyEngine(seqLen: 16, rows: 3)
        batch.policy = { _, _ in 42 }
        let rows = batch.generateBatch(prompt: [1, 2, 3, 4, 5], samples: 3, options: SamplingOptions(maxTokens: 50))
        XCTAssertEqual(rows.map(\.count), [11, 11, 11])
        XCTAssertEqual(batch.lastEnded, [false, false, false], "cut off by the context: not ended (RL trains no end token)")
        XCTAssertEqual(batch.generate(prompt: [1, 2], options: SamplingOptions(maxTokens: 3)).count, 3)
        XCTAssertLessThanOrEqual(batch.cache.length, 2 + 3)
    }

    func testTokenBudgetIsExact() {
        let engine = tinyEngine()
        engine.policy = { _, _ in 42 }
        XCTAssertEqual(engine.generate(prompt: [1, 2], options: SamplingOptions(maxTokens: 7)).count, 7)
    }
}
