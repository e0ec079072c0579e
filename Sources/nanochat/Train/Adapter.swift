// A LoRA stage's output: an adapter folder in the layout of Hugging Face's PEFT library, so that people
// (and `peft`) recognise it. `adapter_model.safetensors` holds only the factors, named as PEFT names them
// on a wrapped model (`base_model.model.transformer.h.{i}.attn.c_q.lora_A.weight`, A (r, in), B (out, r)),
// with the stage's metadata (step, ...); `adapter_config.json` holds r, lora_alpha, target_modules and
// the base checkpoint (its folder and the SHA-256 of its model.safetensors: an adapter only means
// something on the weights it was trained on, so another base is refused). `optim.safetensors` beside them
// holds the factors' AdamW state for --resume. Model/LoRA.swift has the math.

import Foundation

/// The checkpoint an adapter was trained on: its folder and the SHA-256 of its model file.
struct AdapterBase: Equatable {
    var path: String
    var sha256: String

    /// The base as it is on disk now.
    static func of(_ dir: String) throws -> AdapterBase {
        let data = try readFile(dir + "/" + Checkpoint.modelFile, what: "checkpoint")
        return AdapterBase(path: dir, sha256: SHA256.hex(data))
    }
}

enum AdapterFile {
    static let modelFile = "adapter_model.safetensors"
    static let configFile = "adapter_config.json"
    /// PEFT's prefix for the wrapped model's state_dict names.
    static let prefix = "base_model.model."

    /// Whether `dir` holds an adapter (and not an ordinary checkpoint).
    static func isAdapter(_ dir: String) -> Bool {
        let fm = FileManager.default
        return fm.fileExists(atPath: dir + "/" + configFile) && !fm.fileExists(atPath: dir + "/" + Checkpoint.modelFile)
    }

    /// adapter_config.json as PEFT writes it for a causal LM, plus the base's hash.
    static func configJSON(_ spec: LoRASpec, base: AdapterBase) throws -> Data {
        let object: [String: Any] = [
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": spec.rank, "lora_alpha": Double(spec.alpha),
            "lora_dropout": 0.0, "bias": "none", "fan_in_fan_out": false, "inference_mode": true,
            "init_lora_weights": true, "target_modules": spec.targets.map(\.peftName),
            "base_model_name_or_path": base.path, "base_model_sha256": base.sha256,
            "modules_to_save": spec.heads ? LoRASpec.headModules as Any : NSNull(),
        ]
        return try JSONSerialization.data(
            withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }

    /// Reads and checks adapter_config.json: the spec and the base it names.
    static func readConfig(_ dir: String) throws -> (LoRASpec, AdapterBase) {
        let path = dir + "/" + configFile
        guard FileManager.default.fileExists(atPath: path) else {
            throw UserError("\(dir) is not an adapter folder: \(configFile) not found (a LoRA stage writes one)")
        }
        let data = try readFile(path, what: "adapter config")
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw UserError("\(path) is not a JSON object; it is damaged (retrain the adapter)")
        }
        func bad(_ why: String) -> UserError { UserError("\(path): \(why); it is not an adapter this program wrote") }
        if let type = json["peft_type"] as? String, type != "LORA" { throw bad("peft_type is \(type), not LORA") }
        guard let r = (json["r"] as? NSNumber)?.intValue, (1...4096).contains(r) else {
            throw bad("r (the rank) must be a whole number from 1 to 4096")
        }
        guard let alpha = (json["lora_alpha"] as? NSNumber)?.floatValue, alpha.isFinite, alpha > 0 else {
            throw bad("lora_alpha must be a positive number")
        }
        guard let modules = json["target_modules"] as? [String], !modules.isEmpty else {
            throw bad("target_modules must be a list of layer names")
        }
        var targets: [LoRATarget] = []
        for m in modules {
            guard let t = LoRATarget.allCases.first(where: { $0.peftName == m || $0.rawValue == m }) else {
                throw bad(
                    "target module \"\(m)\" is not a layer of this model (known: "
                        + LoRATarget.allCases.map(\.peftName).joined(separator: ", ") + ")")
            }
            targets.append(t)
        }
        var heads = false
        if let saved = json["modules_to_save"], !(saved is NSNull) {
            guard let names = saved as? [String], Set(names) == Set(LoRASpec.headModules) else {
                throw bad("modules_to_save must be null or [\"wte\", \"lm_head\"] (--lora-heads)")
            }
            heads = true
        }
        guard let basePath = json["base_model_name_or_path"] as? String, let sha = json["base_model_sha256"] as? String
        else {
            throw bad("base_model_name_or_path and base_model_sha256 (the base checkpoint) are missing")
        }
        let spec = LoRASpec(rank: r, alpha: alpha, targets: LoRATarget.allCases.filter(targets.contains), heads: heads)
        return (spec, AdapterBase(path: basePath, sha256: sha))
    }

