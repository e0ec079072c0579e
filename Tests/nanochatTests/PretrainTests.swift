// Pretraining: the data loader's rows (BOS first, deterministic, nothing dropped, replayable), an
// interrupted-and-resumed run that matches an uninterrupted one exactly, and bad inputs.

import XCTest
@testable import nanochat

final class PretrainTests: XCTestCase {
    let tok = Fixtures.smallTokenizer

    /// Shards of the validation text: three documents (works), each starting with <|bos|>.
    func shard(_ maxBytes: Int = 40_000) throws -> [UInt16] {
        let corpus = try Corpus.load([Fixtures.repoRoot.appendingPathComponent("data/shakespeare/val").path])
        var tokens: [UInt16] = []
        for doc in corpus.documents { tokens.append(UInt16(tok.bosId)); tokens += tok.encodeOrdinary(Array(doc.prefix(maxBytes))).map { UInt16($0) } }
        return tokens
    }

    func rows(_ loader: inout DataLoader, _ n: Int, T: Int) -> [[Int32]] {
        var out: [[Int32]] = []
        var row = [Int32](repeating: 0, count: T + 1)
        for _ in 0..<n { row.withUnsafeMutableBufferPointer { loader.nextRow(into: $0.baseAddress!) }; out.append(row) }
        return out
    }

    func testLoaderRowsStartWithBOSAndAreDeterministic() throws {
        let tokens = try shard(), T = 32
        var a = try DataLoader(tokens: tokens, bos: tok.bosId, T: T, seed: 1)
        var b = try DataLoader(tokens: tokens, bos: tok.bosId, T: T, seed: 1)
        var c = try DataLoader(tokens: tokens, bos: tok.bosId, T: T, seed: 2)
        let ra = rows(&a, 50, T: T), rb = rows(&b, 50, T: T), rc = rows(&c, 50, T: T)
        XCTAssertEqual(ra, rb)
        XCTAssertNotEqual(ra, rc)
        for r in ra { XCTAssertEqual(r[0], Int32(tok.bosId)); XCTAssertEqual(r.count, T + 1) }
        // Replaying to a position gives the same next rows as continuing.
        var d = try DataLoader(tokens: tokens, bos: tok.bosId, T: T, seed: 1)
        d.skip(rows: 20)
        XCTAssertEqual(rows(&d, 30, T: T), Array(ra[20...]))
    }

    func testLoaderDropsNothing() throws {
        // 600 documents of 1-45 tokens, every token id distinct, so each row can be traced. Over ten epochs
        // every token must appear as often as every other, give or take the pieces still waiting in the
        // loader's buffer (best-fit may hold a piece back for part of an epoch): counts differ by at most 2.
        // A loader that dropped the rest of a cropped piece, or a piece, would leave some ids far behind.
        let bos = 65_000, T = 16
        var tokens: [UInt16] = [], next = 0
        var rng = RNG(seed: 3)
        for _ in 0..<600 {
            tokens.append(UInt16(bos))
            for _ in 0..<(1 + rng.int(45)) { tokens.append(UInt16(next)); next += 1 }
        }
        var loader = try DataLoader(tokens: tokens, bos: bos, T: T, seed: 5)
        var seen = [Int](repeating: 0, count: next)
        for rowCount in 1...(10 * tokens.count / T) {
            let r = rows(&loader, 1, T: T)[0]
            XCTAssertEqual(r[0], Int32(bos))
            for k in 1...T where r[k] != Int32(bos) {
                // Inside a row, a document's tokens are consecutive: after an id comes the next id or a bos.
                if r[k - 1] != Int32(bos) && r[k] != r[k - 1] + 1 { XCTFail("row \(rowCount) skips tokens at \(k)"); return }
                seen[Int(r[k])] += 1
            }
        }
        let lo = seen.min()!, hi = seen.max()!
        XCTAssertGreaterThanOrEqual(lo, 8, "ten epochs' rows show every token at least 8 times")
        XCTAssertLessThanOrEqual(hi - lo, 2, "token counts range from \(lo) to \(hi): the loader loses or repeats tokens")
        XCTAssertThrowsError(try DataLoader(tokens: [], bos: bos, T: T, seed: 1))
    }

    func options(steps: Int) -> PretrainOptions {
        var o = PretrainOptions()
        o.depth = 1; o.seqLen = 16; o.batchSize = 2; o.totalBatchTokens = 64  // 2 accumulation passes
        o.steps = steps; o.evalEvery = 3; o.evalTokens = 256; o.sampleEvery = 0; o.saveEvery = 2
        o.quiet = true
        return o
    }

