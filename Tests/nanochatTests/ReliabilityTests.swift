// Nothing lost, nothing silently wrong: a diverged run stops with an error and saves nothing from then
// on; absurd learning rates are refused up front; a finished checkpoint is not overwritten without
// --fresh; SIGTERM saves and stops like Ctrl-C (exit 143) and --resume continues; a --steps given on
// resume extends the run; a resumed log holds each step once; an empty --out is refused.

import Foundation
import XCTest
@testable import nanochat

final class ReliabilityTests: XCTestCase {
    let tok = Fixtures.smallTokenizer

    func shard() throws -> [UInt16] {
        let corpus = try Corpus.load([Fixtures.repoRoot.appendingPathComponent("data/shakespeare/val").path])
        return corpus.documents.flatMap {
            [UInt16(tok.bosId)] + tok.encodeOrdinary(Array($0.prefix(8000))).map { UInt16($0) }
        }
    }

    func options(steps: Int) -> PretrainOptions {
        Fixtures.tinyOptions(seqLen: 16, totalBatch: 32, steps: steps, saveEvery: 2)
    }

    func testNonFiniteWeightsAreNeverSaved() throws {
        let model = GPT(config: GPTConfig(depth: 1, vocabSize: 64, sequenceLen: 8), maxBatch: 1)
        XCTAssertTrue(model.parametersAreFinite())
        model.params[model.numParams - 1] = .nan
        XCTAssertFalse(model.parametersAreFinite())
        model.params[model.numParams - 1] = .infinity
        XCTAssertFalse(model.parametersAreFinite())
        // Rates of 1e38 send the weights to infinity at once: the run stops with the divergence error and
        // writes no checkpoint (the loss alone can look finite on such weights).
        let dir = Fixtures.tempDir("nanweights")
        var o = options(steps: 6)
        o.hyper = OptimizerHyper(embeddingLR: 1e38, unembeddingLR: 1e38, matrixLR: 0.02, weightDecay: 0)
        assertUserError(["training diverged", "last good checkpoint"]) {
            _ = try pretrain(tokenizer: tok, train: try shard(), val: [], outDir: dir, options: o)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/" + Checkpoint.modelFile), "nothing saved")
    }

    func testResumeWithStepsExtendsAndLogsEachStepOnce() throws {
        let dir = Fixtures.tempDir("extend")
        let tokens = try shard()
        _ = try pretrain(tokenizer: tok, train: tokens, val: [], outDir: dir, options: options(steps: 4))
        // Lines of steps that will run again (as a run stopped after its last save leaves them).
        let extra = #"{"loss":9,"lr":1,"step":5,"time":1,"tok_per_s":1,"tokens":1}"# + "\n"
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: dir + "/log.jsonl"))
        handle.seekToEndOfFile()
        handle.write(Data(extra.utf8))
        try handle.close()
        var o = options(steps: 6)
        o.resume = true
        let r = try pretrain(tokenizer: tok, train: tokens, val: [], outDir: dir, options: o)
        XCTAssertEqual(r.step, 6, "--steps on resume sets the new total")
        XCTAssertEqual(r.totalSteps, 6)
        let steps = try XCTUnwrap(StageLog(path: dir + "/log.jsonl")).records.map(\.step)
        XCTAssertEqual(steps, [1, 2, 3, 4, 5, 6], "each step logged once")
        XCTAssertEqual(try Checkpoint.inspect(dir).1["total_steps"], "6")
    }

    func testAModelLoadsOnlyWithItsOwnTokenizer() throws {
        let out = Fixtures.tempDir("tokhash")
        try tok.save(to: out + "/tokenizer")
        let model = GPT(config: GPTConfig(depth: 1, vocabSize: tok.vocabSize, sequenceLen: 8), maxBatch: 1)
        try Checkpoint.save(model: model, optimizer: nil, to: out + "/sft", extra: ["tokenizer_hash": tok.hash])
        XCTAssertEqual(try loadModel(out: out, stage: .sft).meta["tokenizer_hash"], tok.hash)
        // Another tokenizer of the same size: refused by its hash, not only by the vocab size.
        try Checkpoint.save(
            model: model, optimizer: nil, to: out + "/sft", extra: ["tokenizer_hash": "0123456789abcdef"])
        assertUserError(["another tokenizer", "0123456789abcdef"]) { _ = try loadModel(out: out, stage: .sft) }
    }

    func testWindowsLineEndsAreAccepted() throws {
        // Tokenizer ranks and conversation JSONL written with CRLF line ends load as with LF.
        let dir = Fixtures.tempDir("crlf")
        try tok.save(to: dir)
        let ranks = dir + "/tokenizer.tiktoken"
        let lf = try String(contentsOfFile: ranks, encoding: .utf8)
        try lf.replacingOccurrences(of: "\n", with: "\r\n").write(toFile: ranks, atomically: true, encoding: .utf8)
        XCTAssertEqual(try Tokenizer.load(from: dir).vocab, tok.vocab)
        let line = #"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}"#
        let convs = try ConversationFile.parse(line + "\r\n" + line + "\r\n", name: "crlf.jsonl")
        XCTAssertEqual(convs.count, 2)
        assertUserError(["crlf.jsonl line 2", "not a JSON object"]) {
            _ = try ConversationFile.parse(line + "\r\n{oops\r\n", name: "crlf.jsonl")
        }
    }

    func testControlBytesArePrintedAsCodes() {
        // An ESC sequence or a NUL in a token must not reach the terminal raw (tok-eval, chat's /tokens).
        XCTAssertEqual(displayToken([0x1B, 0x5B, 0x32, 0x4A, 0x00, 0x0A, 0x41]), #""\x1B[2J\x00\nA""#)
        XCTAssertEqual(displayToken(Array("héllo\t".utf8)), #""héllo\t""#)
    }

    #if os(Linux)
    func testAFailedLogWriteIsAnErrorNotACrash() throws {
        // /dev/full fails every write with ENOSPC, as a full disk does.
        let writer = try LogWriter(path: "/dev/full", fresh: false)
        assertUserError(["cannot write /dev/full"]) { try writer.write(PassRecord(step: 1, pass1: 0.5)) }
    }
    #endif

    func testModelsTooBigForTheMachineAreRefusedBeforeAllocating() {
        let huge = GPTConfig(sequenceLen: 16384, vocabSize: 65536, nLayer: 48, nHead: 48, nKvHead: 48, nEmbd: 3072)
        assertUserError(["needs about", "GB of memory", "--batch-size"]) {
            try GPT.checkFitsInMemory(huge, maxBatch: 64, training: true)
        }
        XCTAssertNoThrow(
            try GPT.checkFitsInMemory(
                GPTConfig(depth: 4, vocabSize: 4096, sequenceLen: 256), maxBatch: 16,
                training: true))
    }

    func testResumingAFinishedRunNeedsMoreSteps() throws {
        let dir = Fixtures.tempDir("finished")
        let tokens = try shard()
        _ = try pretrain(tokenizer: tok, train: tokens, val: [], outDir: dir, options: options(steps: 2))
        try "{}\n".write(toFile: dir + "/eval.jsonl", atomically: true, encoding: .utf8)
        var o = options(steps: 2)
        o.resume = true
        assertUserError(["at step 2 already", "--steps above 2"]) {
            _ = try pretrain(tokenizer: tok, train: tokens, val: [], outDir: dir, options: o)
        }
        // --fresh starts over and drops the old checkpoint's evaluations.
        o.resume = false
        o.fresh = true
        _ = try pretrain(tokenizer: tok, train: tokens, val: [], outDir: dir, options: o)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/eval.jsonl"))
        assertUserError(["no checkpoint in", "without --resume"]) {
            var r = options(steps: 2)
            r.resume = true
            _ = try pretrain(tokenizer: tok, train: tokens, val: [], outDir: Fixtures.tempDir("empty"), options: r)
        }
    }

    func testTwoRunsCannotShareAStageFolder() throws {
        let dir = Fixtures.tempDir("lock")
        var held: StageLock? = try StageLock(dir)
        assertUserError(["is in use by another nanochat run", "pid \(getpid())"]) {
            _ = try pretrain(tokenizer: tok, train: try shard(), val: [], outDir: dir, options: options(steps: 1))
        }
        held = nil  // released: the stage runs
        XCTAssertNil(held)
        XCTAssertEqual(
            try pretrain(tokenizer: tok, train: try shard(), val: [], outDir: dir, options: options(steps: 1)).step, 1)
    }

    func testModelAndOptimizerFilesBelongTogether() throws {
        let tokens = try shard()
        let a = Fixtures.tempDir("pairA"), b = Fixtures.tempDir("pairB")
        _ = try pretrain(tokenizer: tok, train: tokens, val: [], outDir: a, options: options(steps: 2))
        _ = try pretrain(tokenizer: tok, train: tokens, val: [], outDir: b, options: options(steps: 3))
        // b's optimizer file beside a's weights: as a save killed between its two files, or a copy.
        try FileManager.default.removeItem(atPath: a + "/" + Checkpoint.optimFile)
        try FileManager.default.copyItem(atPath: b + "/" + Checkpoint.optimFile, toPath: a + "/" + Checkpoint.optimFile)
        var o = options(steps: 4)
        o.resume = true
        assertUserError(["does not belong to", "step 3", "step 2", "--fresh"]) {
            _ = try pretrain(tokenizer: tok, train: tokens, val: [], outDir: a, options: o)
        }
        XCTAssertEqual(
            try pretrain(tokenizer: tok, train: tokens, val: [], outDir: b, options: o).step, 4, "a true pair resumes")
    }

    func testTemporariesOfKilledSavesAreRemoved() throws {
        let dir = Fixtures.tempDir("litter")
        // pid 2^22 + 7 is above Linux's default pid_max (2^22): no such process.
        let stale = dir + "/.model.safetensors.tmp-4194311", live = dir + "/.optim.safetensors.tmp-\(getpid())"
        for p in [stale, live, dir + "/.keep"] {
            XCTAssertTrue(FileManager.default.createFile(atPath: p, contents: Data()))
        }
        _ = try StageLock(dir)
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale), "a dead writer's temporary is removed")
        XCTAssertTrue(FileManager.default.fileExists(atPath: live), "this process's own is left alone")
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/.keep"))
    }

    func testAFinishedCheckpointIsNotOverwritten() throws {
        let dir = Fixtures.tempDir("overwrite")
        let tokens = try shard()
        _ = try pretrain(tokenizer: tok, train: tokens, val: [], outDir: dir, options: options(steps: 2))
        let log = try String(contentsOfFile: dir + "/log.jsonl", encoding: .utf8)
        assertUserError(["already holds a checkpoint (step 2)", "--resume", "--fresh"]) {
            _ = try pretrain(tokenizer: tok, train: tokens, val: [], outDir: dir, options: options(steps: 3))
        }
        XCTAssertEqual(try String(contentsOfFile: dir + "/log.jsonl", encoding: .utf8), log, "the log is untouched")
        var o = options(steps: 3)
        o.fresh = true
        XCTAssertEqual(try pretrain(tokenizer: tok, train: tokens, val: [], outDir: dir, options: o).step, 3)
    }
}