    /// The base checkpoint to put the adapter on: `base` when given, else the one the config names; either
    /// way its model file must hash to the recorded SHA-256.
    static func checkedBase(_ dir: String, recorded: AdapterBase, base: String?) throws -> AdapterBase {
        let path = base ?? recorded.path
        guard FileManager.default.fileExists(atPath: path + "/" + Checkpoint.modelFile) else {
            throw missingBase(dir, recorded: recorded, base: base)
        }
        let now = try AdapterBase.of(path)
        guard now.sha256 == recorded.sha256 else {
            throw UserError(
                "the adapter \(dir) was trained on other weights than \(path) holds "
                    + "(SHA-256 \(recorded.sha256.prefix(12))… "
                    + "recorded, \(now.sha256.prefix(12))… now): an adapter only works on its own base. Use the "
                    + "checkpoint it was trained on (\(recorded.path) when it was made), or retrain the adapter.")
        }
        return now
    }

    private static func missingBase(_ dir: String, recorded: AdapterBase, base: String?) -> UserError {
        guard let base else {
            return UserError(
                "the adapter \(dir) was trained on the checkpoint \(recorded.path), which is not there now (the "
                    + "path is relative to where the stage ran); pass that base with --checkpoint DIR")
        }
        return UserError("no checkpoint in \(base) (\(Checkpoint.modelFile) not found) to put the adapter \(dir) on")
    }

    /// The adapted model's config and the adapter file's metadata, without loading weights.
    /// `base` overrides the recorded base folder (it is checked when the weights load).
    static func inspect(_ dir: String, base given: String? = nil) throws -> (GPTConfig, [String: String]) {
        let (spec, recorded) = try readConfig(dir)
        let base = given ?? recorded.path
        guard !isAdapter(base) else {
            throw UserError("\(dir) names another adapter (\(base)) as its base; merge that one first (lora-merge)")
        }
        guard FileManager.default.fileExists(atPath: base + "/" + Checkpoint.modelFile) else {
            throw missingBase(dir, recorded: recorded, base: given)
        }
        var (config, _) = try Checkpoint.inspect(base)
        config.lora = spec
        let path = dir + "/" + modelFile
        guard FileManager.default.fileExists(atPath: path) else {
            throw UserError("\(dir) has \(configFile) but no \(modelFile): the adapter was not saved completely")
        }
        return (config, try Safetensors.read(path).metadata)
    }

    /// The tensors an adapter file holds: the factors, and the heads with `--lora-heads`.
    static func saved(_ model: GPT) -> [ParamTensor] {
        guard let spec = model.config.lora else { return [] }
        return model.tensors.filter(spec.trains)
    }

    /// Writes the adapter folder: the factors (and heads) under PEFT's names, then the config (the optimizer
    /// state is Checkpoint.save's, before both).
    static func save(model: GPT, to dir: String, metadata: [String: String]) throws {
        guard let spec = model.config.lora, let base = model.adapterBase else {
            preconditionFailure("AdapterFile.save needs a LoRA model with its base")
        }
        let tensors = saved(model).map {
            (prefix + $0.name, [$0.rows, $0.cols], UnsafePointer(model.params + $0.offset))
        }
        try writeAtomically(try configJSON(spec, base: base), to: dir + "/" + configFile)
        var meta = metadata
        meta["format"] = "pt"  // what PEFT's loader expects of a torch adapter
        try writeAtomically(Safetensors.encode(tensors, metadata: meta), to: dir + "/" + modelFile)
    }

