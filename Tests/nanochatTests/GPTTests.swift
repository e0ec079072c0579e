// The whole model: matches an independent PyTorch implementation (float64) on a committed fixture
// (tools/make_gpt_fixture.py): logits, loss, every gradient, and three Muon+AdamW steps. Plus a
// finite-difference check of the loss against a sample of every parameter tensor, and determinism.

import XCTest
@testable import nanochat

final class GPTTests: XCTestCase {

    /// The fixture's model with its weights loaded, and the fixture itself.
    func fixtureModel() throws -> (GPT, [String: SafeTensor], [String: String]) {
        let (t, meta) = try Safetensors.read(Fixtures.path("gpt_reference.safetensors"))
        let int = { (k: String) in Int(meta[k]!)! }
        let config = GPTConfig(
            sequenceLen: int("sequence_len"), vocabSize: int("vocab_size"), nLayer: int("n_layer"),
            nHead: int("n_head"), nKvHead: int("n_kv_head"), nEmbd: int("n_embd"))
        XCTAssertLessThan(config.nKvHead, config.nHead, "the fixture should exercise GQA")
        let model = GPT(config: config, maxBatch: int("batch"), seed: 1)
        for p in model.tensors {
            let src = try XCTUnwrap(t[p.name], "fixture lacks \(p.name)")
            XCTAssertEqual(src.shape, [p.rows, p.cols], p.name)
            (model.params + p.offset).update(from: src.data, count: p.count)
        }
        return (model, t, meta)
    }

    /// max |a - b| / max |b|: error relative to the tensor's scale.
    func relErr(_ a: UnsafePointer<Float>, _ b: [Float]) -> Double {
        var num = 0.0, den = 1e-12
        for i in 0..<b.count {
            num = max(num, abs(Double(a[i]) - Double(b[i])))
            den = max(den, abs(Double(b[i])))
        }
        return num / den
    }

    func testMatchesPyTorchReference() throws {
        let (model, t, meta) = try fixtureModel()
        let B = Int(meta["batch"]!)!, T = Int(meta["sequence_len"]!)!
        let inputs = t["inputs"]!.data.map { Int32($0) }, targets = t["targets"]!.data.map { Int32($0) }
        let weights = t["weights"]!.data
        model.zeroGrad()
        let loss = model.forward(inputs, targets, weights, B: B, T: T)
        // Tolerances are about 10x the errors observed (printed below): float32 against float64.
        // Forward: logits (observed 4.4e-7) and loss (9e-8).
        let logitErr = relErr(model.lastLogits, t["logits"]!.data)
        XCTAssertLessThan(logitErr, 3e-6, "logits differ from PyTorch")
        let lossErr = abs(Double(loss) - Double(t["loss"]!.data[0])) / abs(Double(t["loss"]!.data[0]))
        XCTAssertLessThan(lossErr, 3e-6, "loss differs from PyTorch")
        model.backward()
        // Backward: every parameter's gradient relative to the tensor's largest entry (observed 7.0e-7).
        var worst = 0.0
        for p in model.tensors {
            let e = relErr(model.grads + p.offset, t["grad." + p.name]!.data)
            worst = max(worst, e)
            XCTAssertLessThan(e, 6e-6, "gradient of \(p.name)")
        }
        print("PyTorch fixture: logits rel err \(logitErr), loss rel err \(lossErr), worst gradient rel err \(worst)")

        // Three optimizer steps on the same batch, with the fixture's fixed learning rates.
        let hyper = OptimizerHyper(
            embeddingLR: Float(meta["lr_wte"]!)!, unembeddingLR: Float(meta["lr_lm_head"]!)!,
            matrixLR: Float(meta["lr_muon"]!)!, weightDecay: Float(meta["weight_decay"]!)!,
            scaleByWidth: false)
        let opt = Optimizer(model: model, hyper: hyper)
        let expected = t["step_losses"]!.data
        var losses = [loss]
        for _ in 0..<3 {
            opt.update(lrMultiplier: 1, momentum: Float(meta["momentum"]!)!)
            model.zeroGrad()
            losses.append(model.forward(inputs, targets, weights, B: B, T: T))
            model.backward()
        }
        let stepErr = zip(losses, expected).map { abs(Double($0) - Double($1)) / abs(Double($1)) }.max()!
        var weightErr = 0.0
        for p in model.tensors {
            let e = relErr(model.params + p.offset, t["after." + p.name]!.data)
            weightErr = max(weightErr, e)
            XCTAssertLessThan(e, 7e-5, "weights after 3 steps: \(p.name)")  // observed 7.4e-6
        }
        XCTAssertLessThan(stepErr, 4e-6, "step losses \(losses) vs \(expected)")
        print("PyTorch fixture: step losses rel err \(stepErr), weights after 3 steps rel err \(weightErr)")
    }