    func testInterruptedRunResumesExactly() throws {
        let tokens = try shard()
        let straightDir = Fixtures.tempDir("straight"), resumedDir = Fixtures.tempDir("resumed")
        let straight = try pretrain(tokenizer: tok, train: tokens, val: tokens, outDir: straightDir, options: options(steps: 6))
        var o = options(steps: 6)
        o.stopAfterStep = 3  // as if Ctrl-C arrived during step 3
        let first = try pretrain(tokenizer: tok, train: tokens, val: tokens, outDir: resumedDir, options: o)
        XCTAssertTrue(first.interrupted)
        XCTAssertEqual(first.step, 3)
        o.stopAfterStep = nil; o.resume = true
        let second = try pretrain(tokenizer: tok, train: tokens, val: tokens, outDir: resumedDir, options: o)
        XCTAssertEqual(second.step, 6)
        XCTAssertEqual(second.lastLoss, straight.lastLoss, "resumed run must reach exactly the uninterrupted loss")
        XCTAssertEqual(second.valBPB, straight.valBPB)
        // The log holds every step once, in both runs.
        let log = try String(contentsOfFile: resumedDir + "/log.jsonl", encoding: .utf8)
        XCTAssertEqual(log.components(separatedBy: "\"loss\"").count - 1, 6)
    }

    func testBadInputs() throws {
        let tokens = try shard()
        let dir = Fixtures.tempDir("badpre")
        _ = try pretrain(tokenizer: tok, train: tokens, val: tokens, outDir: dir, options: options(steps: 1))
        // Resuming with a longer sequence than the checkpoint's model.
        var o = options(steps: 2); o.resume = true; o.seqLen = 32; o.totalBatchTokens = 128
        assertUserError(["seq 16", "seq 32"]) { _ = try pretrain(tokenizer: tok, train: tokens, val: tokens, outDir: dir, options: o) }
        // Resuming where there is no checkpoint.
        o = options(steps: 2); o.resume = true
        assertUserError(["no checkpoint"]) { _ = try pretrain(tokenizer: tok, train: tokens, val: tokens, outDir: Fixtures.tempDir("none"), options: o) }
        // A total batch that is not a multiple of one pass.
        o = options(steps: 2); o.totalBatchTokens = 50
        assertUserError(["--total-batch 50"]) { _ = try pretrain(tokenizer: tok, train: tokens, val: tokens, outDir: dir, options: o) }
        // An empty training shard.
        assertUserError(["empty"]) { _ = try pretrain(tokenizer: tok, train: [], val: tokens, outDir: Fixtures.tempDir("empty"), options: options(steps: 1)) }
    }

    /// A batch source whose weights turn NaN at a given pass: the loss becomes NaN there.
    struct PoisonedSource: BatchSource {
        var inner: DataLoader
        var poisonAt: Int
        var passes = 0
        var rowsProduced: Int { inner.rowsProduced }
        mutating func skip(rows: Int) { inner.skip(rows: rows) }
        mutating func nextBatch(B: Int, inputs: UnsafeMutablePointer<Int32>, targets: UnsafeMutablePointer<Int32>,
                                weights: UnsafeMutablePointer<Float>) -> Bool {
            inner.nextBatch(B: B, inputs: inputs, targets: targets)
            passes += 1
            weights.update(repeating: passes >= poisonAt ? .nan : 1, count: B * inner.T)
            return true
        }
    }

    func testDivergenceStopsWithAnErrorAndKeepsTheLastCheckpoint() throws {
        let dir = Fixtures.tempDir("diverge")
        var o = options(steps: 6)
        o.evalEvery = 0
        // Two passes per step: the loss of step 3 (passes 5 and 6) is NaN; step 2 was saved.
        var source = PoisonedSource(inner: try DataLoader(tokens: try shard(), bos: tok.bosId, T: o.seqLen, seed: o.seed), poisonAt: 5)
        assertUserError(["training diverged", "step 3"]) {
            _ = try trainStage(tokenizer: tok, source: &source, val: [], outDir: dir, options: o)
        }
        XCTAssertEqual(try Checkpoint.inspect(dir).1["step"], "2", "the last good checkpoint is kept")
    }

    func testBitsPerByteByHand() throws {
        // bpb = nats / ln 2 / bytes over the targets; special-token targets (a bos every 10 tokens here)
        // count neither nats nor bytes. The expectation is built row by row from unweighted forward passes.
        let config = GPTConfig(sequenceLen: 8, vocabSize: tok.vocabSize, nLayer: 1, nHead: 1, nKvHead: 1, nEmbd: 16)
        let model = GPT(config: config, maxBatch: 2, seed: 1)
        var rng = RNG(seed: 4)
        for i in 0..<model.numParams { model.params[i] = (2 * rng.uniform() - 1) * 0.2 }
        let text = try shard(2000).filter { Int($0) != tok.bosId }
        var tokens: [UInt16] = []
        for (i, t) in text.prefix(90).enumerated() { if i % 10 == 3 { tokens.append(UInt16(tok.bosId)) }; tokens.append(t) }
        let r = evaluateBPB(model, tokens: tokens, tokenBytes: tokenByteCounts(tok), B: 2, T: 8, maxTokens: 64)
        var nats = 0.0, bytes = 0, counted = 0
        for row in 0..<8 {
            let window = tokens[(row * 8)...(row * 8 + 8)].map { Int32($0) }
            model.forward(Array(window.dropLast()), Array(window.dropFirst()), nil, B: 1, T: 8)
            for t in 0..<8 where Int(window[t + 1]) != tok.bosId {
                nats += Double(model.lastLosses[t]); bytes += tok.vocab[Int(window[t + 1])].count; counted += 1
            }
        }
        XCTAssertEqual(counted, 64 - 6, "bos at positions 3, 14, 25, 36, 47 and 58 are not counted")
        XCTAssertEqual(r.tokens, counted)
        XCTAssertEqual(r.loss, nats / Double(counted), accuracy: 1e-6)
        XCTAssertEqual(r.bpb, nats / log(2) / Double(bytes), accuracy: 1e-6)
        XCTAssertEqual(tokenByteCounts(tok)[tok.bosId], 0)
    }

