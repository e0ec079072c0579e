// LoRA: the adapter kernel pair and the whole model's adapter gradients against finite differences; an
// adapter with B = 0 is exactly the base model; merging gives the same logits; training leaves the frozen
// weights bit-unchanged; the PEFT-layout folder round-trips; a LoRA stage resumes exactly; and bad
// folders, configs and bases give clear errors.

import XCTest
@testable import nanochat

final class LoRATests: XCTestCase {
    let spec = LoRASpec(rank: 2, alpha: 4, targets: LoRATarget.allCases)

    func config(lora: LoRASpec?) -> GPTConfig {
        var c = GPTConfig(sequenceLen: 4, vocabSize: 11, nLayer: 2, nHead: 2, nKvHead: 1, nEmbd: 8)
        c.lora = lora
        return c
    }

    /// A model with every weight random (B too, so that every adapter gradient is nonzero).
    func randomModel(lora: LoRASpec?, seed: UInt64 = 5, maxBatch: Int = 2) -> GPT {
        let model = GPT(config: config(lora: lora), maxBatch: maxBatch, seed: seed)
        var rng = RNG(seed: seed &+ 100)
        for i in 0..<model.numParams { model.params[i] = (2 * rng.uniform() - 1) * 0.5 }
        return model
    }

    func params(_ m: GPT, _ t: ParamTensor) -> [Float] { Array(UnsafeBufferPointer(start: m.params + t.offset, count: t.count)) }

    func testAdapterKernelPairMatchesFiniteDifferences() {
        let N = 5, IC = 6, OC = 4, r = 2, s: Float = 1.5
        let x = Buf(N * IC, seed: 1), A = Buf(r * IC, seed: 2), B = Buf(OC * r, seed: 3), dout = Buf(N * OC, seed: 4)
        let out = Buf(N * OC), h = Buf(N * r), dh = Buf(N * r)
        // Forward against the definition: out += s·(x·Aᵀ)·Bᵀ, summed by hand in Double.
        let base = Buf(N * OC, seed: 9)
        out.p.update(from: base.p, count: out.count)
        loraForward(out.p, h.p, x.p, A.p, B.p, N, IC, OC, r, s)
        for n in 0..<N {
            for o in 0..<OC {
                var y = 0.0
                for k in 0..<r {
                    var ax = 0.0
                    for i in 0..<IC { ax += Double(A.p[k * IC + i]) * Double(x.p[n * IC + i]) }
                    y += Double(B.p[o * r + k]) * ax
                }
                XCTAssertEqual(Double(out.p[n * OC + o]), Double(base.p[n * OC + o]) + Double(s) * y, accuracy: 1e-5)
            }
        }
        let dx = Buf(N * IC), dA = Buf(r * IC), dB = Buf(OC * r)
        loraBackward(dx.p, dA.p, dB.p, dh.p, dout.p, x.p, h.p, A.p, B.p, N, IC, OC, r, s)
        let loss = { () -> Double in
            out.zero()
            loraForward(out.p, h.p, x.p, A.p, B.p, N, IC, OC, r, s)
            return projected(out.p, dout.p, N * OC)
        }
        checkGradient("lora dx", x: x.p, count: x.count, analytic: dx.array, loss: loss)
        checkGradient("lora dA", x: A.p, count: A.count, analytic: dA.array, loss: loss)
        checkGradient("lora dB", x: B.p, count: B.count, analytic: dB.array, loss: loss)
        // Frozen factors: only dx, and the same dx.
        let dx2 = Buf(N * IC)
        loraBackward(dx2.p, nil, nil, dh.p, dout.p, x.p, h.p, A.p, B.p, N, IC, OC, r, s)
        XCTAssertEqual(dx2.array, dx.array)
    }

