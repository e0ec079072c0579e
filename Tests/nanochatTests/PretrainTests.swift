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
        // Short documents of different lengths: over one epoch every token appears in some row.
        var tokens: [UInt16] = []
        var rng = RNG(seed: 3)
        for d in 0..<40 {
            tokens.append(UInt16(tok.bosId))
            for _ in 0..<(1 + rng.int(45)) { tokens.append(UInt16(d)) }  // document d is made of token d
        }
        let T = 16
        var loader = try DataLoader(tokens: tokens, bos: tok.bosId, T: T, seed: 5)
        let total = tokens.count - 40  // non-BOS tokens
        var seen = [Int](repeating: 0, count: 40)
        var produced = 0
        while produced < total {
            for r in rows(&loader, 1, T: T) { for t in r where t != Int32(tok.bosId) { seen[Int(t)] += 1; produced += 1 } }
        }
        var expected = [Int](repeating: 0, count: 40)
        for t in tokens where t != UInt16(tok.bosId) { expected[Int(t)] += 1 }
        // The first epoch's tokens are all there: each document's count is reached (later epochs may add more).
        for d in 0..<40 { XCTAssertGreaterThanOrEqual(seen[d] + 3 * T, expected[d], "document \(d) lost tokens") }
        XCTAssertThrowsError(try DataLoader(tokens: [], bos: tok.bosId, T: T, seed: 1))
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

    func testBitsPerByteByHand() throws {
        // bpb = nats / ln2 / bytes over targets; special tokens (bos) count 0 bytes and are skipped.
        let config = GPTConfig(sequenceLen: 8, vocabSize: tok.vocabSize, nLayer: 1, nHead: 1, nKvHead: 1, nEmbd: 16)
        let model = GPT(config: config, maxBatch: 2, seed: 1)
        let tokens = try shard(2000)
        let bytes = tokenByteCounts(tok)
        XCTAssertEqual(bytes[tok.bosId], 0)
        let r = evaluateBPB(model, tokens: tokens, tokenBytes: bytes, B: 2, T: 8, maxTokens: 64)
        // A fresh model predicts nearly uniformly: loss ≈ ln(V).
        XCTAssertEqual(r.loss, log(Double(tok.vocabSize)), accuracy: 0.05)
        var countedBytes = 0
        for p in 1...64 where bytes[Int(tokens[p])] > 0 { countedBytes += bytes[Int(tokens[p])] }
        XCTAssertEqual(r.bpb, r.loss * Double(r.tokens) / log(2) / Double(countedBytes), accuracy: 1e-9)
    }
}
