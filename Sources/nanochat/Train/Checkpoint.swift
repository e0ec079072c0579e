// Checkpoints: the model in `model.safetensors` with nanochat's state_dict names and nn.Linear shapes,
// the optimizer state (AdamW moments, Muon momentum, step) in `optim.safetensors` beside it. The config,
// the step and the tokenizer's hash go in `__metadata__`; stages add their own keys (data position, ...).
// Files are written to a temporary name and renamed; loading checks names, shapes and the config.
// A LoRA model's checkpoint is an adapter folder instead (Train/Adapter.swift): inspect and load read
// one as its base plus the adapter, so every command that takes a checkpoint folder takes an adapter.

import Foundation

enum Checkpoint {
    static let modelFile = "model.safetensors"
    static let optimFile = "optim.safetensors"

    /// The config as flat metadata keys (what tools/check_safetensors.py and Python readers expect).
    /// The ablation switches are written only where they differ from nanochat's (Architecture).
    static func metadata(_ c: GPTConfig) -> [String: String] {
        var m = [
            "sequence_len": "\(c.sequenceLen)", "vocab_size": "\(c.vocabSize)", "n_layer": "\(c.nLayer)",
            "n_head": "\(c.nHead)", "n_kv_head": "\(c.nKvHead)", "n_embd": "\(c.nEmbd)",
        ]
        if c.scoreHead { m["score_head"] = "1" }
        if !c.arch.rotary { m["rotary"] = "0" }
        if !c.arch.qkNorm { m["qk_norm"] = "0" }
        if c.arch.activation != .reluSquared { m["activation"] = c.arch.activation.rawValue }
        if c.arch.softcap != Architecture.defaultSoftcap { m["softcap"] = "\(c.arch.softcap)" }
        return m
    }

    /// The ablation switches of a checkpoint's metadata (absent keys: nanochat's model).
    static func architecture(from meta: [String: String], path: String) throws -> Architecture {
        func flag(_ k: String) throws -> Bool {
            switch meta[k] {
            case nil, "1": return true
            case "0": return false
            case let v?: throw UserError("\(path): metadata \(k) = \(v) must be 0 or 1: the file is damaged")
            }
        }
        var a = Architecture()
        a.rotary = try flag("rotary")
        a.qkNorm = try flag("qk_norm")
        if let v = meta["activation"] {
            guard let act = Activation(rawValue: v) else {
                throw UserError(
                    "\(path): metadata activation = \(v) is none of "
                        + Activation.allCases.map(\.rawValue).joined(separator: ", ") + ": the file is damaged")
            }
            a.activation = act
        }
        if let v = meta["softcap"] {
            guard let cap = Float(v) else { throw UserError("\(path): metadata softcap = \(v) is not a number") }
            a.softcap = cap
        }
        return a
    }

    static func config(from meta: [String: String], path: String) throws -> GPTConfig {
        // Each field within what a model on one machine can be, so that a damaged file cannot ask for
        // exabytes (or negative sizes) before anything is allocated.
        func int(_ k: String, _ range: ClosedRange<Int>) throws -> Int {
            guard let v = meta[k].flatMap({ Int($0) }) else {
                throw UserError("\(path): metadata lacks \(k); it is not a nanochat checkpoint")
            }
            guard range.contains(v) else {
                throw UserError(
                    "\(path): metadata \(k) = \(v) is outside \(range.lowerBound)...\(range.upperBound): the file is damaged"
                )
            }
            return v
        }
        var config = GPTConfig(
            sequenceLen: try int("sequence_len", 1...1 << 20), vocabSize: try int("vocab_size", 1...1 << 20),
            nLayer: try int("n_layer", 1...1024), nHead: try int("n_head", 1...1024),
            nKvHead: try int("n_kv_head", 1...1024), nEmbd: try int("n_embd", 1...1 << 16))
        config.scoreHead = meta["score_head"] == "1"
        config.arch = try architecture(from: meta, path: path)
        do { try config.validate() } catch let e as UserError { throw UserError("\(path): \(e.message)") }
        return config
    }

