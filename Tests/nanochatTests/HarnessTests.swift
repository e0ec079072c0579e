// The stage harness (Train/Harness.swift): every stage kind that runs on it resumes through the same code
// path to exactly the weights of an uninterrupted run (pretraining from scratch; SFT from a previous
// stage's checkpoint with its optimizer state; RL is in RLTests), and the typed log records it writes are
// what the report reads back.

import XCTest
@testable import nanochat

final class HarnessTests: XCTestCase {
    let tok = Fixtures.smallTokenizer

    func weights(_ dir: String) throws -> [String: [Float]] {
        try Safetensors.read(dir + "/" + Checkpoint.modelFile).tensors.mapValues(\.data)
    }

    /// Runs a stage straight through, and again stopped after step 2 and resumed; returns both folders.
    func straightAndResumed<S: BatchSource>(_ options: PretrainOptions, _ makeSource: () throws -> S) throws -> (String, String) {
        let straight = Fixtures.tempDir("straight"), resumed = Fixtures.tempDir("resumed")
        var source = try makeSource()
        let a = try trainStage(tokenizer: tok, source: &source, val: [], outDir: straight, options: options)
        XCTAssertFalse(a.interrupted)
        var cut = options
        cut.stopAfterStep = 2
        source = try makeSource()
        XCTAssertTrue(try trainStage(tokenizer: tok, source: &source, val: [], outDir: resumed, options: cut).interrupted)
        var rest = options
        rest.resume = true
        source = try makeSource()
        let b = try trainStage(tokenizer: tok, source: &source, val: [], outDir: resumed, options: rest)
        XCTAssertEqual(b.step, options.steps)
        XCTAssertEqual(b.lastLoss, a.lastLoss)
        XCTAssertEqual(try weights(resumed), try weights(straight), "resumed weights differ")
        return (straight, resumed)
    }

    func options(_ stage: Stage, steps: Int = 4) -> PretrainOptions {
        Fixtures.tinyOptions(stage, seqLen: 32, totalBatch: 64, steps: steps, saveEvery: 0)
    }

    func testEveryStageKindResumesExactly() throws {
        let corpus = try Corpus.load([Fixtures.repoRoot.appendingPathComponent("data/shakespeare/val").path])
        let tokens = corpus.documents.flatMap { [UInt16(tok.bosId)] + tok.encodeOrdinary(Array($0.prefix(6000))).map { UInt16($0) } }
        // Pretraining from scratch.
        let (base, _) = try straightAndResumed(options(.base)) {
            try DataLoader(tokens: tokens, bos: tok.bosId, T: 32, seed: 42)
        }
        // SFT from the base checkpoint, with its optimizer state, on weighted conversations.
        let words = try TaskWords.load(Fixtures.repoRoot.appendingPathComponent("data/words").path)
        let convs = try generateTask(.spelling, count: 20, seed: 3, words: words).map { try tok.renderConversation($0.conversation) }
        var sft = options(.sft)
        sft.initFrom = base
        sft.warmStartOptimizer = true
        let (straight, _) = try straightAndResumed(sft) { try SFTLoader(conversations: convs, T: 32, pad: tok.bosId, seed: 1) }
        XCTAssertNotEqual(try weights(straight), try weights(base), "SFT trained")
        XCTAssertEqual(try Checkpoint.inspect(straight).1["stage"], "sft")
    }

    func testCheckpointSearchTakesTheNewestStage() throws {
        let out = Fixtures.tempDir("stages")
        assertUserError(["no checkpoint in", "./run.sh"]) { _ = try checkpointDir(out: out, stage: nil, checkpoint: nil) }
        for s in [Stage.base, .mid, .sft] {
            try FileManager.default.createDirectory(atPath: s.dir(in: out), withIntermediateDirectories: true)
            XCTAssertTrue(FileManager.default.createFile(atPath: s.dir(in: out) + "/" + Checkpoint.modelFile, contents: Data()))
        }
        XCTAssertEqual(try checkpointDir(out: out, stage: nil, checkpoint: nil), out + "/sft")
        XCTAssertEqual(try checkpointDir(out: out, stage: .mid, checkpoint: nil), out + "/mid")
        XCTAssertEqual(try checkpointDir(out: out, stage: .mid, checkpoint: "/x"), "/x")
        XCTAssertEqual(Stage.allCases.map(\.startsFrom), [nil, .base, .mid, .sft, .rl], "each stage starts from the one before")
    }

    func testLogRecordsReadBackAsWritten() throws {
        let dir = Fixtures.tempDir("log")
        let writer = try LogWriter(path: dir + "/log.jsonl", fresh: true)
        try writer.write(TrainStepRecord(step: 1, loss: 6.931472, lr: 1, tok_per_s: 1000, tokens: 64, time: 0.25))
        try writer.write(TrainStepRecord(step: 2, loss: 5.5, lr: 0.5, tok_per_s: 1100, tokens: 128, time: 0.5))
        try writer.write(ValRecord(step: 2, val_loss: 5.25, val_bpb: 2.125))
        try writer.write(RLStepRecord(step: 3, reward: 0.75, loss: 0.01, lr: 0.25, tok_per_s: 90, time: 1))
        try writer.write(PassRecord(step: 3, pass1: 0.5))
        let log = try XCTUnwrap(StageLog(path: dir + "/log.jsonl"))
        XCTAssertEqual(log.unreadable, 0)
        XCTAssertEqual(log.series(.loss).map(\.y), [Double(Float(6.931472)), 5.5, Double(Float(0.01))])
        XCTAssertEqual(log.series(.lr).map(\.y), [1, 0.5, 0.25])
        XCTAssertEqual(log.last(.val_bpb), 2.125)
        XCTAssertEqual(log.last(.tokens), 128)
        XCTAssertEqual(log.series(.reward).map(\.x), [3])
        XCTAssertEqual(log.last(.pass1), 0.5)
        // A fresh writer empties the file; an appending one keeps it.
        _ = try LogWriter(path: dir + "/log.jsonl", fresh: false)
        XCTAssertEqual(StageLog(path: dir + "/log.jsonl")?.records.count, 5)
        _ = try LogWriter(path: dir + "/log.jsonl", fresh: true)
        XCTAssertEqual(StageLog(path: dir + "/log.jsonl")?.records.count, 0)
    }
}