    func testStepBudgets() throws {
        // --ratio: ratio × params tokens; --minutes: the steps that fit at the measured speed.
        XCTAssertEqual(stepsForRatio(20, params: 1_000_000, tokensPerStep: 4096), 4882)
        XCTAssertEqual(stepsForRatio(0.001, params: 1000, tokensPerStep: 4096), 1, "at least one step")
        XCTAssertEqual(stepsThatFit(minutes: 2, secondsPerStep: 0.5, done: 3), 240)
        XCTAssertEqual(stepsThatFit(minutes: 0.5, secondsPerStep: 7, done: 3), 4)
        XCTAssertEqual(stepsThatFit(minutes: 0.001, secondsPerStep: 1, done: 3), 4, "never fewer than one more step")
        // A tiny time budget: three steps are timed after the first, then one more step ends the run.
        var o = options(steps: 1)
        o.steps = nil; o.minutes = 1e-6; o.evalEvery = 0
        let minutesDir = Fixtures.tempDir("minutes")
        let r = try pretrain(tokenizer: tok, train: try shard(), val: [], outDir: minutesDir, options: o)
        XCTAssertEqual(r.step, 5)
        XCTAssertEqual(r.totalSteps, 5)
        // Before the budget is known the rate stays at its peak; it never goes below 0 (it once did).
        let lrs = try XCTUnwrap(StageLog(path: minutesDir + "/log.jsonl")).series(.lr).map(\.y)
        XCTAssertEqual(Array(lrs.prefix(4)), [1, 1, 1, 1])
        XCTAssertTrue(lrs.allSatisfy { $0 >= 0 && $0 <= 1 }, "\(lrs)")
        XCTAssertEqual(LRSchedule(totalSteps: 1).multiplier(5), 0, "past the end: the final fraction")
        // A ratio budget trains exactly that many steps.
        o = options(steps: 1)
        o.steps = nil; o.ratio = 0.001; o.evalEvery = 0
        let config = GPTConfig(depth: 1, vocabSize: tok.vocabSize, sequenceLen: 16)
        let want = Int(0.001 * Double(config.numParams) / 64)
        XCTAssertGreaterThan(want, 1)
        let q = try pretrain(tokenizer: tok, train: try shard(), val: [], outDir: Fixtures.tempDir("ratio"), options: o)
        XCTAssertEqual(q.step, want)
    }

    func testShardsAreMadeOnceAndRemadeWhenInputsChange() throws {
        let dir = Fixtures.tempDir("shards")
        let a = dir + "/a.txt", b = dir + "/b.txt", c = dir + "/c.txt"
        try "First document.".write(toFile: a, atomically: true, encoding: .utf8)
        try "Second one, longer.".write(toFile: b, atomically: true, encoding: .utf8)
        try "Held out text.".write(toFile: c, atomically: true, encoding: .utf8)
        var said: [String] = []
        let (train, val) = try prepareShards(tok, train: [a, b], val: [c], dataDir: dir + "/data") { said.append($0) }
        XCTAssertEqual(said.count, 2, "both shards written")
        let bos = tok.bosId
        XCTAssertEqual(try TokenShard.read(train, vocabSize: tok.vocabSize).map(Int.init),
                       [bos] + tok.encode("First document.") + [bos] + tok.encode("Second one, longer."))
        XCTAssertEqual(try TokenShard.read(val, vocabSize: tok.vocabSize).map(Int.init), [bos] + tok.encode("Held out text."))
        // Same tokenizer and inputs: reused, nothing written.
        said = []
        _ = try prepareShards(tok, train: [a, b], val: [c], dataDir: dir + "/data") { said.append($0) }
        XCTAssertEqual(said, [])
        // Other inputs: made again.
        _ = try prepareShards(tok, train: [a], val: [c], dataDir: dir + "/data") { said.append($0) }
        XCTAssertEqual(said.count, 2)
        XCTAssertEqual(try TokenShard.read(train, vocabSize: tok.vocabSize).map(Int.init), [bos] + tok.encode("First document."))
        // Another tokenizer: made again.
        said = []
        let other = Tokenizer(vocab: Array(tok.vocab.prefix(300)))
        _ = try prepareShards(other, train: [a], val: [c], dataDir: dir + "/data") { said.append($0) }
        XCTAssertEqual(said.count, 2)
        XCTAssertEqual(try TokenShard.read(train, vocabSize: other.vocabSize).map(Int.init),
                       [other.bosId] + other.encode("First document."))
    }
}