/// The same promises through the binary, as a user meets them.
final class ReliabilityCLITests: BinaryTestCase {

    func testAbsurdRatesAndAnEmptyOutAreRefused() throws {
        let dir = Fixtures.tempDir("rates")
        try assertCleanError(["base-train", "--out", dir, "--embedding-lr", "1e38"], "--embedding-lr must be a number")
        try assertCleanError(["base-train", "--out", dir, "--matrix-lr", "nan"], "--matrix-lr must be a number")
        try assertCleanError(["mid-train", "--out", dir, "--lr-scale", "inf"], "--lr-scale must be a number")
        try assertCleanError(["chat-rl", "--out", dir, "--lr-scale", "1e9"], "--lr-scale must be a number")
        try assertCleanError(["base-train", "--out", dir, "--minutes", "nan"], "--minutes must be")
        try assertCleanError(["base-train", "--out", dir, "--ratio", "1e300"], "--ratio must be")
        try assertCleanError(["base-train", "--out", ""], "--out (or NANOCHAT_OUT) is empty")
        try assertCleanError(["base-train", "--out", dir, "--resume", "--fresh"], "not both")
        try assertCleanError(["base-train", "--out", dir, "--warmdown-ratio", "nan"], "--warmdown-ratio must be")
        try assertCleanError(["base-train", "--out", dir, "--final-lr-frac", "1e30"], "--final-lr-frac must be")
        try assertCleanError(["base-train", "--out", dir, "--seq-len", "100000"], "too large")
        try assertCleanError(["base-train", "--out", dir, "--softcap", "0.5"], "--softcap must be 0")
        try assertCleanError(["base-train", "--out", dir, "--activation", "swish"], "relu2")
        try assertCleanError(["base-train", "--out", dir, "--matrix-optimizer", "sgd"], "adamw")
    }