    /// The optimizer as every real run uses it: the default rates, AdamW's scaled by (C/768)^-0.5.
    func testDefaultOptimizerPathMatchesPyTorch() throws {
        let (model, t, meta) = try fixtureModel()
        let B = Int(meta["batch"]!)!, T = Int(meta["sequence_len"]!)!
        let d = OptimizerHyper()
        XCTAssertEqual(Float(meta["default_lr_wte"]!), d.embeddingLR, "the fixture was made with other defaults")
        XCTAssertEqual(Float(meta["default_lr_lm_head"]!), d.unembeddingLR)
        XCTAssertEqual(Float(meta["default_lr_muon"]!), d.matrixLR)
        XCTAssertEqual(Float(meta["default_weight_decay"]!), d.weightDecay)
        let opt = Optimizer(model: model)
        XCTAssertEqual(Double(opt.widthScale), Double(meta["default_lr_scale"]!)!, accuracy: 1e-6)
        let inputs = t["inputs"]!.data.map { Int32($0) }, targets = t["targets"]!.data.map { Int32($0) }
        let weights = t["weights"]!.data
        var losses: [Float] = []
        for _ in 0..<3 {
            model.zeroGrad()
            losses.append(model.forward(inputs, targets, weights, B: B, T: T))
            model.backward()
            opt.update(lrMultiplier: 1, momentum: Float(meta["momentum"]!)!)
        }
        losses.append(model.forward(inputs, targets, weights, B: B, T: T))
        let expected = t["default.step_losses"]!.data
        // Observed: losses 4.8e-7 absolute (they pass through zero, so absolute), weights 8.8e-6 relative.
        let lossErr = zip(losses, expected).map { abs(Double($0) - Double($1)) }.max()!
        XCTAssertLessThan(lossErr, 5e-6, "step losses \(losses) vs \(expected)")
        var worst = 0.0
        for p in model.tensors {
            let e = relErr(model.params + p.offset, t["default.after." + p.name]!.data)
            worst = max(worst, e)
            XCTAssertLessThan(e, 1e-4, "weights after 3 default steps: \(p.name)")
        }
        print("PyTorch fixture, default optimizer: step losses abs err \(lossErr), weights rel err \(worst)")
    }

    func testWholeModelFiniteDifferences() throws {
        // nanochat's model, then each rung of the ablation ladder (one piece switched off at a time).
        var arches = [Architecture()]
        for change in [
            { (a: inout Architecture) in a.rotary = false }, { $0.qkNorm = false }, { $0.activation = .relu },
            { $0.activation = .gelu }, { $0.softcap = 0 },
        ] {
            var a = Architecture()
            change(&a)
            arches.append(a)
        }
        for arch in arches { checkWholeModelGradient(arch) }
    }

    private func checkWholeModelGradient(_ arch: Architecture) {
        // Random (not nanochat-init) weights so that no gradient is trivially zero. ReLU's kink at 0 needs a
        // smaller step than the smooth activations: a step of 1e-2 carries some pre-activations across it.
        var config = GPTConfig(sequenceLen: 4, vocabSize: 11, nLayer: 2, nHead: 2, nKvHead: 1, nEmbd: 8)
        config.arch = arch
        let model = GPT(config: config, maxBatch: 2, seed: 3)
        var rng = RNG(seed: 9)
        for i in 0..<model.numParams { model.params[i] = (2 * rng.uniform() - 1) * 0.5 }
        let B = 2, T = 4
        let inputs: [Int32] = (0..<8).map { _ in Int32(rng.int(11)) },
            targets: [Int32] = (0..<8).map { _ in Int32(rng.int(11)) }
        let weights: [Float] = [1, 1, 0, 1, 0.5, 1, 1, 2]
        model.zeroGrad()
        model.forward(inputs, targets, weights, B: B, T: T)
        model.backward()
        for p in model.tensors {
            let analytic = Array(UnsafeBufferPointer(start: model.grads + p.offset, count: p.count))
            checkGradient(
                "\(p.name) (\(arch))", x: model.params + p.offset, count: p.count, analytic: analytic,
                h: arch.activation == .relu ? 1e-3 : 1e-2, rtol: 3e-2, atolFraction: 1e-2,
                stride: max(1, p.count / 24)
            ) {
                Double(model.forward(inputs, targets, weights, B: B, T: T))
            }
        }
    }

