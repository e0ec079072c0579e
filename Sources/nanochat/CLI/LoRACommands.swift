// LoRA on the command line: the options every post-training stage that trains takes (--lora-rank,
// --lora-alpha, --lora-targets, --adapter), and `nanochat lora-merge`, which folds an adapter into its
// base and writes an ordinary checkpoint. Model/LoRA.swift has the math, Train/Adapter.swift the files.

import ArgumentParser
import Foundation

struct LoRAOptions: ParsableArguments {
    @Option(
        help: """
            Train a rank-R adapter on every targeted layer (LoRA) instead of every weight: the checkpoint \
            stays frozen, the stage's folder gets a PEFT-style adapter.
            """)
    var loraRank: Int?
    @Option(help: "LoRA's alpha: the adapter's update is scaled by alpha/rank (default 16).") var loraAlpha: Float?
    @Option(help: "Layers to adapt, from q,k,v,attn_proj,fc,mlp_proj (default: all six).") var loraTargets: String?
    @Flag(help: "Also train the embedding and the LM head in full, saved in the adapter (PEFT's modules_to_save).")
    var loraHeads = false
    @Option(help: "Continue training this adapter folder (on the base it was trained on) instead of the usual start.")
    var adapter: String?

    static let defaultAlpha: Float = 16

    func validate() throws {
        if let loraRank { try validateCount(loraRank, "--lora-rank", 1...1024) }
        if let loraAlpha { try validateRate(loraAlpha, "--lora-alpha", 0...1_000_000) }
        guard loraRank != nil || (loraAlpha == nil && loraTargets == nil && !loraHeads) else {
            throw ValidationError(
                "--lora-alpha, --lora-targets and --lora-heads shape an adapter: give --lora-rank too")
        }
        if loraAlpha == 0 { throw ValidationError("--lora-alpha must be positive") }
        if let loraTargets {
            do { _ = try LoRATarget.parse(loraTargets) } catch let e as UserError { throw ValidationError(e.message) }
        }
    }

    /// What the stage was asked (the targets were checked by validate).
    func start() throws -> LoRAStart {
        guard let loraRank else { return LoRAStart(spec: nil, adapter: adapter) }
        let targets = try loraTargets.map(LoRATarget.parse) ?? LoRATarget.allCases
        return LoRAStart(
            spec: LoRASpec(
                rank: loraRank, alpha: loraAlpha ?? LoRAOptions.defaultAlpha, targets: targets, heads: loraHeads),
            adapter: adapter)
    }
}

struct LoRAMerge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lora-merge",
        abstract: "Fold a LoRA adapter into its base (W + alpha/r·B·A) and save an ordinary checkpoint.")
    @OptionGroup var opts: RunOptions
    @Option(help: "The adapter folder (a LoRA stage's output).") var adapter: String
    @Option(help: "The base checkpoint folder (default: the one the adapter was trained on).") var checkpoint: String?
    @Option(help: "Where to write the merged checkpoint (model.safetensors).") var outDir: String
    @Flag(help: "Replace a checkpoint already in --out-dir.") var fresh = false

    func run() throws {
        try runReportingErrors {
            let tok = try Tokenizer.load(from: opts.tokenizerDir)
            guard fresh || !Checkpoint.exists(outDir) else {
                throw UserError(
                    "\(outDir) already holds a checkpoint; replace it with --fresh or pick another --out-dir")
            }
            let (model, meta) = try loadAdapter(
                adapter, base: checkpoint, tokenizer: tok, tokenizerDir: opts.tokenizerDir, maxBatch: 1)
            try makeFolder(outDir)
            var extra = meta.filter { ["step", "stage", "tokenizer_hash", "seed"].contains($0.key) }
            extra["merged_from"] = adapter
            try Checkpoint.save(model: model, optimizer: nil, to: outDir, extra: extra)
            print(
                "lora-merge: \(adapter) merged into its base; checkpoint in \(outDir) "
                    + "(\(model.config.numParams) params)"
            )
        }
    }
}
