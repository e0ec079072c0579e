// Inference: KV-cached decoding equals a full forward pass; streaming never splits a UTF-8 character;
// the calculator's grammar, refusals and a fuzz run; the chat's context-window crop.

import XCTest
@testable import nanochat

final class InferenceTests: XCTestCase {

    /// A small model with random (nonzero) weights everywhere, GQA.
    func randomModel(seqLen: Int = 16, vocab: Int = 50, maxBatch: Int = 2, arch: Architecture = Architecture()) -> GPT {
        var config = GPTConfig(sequenceLen: seqLen, vocabSize: vocab, nLayer: 2, nHead: 4, nKvHead: 2, nEmbd: 32)
        config.arch = arch
        let model = GPT(config: config, maxBatch: maxBatch, seed: 1)
        var rng = RNG(seed: 2)
        for i in 0..<model.numParams { model.params[i] = (2 * rng.uniform() - 1) * 0.3 }
        return model
    }

    func testCachedDecodingEqualsFullForward() {
        checkCachedDecoding(randomModel())
        // The ablation ladder's switches take the same path through the cache.
        let ladder = Architecture(rotary: false, qkNorm: false, activation: .gelu, softcap: 0)
        checkCachedDecoding(randomModel(arch: ladder))
    }

    private func checkCachedDecoding(_ model: GPT) {
        let V = model.config.vocabSize, n = 12
        var rng = RNG(seed: 4)
        let tokens = (0..<n).map { _ in Int32(rng.int(V)) }
        model.forward(tokens, nil, B: 1, T: n)
        let full = Array(UnsafeBufferPointer(start: model.lastLogits, count: n * V))
        let cache = KVCache(config: model.config, rows: 1)
        var cached: [Float] = []
        let prefill = 5
        let p = model.forward(Array(tokens[..<prefill]), B: 1, T: prefill, cache: cache)
        cached += UnsafeBufferPointer(start: p, count: prefill * V)
        for t in prefill..<n {
            let q = model.forward([tokens[t]], B: 1, T: 1, cache: cache)
            cached += UnsafeBufferPointer(start: q, count: V)
        }
        let scale = full.map { abs($0) }.max()!
        let err = zip(full, cached).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(err / scale, 1e-5, "cached logits differ from the full forward (\(model.config))")
        XCTAssertEqual(cache.length, n)
    }

    func testBatchRowsShareThePrefill() {
        let model = randomModel()
        let V = model.config.vocabSize
        let prompt: [Int32] = [3, 1, 4, 1, 5]
        let cache = KVCache(config: model.config, rows: 2)
        _ = model.forward(prompt, B: 1, T: prompt.count, cache: cache)
        cache.broadcastRowZero()
        let p = model.forward([Int32(9), Int32(2)], B: 2, T: 1, cache: cache)
        let batched = Array(UnsafeBufferPointer(start: p, count: 2 * V))
        for (r, next) in [Int32(9), Int32(2)].enumerated() {
            model.forward(prompt + [next], nil, B: 1, T: prompt.count + 1)
            let full = Array(UnsafeBufferPointer(start: model.lastLogits + prompt.count * V, count: V))
            let err = zip(full, batched[(r * V)..<((r + 1) * V)]).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(err, 1e-4, "row \(r)")
        }
    }

    func testStreamingNeverSplitsCharacters() {
        let text = "Grüße, 世界! 🎭 naïve café — ∑x² 😀👍🏽"
        let bytes = Array(text.utf8)
        // Byte by byte, and in the token pieces of a byte-level tokenizer.
        for chunks in [
            bytes.map { [$0] }, Fixtures.smallTokenizer.encodeOrdinary(bytes).map { Fixtures.smallTokenizer.vocab[$0] },
        ] {
            var s = UTF8Stream(), out = ""
            for c in chunks {
                let piece = s.push(c)
                XCTAssertFalse(piece.contains("\u{FFFD}"), "a piece split a character")
                out += piece
            }
            out += s.flush()
            XCTAssertEqual(out, text)
        }
        var s = UTF8Stream()
        XCTAssertEqual(s.push([0x61, 0xE2, 0x82]), "a")  // held back: an incomplete euro sign
        XCTAssertEqual(s.push([0xAC, 0x62]), "€b")
        XCTAssertEqual(s.push([0xFF, 0x63]), "\u{FFFD}c")  // invalid bytes are not held forever
        XCTAssertEqual(s.push([0xF0, 0x9F]), "")
        XCTAssertEqual(s.flush(), "\u{FFFD}")
    }

    func testCalculatorGrammar() {
        let cases: [(String, String)] = [
            ("2+3", "5"), ("2*(3+4)", "14"), ("-3 + 5", "2"), ("1,000 + 1", "1001"), ("7/2", "3.5"),
            ("10 ÷ 4", "2.5"), ("3 × 4", "12"), ("--2", "2"), ("0.1+0.2", "0.3"), ("1/3", "0.3333333333"),
            ("12,345.5 * 2", "24691"), ("(1)", "1"), ("  8 - 2 - 1 ", "5"), ("2 * -3", "-6"), ("100/8", "12.5"),
            ("2*3+4", "10"), ("2+3*4", "14"), ("10-4/2", "8"), ("12/4/3", "1"), ("2*(3+4)*5-1", "69"),
        ]
        for (input, expected) in cases { XCTAssertEqual(Calculator.run(input), expected, input) }
    }