    /// Loads the adapter in `dir` into a LoRA model of the same config: the base weights from `base` (or the
    /// recorded base), checked by hash, then the factors. Returns the adapter file's metadata.
    @discardableResult
    static func load(into model: GPT, from dir: String, base: String? = nil) throws -> [String: String] {
        let (spec, recorded) = try readConfig(dir)
        guard model.config.lora == spec else {
            throw UserError(
                "\(dir) holds a \(spec), but this run builds "
                    + "\(model.config.lora.map { "\($0)" } ?? "a model without LoRA")"
                    + "; give the same --lora-rank/--lora-alpha/--lora-targets as the adapter, or none")
        }
        let checked = try checkedBase(dir, recorded: recorded, base: base)
        try Checkpoint.load(into: model, from: checked.path, addingAdapters: true)
        model.adapterBase = checked
        let path = dir + "/" + modelFile
        let (tensors, meta) = try Safetensors.read(path)
        let expected = Set(saved(model).map { prefix + $0.name })
        if let extra = tensors.keys.sorted().first(where: { !expected.contains($0) }) {
            throw UserError(
                "\(path) holds tensor \(extra), which \(configFile) does not describe; the folder is damaged")
        }
        for t in saved(model) {
            guard let src = tensors[prefix + t.name] else {
                throw UserError("\(path) lacks tensor \(prefix + t.name); the folder is damaged")
            }
            guard src.shape == [t.rows, t.cols] else {
                throw UserError(
                    "\(path): tensor \(prefix + t.name) has shape \(src.shape), expected [\(t.rows), \(t.cols)]")
            }
            guard src.data.allSatisfy(\.isFinite) else {
                throw UserError("\(path): tensor \(prefix + t.name) holds values that are not finite numbers")
            }
            (model.params + t.offset).update(from: src.data, count: t.count)
        }
        return meta
    }
}

/// What a stage was asked about LoRA: a new adapter (`spec`), or an adapter folder to keep training.
struct LoRAStart {
    var spec: LoRASpec?  // --lora-rank/--lora-alpha/--lora-targets
    var adapter: String?  // --adapter DIR: continue this adapter (on its own base)
}

/// How a stage's model relates to LoRA, decided from what it was asked and what it starts from:
/// - from a checkpoint with `spec`: a new adapter on it (the checkpoint frozen);
/// - resuming a LoRA stage, or `--adapter DIR`: that adapter, trained further on its base;
/// - from an adapter folder without either: base + adapter merged, every weight trained;
/// - a new adapter on an adapter folder: refused (merge it first).
struct LoRAPlan {
    var spec: LoRASpec?  // the model's adapters (nil: a full fine-tune)
    var sourceIsAdapter = false
    var sourceSpec: LoRASpec?  // the adapter the source folder holds
    var merge: Bool { sourceIsAdapter && spec == nil }

    init(_ start: StageStart, source: String?, sourceConfig: GPTConfig) throws {
        guard let source else {
            if start.lora.spec != nil { throw UserError("LoRA adapts a trained model; this stage starts from scratch") }
            return
        }
        sourceIsAdapter = AdapterFile.isAdapter(source)
        sourceSpec = sourceConfig.lora
        if start.addScoreHead && (start.lora.spec != nil || sourceIsAdapter) {
            throw UserError(
                "reward-train trains a new score head on every weight; LoRA is for chat-sft, mid-train, chat-distill, "
                    + "chat-dpo and chat-rl (merge an adapter with lora-merge first)")
        }
        if let adapter = start.lora.adapter, !sourceIsAdapter {
            throw UserError(
                "\(adapter) is not an adapter folder (no \(AdapterFile.configFile) without \(Checkpoint.modelFile))")
        }
        let continuing = sourceIsAdapter && (start.resume || start.lora.adapter != nil)
        if continuing {
            if let asked = start.lora.spec, asked != sourceSpec {
                throw UserError(
                    "\(source) holds a \(sourceSpec.map { "\($0)" } ?? "full model"), not the \(asked) asked for; "
                        + "drop the "
                        + "--lora-* options to continue it, or start a new adapter elsewhere (--fresh)")
            }
            spec = sourceSpec
        } else if sourceIsAdapter, start.lora.spec != nil {
            throw UserError(
                "\(source) is itself an adapter; continue training it with --adapter \(source), or merge it into a "
                    + "checkpoint first (nanochat lora-merge) and put a new adapter on that")
        } else if start.resume && start.lora.spec != nil {
            throw UserError("\(source) holds a full checkpoint; drop the --lora-* options to resume it")
        } else {
            spec = start.lora.spec
        }
    }
}