    /// The adapted model's gradient with respect to every tensor, adapters included, through the whole
    /// forward and backward: central differences of the loss.
    func testModelGradientsWithAdaptersMatchFiniteDifferences() {
        let model = randomModel(lora: spec)
        let inputs: [Int32] = [1, 2, 3, 4, 5, 6, 7, 8], targets: [Int32] = [2, 3, 4, 5, 6, 7, 8, 9]
        model.zeroGrad()
        model.forward(inputs, targets, B: 2, T: 4)
        model.backward()
        let all = Array(UnsafeBufferPointer(start: model.grads, count: model.numParams))
        checkModelGradient(model) { Double(model.forward(inputs, targets, B: 2, T: 4)) }
        // Frozen base: the adapters get the same gradient, the base none at all.
        model.freeze { !$0.isAdapter }
        model.zeroGrad()
        model.forward(inputs, targets, B: 2, T: 4)
        model.backward()
        for t in model.tensors {
            let g = Array(UnsafeBufferPointer(start: model.grads + t.offset, count: t.count))
            if t.isAdapter {
                XCTAssertEqual(g, Array(all[t.offset..<(t.offset + t.count)]), t.name)
            } else {
                XCTAssertTrue(g.allSatisfy { $0 == 0 }, "\(t.name) is frozen: no gradient work")
            }
        }
    }

    func testZeroBIsExactlyTheBaseAndMergingKeepsTheLogits() {
        let base = randomModel(lora: nil)
        let adapted = GPT(config: config(lora: spec), maxBatch: 2, seed: 9)  // A random, B = 0
        adapted.params.update(from: base.params, count: base.numParams)  // the base tensors come first
        let inputs: [Int32] = [1, 2, 3, 4, 5, 6, 7, 8], N = 8 * 11
        base.forward(inputs, nil, B: 2, T: 4)
        adapted.forward(inputs, nil, B: 2, T: 4)
        XCTAssertEqual(
            Array(UnsafeBufferPointer(start: base.lastLogits, count: N)),
            Array(UnsafeBufferPointer(start: adapted.lastLogits, count: N)), "B = 0: bit for bit the base model")
        XCTAssertTrue(params(adapted, adapted.tensor("transformer.h.0.attn.c_q.lora_A.weight")!).contains { $0 != 0 })

        let model = randomModel(lora: spec), merged = model.merged()
        XCTAssertNil(merged.config.lora)
        XCTAssertEqual(merged.numParams, model.numParams - model.config.adapterParams)
        model.forward(inputs, nil, B: 2, T: 4)
        merged.forward(inputs, nil, B: 2, T: 4)
        var worst: Float = 0
        for i in 0..<N { worst = max(worst, abs(model.lastLogits[i] - merged.lastLogits[i])) }
        XCTAssertLessThan(worst, 1e-5, "merged logits equal base + adapter logits (max difference \(worst))")
        XCTAssertGreaterThan(
            abs(model.lastLogits[0] - base.lastLogits[0]) + abs(model.lastLogits[5] - base.lastLogits[5]), 0)
    }

    func testTrainingLeavesTheFrozenWeightsBitUnchanged() {
        let model = randomModel(lora: spec)
        model.freeze { !$0.isAdapter }
        let before = Array(UnsafeBufferPointer(start: model.params, count: model.numParams))
        let opt = Optimizer(model: model, hyper: .scaled(by: 1))
        XCTAssertEqual(opt.stateCount, model.config.adapterParams, "optimizer state for the adapters only")
        XCTAssertEqual(opt.stateBytes, 8 * model.config.adapterParams, "AdamW: two floats per parameter")
        XCTAssertTrue(opt.trained.allSatisfy { $0.isAdapter && $0.optimizer == .adamw })
        for _ in 0..<3 {
            model.zeroGrad()
            model.forward([1, 2, 3, 4, 5, 6, 7, 8], [2, 3, 4, 5, 6, 7, 8, 9], B: 2, T: 4)
            model.backward()
            opt.update(lrMultiplier: 1, momentum: 0.9)
        }
        for t in model.tensors {
            let now = params(model, t), then = Array(before[t.offset..<(t.offset + t.count)])
            if t.isAdapter { XCTAssertNotEqual(now, then, "\(t.name) trains") } else { XCTAssertEqual(now, then, t.name) }
        }
    }