    func testCalculatorRefusals() {
        let refused: [(String, String)] = [
            ("import os", "unexpected 'i'"), ("2**3", "unexpected '*'"), ("1/0", "division by zero"),
            (String(repeating: "(", count: 40) + "1" + String(repeating: ")", count: 40), "too deeply nested"),
            (String(repeating: "1+", count: 150) + "1", "longer than"), ("1e308*10", "unexpected 'e'"),
            ("999999999999999*99", "too large"), ("__import__('os')", "unexpected '_'"), ("", "ends too early"),
            ("(1+2", "missing ')'"), ("2 3", "unexpected '3'"), ("12345678901234567890123", "number too long"),
        ]
        for (input, fragment) in refused {
            let r = Calculator.run(input)
            XCTAssertTrue(r.hasPrefix("error: ") && r.contains(fragment), "\(input) -> \(r)")
        }
    }

    func testCalculatorFuzz() {
        // Random strings over digits, operators, parentheses, letters and odd characters: every one must
        // come back with a number or an error (no crash, no hang).
        let alphabet = Array("0123456789+-*/×÷().,  eE_xaé😀\u{0}\n%^")
        var rng = RNG(seed: 11)
        var answered = 0
        for _ in 0..<5000 {
            let s = String((0..<rng.int(60)).map { _ in alphabet[rng.int(alphabet.count)] })
            let r = Calculator.run(s)
            XCTAssertFalse(r.isEmpty)
            if !r.hasPrefix("error") {
                answered += 1
                XCTAssertNotNil(Double(r), "\(s) -> \(r)")
            }
        }
        XCTAssertGreaterThan(answered, 0, "the fuzz run should also produce valid expressions")
    }

    func testChatCropsOldestTurns() throws {
        let tok = Fixtures.smallTokenizer
        let config = GPTConfig(sequenceLen: 64, vocabSize: tok.vocabSize, nLayer: 1, nHead: 1, nKvHead: 1, nEmbd: 16)
        let model = GPT(config: config, maxBatch: 1, seed: 1)
        let session = ChatSession(
            engine: Engine(model: model, tokenizer: tok),
            options: SamplingOptions(temperature: 0, topK: 0, seed: 1, maxTokens: 8))
        var totalDropped = 0
        for i in 0..<8 {
            let r = try session.reply("Tell me about the king and the queen, turn \(i).") { _, _ in true }
            totalDropped += r.dropped
            XCTAssertLessThanOrEqual(session.history.count, config.sequenceLen)
        }
        XCTAssertGreaterThan(totalDropped, 0, "a long chat must drop old turns instead of failing")
        XCTAssertEqual(session.messages.count % 2, 0)
        XCTAssertEqual(session.messages.last?.role, .assistant)
        assertUserError(["does not fit the model's context"]) {
            _ = try session.reply(String(repeating: "word ", count: 200)) { _, _ in true }
        }
    }

    func testToolCallsAreAnsweredByForcedTokens() throws {
        let tok = Fixtures.smallTokenizer
        let config = GPTConfig(sequenceLen: 64, vocabSize: tok.vocabSize, nLayer: 1, nHead: 1, nKvHead: 1, nEmbd: 16)
        let engine = Engine(model: GPT(config: config, maxBatch: 2, seed: 1), tokenizer: tok, rows: 2)
        // Script the model: row 0 calls the calculator, row 1 answers directly.
        let s = tok.id
        let scripts = [
            [s(.pythonStart)] + tok.encode("12*(3+4)") + [s(.pythonEnd)] + tok.encode(" so 84") + [s(.assistantEnd)],
            tok.encode("84") + [s(.assistantEnd)],
        ]
        var cursor = [0, 0]
        engine.policy = { row, _ in
            defer { cursor[row] += 1 }
            return scripts[row][cursor[row]]
        }
        let prompt = try tok.renderForCompletion(Conversation(messages: [Message(.user, "What is 12*(3+4)?")]))
        let out = engine.generateBatch(prompt: prompt, samples: 2, options: SamplingOptions(maxTokens: 40))
        let forced = [s(.outputStart)] + tok.encode("84") + [s(.outputEnd)]
        XCTAssertEqual(
            out[0].map(\.id),
            [s(.pythonStart)] + tok.encode("12*(3+4)") + [s(.pythonEnd)] + forced + tok.encode(" so 84"))
        XCTAssertEqual(out[0].filter(\.forced).map(\.id), forced, "the tool's output is forced, not sampled")
        XCTAssertEqual(out[1].map(\.id), tok.encode("84"))
        XCTAssertTrue(out[1].allSatisfy { !$0.forced })
    }

    /// RL samples a batch, then evaluates one answer at a time with the same engine: the single answer
    /// must not see the batch's cache (it once did, and overflowed the context).
    func testSingleAnswerAfterABatchStartsFresh() {
        let model = randomModel(seqLen: 16, vocab: 50, maxBatch: 3)
        let greedy = SamplingOptions(temperature: 0, topK: 0, seed: 0, maxTokens: 6)
        let engine = Engine(model: model, tokenizer: Fixtures.smallTokenizer, rows: 3)
        let fresh = Engine(model: model, tokenizer: Fixtures.smallTokenizer, rows: 1)
        for _ in 0..<3 {  // three rounds would overflow the 16-token context if the cache were kept
            _ = engine.generateBatch(
                prompt: [1, 2, 3, 4, 5], samples: 3,
                options: SamplingOptions(temperature: 1, topK: 0, seed: 1, maxTokens: 6))
            XCTAssertEqual(
                engine.generate(prompt: [7, 8, 9], options: greedy), fresh.generate(prompt: [7, 8, 9], options: greedy))
        }
    }
}