    func testDeterministicInitAndConfig() {
        let config = GPTConfig(depth: 2, vocabSize: 100, sequenceLen: 16)
        XCTAssertEqual(config.nEmbd, 128)
        XCTAssertEqual(config.nHead, 2)
        XCTAssertEqual(config.headDim, 64)
        let a = GPT(config: config, maxBatch: 1, seed: 5), b = GPT(config: config, maxBatch: 1, seed: 5)
        let c = GPT(config: config, maxBatch: 1, seed: 6)
        XCTAssertTrue((0..<a.numParams).allSatisfy { a.params[$0] == b.params[$0] })
        XCTAssertFalse((0..<a.numParams).allSatisfy { a.params[$0] == c.params[$0] })
        XCTAssertEqual(a.numParams, config.numParams)
        // nanochat's init: both c_proj zero, so a fresh model's blocks start as the identity.
        let proj = a.tensor("transformer.h.1.mlp.c_proj.weight")!
        XCTAssertTrue((0..<proj.count).allSatisfy { a.params[proj.offset + $0] == 0 })
        // FLOPs per token: 6·N_matmul + 12·L·C·T.
        XCTAssertEqual(config.flopsPerToken, 6 * Double(config.matmulParams) + 12 * 2 * 128 * 16)
    }

    func testLogProbsAreTheLogSoftmaxOfTheLogits() {
        let config = GPTConfig(sequenceLen: 6, vocabSize: 13, nLayer: 1, nHead: 2, nKvHead: 1, nEmbd: 16)
        let model = GPT(config: config, maxBatch: 2, seed: 3)
        var rng = RNG(seed: 5)
        for i in 0..<model.numParams { model.params[i] = (2 * rng.uniform() - 1) * 0.5 }
        let inputs = (0..<12).map { _ in Int32(rng.int(13)) }, targets = (0..<12).map { _ in Int32(rng.int(13)) }
        let lp = model.logProbs(inputs, targets, B: 2, T: 6)
        model.forward(inputs, nil, B: 2, T: 6)
        for n in 0..<12 {
            let row = (0..<13).map { Double(model.lastLogits[n * 13 + $0]) }
            let lse = log(row.map { exp($0 - row.max()!) }.reduce(0, +)) + row.max()!
            XCTAssertEqual(Double(lp[n]), row[Int(targets[n])] - lse, accuracy: 1e-5)
        }
        // Their sum is minus the loss times the token count.
        XCTAssertEqual(
            Double(lp.reduce(0, +)), -Double(model.forward(inputs, targets, B: 2, T: 6)) * 12, accuracy: 1e-3)
    }

    func testMuonOrthogonalises() {
        // After Polar Express the update's singular values are near 1: X·Xᵀ ≈ I for a wide matrix.
        let rows = 8, cols = 16
        let p = Buf(rows * cols), g = Buf(rows * cols, seed: 21), buf = Buf(rows * cols)
        let s = MuonScratch(maxCount: rows * cols, maxSide: rows)
        defer { s.deallocate() }
        muonStep(p.p, g.p, buf.p, rows: rows, cols: cols, lr: -1, momentum: 0, s)  // p = X (lr -1, scale 1)
        for i in 0..<rows {
            for j in 0..<rows {
                let d = dot(p.p + i * cols, p.p + j * cols, cols)
                if i == j { XCTAssertEqual(d, 1, accuracy: 0.35) } else { XCTAssertEqual(d, 0, accuracy: 0.2) }
            }
        }
    }

    func testPostTrainingRatesAreScaled() throws {
        let d = OptimizerHyper(), h = OptimizerHyper.scaled(by: 0.1)
        XCTAssertEqual(h.embeddingLR, d.embeddingLR * 0.1)
        XCTAssertEqual(h.unembeddingLR, d.unembeddingLR * 0.1)
        XCTAssertEqual(h.matrixLR, d.matrixLR * 0.1)
        XCTAssertEqual(h.adapterLR, d.adapterLR * 0.1)
        XCTAssertEqual(h.weightDecay, 0)
        XCTAssertTrue(h.scaleByWidth)
        // mid-train and chat-sft hand --lr-scale to the optimizer.
        let stage = try StageOptions.parse(["--lr-scale", "0.5", "--steps", "7", "--batch-size", "3"])
        let o = try stage.trainOptions(stage: .sft, from: "x", seqLen: 32, warmStart: true, lora: LoRAOptions.parse([]))
        XCTAssertEqual(o.hyper, .scaled(by: 0.5))
        XCTAssertEqual(o.steps, 7)
        XCTAssertEqual(o.batchSize, 3)
        XCTAssertEqual(o.totalBatchTokens, 96)
    }