    /// --lora-heads: the embedding and the LM head train in full beside the adapters (AdamW, their own
    /// rates), the block matrices stay frozen, and the adapter file carries the heads (PEFT's modules_to_save).
    func testHeadsTrainInFullAndTravelInTheAdapter() throws {
        var withHeads = spec
        withHeads.heads = true
        let base = randomModel(lora: nil), baseDir = try saveBase(base)
        let model = GPT(config: config(lora: withHeads), maxBatch: 2, seed: 3)
        model.params.update(from: base.params, count: base.numParams)
        model.adapterBase = try AdapterBase.of(baseDir)
        model.freeze { !withHeads.trains($0) }
        let opt = Optimizer(model: model, hyper: .scaled(by: 1))
        XCTAssertEqual(Set(opt.trained.filter { !$0.isAdapter }.map(\.name)), Set(LoRASpec.headTensors))
        model.zeroGrad()
        model.forward([1, 2, 3, 4, 5, 6, 7, 8], [2, 3, 4, 5, 6, 7, 8, 9], B: 2, T: 4)
        model.backward()
        opt.update(lrMultiplier: 1, momentum: 0.9)
        for t in model.tensors where !t.isAdapter {
            let changed = params(model, t) != Array(UnsafeBufferPointer(start: base.params + t.offset, count: t.count))
            XCTAssertEqual(changed, LoRASpec.headTensors.contains(t.name), t.name)
        }
        let dir = Fixtures.tempDir("lora-heads")
        try Checkpoint.save(model: model, optimizer: opt, to: dir, extra: ["step": "1"])
        let (tensors, _) = try Safetensors.read(dir + "/" + AdapterFile.modelFile)
        XCTAssertEqual(tensors["base_model.model.lm_head.weight"]?.shape, [11, 8])
        XCTAssertEqual(tensors["base_model.model.transformer.wte.weight"]?.shape, [11, 8])
        let loaded = GPT(config: try Checkpoint.inspect(dir).0, maxBatch: 2)
        XCTAssertEqual(loaded.config.lora, withHeads)
        try Checkpoint.load(into: loaded, from: dir)
        XCTAssertEqual(
            Array(UnsafeBufferPointer(start: loaded.params, count: loaded.numParams)),
            Array(UnsafeBufferPointer(start: model.params, count: model.numParams)))
    }

    /// Saves `model` (a plain checkpoint) into a temporary folder: an adapter's base.
    func saveBase(_ model: GPT) throws -> String {
        let dir = Fixtures.tempDir("lora-base")
        try Checkpoint.save(model: model, optimizer: nil, to: dir, extra: ["step": "1"])
        return dir
    }

    func testAdapterFolderRoundTripsInPEFTLayout() throws {
        let base = randomModel(lora: nil), baseDir = try saveBase(base)
        let model = randomModel(lora: spec, seed: 8)
        model.params.update(from: base.params, count: base.numParams)
        model.adapterBase = try AdapterBase.of(baseDir)
        let dir = Fixtures.tempDir("lora-adapter")
        try Checkpoint.save(model: model, optimizer: nil, to: dir, extra: ["step": "3", "stage": "sft"])
        XCTAssertTrue(AdapterFile.isAdapter(dir))
        XCTAssertTrue(Checkpoint.exists(dir))
        let (tensors, meta) = try Safetensors.read(dir + "/" + AdapterFile.modelFile)
        XCTAssertEqual(tensors.count, 2 * 6 * 2, "A and B for six layers of two blocks, nothing else")
        XCTAssertEqual(tensors["base_model.model.transformer.h.1.attn.c_q.lora_A.weight"]?.shape, [2, 8])
        XCTAssertEqual(tensors["base_model.model.transformer.h.1.mlp.c_fc.lora_B.weight"]?.shape, [32, 2])
        XCTAssertEqual(meta["step"], "3")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/adapter_config.json")))
        let cfg = try XCTUnwrap(json as? [String: Any])
        XCTAssertEqual(cfg["r"] as? Int, 2)
        XCTAssertEqual(cfg["lora_alpha"] as? Double, 4)
        XCTAssertEqual(cfg["target_modules"] as? [String], ["c_q", "c_k", "c_v", "attn.c_proj", "c_fc", "mlp.c_proj"])
        XCTAssertEqual(cfg["base_model_sha256"] as? String, model.adapterBase?.sha256)

        // Loaded back (by folder, as every command loads a checkpoint): the same function as the original.
        let (config, _) = try Checkpoint.inspect(dir)
        XCTAssertEqual(config.lora, spec)
        let loaded = GPT(config: config, maxBatch: 2)
        try Checkpoint.load(into: loaded, from: dir)
        XCTAssertEqual(
            Array(UnsafeBufferPointer(start: loaded.params, count: loaded.numParams)),
            Array(UnsafeBufferPointer(start: model.params, count: model.numParams)))

        // lora-merge's model, saved and loaded as an ordinary checkpoint, gives the adapted logits.
        let mergedDir = Fixtures.tempDir("lora-merged")
        try Checkpoint.save(model: loaded.merged(), optimizer: nil, to: mergedDir)
        let (mc, _) = try Checkpoint.inspect(mergedDir)
        XCTAssertNil(mc.lora)
        let merged = GPT(config: mc, maxBatch: 2)
        try Checkpoint.load(into: merged, from: mergedDir)
        let inputs: [Int32] = [1, 2, 3, 4, 5, 6, 7, 8]
        model.forward(inputs, nil, B: 2, T: 4)
        merged.forward(inputs, nil, B: 2, T: 4)
        for i in 0..<(8 * 11) { XCTAssertEqual(model.lastLogits[i], merged.lastLogits[i], accuracy: 1e-5) }

        // Another base (one weight changed) is refused, naming both hashes.
        base.params[3] += 1
        try Checkpoint.save(model: base, optimizer: nil, to: baseDir, extra: ["step": "1"])
        assertUserError(["trained on other weights", "only works on its own base"]) {
            try Checkpoint.load(into: GPT(config: config, maxBatch: 2), from: dir)
        }
    }

