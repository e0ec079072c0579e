// Checkpoints: save → load → save is byte-identical; a resumed run (model + optimizer) continues bit for
// bit like an uninterrupted one; loading a checkpoint of another config or a damaged file says why.

import XCTest
@testable import nanochat

final class CheckpointTests: XCTestCase {
    let config = GPTConfig(sequenceLen: 8, vocabSize: 32, nLayer: 2, nHead: 2, nKvHead: 1, nEmbd: 16)

    /// A fixed batch sequence for step s.
    func batch(_ s: Int) -> ([Int32], [Int32]) {
        var rng = RNG(seed: UInt64(100 + s))
        let x = (0..<16).map { _ in Int32(rng.int(32)) }
        return (x, x.map { ($0 * 7 + 3) % 32 })  // a learnable mapping
    }

    func train(_ model: GPT, _ opt: Optimizer, steps: Range<Int>, schedule: LRSchedule) -> [Float] {
        steps.map { s in
            let (x, y) = batch(s)
            model.zeroGrad()
            let loss = model.forward(x, y, B: 2, T: 8)
            model.backward()
            opt.update(lrMultiplier: schedule.multiplier(s), momentum: muonMomentum(s))
            return loss
        }
    }

    func testSaveLoadSaveIsByteIdentical() throws {
        let model = GPT(config: config, maxBatch: 2, seed: 1)
        let opt = Optimizer(model: model)
        _ = train(model, opt, steps: 0..<2, schedule: LRSchedule(totalSteps: 10))
        let a = Fixtures.tempDir("ckA"), b = Fixtures.tempDir("ckB")
        try Checkpoint.save(model: model, optimizer: opt, to: a, extra: ["tokenizer_hash": "abc"])
        let model2 = GPT(config: config, maxBatch: 2, seed: 99)
        let opt2 = Optimizer(model: model2)
        let meta = try Checkpoint.load(into: model2, optimizer: opt2, from: a)
        XCTAssertEqual(meta["tokenizer_hash"], "abc")
        XCTAssertEqual(meta["n_kv_head"], "1")
        XCTAssertEqual(opt2.step, 2)
        try Checkpoint.save(model: model2, optimizer: opt2, to: b, extra: ["tokenizer_hash": "abc"])
        for f in [Checkpoint.modelFile, Checkpoint.optimFile] {
            XCTAssertEqual(
                try Data(contentsOf: URL(fileURLWithPath: a + "/" + f)),
                try Data(contentsOf: URL(fileURLWithPath: b + "/" + f)), f)
        }
    }

    func testResumeContinuesExactly() throws {
        let schedule = LRSchedule(totalSteps: 8, warmupSteps: 2)
        let straight = GPT(config: config, maxBatch: 2, seed: 7)
        let lossesStraight = train(straight, Optimizer(model: straight), steps: 0..<8, schedule: schedule)

        let first = GPT(config: config, maxBatch: 2, seed: 7)
        let opt1 = Optimizer(model: first)
        var losses = train(first, opt1, steps: 0..<4, schedule: schedule)
        let dir = Fixtures.tempDir("resume")
        try Checkpoint.save(model: first, optimizer: opt1, to: dir)
        let resumed = GPT(config: config, maxBatch: 2, seed: 12345)  // different init: everything must come from disk
        let opt2 = Optimizer(model: resumed)
        try Checkpoint.load(into: resumed, optimizer: opt2, from: dir)
        losses += train(resumed, opt2, steps: 4..<8, schedule: schedule)
        XCTAssertEqual(losses, lossesStraight, "resumed losses must equal the uninterrupted run's, bit for bit")
        XCTAssertLessThan(lossesStraight.last!, lossesStraight.first!, "training should reduce the loss")
    }

    func testLoadErrors() throws {
        let model = GPT(config: config, maxBatch: 2)
        let dir = Fixtures.tempDir("ckerr")
        assertUserError(["no checkpoint", "model.safetensors not found"]) {
            try Checkpoint.load(into: model, from: dir)
        }
        try Checkpoint.save(model: model, optimizer: nil, to: dir)
        var other = config
        other.nLayer = 3
        assertUserError(["n_layer 2", "n_layer 3", "--depth"]) {
            try Checkpoint.load(into: GPT(config: other, maxBatch: 1), from: dir)
        }
        assertUserError(["no optimizer state"]) {
            try Checkpoint.load(into: model, optimizer: Optimizer(model: model), from: dir)
        }
        let path = dir + "/" + Checkpoint.modelFile
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(data.count - 100).write(to: URL(fileURLWithPath: path))
        assertUserError(["not a valid safetensors file", "truncated"]) { try Checkpoint.load(into: model, from: dir) }
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: path))
        assertUserError(["not a valid safetensors file"]) { try Checkpoint.load(into: model, from: dir) }
    }

    func testAblationSwitchesAndAdamWMatricesResumeExactly() throws {
        // The ablation ladder's model and optimizer through a checkpoint: the switches come back from the
        // metadata, AdamW state replaces Muon's momentum, and the resumed run equals the straight one.
        var ablated = config
        ablated.arch = Architecture(rotary: false, qkNorm: false, activation: .gelu, softcap: 0)
        var hyper = OptimizerHyper(matrixLR: OptimizerHyper.adamwMatrixLR)
        hyper.matrixOptimizer = .adamw
        let schedule = LRSchedule(totalSteps: 6)
        let straight = GPT(config: ablated, maxBatch: 2, seed: 3)
        let lossesStraight = train(straight, Optimizer(model: straight, hyper: hyper), steps: 0..<6, schedule: schedule)
        let first = GPT(config: ablated, maxBatch: 2, seed: 3), opt1 = Optimizer(model: first, hyper: hyper)
        XCTAssertEqual(opt1.muonCount, 0, "every matrix takes AdamW")
        var losses = train(first, opt1, steps: 0..<3, schedule: schedule)
        let dir = Fixtures.tempDir("ablated")
        try Checkpoint.save(model: first, optimizer: opt1, to: dir)
        let (saved, meta) = try Checkpoint.inspect(dir)
        XCTAssertEqual(saved.arch, ablated.arch)
        XCTAssertEqual(meta["activation"], "gelu")
        let resumed = GPT(config: saved, maxBatch: 2, seed: 99), opt2 = Optimizer(model: resumed, hyper: hyper)
        try Checkpoint.load(into: resumed, optimizer: opt2, from: dir)
        losses += train(resumed, opt2, steps: 3..<6, schedule: schedule)
        XCTAssertEqual(losses, lossesStraight, "resumed losses must equal the uninterrupted run's, bit for bit")
        // nanochat's model or Muon cannot take this checkpoint, and say which switch differs.
        assertUserError(["no rotary", "ablation switches"]) {
            try Checkpoint.load(into: GPT(config: self.config, maxBatch: 2), from: dir)
        }
        assertUserError(["--matrix-optimizer adamw", "this run uses muon"]) {
            try Checkpoint.load(into: resumed, optimizer: Optimizer(model: resumed), from: dir)
        }
        // A nanochat-shaped checkpoint's metadata names no switch.
        XCTAssertNil(Checkpoint.metadata(config)["rotary"])
        XCTAssertNil(Checkpoint.metadata(config)["softcap"])
    }
}