    func testSchedule() {
        let s = LRSchedule(totalSteps: 100, warmupSteps: 10, warmdownRatio: 0.2, finalFraction: 0.1)
        XCTAssertEqual(s.multiplier(0), 0.1, accuracy: 1e-6)
        XCTAssertEqual(s.multiplier(9), 1, accuracy: 1e-6)
        XCTAssertEqual(s.multiplier(50), 1)
        XCTAssertEqual(s.multiplier(80), 1)
        XCTAssertEqual(s.multiplier(90), 0.55, accuracy: 1e-6)
        XCTAssertEqual(s.multiplier(100), 0.1, accuracy: 1e-6)
        XCTAssertEqual(muonMomentum(0), 0.85, accuracy: 1e-6)
        XCTAssertEqual(muonMomentum(150), 0.90, accuracy: 1e-6)
        XCTAssertEqual(muonMomentum(1000), 0.95, accuracy: 1e-6)
    }
}

/// The parameter-group seam: frozen tensors get no gradient and no optimizer state, and stay bit-unchanged;
/// the trainable ones take exactly the update they take when nothing is frozen.
final class FreezeTests: XCTestCase {
    func testFrozenTensorsAreUntouchedAndTheRestUpdateAsUnfrozen() throws {
        let config = GPTConfig(sequenceLen: 8, vocabSize: 32, nLayer: 2, nHead: 2, nKvHead: 1, nEmbd: 16)
        let inputs = (0..<16).map { Int32(($0 * 7) % 32) }, targets = (0..<16).map { Int32(($0 * 5 + 3) % 32) }
        func model() -> GPT {
            let m = GPT(config: config, maxBatch: 2, seed: 4)
            var rng = RNG(seed: 8)
            for i in 0..<m.numParams { m.params[i] = (2 * rng.uniform() - 1) * 0.3 }
            return m
        }
        let isFrozen = { (t: ParamTensor) in t.name == "lm_head.weight" || t.name == "transformer.h.0.attn.c_q.weight" }
        let free = model(), part = model()
        part.freeze(where: isFrozen)
        XCTAssertEqual(part.tensors.filter { !$0.trainable }.count, 2)
        let before = Array(UnsafeBufferPointer(start: part.params, count: part.numParams))
        let freeOpt = Optimizer(model: free), partOpt = Optimizer(model: part)
        let frozenCount = part.tensors.filter(isFrozen).reduce(0) { $0 + $1.count }
        XCTAssertEqual(partOpt.stateCount, part.numParams - frozenCount, "no optimizer state for frozen tensors")
        XCTAssertEqual(freeOpt.stateCount, free.numParams)
        for step in 0..<3 {
            for (m, opt) in [(free, freeOpt), (part, partOpt)] {
                m.zeroGrad()
                m.forward(inputs, targets, B: 2, T: 8)
                m.backward()
                if step == 0 && m === part {
                    for t in part.tensors where isFrozen(t) {
                        XCTAssertTrue(
                            (0..<t.count).allSatisfy { part.grads[t.offset + $0] == 0 }, "no gradient for \(t.name)")
                    }
                }
                opt.update(lrMultiplier: 1, momentum: 0.9)
            }
            for t in part.tensors {
                let now = Array(UnsafeBufferPointer(start: part.params + t.offset, count: t.count))
                if isFrozen(t) {
                    XCTAssertEqual(now, Array(before[t.offset..<(t.offset + t.count)]), "\(t.name) moved while frozen")
                } else if step == 0 {
                    // After one step, every trainable tensor equals the unfrozen run's, bit for bit.
                    XCTAssertEqual(
                        now, Array(UnsafeBufferPointer(start: free.params + t.offset, count: t.count)), t.name)
                } else {
                    XCTAssertNotEqual(now, Array(before[t.offset..<(t.offset + t.count)]), "\(t.name) trains")
                }
            }
        }
        // A frozen model's optimizer state saves and loads through the checkpoint (trainable tensors only).
        let dir = Fixtures.tempDir("frozen")
        try Checkpoint.save(model: part, optimizer: partOpt, to: dir)
        let again = model()
        again.freeze(where: isFrozen)
        let againOpt = Optimizer(model: again)
        try Checkpoint.load(into: again, optimizer: againOpt, from: dir)
        XCTAssertEqual(
            Array(UnsafeBufferPointer(start: againOpt.expAvg, count: againOpt.adamCount)),
            Array(UnsafeBufferPointer(start: partOpt.expAvg, count: partOpt.adamCount)))
        XCTAssertEqual(
            Array(UnsafeBufferPointer(start: againOpt.momentumBuffer, count: againOpt.muonCount)),
            Array(UnsafeBufferPointer(start: partOpt.momentumBuffer, count: partOpt.muonCount)))
    }
}