    /// The recorded hash is the SHA-256 of the base's model file, as `sha256sum` prints it (FIPS 180-4's "abc").
    func testBaseHashIsTheFilesSHA256() throws {
        let dir = Fixtures.tempDir("lora-hash")
        try Data("abc".utf8).write(to: URL(fileURLWithPath: dir + "/" + Checkpoint.modelFile))
        XCTAssertEqual(
            try AdapterBase.of(dir).sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    func testBadAdapterFoldersGiveClearErrors() throws {
        let base = randomModel(lora: nil), baseDir = try saveBase(base)
        let model = randomModel(lora: spec, seed: 8)
        model.adapterBase = try AdapterBase.of(baseDir)
        let dir = Fixtures.tempDir("lora-bad")
        try Checkpoint.save(model: model, optimizer: nil, to: dir)
        let configPath = dir + "/" + AdapterFile.configFile
        let good = try String(contentsOfFile: configPath, encoding: .utf8)
        func withConfig(_ text: String, _ fragments: [String]) throws {
            try text.write(toFile: configPath, atomically: true, encoding: .utf8)
            assertUserError(fragments) { _ = try Checkpoint.inspect(dir) }
        }
        try withConfig(good.replacingOccurrences(of: "\"r\" : 2", with: "\"r\" : 0"), ["r (the rank)"])
        try withConfig(good.replacingOccurrences(of: "\"c_fc\"", with: "\"wq\""), ["\"wq\"", "c_q"])
        try withConfig(good.replacingOccurrences(of: "\"lora_alpha\" : 4", with: "\"lora_alpha\" : -1"), ["lora_alpha"])
        try withConfig("{\"r\": 2", ["not a JSON object"])
        try withConfig(good.replacingOccurrences(of: baseDir, with: baseDir + "-gone"), ["not there now", "--checkpoint"])
        try good.write(toFile: configPath, atomically: true, encoding: .utf8)
        // A rank that disagrees with the tensors: every tensor's shape is checked.
        try good.replacingOccurrences(of: "\"r\" : 2", with: "\"r\" : 3").write(
            toFile: configPath, atomically: true, encoding: .utf8)
        let three = GPT(config: try Checkpoint.inspect(dir).0, maxBatch: 2)
        assertUserError(["has shape [2, 8], expected [3, 8]"]) { try Checkpoint.load(into: three, from: dir) }
        try good.write(toFile: configPath, atomically: true, encoding: .utf8)
        // Loading the adapter onto a stage that asks for another shape.
        var other = config(lora: spec)
        other.lora?.rank = 4
        assertUserError(["LoRA rank 2", "--lora-rank"]) {
            try AdapterFile.load(into: GPT(config: other, maxBatch: 2), from: dir)
        }
        // A folder with the config but no tensors, and --adapter on something that is not an adapter.
        try FileManager.default.removeItem(atPath: dir + "/" + AdapterFile.modelFile)
        assertUserError(["no adapter_model.safetensors", "not saved completely"]) { _ = try Checkpoint.inspect(dir) }
        assertUserError(["full checkpoint", "--checkpoint"]) {
            _ = try loadAdapter(baseDir, base: nil, tokenizer: Fixtures.smallTokenizer, tokenizerDir: "t", maxBatch: 1)
        }
        XCTAssertThrowsError(try LoRATarget.parse("q,wk"))
        XCTAssertEqual(try LoRATarget.parse("v, q,q"), [.q, .v])
    }

    /// A LoRA SFT stage from a pretrained checkpoint, stopped after step 3 and resumed, ends with the same
    /// adapter file, byte for byte, as the run that was not stopped; the base file is untouched.
    func testLoRAStageResumesExactly() throws {
        let tok = Fixtures.smallTokenizer
        let corpus = try Corpus.load([Fixtures.repoRoot.appendingPathComponent("data/shakespeare/val").path])
        var tokens: [UInt16] = []
        for doc in corpus.documents.prefix(2) {
            tokens.append(UInt16(tok.bosId))
            tokens += tok.encodeOrdinary(Array(doc.prefix(20_000))).map { UInt16($0) }
        }
        let baseDir = Fixtures.tempDir("lora-stage-base")
        _ = try pretrain(
            tokenizer: tok, train: tokens, val: tokens, outDir: baseDir,
            options: Fixtures.tinyOptions(seqLen: 16, totalBatch: 32, steps: 2, saveEvery: 0))
        let baseBytes = try Data(contentsOf: URL(fileURLWithPath: baseDir + "/model.safetensors"))
        var o = Fixtures.tinyOptions(.sft, seqLen: 16, totalBatch: 32, steps: 6, saveEvery: 2)
        o.initFrom = baseDir
        o.warmStartOptimizer = true  // as chat-sft: a new adapter must start without the base's state
        o.lora = LoRAStart(spec: LoRASpec(rank: 2, alpha: 4, targets: [.q, .v, .fc]), adapter: nil)
        let straight = Fixtures.tempDir("lora-straight"), resumed = Fixtures.tempDir("lora-resumed")
        let a = try pretrain(tokenizer: tok, train: tokens, val: tokens, outDir: straight, options: o)
        var stopped = o
        stopped.stopAfterStep = 3
        XCTAssertTrue(try pretrain(tokenizer: tok, train: tokens, val: tokens, outDir: resumed, options: stopped).interrupted)
        XCTAssertTrue(AdapterFile.isAdapter(resumed))
        var again = o
        again.resume = true
        let b = try pretrain(tokenizer: tok, train: tokens, val: tokens, outDir: resumed, options: again)
        XCTAssertEqual(b.step, 6)
        XCTAssertEqual(a.lastLoss, b.lastLoss)
        let file = "/" + AdapterFile.modelFile
        XCTAssertEqual(
            try Data(contentsOf: URL(fileURLWithPath: straight + file)),
            try Data(contentsOf: URL(fileURLWithPath: resumed + file)), "the resumed adapter is bit-exact")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: baseDir + "/model.safetensors")), baseBytes)
        XCTAssertFalse(FileManager.default.fileExists(atPath: straight + "/model.safetensors"))

        // Stacking a new adapter on an adapter is refused; continuing one with other shape options is too.
        var stack = o
        stack.initFrom = straight
        stack.fresh = true
        assertUserError(["is itself an adapter", "--adapter", "lora-merge"]) {
            _ = try pretrain(tokenizer: tok, train: tokens, val: tokens, outDir: Fixtures.tempDir("x"), options: stack)
        }
        stack.lora = LoRAStart(spec: LoRASpec(rank: 4, alpha: 4, targets: [.q]), adapter: straight)
        assertUserError(["not the LoRA rank 4", "drop the --lora-* options"]) {
            _ = try pretrain(tokenizer: tok, train: tokens, val: tokens, outDir: Fixtures.tempDir("x"), options: stack)
        }
        // A full fine-tune from an adapter folder starts from the merged weights.
        var full = Fixtures.tinyOptions(.sft, seqLen: 16, totalBatch: 32, steps: 1, saveEvery: 0)
        full.initFrom = straight
        let fullDir = Fixtures.tempDir("lora-full")
        _ = try pretrain(tokenizer: tok, train: tokens, val: tokens, outDir: fullDir, options: full)
        XCTAssertNil(try Checkpoint.inspect(fullDir).0.lora)
    }
}