    /// Counts far beyond any run (1e8 examples, 100000 samples) are refused before anything is allocated;
    /// they used to end in SIGSEGV or "failed to allocate".
    func testHugeOrNegativeCountsAreRefused() throws {
        let dir = Fixtures.tempDir("counts")
        try assertCleanError(["tok-eval", "--out", dir, "--top=-1"], "--top must be from 0")
        try assertCleanError(["base-eval", "--out", dir, "--batch-size", "0"], "--batch-size must be from 1")
        try assertCleanError(["base-eval", "--out", dir, "--sample-tokens=-1"], "--sample-tokens must be from 0")
        try assertCleanError(["chat-eval", "--out", dir, "--count", "100000000"], "--count must be from 1")
        try assertCleanError(["chat-sft", "--out", dir, "--per-task", "100000000"], "--per-task must be from 1")
        try assertCleanError(["chat-rl", "--out", dir, "--samples", "100000"], "--samples must be from 2")
        try assertCleanError(["bench", "--vocab-size", "100000000"], "--vocab-size must be from 2")
        try assertCleanError(["bench", "--vocab-size", "10000000", "--depth", "40"], "GB of memory")
        try assertCleanError(["bench", "--decode-rows", "4096", "--seq-len", "1024"], "4096 rows) and the machine has")
        try assertCleanError(["bench", "--decode-rows", "4096", "--seq-len", "1024"], "use a smaller --decode-rows")
    }