    /// Writes model (and optimizer) state into `dir`. `extra` metadata goes into both files.
    static func save(model: GPT, optimizer: Optimizer?, to dir: String, extra: [String: String] = [:]) throws {
        var meta = metadata(model.config).merging(extra) { _, new in new }
        if let optimizer { meta["step"] = meta["step"] ?? "\(optimizer.step)" }
        let tensors = model.tensors.map { ($0.name, [$0.rows, $0.cols], UnsafePointer(model.params + $0.offset)) }
        func writeModel() throws {
            // A folder holds one kind of checkpoint: the other kind's files (a --fresh run's) go.
            if model.config.lora != nil {
                try AdapterFile.save(model: model, to: dir, metadata: meta)
                try? FileManager.default.removeItem(atPath: dir + "/" + modelFile)
            } else {
                try writeAtomically(Safetensors.encode(tensors, metadata: meta), to: dir + "/" + modelFile)
                for f in [AdapterFile.configFile, AdapterFile.modelFile] {
                    try? FileManager.default.removeItem(atPath: dir + "/" + f)
                }
            }
        }
        guard let optimizer else { return try writeModel() }
        // The two files are tied by a fingerprint of the weights in both. The optimizer file is written first
        // and the model file last: a save killed between the two leaves a pair whose fingerprints differ,
        // which load refuses (as it refuses an optimizer file from another run).
        meta["weights_fnv1a64"] = String(weightsFingerprint(model), radix: 16)
        var state: [(String, [Int], UnsafePointer<Float>)] = []
        for t in optimizer.trained {
            let s = optimizer.stateOffset[t.offset]!
            switch optimizer.kind(of: t) {
            case .muon:
                state.append(
                    ("momentum_buffer." + t.name, [t.rows, t.cols], UnsafePointer(optimizer.momentumBuffer + s)))
            case .adamw:
                state.append(("exp_avg." + t.name, [t.rows, t.cols], UnsafePointer(optimizer.expAvg + s)))
                state.append(("exp_avg_sq." + t.name, [t.rows, t.cols], UnsafePointer(optimizer.expAvgSq + s)))
            }
        }
        var optMeta = meta
        optMeta["optimizer_step"] = "\(optimizer.step)"
        optMeta["matrix_optimizer"] = optimizer.matrixKind.rawValue
        try writeAtomically(Safetensors.encode(state, metadata: optMeta), to: dir + "/" + optimFile)
        try writeModel()
    }

    /// Whether `dir` holds a checkpoint: a model file, or an adapter folder.
    static func exists(_ dir: String) -> Bool {
        FileManager.default.fileExists(atPath: dir + "/" + modelFile) || AdapterFile.isAdapter(dir)
    }

    /// FNV-1a over the weights' bytes: what ties a model file to its optimizer file.
    static func weightsFingerprint(_ model: GPT) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        let bytes = UnsafeRawPointer(model.params).assumingMemoryBound(to: UInt8.self)
        for i in 0..<(model.numParams * 4) { h = (h ^ UInt64(bytes[i])) &* 0x0000_0100_0000_01B3 }
        return h
    }

    /// Reads a checkpoint's config and metadata without loading weights.
    static func inspect(_ dir: String) throws -> (GPTConfig, [String: String]) {
        if AdapterFile.isAdapter(dir) { return try AdapterFile.inspect(dir) }
        let path = dir + "/" + modelFile
        guard FileManager.default.fileExists(atPath: path) else {
            throw UserError(
                "no checkpoint in \(dir) (\(modelFile) not found). Train that stage first, or pass --checkpoint DIR.")
        }
        let (_, meta) = try Safetensors.read(path)
        return (try config(from: meta, path: path), meta)
    }

    /// Loads weights (and optimizer state) from `dir` into a model of the same config. Returns the metadata.
    /// With `addingScoreHead`, the checkpoint is a language model and `model` the reward model made from it:
    /// every tensor but score.weight is loaded, and score.weight keeps its value (reward-train starts it at 0).
    /// With `addingAdapters`, `model` is a LoRA model made from the checkpoint: its factors keep their values.
    /// An adapter folder loads as its base plus the adapter.
    @discardableResult
    static func load(
        into model: GPT, optimizer: Optimizer? = nil, from dir: String, addingScoreHead: Bool = false,
        addingAdapters: Bool = false
    ) throws -> [String: String] {
        let meta =
            AdapterFile.isAdapter(dir)
            ? try AdapterFile.load(into: model, from: dir)
            : try loadModelFile(
                into: model, from: dir, addingScoreHead: addingScoreHead, addingAdapters: addingAdapters)
        guard let optimizer else { return meta }
        return try loadOptimizer(optimizer, from: dir, modelMeta: meta)
    }

    private static func loadModelFile(
        into model: GPT, from dir: String, addingScoreHead: Bool, addingAdapters: Bool
    ) throws -> [String: String] {
        let path = dir + "/" + modelFile
        guard FileManager.default.fileExists(atPath: path) else {
            throw UserError(
                "no checkpoint in \(dir) (\(modelFile) not found). Train that stage first, or pass --checkpoint DIR.")
        }
        let (tensors, meta) = try Safetensors.read(path)
        var saved = try config(from: meta, path: path)
        if addingScoreHead && !saved.scoreHead { saved.scoreHead = true }
        if addingAdapters { saved.lora = model.config.lora }
        guard saved == model.config else {
            throw UserError(
                "\(path) holds a model with \(saved), but this run builds \(model.config). Use the same "
                    + "--depth/--seq-len/vocab and ablation switches (--no-rotary, --no-qk-norm, --activation, "
                    + "--softcap) as the checkpoint, or start a fresh run (without --resume, or with "
                    + "another --out)."
            )
        }
        let wanted = model.tensors.filter {
            !(addingScoreHead && $0.name == "score.weight" && tensors[$0.name] == nil)
                && !(addingAdapters && $0.isAdapter)
        }
        try copy(tensors, wanted.map { ($0.name, $0, model.params + $0.offset) }, path: path)
        return meta
    }

    private static func loadOptimizer(
        _ optimizer: Optimizer, from dir: String, modelMeta meta: [String: String]
    ) throws -> [String: String] {
        let optPath = dir + "/" + optimFile
        guard FileManager.default.fileExists(atPath: optPath) else {
            throw UserError(
                "\(dir) has weights but no optimizer state (\(optimFile)); cannot resume training from it exactly.")
        }
        let (state, optMeta) = try Safetensors.read(optPath)
        let savedKind = optMeta["matrix_optimizer"] ?? OptimizerKind.muon.rawValue  // older files: Muon
        guard savedKind == optimizer.matrixKind.rawValue else {
            throw UserError(
                "\(optPath) holds the state of --matrix-optimizer \(savedKind); this run uses "
                    + "\(optimizer.matrixKind.rawValue). Resume with --matrix-optimizer \(savedKind), or start the "
                    + "stage again with --fresh.")
        }
        for t in optimizer.trained {
            let s = optimizer.stateOffset[t.offset]!  // the state slabs hold the trained tensors only
            switch optimizer.kind(of: t) {
            case .muon:
                try copy(state, [("momentum_buffer." + t.name, t, optimizer.momentumBuffer + s)], path: optPath)
            case .adamw:
                try copy(
                    state,
                    [
                        ("exp_avg." + t.name, t, optimizer.expAvg + s),
                        ("exp_avg_sq." + t.name, t, optimizer.expAvgSq + s),
                    ], path: optPath)
            }
        }
        guard let step = optMeta["optimizer_step"].flatMap({ Int($0) }) else {
            throw UserError("\(optPath): metadata lacks optimizer_step")
        }
        guard optMeta["weights_fnv1a64"] == meta["weights_fnv1a64"] && optMeta["step"] == meta["step"] else {
            throw UserError(
                "\(dir): \(optimFile) (step \(optMeta["step"] ?? "?")) does not belong to \(modelFile) (step "
                    + "\(meta["step"] ?? "?")): a save was interrupted between the two files, or one was copied from "
                    + "another run. The weights cannot be resumed exactly; start the stage again with --fresh.")
        }
        optimizer.step = step
        return meta
    }

    /// Copies named tensors to their destinations, checking presence and shape.
    private static func copy(
        _ tensors: [String: SafeTensor], _ names: [(String, ParamTensor, UnsafeMutablePointer<Float>)],
        path: String
    ) throws {
        for (name, t, dest) in names {
            guard let src = tensors[name] else {
                throw UserError("\(path) lacks tensor \(name): not a checkpoint of this model")
            }
            guard src.shape == [t.rows, t.cols] else {
                throw UserError("\(path): tensor \(name) has shape \(src.shape), expected [\(t.rows), \(t.cols)]")
            }
            dest.update(from: src.data, count: t.count)
        }
    }
}