    /// Folders that cannot be made say which one and why, in one line (not an NSError dump).
    func testUncreatableFoldersAreNamedWithTheReason() throws {
        let dir = try tinyRun("folders", steps: 1)
        try assertCleanError(
            ["tokenize", "--out", dir, "--bin", "README.md/x.bin", "README.md"],
            "README.md: a file of that name is in the way")
        try assertCleanError(
            [
                "tok-train", "--out", "/proc/nanochat-test", "--input", "data/shakespeare/val",
                "--vocab-size", "512",
            ], "cannot create folder /proc/nanochat-test")
        try assertCleanError(["download", "file:///tmp", "--output", dir + "/x"], "it is a folder")
        try assertCleanError(["download", "http://127.0.0.1:9/x", "--timeout", "0"], "--timeout must be between")
    }

    func testSIGTERMSavesAndResumeContinues() throws {
        let dir = try tinyRun("sigterm", steps: 1)
        let args = [
            "base-train", "--out", dir, "--fresh", "--depth", "1", "--seq-len", "32", "--batch-size", "2",
            "--steps", "100000", "--save-every", "0", "--train", "data/shakespeare/val",
            "--val", "data/shakespeare/val", "--eval-every", "0", "--sample-every", "0",
        ]
        let p = Process()
        p.executableURL = Fixtures.binary
        p.arguments = args
        p.currentDirectoryURL = Fixtures.repoRoot
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Wait until a few steps are logged (at most 60 s), then send SIGTERM as `kill` or `timeout` would.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let log = (try? String(contentsOfFile: dir + "/base/log.jsonl", encoding: .utf8)) ?? ""
            if log.split(separator: "\n").count >= 3 { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        p.terminate()  // SIGTERM
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .exit, "it handled the signal and exited on its own")
        XCTAssertEqual(p.terminationStatus, 143, "128 + SIGTERM")
        let step = try XCTUnwrap(Int(try Checkpoint.inspect(dir + "/base").1["step"] ?? ""))
        XCTAssertGreaterThanOrEqual(step, 3, "the steps before the signal were saved")
        // --resume with a new total continues from there.
        let r = try nanochat([
            "base-train", "--out", dir, "--resume", "--steps", "\(step + 2)", "--depth", "1",
            "--seq-len", "32", "--batch-size", "2", "--train",
            "data/shakespeare/val", "--val", "data/shakespeare/val", "--eval-every", "0",
            "--sample-every", "0",
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try Checkpoint.inspect(dir + "/base").1["step"], "\(step + 2)")
    }
}
